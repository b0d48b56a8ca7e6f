"""Planning nodes: search queries, the outline, and the pause for a human edit of it."""

from __future__ import annotations

import logging

from langgraph.types import interrupt

import planner
from app.workflow.nodes.deps import NodeDeps
from app.workflow.options import RunOptions
from app.workflow.state import SurveyState, papers_of, usage
from retriever.types import VectorSource

log = logging.getLogger(__name__)


def plan_queries(state: SurveyState, deps: NodeDeps) -> dict:
    """Search queries for the topic: the topic itself, then the model's (planner.plan_queries).
    A model too small to plan is not asked: retrieve_broad mines queries from the papers."""
    options = RunOptions.from_json(state["options"])
    if not options.model_plans:
        log.info("search queries: mined from the papers (the model is too small to plan them)")
        return {"queries": []}
    result = planner.plan_queries(deps.llm, state["topic"], options.generate.queries, options.planning_sampling())
    for note in result.notes:
        deps.emitter.warning(note, node="plan_queries")
    log.info("search queries: %s", "; ".join(result.queries))
    return {
        "queries": result.queries,
        "warnings": result.notes,
        "tokens": usage(result.usage.prompt_tokens, result.usage.completion_tokens),
    }


def plan_outline(state: SurveyState, deps: NodeDeps) -> dict:
    """The survey's outline. Grounded runs cluster the candidates into sections named from
    their own phrases (planner.outline_from_retriever; a capable model may propose titles
    that pass the same checks); abstractive runs ask the model, grounded in the candidates'
    titles (planner.plan_outline)."""
    options = RunOptions.from_json(state["options"])
    if options.writer_mode == "grounded" and isinstance(deps.retriever, VectorSource):
        result = outline_from_papers(state, deps, options)
    else:
        titles = [record["title"] for record in state["candidates"]]
        result = planner.plan_outline(
            deps.llm, state["topic"], titles, options.generate.sections, options.planning_sampling()
        )
        if options.writer_mode == "grounded":
            result.notes.insert(0, "the retriever hands out no embeddings to cluster; the model planned the outline")
    for note in result.notes:
        deps.emitter.warning(note, node="plan_outline")
    outline = result.outline.model_dump()
    deps.emitter.emit("outline_ready", node="plan_outline", outline=outline, source=result.source)
    return {
        "outline": outline,
        "outline_source": result.source,
        "warnings": result.notes,
        "tokens": usage(result.usage.prompt_tokens, result.usage.completion_tokens),
    }


def outline_from_papers(state: SurveyState, deps: NodeDeps, options: RunOptions) -> planner.OutlineResult:
    """The outline planned from the candidates' embeddings, each section holding its papers."""
    propose = planner.model_title_proposer(deps.llm, options.planning_sampling()) if options.model_plans else None
    return planner.outline_from_retriever(
        state["topic"],
        deps.retriever,
        papers_of(state["candidates"]),
        options.generate.sections,
        seed=options.generate.seed or 0,
        propose_titles=propose,
    )


def review_outline(state: SurveyState, deps: NodeDeps) -> dict:
    """Pause for a human edit of the outline when the run asked for review; the run API
    resumes the graph with the edited outline (SurveyWorkflow.review)."""
    if not RunOptions.from_json(state["options"]).generate.review_outline:
        return {}
    edited = interrupt({"outline": state["outline"]})
    outline = planner.Outline.model_validate(edited).model_dump()
    return {"outline": outline, "outline_source": state["outline_source"] + "+reviewed"}
