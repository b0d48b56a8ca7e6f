"""The Plan-Retrieve-Write workflow as a LangGraph StateGraph (DESIGN.md section 6).

    plan_queries -> retrieve_broad -> plan_outline -> review_outline (interrupts when asked)
      -> retrieve_section x N (Send) -> dispatch_writers -> write_section x N (Send)
         (or write_sections: one batch, with generate.batch_sections)
      -> check_citations -> write_frame -> assemble

Nodes are thin: the work is in planner/ and writer/. Each per-section worker is its own
task, so the checkpointer keeps every finished section even when another one fails, and a
resumed run redoes only what had not finished.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt

from app.settings import GenerateSettings
from app.workflow.events import EventEmitter
from app.workflow.outputs import write_outputs
from app.workflow.state import SectionTask, SurveyState, section_key, stage_seconds
from engine.types import LLM, SamplingParams
from planner import Outline, plan_outline, plan_queries
from retriever.types import Paper, Retriever, SearchFilters
from writer import (
    SectionRequest,
    check_citations,
    check_support,
    write_frame,
    write_section,
    write_sections_batch,
)
from writer.survey import Survey, SurveySection

log = logging.getLogger(__name__)

# Candidates retrieved per section before reranking, as a multiple of the papers kept.
SECTION_OVERFETCH = 3
RRF_K = 60


class EmptyRetrievalError(LookupError):
    """No paper in the library matched the topic."""


@dataclass
class GraphDeps:
    """What the nodes run on. `grammar_for(ids)` returns a citation grammar for the writer
    (None: no constrained citations)."""

    llm: LLM
    retriever: Retriever
    emitter: EventEmitter
    grammar_for: Callable[[list[str]], str] | None = None
    library_size: int | None = None


def _params(options: dict[str, Any], temperature: float | None = None) -> SamplingParams:
    temperature = options["temperature"] if temperature is None else temperature
    # A mild repetition penalty: small models otherwise loop on a phrase.
    return SamplingParams(
        temperature=temperature,
        top_p=0.95 if temperature > 0 else 1.0,
        repetition_penalty=1.1,
        max_new_tokens=1024,
        seed=options.get("seed"),
    )


def _planning_params(options: dict[str, Any]) -> SamplingParams:
    # Structured output wants low temperature: creativity there only breaks the JSON.
    return _params(options, temperature=min(options["temperature"], 0.3))


def search_filters(options: dict[str, Any]) -> SearchFilters | None:
    """The run's date and category restrictions (None: search everything). Options are the
    JSON form of GenerateSettings; runs recorded before these settings existed have none."""
    date_from, date_to = options.get("date_from"), options.get("date_to")
    categories = tuple(options.get("categories") or ())
    if not (date_from or date_to or categories):
        return None
    return SearchFilters(
        date_from=date.fromisoformat(date_from) if date_from else None,
        date_to=date.fromisoformat(date_to) if date_to else None,
        categories=categories,
    )


def _timed(name: str, stage: str, deps: GraphDeps):
    """Wrap a node: start/finish events, its [stage, start, end] span recorded."""

    def decorate(node):
        @functools.wraps(node)
        def run(state):
            section = int(state["key"]) if "key" in state else None
            deps.emitter.emit("node_started", node=name, section=section)
            started_at, started = time.time(), time.perf_counter()
            update = node(state) or {}
            seconds = time.perf_counter() - started
            update["spans"] = [[stage, started_at, started_at + seconds]]
            deps.emitter.emit("node_finished", node=name, section=section, seconds=round(seconds, 3))
            return update

        return run

    return decorate


def _papers(records: list[dict]) -> list[Paper]:
    return [Paper.from_dict(record) for record in records]


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, float]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}


def _section_request(topic: str, survey_title: str, record: dict, options: dict[str, Any]) -> SectionRequest:
    return SectionRequest(
        topic=topic,
        survey_title=survey_title,
        title=record["title"],
        description=record["description"],
        words=options["words_per_section"],
        subsections=record["subsections"],
    )


def rerank(section_hits: list[Paper], candidate_ids: list[str], keep: int) -> list[Paper]:
    """Section hits reordered by reciprocal-rank fusion with the topic-wide ranking, so that
    papers central to both the section and the topic come first."""
    topic_rank = {arxiv_id: rank for rank, arxiv_id in enumerate(candidate_ids)}
    scored = []
    for rank, paper in enumerate(section_hits):
        score = 1 / (RRF_K + rank)
        if paper.arxiv_id in topic_rank:
            score += 1 / (RRF_K + topic_rank[paper.arxiv_id])
        scored.append((score, rank, paper))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [paper for _, _, paper in scored[:keep]]


def build_graph(deps: GraphDeps, checkpointer) -> Any:
    """The compiled graph over `deps`, checkpointed by `checkpointer`."""
    llm, emitter = deps.llm, deps.emitter

    @_timed("plan_queries", "plan", deps)
    def plan_queries_node(state: SurveyState) -> dict:
        options = state["options"]
        result = plan_queries(llm, state["topic"], options["queries"], _planning_params(options))
        for note in result.notes:
            emitter.warning(note, node="plan_queries")
        log.info("search queries: %s", "; ".join(result.queries))
        return {
            "queries": result.queries,
            "warnings": result.notes,
            "tokens": _usage(result.usage.prompt_tokens, result.usage.completion_tokens),
        }

    @_timed("retrieve_broad", "retrieve", deps)
    def retrieve_broad(state: SurveyState) -> dict:
        options = state["options"]
        filters = search_filters(options)
        hits = deps.retriever.search_many(state["queries"], k=options["candidates"], filters=filters)
        if not hits and filters is not None:
            raise EmptyRetrievalError(
                f"no paper in the library matches {state['topic']!r} within the run's filters (published "
                f"{filters.date_from or '...'} to {filters.date_to or '...'}, categories "
                f"{', '.join(filters.categories) or 'any'}); widen them (--from, --to, --category)"
            )
        if not hits:
            size = f" of {deps.library_size} papers" if deps.library_size is not None else ""
            raise EmptyRetrievalError(
                f"no paper in the library{size} matches {state['topic']!r} (queries: {'; '.join(state['queries'])}); "
                "ingest papers on this topic first (cpmsurvey generate --corpus FILE, or online without --corpus)"
            )
        emitter.emit("papers_found", node="retrieve_broad", count=len(hits), message=f"{len(hits)} candidate papers")
        return {"candidates": [hit.paper.to_dict() for hit in hits]}

    @_timed("plan_outline", "plan", deps)
    def plan_outline_node(state: SurveyState) -> dict:
        options = state["options"]
        titles = [record["title"] for record in state["candidates"]]
        result = plan_outline(llm, state["topic"], titles, options["sections"], _planning_params(options))
        for note in result.notes:
            emitter.warning(note, node="plan_outline")
        outline = result.outline.model_dump()
        emitter.emit("outline_ready", node="plan_outline", outline=outline, source=result.source)
        return {
            "outline": outline,
            "outline_source": result.source,
            "warnings": result.notes,
            "tokens": _usage(result.usage.prompt_tokens, result.usage.completion_tokens),
        }

    def review_outline(state: SurveyState) -> dict:
        """Pause for a human edit of the outline when the run asked for review."""
        if not state["options"].get("review_outline"):
            return {}
        edited = interrupt({"outline": state["outline"]})
        outline = Outline.model_validate(edited).model_dump()
        return {"outline": outline, "outline_source": state["outline_source"] + "+reviewed"}

    def dispatch_retrieval(state: SurveyState) -> list[Send]:
        outline = state["outline"]
        return [
            Send(
                "retrieve_section",
                SectionTask(
                    key=section_key(index),
                    topic=state["topic"],
                    survey_title=outline["title"],
                    section=section,
                    candidates=state["candidates"],
                    options=state["options"],
                    papers=[],
                ),
            )
            for index, section in enumerate(outline["sections"])
        ]

    @_timed("retrieve_section", "retrieve", deps)
    def retrieve_section(task: SectionTask) -> dict:
        section, keep = task["section"], task["options"]["papers_per_section"]
        # The topic with the title keeps a section's search on topic even when the model's
        # own queries for it are poor.
        queries = [f"{task['topic']} {section['title']}", *section.get("queries", [])]
        hits = deps.retriever.search_many(queries, k=keep * SECTION_OVERFETCH, filters=search_filters(task["options"]))
        candidate_ids = [record["id"] for record in task["candidates"]]
        papers = rerank([hit.paper for hit in hits], candidate_ids, keep)
        warnings = []
        if not papers:
            papers = _papers(task["candidates"][:keep])
            warnings.append(f"section {section['title']!r}: its queries found nothing; using the topic's best papers")
            emitter.warning(warnings[-1], node="retrieve_section", section=int(task["key"]))
        emitter.emit(
            "papers_found",
            node="retrieve_section",
            section=int(task["key"]),
            count=len(papers),
            message=section["title"],
        )
        record = {
            "title": section["title"],
            "description": section.get("description", ""),
            "subsections": [sub["title"] for sub in section.get("subsections", [])],
            "queries": queries,
            "papers": [paper.to_dict() for paper in papers],
        }
        return {"sections": {task["key"]: record}, "warnings": warnings}

    def dispatch_writers(state: SurveyState) -> dict:
        """Join point after retrieval; the writers fan out from here."""
        return {}

    def send_writers(state: SurveyState) -> list[Send] | str:
        pending = [key for key, record in state["sections"].items() if "draft" not in record]
        if state["options"].get("batch_sections") and len(pending) > 1:
            return "write_sections"
        return [
            Send(
                "write_section",
                SectionTask(
                    key=key,
                    topic=state["topic"],
                    survey_title=state["outline"]["title"],
                    section=record,
                    candidates=[],
                    options=state["options"],
                    papers=record["papers"],
                ),
            )
            for key, record in sorted(state["sections"].items())
            if "draft" not in record
        ]

    @_timed("write_section", "write", deps)
    def write_section_node(task: SectionTask) -> dict:
        section, options, index = task["section"], task["options"], int(task["key"])
        request = _section_request(task["topic"], task["survey_title"], section, options)

        def on_text(piece: str) -> None:
            emitter.emit("token", node="write_section", section=index, text=piece)

        draft = write_section(
            llm, request, _papers(task["papers"]), _params(options), grammar_for=deps.grammar_for, on_text=on_text
        )
        for note in draft.notes:
            emitter.warning(note, node="write_section", section=index)
        record = {
            "draft": draft.text,
            "given": [paper.arxiv_id for paper in draft.given],
            "abstract_words": draft.abstract_words,
        }
        return {
            "sections": {task["key"]: record},
            "warnings": draft.notes,
            "tokens": _usage(draft.prompt_tokens, draft.completion_tokens),
        }

    @_timed("write_sections", "write", deps)
    def write_sections_node(state: SurveyState) -> dict:
        """All pending sections in one batch (generate.batch_sections)."""
        options = state["options"]
        pending = sorted((key, record) for key, record in state["sections"].items() if "draft" not in record)
        requests = [_section_request(state["topic"], state["outline"]["title"], r, options) for _, r in pending]
        papers = [_papers(record["papers"]) for _, record in pending]
        drafts = write_sections_batch(llm, requests, papers, _params(options), grammar_for=deps.grammar_for)
        updates, warnings, usage = {}, [], {"prompt_tokens": 0, "completion_tokens": 0}
        for (key, _), draft in zip(pending, drafts, strict=True):
            updates[key] = {"draft": draft.text, "given": [p.arxiv_id for p in draft.given]}
            updates[key]["abstract_words"] = draft.abstract_words
            warnings.extend(draft.notes)
            usage["prompt_tokens"] += draft.prompt_tokens
            usage["completion_tokens"] += draft.completion_tokens
        for note in warnings:
            emitter.warning(note, node="write_sections")
        return {"sections": updates, "warnings": warnings, "tokens": usage}

    @_timed("check_citations", "check", deps)
    def check_citations_node(state: SurveyState) -> dict:
        options = state["options"]
        updates, warnings = {}, []
        prompt_tokens = completion_tokens = 0
        for key, record in sorted(state["sections"].items()):
            if "text" in record:
                continue
            checked = check_citations(record["draft"], record["given"])
            if checked.removed:
                warnings.append(
                    f"section {record['title']!r}: removed {len(checked.removed)} citation(s) to papers the writer "
                    f"was not given: {', '.join(checked.removed[:5])}"
                )
                emitter.warning(warnings[-1], node="check_citations", section=int(key))
            text, checks = checked.text, []
            if options.get("check_support"):
                given = {p["id"]: Paper.from_dict(p) for p in record["papers"] if p["id"] in set(record["given"])}
                support = check_support(llm, text, given, _planning_params(options))
                text, checks = support.text, support.checks
                prompt_tokens += support.prompt_tokens
                completion_tokens += support.completion_tokens
                changed = [check for check in checks if check["action"] != "kept"]
                if changed:
                    warnings.append(
                        f"section {record['title']!r}: {len(changed)} of {len(checks)} cited sentences "
                        "were not supported by their papers' abstracts and were rewritten or dropped"
                    )
                    emitter.warning(warnings[-1], node="check_citations", section=int(key))
            updates[key] = {"text": text, "removed_citations": checked.removed, "support_checks": checks}
        return {"sections": updates, "warnings": warnings, "tokens": _usage(prompt_tokens, completion_tokens)}

    @_timed("write_frame", "write", deps)
    def write_frame_node(state: SurveyState) -> dict:
        sections = [(record["title"], record["text"]) for _, record in sorted(state["sections"].items())]
        options = state["options"]
        # The frame's default lengths suit the default 400-word sections.
        scale = options["words_per_section"] / GenerateSettings.model_fields["words_per_section"].default
        frame = write_frame(llm, state["topic"], state["outline"]["title"], sections, _params(options), scale)
        for note in frame.notes:
            emitter.warning(note, node="write_frame")
        return {
            "frame": {"abstract": frame.abstract, "introduction": frame.introduction, "conclusion": frame.conclusion},
            "warnings": frame.notes,
            "tokens": _usage(frame.prompt_tokens, frame.completion_tokens),
        }

    @_timed("assemble", "assemble", deps)
    def assemble(state: SurveyState) -> dict:
        started = time.perf_counter()
        folder = write_outputs(survey_from_state(state), state["output_dir"], stage_started=started)
        emitter.emit("node_finished", node="assemble", message=f"wrote {folder}", output_dir=str(folder))
        return {}

    graph = StateGraph(SurveyState)
    graph.add_node("plan_queries", plan_queries_node)
    graph.add_node("retrieve_broad", retrieve_broad)
    graph.add_node("plan_outline", plan_outline_node)
    graph.add_node("review_outline", review_outline)
    graph.add_node("retrieve_section", retrieve_section)
    graph.add_node("dispatch_writers", dispatch_writers)
    graph.add_node("write_section", write_section_node)
    graph.add_node("write_sections", write_sections_node)
    graph.add_node("check_citations", check_citations_node)
    graph.add_node("write_frame", write_frame_node)
    graph.add_node("assemble", assemble)
    graph.add_edge(START, "plan_queries")
    graph.add_edge("plan_queries", "retrieve_broad")
    graph.add_edge("retrieve_broad", "plan_outline")
    graph.add_edge("plan_outline", "review_outline")
    graph.add_conditional_edges("review_outline", dispatch_retrieval, ["retrieve_section"])
    graph.add_edge("retrieve_section", "dispatch_writers")
    graph.add_conditional_edges("dispatch_writers", send_writers, ["write_section", "write_sections"])
    graph.add_edge("write_section", "check_citations")
    graph.add_edge("write_sections", "check_citations")
    graph.add_edge("check_citations", "write_frame")
    graph.add_edge("write_frame", "assemble")
    graph.add_edge("assemble", END)
    return graph.compile(checkpointer=checkpointer)


def survey_from_state(state: SurveyState) -> Survey:
    """The Survey a finished (or checked) state describes, with the run's record as metadata."""
    papers: dict[str, Paper] = {}
    sections = []
    for _, record in sorted(state["sections"].items()):
        given = set(record.get("given", []))
        for paper_record in record["papers"]:
            if paper_record["id"] in given:
                papers.setdefault(paper_record["id"], Paper.from_dict(paper_record))
        sections.append(
            SurveySection(
                title=record["title"],
                text=record.get("text", ""),
                description=record.get("description", ""),
                subsections=record.get("subsections", []),
                queries=record.get("queries", []),
                papers=record.get("given", []),
                removed_citations=record.get("removed_citations", []),
                support_checks=record.get("support_checks", []),
            )
        )
    frame = state.get("frame", {})
    options = state["options"]
    metadata = {
        "run_id": state["run_id"],
        "topic": state["topic"],
        "model": options.get("model"),
        "backend": options.get("backend"),
        "corpus": options.get("corpus"),
        "settings": {key: value for key, value in options.items() if key not in ("model", "backend", "corpus")},
        "queries": state.get("queries", []),
        "candidates": [record["id"] for record in state.get("candidates", [])],
        "section_retrieval": {
            record["title"]: [paper["id"] for paper in record["papers"]]
            for _, record in sorted(state["sections"].items())
        },
        "outline_source": state.get("outline_source"),
        "warnings": state.get("warnings", []),
        "timings_s": {stage: round(seconds, 3) for stage, seconds in stage_seconds(state.get("spans", [])).items()},
        "tokens": {kind: int(count) for kind, count in state.get("tokens", {}).items()},
        "created_at": options.get("created_at"),
    }
    return Survey(
        title=state["outline"]["title"],
        abstract=frame.get("abstract", ""),
        introduction=frame.get("introduction", ""),
        sections=sections,
        conclusion=frame.get("conclusion", ""),
        papers=papers,
        outline=state["outline"],
        metadata=metadata,
    )
