"""Retrieval nodes: the topic's candidate papers, then each section's papers."""

from __future__ import annotations

from langgraph.types import Send

from app.workflow.errors import EmptyRetrievalError
from app.workflow.nodes.deps import NodeDeps
from app.workflow.options import RunOptions
from app.workflow.state import RetrieveTask, SectionRecord, SurveyState, paper_records, papers_of, section_key
from retriever.fusion import reciprocal_rank_fusion
from retriever.types import Paper, SearchFilters

# Candidates retrieved per section before reranking, as a multiple of the papers kept.
SECTION_OVERFETCH = 3


def retrieve_broad(state: SurveyState, deps: NodeDeps) -> dict:
    """The topic's candidate papers: every planned query, fused, within the run's filters."""
    options = RunOptions.from_json(state["options"])
    filters = options.filters
    hits = deps.retriever.search_many(state["queries"], k=options.generate.candidates, filters=filters)
    if not hits:
        raise EmptyRetrievalError(_nothing_found(state, filters, deps.library_size))
    deps.emitter.emit("papers_found", node="retrieve_broad", count=len(hits), message=f"{len(hits)} candidate papers")
    return {"candidates": paper_records(hit.paper for hit in hits)}


def _nothing_found(state: SurveyState, filters: SearchFilters | None, library_size: int | None) -> str:
    topic = state["topic"]
    if filters is not None:
        return (
            f"no paper in the library matches {topic!r} within the run's filters (published "
            f"{filters.date_from or '...'} to {filters.date_to or '...'}, categories "
            f"{', '.join(filters.categories) or 'any'}); widen them (--from, --to, --category)"
        )
    size = f" of {library_size} papers" if library_size is not None else ""
    return (
        f"no paper in the library{size} matches {topic!r} (queries: {'; '.join(state['queries'])}); "
        "ingest papers on this topic first (cpmsurvey generate --corpus FILE, or online without --corpus)"
    )


def dispatch_retrieval(state: SurveyState) -> list[Send]:
    """One retrieve_section task per section of the (reviewed) outline."""
    return [
        Send(
            "retrieve_section",
            RetrieveTask(
                key=section_key(index),
                topic=state["topic"],
                section=section,
                candidates=state["candidates"],
                options=state["options"],
            ),
        )
        for index, section in enumerate(state["outline"]["sections"])
    ]


def retrieve_section(task: RetrieveTask, deps: NodeDeps) -> dict:
    """One section's papers: its queries' hits reranked with the topic's ranking; the
    topic's best papers when its queries find nothing."""
    options = RunOptions.from_json(task["options"])
    section, keep, index = task["section"], options.generate.papers_per_section, int(task["key"])
    # The topic with the title keeps a section's search on topic even when the model's
    # own queries for it are poor.
    queries = [f"{task['topic']} {section['title']}", *section["queries"]]
    hits = deps.retriever.search_many(queries, k=keep * SECTION_OVERFETCH, filters=options.filters)
    candidate_ids = [record["id"] for record in task["candidates"]]
    papers = rerank([hit.paper for hit in hits], candidate_ids, keep, deps.rrf_k)
    warnings = []
    if not papers:
        papers = papers_of(task["candidates"][:keep])
        warnings.append(f"section {section['title']!r}: its queries found nothing; using the topic's best papers")
        deps.emitter.warning(warnings[-1], node="retrieve_section", section=index)
    deps.emitter.emit(
        "papers_found", node="retrieve_section", section=index, count=len(papers), message=section["title"]
    )
    record = SectionRecord(
        title=section["title"],
        description=section["description"],
        subsections=[sub["title"] for sub in section["subsections"]],
        queries=queries,
        papers=paper_records(papers),
    )
    return {"sections": {task["key"]: record}, "warnings": warnings}


def rerank(section_hits: list[Paper], candidate_ids: list[str], keep: int, rrf_k: int) -> list[Paper]:
    """Section hits reordered by reciprocal-rank fusion (retriever.fusion, constant `rrf_k`)
    with the topic-wide ranking, so that papers central to both the section and the topic
    come first. Only section hits are kept."""
    by_id = {paper.arxiv_id: paper for paper in section_hits}
    fused = reciprocal_rank_fusion([("section", list(by_id)), ("topic", candidate_ids)], rrf_k)
    return [by_id[entry.key] for entry in fused if entry.key in by_id][:keep]
