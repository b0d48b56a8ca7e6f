"""LocalEngine: our model in this process, behind the engine.types.LLM interface."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence

import torch

from engine.errors import ContextWindowExceededError, EngineError
from engine.generate import BatchGeneration, SequenceResult
from engine.loading import LoadedModel, load_model
from engine.static_runtime import StaticRuntime
from engine.types import Completion, Message, SamplingParams, Schema, TokenConstraint

logger = logging.getLogger(__name__)


class LocalEngine:
    """A MiniCPM4 or Llama-family checkpoint run by our engine.

    Calls are serialised by a lock; a `stream` holds it until the stream is exhausted or closed,
    so other threads wait for it (batch several conversations with `batch_chat` instead).

    On CUDA (unless static=False) generation runs through an engine.static_runtime.StaticRuntime:
    a static KV cache of context_window tokens for up to max_batch rows (fewer when the free GPU
    memory holds fewer; DeviceMemoryError when it holds none), decode steps from CUDA graphs.
    Call `warmup()` before timing requests (`load` does, unless warmup=False)."""

    def __init__(
        self,
        loaded: LoadedModel,
        context_window: int | None = None,
        prefill_chunk: int = 512,
        max_batch: int = 8,
        static: bool | None = None,
    ) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.name = loaded.name
        self._context_window = min(context_window or 1 << 62, self.model.config.max_position_embeddings)
        self.prefill_chunk = prefill_chunk
        self._lock = threading.RLock()
        self._constraint_factory = None
        device = self.model.model.embed_tokens.weight.device
        self.runtime: StaticRuntime | None = None
        if device.type == "cuda" if static is None else static:
            self.runtime = StaticRuntime(self.model)
            self.runtime.reserve(self._context_window, max_batch)

    def reserve(self, context_window: int, max_batch: int = 8) -> None:
        """Size the static cache anew (GPU path): context_window tokens for up to max_batch rows.
        Drops the captured graphs: call warmup() again."""
        if self.runtime is None:
            raise EngineError("reserve() sizes the static KV cache of the GPU path; this engine has none")
        with self._lock:
            window = min(context_window, self.model.config.max_position_embeddings)
            self.runtime.reserve(window, max_batch)
            self._context_window = window

    def warmup(self) -> float:
        """Compile kernel variants and capture decode graphs now, not during a request; -> seconds
        (0.0 without the GPU path)."""
        with self._lock:
            return self.runtime.warmup() if self.runtime is not None else 0.0

    @classmethod
    def load(
        cls,
        model: str = "embedded",
        device: str = "auto",
        dtype: str = "auto",
        context_window: int | None = None,
        native: bool = True,
        max_batch: int = 8,
        warmup: bool = True,
    ) -> LocalEngine:
        """Load 'embedded' (the bundled SmolLM2-135M), an HF directory, a .gguf file or a hub id.
        native: run CPU fp32 steps in C (engine.native) where it can be built. On CUDA, the static
        cache holds context_window tokens (default: the model's) for up to max_batch rows, and
        warmup compiles and captures at load (its seconds in `runtime.warmup_seconds`)."""
        available = len(_available_cpus())
        if torch.get_num_threads() > available:
            # torch counts the host's cores; in a container limited to fewer, extra threads only contend.
            torch.set_num_threads(max(1, available))
        engine = cls(load_model(model, device, dtype, native=native), context_window, max_batch=max_batch)
        if warmup:
            engine.warmup()
        return engine

    @property
    def context_window(self) -> int:
        return self._context_window

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def chat(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        schema: Schema | None = None,
        grammar: str | None = None,
    ) -> Completion:
        return self.batch_chat([messages], params, schema, grammar)[0]

    def stream(
        self,
        messages: Sequence[Message],
        params: SamplingParams,
        schema: Schema | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        with self._lock:
            generation = self._generation([messages], params, schema, grammar)
            for _, piece in generation:
                yield piece

    def batch_chat(
        self,
        conversations: Sequence[Sequence[Message]],
        params: SamplingParams,
        schema: Schema | None = None,
        grammar: str | None = None,
    ) -> list[Completion]:
        if not conversations:
            return []
        group = self.runtime.rows if self.runtime is not None else len(conversations)
        completions = []
        with self._lock:
            for start in range(0, len(conversations), group):
                started = time.perf_counter()
                generation = self._generation(conversations[start : start + group], params, schema, grammar)
                for _ in generation:
                    pass
                seconds = time.perf_counter() - started
                completions += [_completion(result, seconds) for result in generation.results]
        return completions

    def _generation(
        self,
        conversations: Sequence[Sequence[Message]],
        params: SamplingParams,
        schema: Schema | None,
        grammar: str | None,
    ) -> BatchGeneration:
        prompts = [self.tokenizer.chat_prompt(messages) for messages in conversations]
        budgets = []
        for index, prompt in enumerate(prompts):
            room = self.context_window - len(prompt)
            if room < 1:
                raise ContextWindowExceededError(
                    f"conversation {index} takes {len(prompt)} tokens, but {self.name} has a context window of "
                    f"{self.context_window} tokens (prompt and reply together); shorten the prompt"
                )
            budgets.append(min(params.max_new_tokens, room))
        return BatchGeneration(
            self.model,
            self.tokenizer,
            self.loaded.eos_token_ids,
            prompts,
            params,
            budgets,
            constraints=self._constraints(len(prompts), schema, grammar),
            prefill_chunk=self.prefill_chunk,
            pad_token_id=self.tokenizer.pad_token_id,
            runtime=self.runtime,
        )

    def _constraints(self, count: int, schema: Schema | None, grammar: str | None) -> list[TokenConstraint | None]:
        """One fresh constraint per sequence (constraints carry per-sequence state)."""
        if schema is None and grammar is None:
            return [None] * count
        if schema is not None and grammar is not None:
            raise ValueError("pass either schema or grammar, not both")
        factory = self._factory()
        if schema is not None:
            return [factory.for_schema(schema) for _ in range(count)]
        return [factory.for_grammar(grammar) for _ in range(count)]

    def _factory(self):
        if self._constraint_factory is None:
            try:
                from engine.constrained import ConstraintFactory  # lazy: xgrammar loads only when asked for
            except ImportError as exc:
                raise EngineError(
                    f"constrained generation is unavailable: engine.constrained could not be imported ({exc})"
                ) from None
            self._constraint_factory = ConstraintFactory(
                self.tokenizer.tokenizer, self.model.config.vocab_size, stop_token_ids=self.loaded.eos_token_ids
            )
        return self._constraint_factory


def _completion(result: SequenceResult, seconds: float) -> Completion:
    return Completion(
        text=result.text,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        finish_reason=result.finish_reason,
        seconds=seconds,
    )


def _available_cpus() -> set[int]:
    import os

    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))
