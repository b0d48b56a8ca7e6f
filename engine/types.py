"""The language-model interface every other package programs against.

`LLM` is a Protocol with two implementations: `engine.local.LocalEngine` (ours) and
`engine.openai_compat.OpenAICompatible` (any server speaking the OpenAI chat API).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from pydantic import BaseModel


class Message(TypedDict):
    """One chat turn."""

    role: Literal["system", "user", "assistant"]
    content: str


# A JSON constraint: a pydantic model class or a JSON-schema dict.
Schema = type[BaseModel] | dict[str, Any]


@dataclass(slots=True)
class SamplingParams:
    """How to pick tokens. temperature 0 is greedy; top_k 0 and top_p/min_p at their
    neutral values disable those filters."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 512
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0 <= self.min_p < 1:
            raise ValueError(f"min_p must be in [0, 1), got {self.min_p}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass(slots=True)
class Completion:
    """One generated answer with its accounting."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length", "error"] = "stop"
    seconds: float = 0.0


@runtime_checkable
class LLM(Protocol):
    """A chat model. All methods are thread-safe for server backends; the local engine
    serialises calls."""

    name: str

    @property
    def context_window(self) -> int:
        """Prompt plus generated tokens the model can attend to."""
        ...

    def chat(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        schema: Schema | None = None,
        grammar: str | None = None,
    ) -> Completion:
        """Answer one conversation. With `schema` the text is JSON that validates; with
        `grammar` (EBNF in xgrammar's dialect, which vLLM and SGLang accept too) the text
        matches the grammar. At most one of the two."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        schema: Schema | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Answer one conversation, yielding text pieces as they are generated."""
        ...

    def batch_chat(
        self,
        conversations: Sequence[Sequence[Message]],
        params: SamplingParams,
        schema: Schema | None = None,
        grammar: str | None = None,
    ) -> list[Completion]:
        """Answer several conversations; results are in input order."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in this model's tokenizer."""
        ...


class TokenConstraint(Protocol):
    """Restricts which tokens one sequence may produce next (a JSON schema, a grammar).

    The local engine's decode loop calls, per constrained sequence and step:
    ``mask_logits`` on that sequence's logits before sampling, ``accept`` with the sampled
    token, and stops the sequence once ``is_finished`` is true.
    """

    def mask_logits(self, logits: Any) -> None:
        """Set the logits of disallowed tokens to -inf, in place. logits: [vocab] float32."""
        ...

    def accept(self, token_id: int) -> None:
        """Advance the constraint's state by one generated token."""
        ...

    def is_finished(self) -> bool:
        """True once the output is complete (only end-of-sequence may follow)."""
        ...
