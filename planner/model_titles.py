"""Section titles proposed by a model, kept only where they pass the validation mined titles
pass (`planner.titles.title_problem`): grounded in the group's papers, distinctive, no
filler, no repeats. A title that fails keeps the mined one.

    propose = model_title_proposer(llm, params)
    result = outline_from_retriever(topic, library, papers, sections, propose_titles=propose)

Public: `TitleRequest`, `TitleProposer`, `model_title_proposer`, `apply_proposals`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.types import LLM, Message, SamplingParams
from planner.prompts import PLANNER_SYSTEM, TITLES_PROMPT, render
from planner.schema import TITLE_CHARS

log = logging.getLogger(__name__)

TITLES_SHOWN = 6  # paper titles per group in the prompt
PHRASES_SHOWN = 6


@dataclass(frozen=True, slots=True)
class TitleRequest:
    """One group to title: its mined title, distinctive phrases and paper titles."""

    mined: str
    phrases: tuple[str, ...]
    paper_titles: tuple[str, ...]


TitleProposer = Callable[[str, Sequence[TitleRequest]], Sequence[str | None]]


def model_title_proposer(llm: LLM, params: SamplingParams) -> TitleProposer:
    """A proposer asking `llm` once for every group's title (schema-constrained JSON);
    unusable output proposes nothing (None for every group)."""

    def propose(topic: str, requests: Sequence[TitleRequest]) -> list[str | None]:
        groups = "\n".join(
            f"{number}. phrases: {', '.join(r.phrases[:PHRASES_SHOWN])}; titles: "
            + "; ".join(r.paper_titles[:TITLES_SHOWN])
            for number, r in enumerate(requests, start=1)
        )
        messages: list[Message] = [
            {"role": "system", "content": PLANNER_SYSTEM},
            {"role": "user", "content": render(TITLES_PROMPT, topic=topic, count=len(requests), groups=groups)},
        ]
        completion = llm.chat(messages, params, schema=titles_schema(len(requests)))
        try:
            titles = json.loads(completion.text)["titles"]
        except (ValueError, KeyError, TypeError) as error:
            log.info("the model's section titles were not usable JSON: %s", error)
            return [None] * len(requests)
        if not isinstance(titles, list) or len(titles) != len(requests):
            return [None] * len(requests)
        return [t if isinstance(t, str) else None for t in titles]

    return propose


def titles_schema(count: int) -> dict:
    """JSON schema of exactly `count` bounded headings."""
    title = {"type": "string", "minLength": 3, "maxLength": TITLE_CHARS}
    return {
        "type": "object",
        "properties": {"titles": {"type": "array", "items": title, "minItems": count, "maxItems": count}},
        "required": ["titles"],
        "additionalProperties": False,
    }


def apply_proposals(
    mined: Sequence[str],
    proposals: Sequence[str | None],
    problem: Callable[[int, str, Sequence[str]], str | None],
) -> tuple[list[str], list[str]]:
    """Each proposal that `problem(index, title, other titles)` finds fit replaces the mined
    title; returns (titles, notes on the proposals refused)."""
    titles = list(mined)
    notes = []
    for index, proposal in enumerate(proposals):
        if proposal is None:
            continue
        cleaned = " ".join(proposal.split())
        others = [t for i, t in enumerate(titles) if i != index]
        reason = problem(index, cleaned, others)
        if reason is None:
            titles[index] = cleaned
        else:
            notes.append(f"the model's title {cleaned!r} was not used ({reason}); kept {mined[index]!r}")
    return titles, notes
