"""Batched generation over the static KV cache: chunked prefill, then one decode step per token.

Prompts of different lengths are left-padded to a common length; each row keeps its own RoPE
positions (0 at its first real token) and a mask that hides its padding slots, so a row
generates the same tokens alone or in a batch. With an engine.static_runtime.StaticRuntime (the
GPU path) each prompt fills its own cache row instead, unpadded, and decode steps replay CUDA
graphs. The only host sync per step is reading the sampled ids, which EOS, stop strings,
constraints and streaming all need.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch

from engine.model import MiniCPMForCausalLM
from engine.sampling import next_tokens
from engine.static_runtime import StaticRuntime
from engine.text_stream import TextStream
from engine.types import SamplingParams, TokenConstraint

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class SequenceResult:
    """What one row produced."""

    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: Literal["stop", "length"] = "length"
    prompt_tokens: int = 0
    completion_tokens: int = 0  # sampled tokens, the EOS that ended the row included


def prefill(
    model: MiniCPMForCausalLM,
    ids: torch.Tensor,
    positions: torch.Tensor,
    pads: torch.Tensor | None,
    chunk: int,
) -> torch.Tensor:
    """Run the prompt [B, L] through the model in chunks of `chunk` tokens, filling the cache.
    pads: [B] padding slots per row (None: no padding). -> last-position logits [B, V]."""
    length = ids.shape[1]
    logits = None
    native = model.native_decoder
    for start in range(0, length, chunk):
        end = min(start + chunk, length)
        if native is not None and native.can_prefill(end):
            logits = native.prefill(ids[:, start:end], positions[:, start:end], start, pads)
            continue
        mask = None if pads is None else padded_mask(pads, start, end)
        logits = model(
            ids[:, start:end], positions[:, start:end], start, mask, use_cache=True, first_key=pads, last_only=True
        )[:, -1]
    return logits


def decode_one_token(
    model: MiniCPMForCausalLM, tokens: torch.Tensor, positions: torch.Tensor, input_pos: int, pads: torch.Tensor | None
) -> torch.Tensor:
    """One step: tokens, positions [B, 1] at cache slot input_pos -> logits [B, V]. Runs in C
    (engine.native) where the model has a native decoder, else through the torch forward."""
    native = model.native_decoder
    if native is not None and native.can_decode(input_pos):
        return native.decode(tokens, positions, input_pos, pads)
    mask = None if pads is None else padded_mask(pads, input_pos, input_pos + 1)
    return model(tokens, positions, input_pos, mask, use_cache=True, first_key=pads)[:, -1]


def padded_mask(pads: torch.Tensor, start: int, end: int) -> torch.Tensor:
    """[B, 1, end-start, end] bool: causal, and no row sees its own left-padding slots."""
    query = torch.arange(start, end, device=pads.device)
    keys = torch.arange(end, device=pads.device)
    causal = keys[None, :] <= query[:, None]  # [T, S]
    real = keys[None, :] >= pads[:, None]  # [B, S]
    return (causal[None] & real[:, None])[:, None]


class BatchGeneration:
    """Iterate to run generation: yields (row, text piece) as text becomes safe to show; `results`
    holds every row's outcome once iteration ends."""

    def __init__(
        self,
        model: MiniCPMForCausalLM,
        tokenizer,
        eos_token_ids: Sequence[int],
        prompts: Sequence[Sequence[int]],
        params: SamplingParams,
        max_new_tokens: Sequence[int],
        constraints: Sequence[TokenConstraint | None] | None = None,
        prefill_chunk: int = 512,
        pad_token_id: int = 0,
        runtime: StaticRuntime | None = None,
    ) -> None:
        self.model, self.params = model, params
        self.runtime = runtime
        self.eos = set(eos_token_ids)
        self.prompts = [list(p) for p in prompts]
        self.max_new = list(max_new_tokens)
        self.constraints = list(constraints) if constraints else [None] * len(prompts)
        self.chunk = prefill_chunk
        self.pad_token_id = pad_token_id
        self.streams = [TextStream(tokenizer, params.stop) for _ in prompts]
        self.results = [SequenceResult(prompt_tokens=len(p)) for p in self.prompts]
        self.finished: set[int] = set()

    def __iter__(self) -> Iterator[tuple[int, str]]:
        # inference_mode is entered per step, never across a yield: the consumer's code runs between
        # yields and must not find itself in inference mode.
        return self._run()

    def _run(self) -> Iterator[tuple[int, str]]:
        if self._device_greedy():
            yield from self._run_device_greedy()
            return
        model, params = self.model, self.params
        device = model.model.embed_tokens.weight.device
        batch = len(self.prompts)
        seen = torch.zeros(batch, model.config.vocab_size, dtype=torch.bool, device=device)
        if params.repetition_penalty != 1.0:  # the prompt counts as context, its padding does not
            for row, prompt in enumerate(self.prompts):
                seen[row, torch.tensor(prompt, dtype=torch.long, device=device)] = True
        generators = [self._generator(device) for _ in range(batch)]
        logits, decode = self._runtime_steps() if self.runtime is not None else self._padded_steps(device)
        active = [True] * batch
        for step in range(max(self.max_new)):
            with torch.inference_mode():
                self._apply_constraints(logits, active)
                tokens = next_tokens(logits, params, seen, generators)
                if params.repetition_penalty != 1.0:
                    seen.scatter_(1, tokens[:, None], True)
                sampled = tokens.tolist()
            yield from self._hand_out(sampled, step, active)
            if not any(active):
                break
            with torch.inference_mode():
                logits = decode(tokens, step)
        yield from self._finish_streams()

    def _hand_out(self, sampled: Sequence[int], step: int, active: list[bool]) -> Iterator[tuple[int, str]]:
        """Advance every active row by its sampled token, yielding the text it completes; a row
        that finishes becomes inactive."""
        for row, token in enumerate(sampled):
            if active[row]:
                piece = self._advance(row, token, step)
                if piece:
                    yield row, piece
                active[row] = row not in self.finished

    def _finish_streams(self) -> Iterator[tuple[int, str]]:
        """Emit each row's text not yet handed out and record its full text in its result."""
        for row, stream in enumerate(self.streams):
            piece = stream.finish()
            self.results[row].text = stream.text
            if piece:
                yield row, piece

    def _device_greedy(self) -> bool:
        """Whether each next token is the plain argmax (greedy, no penalty, no constraint) on the
        GPU path's graphs: then the runtime picks it on the device and runs ahead one step."""
        runtime, params = self.runtime, self.params
        return (
            runtime is not None
            and runtime.graphs
            and params.temperature == 0.0
            and params.repetition_penalty == 1.0
            and all(constraint is None for constraint in self.constraints)
        )

    def _run_device_greedy(self) -> Iterator[tuple[int, str]]:
        """_run for _device_greedy: the same tokens (the argmax of the same logits), handed out
        while the GPU decodes the next step (StaticRuntime.greedy_tokens)."""
        batch = len(self.prompts)
        logits = self.runtime.prefill(self.prompts)
        active = [True] * batch
        for step, sampled in enumerate(self.runtime.greedy_tokens(logits, max(self.max_new))):
            yield from self._hand_out(sampled, step, active)
            if not any(active):
                break
        yield from self._finish_streams()

    def _padded_steps(self, device: torch.device):
        """Prefill the left-padded batch through the model's own cache; -> (logits, decode)."""
        model = self.model
        length = max(len(p) for p in self.prompts)
        pad_counts = [length - len(p) for p in self.prompts]
        ids = torch.tensor([[self.pad_token_id] * n + p for n, p in zip(pad_counts, self.prompts, strict=True)])
        pads = torch.tensor(pad_counts, device=device) if any(pad_counts) else None
        positions = (torch.arange(length)[None, :] - torch.tensor(pad_counts)[:, None]).clamp(min=0)
        model.setup_caches(len(self.prompts), length + max(self.max_new))
        next_positions = torch.tensor([[len(p)] for p in self.prompts], device=device)  # [B, 1] RoPE positions
        with torch.inference_mode():
            logits = prefill(model, ids.to(device), positions.to(device), pads, self.chunk)

        def decode(tokens: torch.Tensor, step: int) -> torch.Tensor:
            step_logits = decode_one_token(model, tokens[:, None], next_positions, length + step, pads)
            next_positions.add_(1)
            return step_logits

        return logits, decode

    def _runtime_steps(self):
        """Prefill each prompt into its own row of the runtime's static cache; decode steps replay
        its graphs; -> (logits, decode)."""
        runtime = self.runtime
        logits = runtime.prefill(self.prompts)
        return logits, lambda tokens, step: runtime.decode(tokens)

    def _generator(self, device: torch.device) -> torch.Generator | None:
        if self.params.temperature == 0.0:
            return None
        generator = torch.Generator(device=device)
        if self.params.seed is not None:
            generator.manual_seed(self.params.seed)
        else:
            generator.seed()
        return generator

    def _apply_constraints(self, logits: torch.Tensor, active: list[bool]) -> None:
        for row, constraint in enumerate(self.constraints):
            if constraint is not None and active[row]:
                constraint.mask_logits(logits[row])

    def _advance(self, row: int, token: int, step: int) -> str:
        """Record one sampled token; mark the row finished on EOS, a stop string, a completed
        constraint or its token budget. Returns the text that became safe to show."""
        result = self.results[row]
        result.completion_tokens += 1
        if token in self.eos:
            result.finish_reason = "stop"
            self.finished.add(row)
            return ""
        result.token_ids.append(token)
        constraint = self.constraints[row]
        if constraint is not None:
            constraint.accept(token)
        piece = self.streams[row].add(token)
        if self.streams[row].stopped or (constraint is not None and constraint.is_finished()):
            result.finish_reason = "stop"
            self.finished.add(row)
        elif step + 1 >= self.max_new[row]:
            self.finished.add(row)
        return piece
