"""From logits to the next token: repetition penalty, temperature, top-k, top-p, min-p, seeded draws.

All functions work on a batch [B, V] of fp32 logits and stay on the device (no host sync).
"""

from __future__ import annotations

import torch

from engine.types import SamplingParams


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style penalty on tokens already in the context: positive logits divided, negative multiplied.
    seen: [B, V] bool."""
    if penalty == 1.0:
        return logits
    penalized = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalized, logits)


def logits_to_probs(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """Probabilities after temperature, then top-k, top-p and min-p filtering (temperature > 0)."""
    logits = logits / params.temperature
    if params.top_k > 0 and params.top_k < logits.shape[-1]:
        kth = torch.topk(logits, params.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if params.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        sorted_probs = sorted_logits.softmax(dim=-1)
        # drop a token when the tokens ranked above it already hold top_p of the mass (the first always stays)
        drop_sorted = (sorted_probs.cumsum(dim=-1) - sorted_probs) >= params.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(dim=-1)
    if params.min_p > 0.0:
        threshold = probs.max(dim=-1, keepdim=True).values * params.min_p
        probs = probs.masked_fill(probs < threshold, 0.0)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


def sample(probs: torch.Tensor, generators: list[torch.Generator | None]) -> torch.Tensor:
    """One draw per row by the exponential race (argmax p/E, E ~ Exp(1)), each row from its own
    generator so that a seeded row draws the same tokens alone or in a batch. -> [B] int64."""
    noise = torch.empty_like(probs)
    for row, generator in enumerate(generators):
        noise[row].exponential_(generator=generator)
    return torch.argmax(probs / noise, dim=-1)


def next_tokens(
    logits: torch.Tensor, params: SamplingParams, seen: torch.Tensor, generators: list[torch.Generator | None]
) -> torch.Tensor:
    """[B, V] fp32 logits (constraints already applied) -> [B] next token ids; greedy at temperature 0."""
    logits = apply_repetition_penalty(logits, seen, params.repetition_penalty)
    if params.temperature == 0.0:
        return torch.argmax(logits, dim=-1)
    return sample(logits_to_probs(logits, params), generators)
