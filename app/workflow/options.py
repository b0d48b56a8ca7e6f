"""What a run records at its start (:class:`RunOptions`), so that a resume writes the same
survey: the survey options (settings.generate), the model, the backend and the corpus.

The checkpoint holds the flat JSON form (:meth:`RunOptions.to_json`); nodes read it back
through :meth:`RunOptions.from_json`, which fills options that older runs did not record
from today's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.settings import GenerateSettings, Settings
from app.workflow.writing_mode import WriterMode, WritingPlan
from engine.types import SamplingParams
from retriever.types import SearchFilters

# The keys besides GenerateSettings' fields in the JSON form.
_RUN_KEYS = ("model", "backend", "corpus", "created_at", "output_dir", "writer_mode", "model_plans", "polish")


@dataclass(frozen=True)
class RunOptions:
    """The options of one run. `generate` is validated settings.generate as the run began."""

    generate: GenerateSettings
    model: str | None
    backend: str | None
    corpus: str | None
    created_at: str | None
    output_dir: str
    # The resolved writing mode (app.workflow.writing_mode): runs recorded before it existed
    # were written abstractively with the model's own plan.
    writer_mode: WriterMode = "abstractive"
    model_plans: bool = True
    polish: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, output_dir: Path, writing: WritingPlan) -> RunOptions:
        """The options of a run started now with `settings`, writing into `output_dir` in the
        resolved `writing` mode."""
        return cls(
            generate=settings.generate,
            model=settings.llm.model,
            backend=settings.llm.backend,
            corpus=settings.corpus,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            output_dir=str(output_dir),
            writer_mode=writing.mode,
            model_plans=writing.model_plans,
            polish=settings.writer.polish,
        )

    def to_json(self) -> dict[str, Any]:
        """The flat JSON form kept in the checkpoint and in survey.json's metadata."""
        record = self.generate.model_dump(mode="json")
        record.update({key: getattr(self, key) for key in _RUN_KEYS})
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> RunOptions:
        """Inverse of :meth:`to_json`; options a run did not record take today's defaults."""
        generate = GenerateSettings.model_validate({k: record[k] for k in GenerateSettings.model_fields if k in record})
        return cls(
            generate=generate,
            model=record.get("model"),
            backend=record.get("backend"),
            corpus=record.get("corpus"),
            created_at=record.get("created_at"),
            output_dir=record["output_dir"],
            writer_mode=record.get("writer_mode", "abstractive"),
            model_plans=record.get("model_plans", True),
            polish=record.get("polish", False),
        )

    @property
    def filters(self) -> SearchFilters | None:
        """The run's date and category restrictions (None: search everything)."""
        return search_filters(self.generate)

    def sampling(self, temperature: float | None = None) -> SamplingParams:
        """Sampling for writing; `temperature` overrides the run's."""
        temperature = self.generate.temperature if temperature is None else temperature
        # A mild repetition penalty: small models otherwise loop on a phrase.
        return SamplingParams(
            temperature=temperature,
            top_p=0.95 if temperature > 0 else 1.0,
            repetition_penalty=1.1,
            max_new_tokens=1024,
            seed=self.generate.seed,
        )

    def planning_sampling(self) -> SamplingParams:
        """Sampling for structured output: low temperature, since creativity there only breaks the JSON."""
        return self.sampling(temperature=min(self.generate.temperature, 0.3))

    def settings_overrides(self) -> dict[str, Any]:
        """Dotted settings keys a resume keeps from the run's start (see :func:`resume_overrides`)."""
        generate = self.generate.model_dump(mode="json")
        recorded: dict[str, Any] = {f"generate.{key}": value for key, value in generate.items()}
        recorded.update({"llm.model": self.model, "llm.backend": self.backend, "corpus": self.corpus})
        recorded.update({"writer.mode": self.writer_mode, "writer.polish": self.polish})
        return recorded


def search_filters(generate: GenerateSettings) -> SearchFilters | None:
    """The date and category restrictions of `generate` (None: search everything)."""
    if not (generate.date_from or generate.date_to or generate.categories):
        return None
    return SearchFilters(date_from=generate.date_from, date_to=generate.date_to, categories=tuple(generate.categories))


def resume_overrides(options: RunOptions, flags: Mapping[str, Any]) -> dict[str, Any]:
    """Settings overrides for resuming a run: what it recorded at its start (its survey
    options, its model), unless this invocation's `flags` (dotted keys; None: not given)
    say otherwise."""
    return {**options.settings_overrides(), **{key: value for key, value in flags.items() if value is not None}}
