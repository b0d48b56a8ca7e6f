"""Retrieval nodes: the topic's candidate papers, then each section's papers."""

from __future__ import annotations

import logging

from langgraph.types import Send

from app.workflow.errors import EmptyRetrievalError
from app.workflow.nodes.deps import NodeDeps
from app.workflow.options import RunOptions
from app.workflow.state import (
    PaperRecord,
    RetrieveTask,
    SectionRecord,
    SubthemeRecord,
    SurveyState,
    paper_records,
    papers_of,
    section_key,
)
from retriever.expansion import expanded_search
from retriever.fusion import reciprocal_rank_fusion
from retriever.types import Paper, SearchFilters

log = logging.getLogger(__name__)

# Candidates retrieved per section before reranking, as a multiple of the papers kept.
SECTION_OVERFETCH = 3


def found(papers) -> list[dict[str, str]]:
    """Id and title of each paper, for a papers_found event (interfaces list what was found)."""
    return [{"id": paper.arxiv_id, "title": paper.title} for paper in papers]


def retrieve_broad(state: SurveyState, deps: NodeDeps) -> dict:
    """The topic's candidate papers, within the run's filters: the topic searched alone,
    then again with queries mined from its first hits and the model's planned queries
    (retriever.expansion.expanded_search, as settings.retrieval.expansion says), fused."""
    options = RunOptions.from_json(state["options"])
    filters = options.filters
    search = expanded_search(
        deps.retriever,
        state["topic"],
        k=options.generate.candidates,
        filters=filters,
        extra_queries=state["queries"],
        settings=deps.expansion,
    )
    if not search.hits:
        raise EmptyRetrievalError(_nothing_found(state, filters, deps.library_size))
    log.info("queries mined from the first hits: %s", "; ".join(search.mined_queries))
    for note in search.notes:
        deps.emitter.warning(note, node="retrieve_broad")
    message = f"{len(search.hits)} candidate papers ({len(search.mined_queries)} queries mined from the papers)"
    deps.emitter.emit(
        "papers_found", node="retrieve_broad", count=len(search.hits), message=message, papers=found(search.papers)
    )
    return {"candidates": paper_records(search.papers), "queries": search.queries, "warnings": list(search.notes)}


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
        f"no paper in the library{size} matches {topic!r} (queries: {'; '.join([topic, *state['queries']])}); "
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
    """One section's papers: those the outline planned from the papers gave it, when it
    names them; otherwise its queries' hits reranked with the topic's ranking, or the
    topic's best papers when its queries find nothing."""
    options = RunOptions.from_json(task["options"])
    section, keep, index = task["section"], options.generate.papers_per_section, int(task["key"])
    if section.get("papers"):
        record = planned_section(section, task["candidates"], keep)
        deps.emitter.emit(
            "papers_found",
            node="retrieve_section",
            section=index,
            count=len(record["papers"]),
            message=section["title"],
            papers=found(papers_of(record["papers"])),
        )
        return {"sections": {task["key"]: record}}
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
        "papers_found",
        node="retrieve_section",
        section=index,
        count=len(papers),
        message=section["title"],
        papers=found(papers),
    )
    record = SectionRecord(
        title=section["title"],
        description=section["description"],
        subsections=[sub["title"] for sub in section["subsections"]],
        queries=queries,
        papers=paper_records(papers),
    )
    return {"sections": {task["key"]: record}, "warnings": warnings}


def planned_section(section: dict, candidates: list[PaperRecord], keep: int) -> SectionRecord:
    """A section of an outline planned from the papers (planner.paper_outline) with at most
    `keep` of its papers, in the topic's ranking: taken in turn from each subsection (and
    from the papers no subsection holds), best-ranked first, so that every sub-theme keeps
    its share; each subsection keeps those of its papers that remain."""
    rank = {record["id"]: position for position, record in enumerate(candidates)}
    planned = sorted((arxiv_id for arxiv_id in set(section["papers"]) if arxiv_id in rank), key=rank.__getitem__)
    kept = set(take_in_turn(_groups(planned, section["subsections"]), keep))
    ranked = [candidates[rank[arxiv_id]] for arxiv_id in planned if arxiv_id in kept]
    subthemes = [
        SubthemeRecord(title=sub["title"], papers=[i for i in sub.get("papers", []) if i in kept])
        for sub in section["subsections"]
    ]
    record = SectionRecord(
        title=section["title"],
        description=section["description"],
        subsections=[sub["title"] for sub in section["subsections"]],
        subthemes=subthemes,
        queries=list(section["queries"]),
        papers=ranked,
    )
    if len(planned) > keep:
        log.info("section %r: kept the %d best-ranked of its %d papers", section["title"], keep, len(planned))
    return record


def _groups(planned: list[str], subsections: list[dict]) -> list[list[str]]:
    """`planned` ids split by subsection (in `planned`'s order), then those of none."""
    groups = [[i for i in planned if i in set(sub.get("papers", []))] for sub in subsections]
    grouped = {i for group in groups for i in group}
    return [*groups, [i for i in planned if i not in grouped]]


def take_in_turn(groups: list[list[str]], keep: int) -> list[str]:
    """Up to `keep` distinct items, one from each group in turn, each group's in its order."""
    taken: dict[str, None] = {}
    queues = [list(group) for group in groups]
    while len(taken) < keep and any(queues):
        for queue in queues:
            while queue and queue[0] in taken:
                queue.pop(0)
            if queue and len(taken) < keep:
                taken[queue.pop(0)] = None
    return list(taken)


def rerank(section_hits: list[Paper], candidate_ids: list[str], keep: int, rrf_k: int) -> list[Paper]:
    """Section hits reordered by reciprocal-rank fusion (retriever.fusion, constant `rrf_k`)
    with the topic-wide ranking, so that papers central to both the section and the topic
    come first. Only section hits are kept."""
    by_id = {paper.arxiv_id: paper for paper in section_hits}
    fused = reciprocal_rank_fusion([("section", list(by_id)), ("topic", candidate_ids)], rrf_k)
    return [by_id[entry.key] for entry in fused if entry.key in by_id][:keep]
