"""Planning nodes: search queries, the outline, and the pause for a human edit of it."""

from __future__ import annotations

import logging

from langgraph.types import interrupt

import planner
from app.workflow.nodes.deps import NodeDeps
from app.workflow.options import RunOptions
from app.workflow.state import SurveyState, usage

log = logging.getLogger(__name__)


def plan_queries(state: SurveyState, deps: NodeDeps) -> dict:
    """Search queries for the topic: the topic itself, then the model's (planner.plan_queries)."""
    options = RunOptions.from_json(state["options"])
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
    """The survey's outline, grounded in the candidates' titles (planner.plan_outline)."""
    options = RunOptions.from_json(state["options"])
    titles = [record["title"] for record in state["candidates"]]
    result = planner.plan_outline(
        deps.llm, state["topic"], titles, options.generate.sections, options.planning_sampling()
    )
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


def review_outline(state: SurveyState, deps: NodeDeps) -> dict:
    """Pause for a human edit of the outline when the run asked for review; the run API
    resumes the graph with the edited outline (SurveyWorkflow.review)."""
    if not RunOptions.from_json(state["options"]).generate.review_outline:
        return {}
    edited = interrupt({"outline": state["outline"]})
    outline = planner.Outline.model_validate(edited).model_dump()
    return {"outline": outline, "outline_source": state["outline_source"] + "+reviewed"}
