"""Planning as plain functions over an `engine.LLM`: search queries from a topic, and an
outline grounded in the titles of the papers retrieved for it.

Both functions ask for schema-constrained JSON, repair what can be repaired without the
model, ask once more when the answer is unusable, and fall back to a plain plan derived
from the topic and the candidates when the model cannot produce one. A fallback is never
silent: the returned ``notes`` say what happened and the workflow reports them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from engine.types import LLM, Message, SamplingParams
from planner.prompts import OUTLINE_PROMPT, OUTLINE_REPAIR_PROMPT, PLANNER_SYSTEM, QUERIES_PROMPT, render
from planner.schema import (
    Outline,
    OutlineSection,
    QueryPlan,
    Subsection,
    outline_schema,
    outline_token_budget,
    query_plan_schema,
)

log = logging.getLogger(__name__)

MAX_QUERY_WORDS = 12
# Titles listed in the outline prompt; more add tokens without changing the plan much.
MAX_TITLES_IN_PROMPT = 60
FALLBACK_ASPECTS = (
    ("Foundations and problem formulation", "definitions, settings and the problems {topic} addresses"),
    ("Methods and architectures", "the main families of methods proposed for {topic}"),
    ("Training data and evaluation", "datasets, benchmarks and evaluation protocols for {topic}"),
    ("Applications", "where {topic} is applied and what it achieves there"),
    ("Efficiency and scalability", "the cost of {topic} and how it is reduced"),
    ("Challenges and open problems", "limitations of current {topic} work and open questions"),
)


@dataclass
class Usage:
    """Tokens spent by one planning step."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.calls += 1


@dataclass
class QueryPlanResult:
    """Search queries for a topic and how they were obtained."""

    queries: list[str]
    source: str  # "model" or "fallback"
    notes: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass
class OutlineResult:
    """An outline and how it was obtained: "model", "repaired" (fixed without the model or
    after a retry) or "fallback" (derived from the topic; see notes)."""

    outline: Outline
    source: str
    notes: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


def parse_json_model(text: str, model: type[BaseModel]) -> BaseModel:
    """Validate model output as `model`, accepting JSON wrapped in prose or a code fence."""
    try:
        return model.model_validate_json(text)
    except ValidationError as first_error:
        start, end = text.find("{"), text.rfind("}")
        if start == -1 or end <= start:
            raise first_error from None
        return model.model_validate(json.loads(text[start : end + 1]))


def _clean_query(query: str) -> str:
    words = re.sub(r"[\"“”`*#]", " ", query).split()
    return " ".join(words[:MAX_QUERY_WORDS])


def _unique(items: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for item in items:
        key = item.lower()
        if item and key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def plan_queries(llm: LLM, topic: str, count: int, params: SamplingParams) -> QueryPlanResult:
    """Search queries covering `topic`: the topic itself first, then up to `count` from the model.

    Unusable model output (not JSON, no queries) gives the topic alone, with a note.
    """
    usage = Usage()
    messages: list[Message] = [
        {"role": "system", "content": PLANNER_SYSTEM},
        {"role": "user", "content": render(QUERIES_PROMPT, topic=topic, count=count)},
    ]
    completion = llm.chat(messages, params, schema=query_plan_schema(count))
    usage.add(completion.prompt_tokens, completion.completion_tokens)
    try:
        plan = parse_json_model(completion.text, QueryPlan)
    except (ValidationError, ValueError) as error:
        note = f"the model's search queries were not valid JSON ({_first_line(error)}); searching with the topic alone"
        log.info(note)
        return QueryPlanResult([topic], "fallback", [note], usage)
    queries = _unique([topic, *(_clean_query(q) for q in plan.queries)])[: count + 1]
    if len(queries) == 1:
        note = "the model proposed no usable search queries; searching with the topic alone"
        return QueryPlanResult(queries, "fallback", [note], usage)
    return QueryPlanResult(queries, "model", [], usage)


def fallback_outline(topic: str, sections: int) -> Outline:
    """A plain outline of common survey aspects, each searched together with the topic.

    The aspects are generic on purpose: they cannot misread the candidates.

    Used when the model cannot produce a usable outline; sensible for most research topics.
    """
    chosen = [FALLBACK_ASPECTS[i % len(FALLBACK_ASPECTS)] for i in range(sections)]
    outline_sections = []
    for index, (title, description) in enumerate(chosen):
        heading = title if index < len(FALLBACK_ASPECTS) else f"{title} ({index // len(FALLBACK_ASPECTS) + 1})"
        keyword = title.split(" and ")[0].lower()
        outline_sections.append(
            OutlineSection(
                title=heading,
                description=description.format(topic=topic),
                queries=[f"{topic} {keyword}", topic],
            )
        )
    return Outline(title=f"A Survey of {topic}", sections=outline_sections)


# Template text a weak model copies instead of content ("Title 1", "Subsection 2", "query_3").
_PLACEHOLDER = re.compile(r"^(survey |section |subsection |title |query |heading |keyword )*[_\s#]*\d*$", re.IGNORECASE)


def is_placeholder(text: str) -> bool:
    """Whether `text` is template filler rather than content."""
    return bool(_PLACEHOLDER.match(text.strip().replace("_", " ")))


def repair_outline(outline: Outline, topic: str, sections: int) -> tuple[Outline, list[str]]:
    """Fix, without the model, what makes an outline unusable: blank or duplicate section
    titles, missing queries, too many sections. Returns the outline and notes of each fix;
    too few sections is left to the caller (it needs the model or the fallback)."""
    notes: list[str] = []
    kept: list[OutlineSection] = []
    seen: set[str] = set()
    for section in outline.sections:
        title = " ".join(section.title.split()).strip(" #*")
        if not title or title.lower() in seen or is_placeholder(title):
            notes.append(f"dropped a section with a blank, repeated or placeholder title {section.title!r}")
            continue
        seen.add(title.lower())
        queries = _unique([_clean_query(q) for q in section.queries if q.strip() and not is_placeholder(q)])
        if not queries:
            queries = [f"{topic} {title}"]
            notes.append(f"section {title!r} had no search queries; using its title")
        subsections = [
            Subsection(title=" ".join(s.title.split()), description=s.description.strip(), papers=list(s.papers))
            for s in section.subsections
            if s.title.strip()
        ]
        kept.append(
            OutlineSection(
                title=title,
                description=section.description.strip(),
                queries=queries,
                subsections=subsections,
                papers=list(section.papers),
            )
        )
    if len(kept) > sections:
        notes.append(f"the model planned {len(kept)} sections; kept the first {sections}")
        kept = kept[:sections]
    title = " ".join(outline.title.split()) or f"A Survey of {topic}"
    return Outline(title=title, sections=kept), notes


def plan_outline(
    llm: LLM, topic: str, candidate_titles: Sequence[str], sections: int, params: SamplingParams, retries: int = 1
) -> OutlineResult:
    """An outline of exactly `sections` sections grounded in `candidate_titles`.

    Asks for schema-constrained JSON; repairs small defects; asks again (up to `retries`
    times, telling the model what was wrong) when the answer is not usable; otherwise falls
    back to :func:`fallback_outline` and says so in the notes.
    """
    usage = Usage()
    # Room for the longest outline the schema admits, so the JSON is never cut off.
    params = dataclasses.replace(params, max_new_tokens=outline_token_budget(sections))
    titles = "\n".join(f"- {title}" for title in list(candidate_titles)[:MAX_TITLES_IN_PROMPT])
    messages: list[Message] = [
        {"role": "system", "content": PLANNER_SYSTEM},
        {"role": "user", "content": render(OUTLINE_PROMPT, topic=topic, titles=titles, sections=sections)},
    ]
    notes: list[str] = []
    for attempt in range(retries + 1):
        completion = llm.chat(messages, params, schema=outline_schema(sections))
        usage.add(completion.prompt_tokens, completion.completion_tokens)
        problem = None
        try:
            parsed = parse_json_model(completion.text, Outline)
        except (ValidationError, ValueError) as error:
            problem = f"it was not a valid outline ({_first_line(error)})"
        else:
            outline, fixes = repair_outline(parsed, topic, sections)
            notes.extend(fixes)
            if len(outline.sections) == sections:
                source = "model" if not fixes and attempt == 0 else "repaired"
                return OutlineResult(outline, source, notes, usage)
            problem = f"it had {len(outline.sections)} usable sections instead of {sections}"
        notes.append(f"outline attempt {attempt + 1}: {problem}")
        log.info("outline attempt %d unusable: %s", attempt + 1, problem)
        messages = [
            *messages,
            {"role": "assistant", "content": completion.text[:2000]},
            {"role": "user", "content": render(OUTLINE_REPAIR_PROMPT, problem=problem, sections=sections)},
        ]
    notes.append(f"the model gave no usable outline after {retries + 1} attempts; used a generic outline instead")
    return OutlineResult(fallback_outline(topic, sections), "fallback", notes, usage)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
