"""The engine on a GPU (skipped without one): the model in bf16 on CUDA against the fp32 CPU model.

bf16 keeps 8 bits of mantissa (relative rounding ~4e-3 per value); through the tiny model's two
layers the logits move by a few percent of their range. 5% of the largest logit is the tolerance:
enough for rounding, far below what a wrong device path (a mask, a cache slot, RoPE on the wrong
positions) does to logits.
"""

from __future__ import annotations

import pytest
import torch

from engine.generate import BatchGeneration
from engine.local import LocalEngine
from engine.types import SamplingParams

pytestmark = pytest.mark.gpu


def test_tiny_model_bf16_on_cuda_matches_fp32_on_cpu(tiny_checkpoint):
    cpu = LocalEngine.load(str(tiny_checkpoint), device="cpu", dtype="float32").model
    gpu = LocalEngine.load(str(tiny_checkpoint), device="cuda", dtype="auto").model
    assert gpu.model.embed_tokens.weight.dtype == torch.bfloat16 and gpu.native_decoder is None
    ids = torch.tensor([[5, 9, 200, 31, 7, 44, 3, 120, 17, 250]])
    positions = torch.arange(ids.shape[1])[None]
    with torch.inference_mode():
        expected = cpu(ids, positions)
        got = gpu(ids.cuda(), positions.cuda()).float().cpu()
    assert (got - expected).abs().max() <= 0.05 * expected.abs().max()


def test_cached_generation_on_cuda_follows_the_cpu_model(tiny_checkpoint):
    """Greedy generation through the static cache on CUDA; each step's choice must be one the fp32
    CPU model also ranks near the top (bf16 may swap near-ties, nothing more)."""
    engine = LocalEngine.load(str(tiny_checkpoint), device="cuda")
    cpu = LocalEngine.load(str(tiny_checkpoint), device="cpu", dtype="float32").model
    prompt = engine.tokenizer.chat_prompt([{"role": "user", "content": "Summarise sparse attention."}])
    generation = BatchGeneration(engine.model, engine.tokenizer, (), [prompt], SamplingParams(), [12])
    list(generation)
    tokens = generation.results[0].token_ids
    assert len(tokens) == 12
    sequence = torch.tensor([prompt + tokens])
    with torch.inference_mode():
        logits = cpu(sequence, torch.arange(sequence.shape[1])[None])[0, len(prompt) - 1 : -1]
    for step, token in enumerate(tokens):
        top = logits[step].topk(3).indices.tolist()
        assert token in top, f"step {step}: CUDA chose {token}, the fp32 CPU model's top 3 are {top}"
