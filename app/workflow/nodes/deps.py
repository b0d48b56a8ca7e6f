"""What the nodes run on, handed to every node of one invocation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from app.settings import RetrievalSettings
from app.workflow.events import EventEmitter
from engine.types import LLM
from retriever.expansion import ExpansionSettings
from retriever.types import Retriever


@dataclass
class NodeDeps:
    """The model, the library, the run's event emitter and the run-independent knobs.

    `grammar_for(ids)` returns a citation grammar for a writer given those papers (None: no
    constrained citations); `library_size` only improves an error message; `rrf_k` is
    settings.retrieval.rrf_k, the fusion constant for reranking a section's papers;
    `expansion` is settings.retrieval.expansion, how the topic's candidates are searched.
    """

    llm: LLM
    retriever: Retriever
    emitter: EventEmitter
    grammar_for: Callable[[list[str]], str] | None = None
    library_size: int | None = None
    rrf_k: int = RetrievalSettings.model_fields["rrf_k"].default
    expansion: ExpansionSettings = field(default_factory=ExpansionSettings)
