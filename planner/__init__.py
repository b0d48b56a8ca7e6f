"""Outline planning: schema, prompts and the plan logic as plain functions."""

from planner.errors import PlanningError, TopicError
from planner.model_titles import model_title_proposer
from planner.paper_outline import outline_from_papers, outline_from_retriever
from planner.plan import (
    OutlineResult,
    QueryPlanResult,
    Usage,
    fallback_outline,
    plan_outline,
    plan_queries,
    repair_outline,
)
from planner.schema import Outline, OutlineSection, QueryPlan, Subsection
from planner.titles import title_problem
from planner.topic import validate_topic

__all__ = [
    "Outline",
    "OutlineResult",
    "OutlineSection",
    "PlanningError",
    "QueryPlan",
    "QueryPlanResult",
    "Subsection",
    "TopicError",
    "Usage",
    "fallback_outline",
    "model_title_proposer",
    "outline_from_papers",
    "outline_from_retriever",
    "plan_outline",
    "plan_queries",
    "repair_outline",
    "title_problem",
    "validate_topic",
]
