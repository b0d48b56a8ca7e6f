"""The Plan-Retrieve-Write workflow as a LangGraph StateGraph: the wiring of the nodes in
app/workflow/nodes/ (docs/ARCHITECTURE.md section 6).

    plan_queries -> retrieve_broad -> plan_outline -> review_outline (interrupts when asked)
      -> retrieve_section x N (Send) -> dispatch_writers -> write_section x N (Send)
         (or write_sections: one batch, with generate.batch_sections)
      -> check_citations -> write_frame -> assemble

Each per-section worker is its own task, so the checkpointer keeps every finished section
even when another one fails, and a resumed run redoes only what had not finished. The graph
is compiled once per checkpointer; each invocation hands the nodes their :class:`NodeDeps`
as the LangGraph runtime context.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from app.workflow import nodes
from app.workflow.nodes import NodeDeps
from app.workflow.state import SurveyState

# node name -> (function, the stage its seconds count towards in survey.json's timings_s)
NODES: dict[str, tuple[Callable[[Any, NodeDeps], dict], str | None]] = {
    "plan_queries": (nodes.plan_queries, "plan"),
    "retrieve_broad": (nodes.retrieve_broad, "retrieve"),
    "plan_outline": (nodes.plan_outline, "plan"),
    "review_outline": (nodes.review_outline, None),
    "retrieve_section": (nodes.retrieve_section, "retrieve"),
    "write_section": (nodes.write_section, "write"),
    "write_sections": (nodes.write_sections, "write"),
    "check_citations": (nodes.check_citations, "check"),
    "write_frame": (nodes.write_frame, "write"),
    "assemble": (nodes.assemble, "assemble"),
}


def _bound(name: str, node: Callable[[Any, NodeDeps], dict], stage: str | None):
    """`node` as LangGraph calls it, with the invocation's deps; a node with a stage also
    reports node_started/node_finished and records its [stage, start, end] span."""

    def run(state: Any, runtime: Runtime[NodeDeps]) -> dict:
        deps = runtime.context
        if stage is None:
            return node(state, deps)
        section = int(state["key"]) if "key" in state else None
        deps.emitter.emit("node_started", node=name, section=section)
        started_at, started = time.time(), time.perf_counter()
        update = node(state, deps) or {}
        seconds = time.perf_counter() - started
        update["spans"] = [[stage, started_at, started_at + seconds]]
        deps.emitter.emit("node_finished", node=name, section=section, seconds=round(seconds, 3))
        return update

    # no functools.wraps: LangGraph reads the signature to pass `runtime`, and wraps would show `node`'s
    run.__name__, run.__doc__ = node.__name__, node.__doc__
    return run


def compile_graph(checkpointer) -> Any:
    """The compiled graph, checkpointed by `checkpointer`; invoke it with ``context=NodeDeps(...)``."""
    graph = StateGraph(SurveyState, context_schema=NodeDeps)
    for name, (node, stage) in NODES.items():
        graph.add_node(name, _bound(name, node, stage))
    graph.add_node("dispatch_writers", nodes.dispatch_writers)
    graph.add_edge(START, "plan_queries")
    graph.add_edge("plan_queries", "retrieve_broad")
    graph.add_edge("retrieve_broad", "plan_outline")
    graph.add_edge("plan_outline", "review_outline")
    graph.add_conditional_edges("review_outline", nodes.dispatch_retrieval, ["retrieve_section"])
    graph.add_edge("retrieve_section", "dispatch_writers")
    graph.add_conditional_edges("dispatch_writers", nodes.send_writers, ["write_section", "write_sections"])
    graph.add_edge("write_section", "check_citations")
    graph.add_edge("write_sections", "check_citations")
    graph.add_edge("check_citations", "write_frame")
    graph.add_edge("write_frame", "assemble")
    graph.add_edge("assemble", END)
    return graph.compile(checkpointer=checkpointer)
