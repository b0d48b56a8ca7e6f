"""engine.fused_prefill (the prefill forward through kernels/fused) against the model's plain
forward on the same weights: logits and the KV cache it fills, dense and sparse, in one pass and
in chunks with history. On CPU both run in fp32 (the fused one under the Triton interpreter, its
InfLLM v2 through the kernels, the plain one through kernels/infllmv2/naive.py); on a GPU the
fused one runs in bf16 against the plain fp32 forward on the CPU (5% of the largest logit, as
tests/engine/test_static_gpu.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from kernel_testing import DEVICE

from engine.config import ModelConfig
from engine.kv_cache import KVCache
from engine.model import MiniCPMForCausalLM
from kernels.infllmv2.config import SparseConfig
from tests.engine.conftest import random_model


def prefill(model: MiniCPMForCausalLM, ids: list[int], chunk: int) -> tuple[torch.Tensor, list[KVCache]]:
    """Last-position logits [V] of ids, prefilled in chunks, and the caches filled."""
    device, dtype = model.lm_head.weight.device, model.lm_head.weight.dtype
    caches = [KVCache(1, model.config.num_kv_heads, 96, model.config.head_dim, dtype, device) for _ in range(2)]
    tokens = torch.tensor([ids], device=device)
    positions = torch.arange(len(ids), device=device)[None]
    with torch.inference_mode():
        for start in range(0, len(ids), chunk):
            end = min(start + chunk, len(ids))
            logits = model(
                tokens[:, start:end], positions[:, start:end], start, use_cache=True, last_only=True, caches=caches
            )
    return logits[0, -1].float().cpu(), caches


@pytest.mark.parametrize(
    "sparse",
    [None, pytest.param(SparseConfig.tiny(dense_len=48), marks=pytest.mark.slow)],  # interpreted InfLLM v2: ~6 s
    ids=["dense", "sparse"],
)
@pytest.mark.parametrize("chunk", [80, 32], ids=["one-pass", "chunked"])
def test_fused_prefill_matches_the_plain_forward(sparse, chunk):
    config = replace(ModelConfig.from_name("tiny"), vocab_size=300, sparse_config=sparse)
    plain = random_model(config, seed=3).requires_grad_(False).fuse()
    plain.fused_prefill = False
    fused = random_model(config, seed=3).requires_grad_(False).fuse()
    fused.fused_prefill = True
    if DEVICE.type == "cuda":
        fused = fused.to(DEVICE, torch.bfloat16)
    else:
        for layer in fused.model.layers:  # the InfLLM v2 kernels under the interpreter, not naive.py
            if sparse is not None:
                layer.self_attn.attend.fused = True
    ids = torch.randint(0, 300, (80,), generator=torch.Generator().manual_seed(4)).tolist()
    want, want_caches = prefill(plain, ids, chunk)
    got, got_caches = prefill(fused, ids, chunk)
    bound = 0.05 if DEVICE.type == "cuda" else 1e-4
    assert float((got - want).abs().max() / want.abs().max()) < bound
    for got_cache, want_cache in zip(got_caches, want_caches, strict=True):
        for a, b in ((got_cache.k, want_cache.k), (got_cache.v, want_cache.v)):
            a, b = a[:, :, :80].float().cpu(), b[:, :, :80].float().cpu()
            assert float((a - b).abs().max() / b.abs().max()) < bound


def test_fused_prefill_is_not_taken_with_a_mask_or_several_rows():
    from engine.fused_prefill import fused_prefill_applies

    model = random_model(ModelConfig.from_name("tiny"), seed=3).requires_grad_(False).fuse()
    model.fused_prefill = True
    caches = [object()]
    ids = torch.zeros(1, 5, dtype=torch.long)
    assert fused_prefill_applies(model, ids, None, None, caches)
    assert not fused_prefill_applies(model, ids, torch.ones(1, 1, 5, 5, dtype=torch.bool), None, caches)
    assert not fused_prefill_applies(model, torch.zeros(2, 5, dtype=torch.long), None, None, caches)
    assert not fused_prefill_applies(model, ids[:, :1], None, None, caches)
    model.fused_prefill = None  # auto: CUDA in fp16/bf16 only
    assert not fused_prefill_applies(model, ids, None, None, caches)
