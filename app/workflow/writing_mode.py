"""Which writing mode a run uses, and whether its model is trusted to plan.

A small model cannot plan or write a survey from its own knowledge: in grounded mode every
fact sentence is a cited paper's own abstract sentence (writer.grounded), and the outline
comes from clustering the papers (planner.paper_outline). A capable model's search queries
and section titles are still merged in (under the same validation), whatever the mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.settings import Settings
from engine.types import LLM

WriterMode = Literal["grounded", "abstractive"]


@dataclass(frozen=True)
class WritingPlan:
    """The resolved choice: `mode`, whether the model's own queries and titles are used
    (`model_plans`), its size when known, and why this mode was picked."""

    mode: WriterMode
    model_plans: bool
    parameters: int | None
    reason: str


# A capable model planning and writing abstractively: what runs recorded before writing
# modes existed did, and what tests of the model's own path use.
MODEL_WRITES = WritingPlan("abstractive", True, None, "the model plans and writes")


def model_parameters(llm: LLM) -> int | None:
    """The weight count of a local engine's model (None for a server: its size is unknown)."""
    config = getattr(getattr(llm, "model", None), "config", None)
    return getattr(config, "parameter_count", None)


def resolve_writing(settings: Settings, llm: LLM) -> WritingPlan:
    """The run's writing mode from settings.writer and the model.

    A served model (backend 'openai') counts as capable: those who serve one pick it for
    its strength. A local model is capable from settings.writer.grounded_below_parameters
    weights up; the embedded SmolLM2-135M never is."""
    writer = settings.writer
    parameters = model_parameters(llm) if settings.llm.backend == "local" else None
    if settings.llm.backend != "local":
        capable = True
        why = "a served model"
    elif parameters is None:
        capable = False
        why = "a local model of unknown size"
    else:
        capable = parameters >= writer.grounded_below_parameters
        relation = "at least" if capable else "below"
        cut_off = writer.grounded_below_parameters / 1e6
        why = f"a local model of {parameters / 1e6:,.0f}M weights, {relation} {cut_off:,.0f}M"
    if writer.mode != "auto":
        return WritingPlan(writer.mode, capable, parameters, f"writer.mode = {writer.mode} ({why})")
    mode: WriterMode = "abstractive" if capable else "grounded"
    return WritingPlan(mode, capable, parameters, f"writer.mode = auto: {why}")
