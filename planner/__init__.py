"""Outline planning: schema, prompts and the plan logic as plain functions."""

from planner.errors import PlanningError, TopicError
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
    "plan_outline",
    "plan_queries",
    "repair_outline",
    "validate_topic",
]
