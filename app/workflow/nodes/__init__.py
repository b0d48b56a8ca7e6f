"""The graph's nodes, one module-level function each, every one callable alone as
``node(state, deps)`` and returning its state update (docs/ARCHITECTURE.md section 6, "Adding a graph node").

Nodes are thin: the work is in planner/ and writer/. app/workflow/graph.py wires them.
"""

from app.workflow.nodes.assembly import assemble, survey_from_state
from app.workflow.nodes.checking import check_citations
from app.workflow.nodes.deps import NodeDeps
from app.workflow.nodes.planning import plan_outline, plan_queries, review_outline
from app.workflow.nodes.retrieval import dispatch_retrieval, rerank, retrieve_broad, retrieve_section
from app.workflow.nodes.writing import dispatch_writers, send_writers, write_frame, write_section, write_sections

__all__ = [
    "NodeDeps",
    "assemble",
    "check_citations",
    "dispatch_retrieval",
    "dispatch_writers",
    "plan_outline",
    "plan_queries",
    "rerank",
    "retrieve_broad",
    "retrieve_section",
    "review_outline",
    "send_writers",
    "survey_from_state",
    "write_frame",
    "write_section",
    "write_sections",
]
