"""kernels/fused (RMSNorm with the residual add, silu(gate) * up, RoPE into the KV cache) against
kernels/fused/reference.py, the engine's own elementwise arithmetic. On CPU the kernels interpret
in fp32; on a GPU they run in bf16, where they round where the reference rounds: at most one bf16
step apart (the fp32 sums run in another order)."""

from __future__ import annotations

import pytest
import torch
from kernel_testing import DEVICE

from engine.config import ModelConfig
from engine.rope import rope_tables
from kernels.fused import reference
from kernels.fused.elementwise import add_rms_norm, rms_norm, silu_mul
from kernels.fused.rope_cache import rope_qkv_into_cache

DTYPE = torch.bfloat16 if DEVICE.type == "cuda" else torch.float32


def close(out: torch.Tensor, ref: torch.Tensor) -> None:
    """Within one rounding step of DTYPE (relative to each value's size), everywhere."""
    step = 2**-7 if torch.bfloat16 == DTYPE else 1e-5
    out, ref = out.float().cpu(), ref.float().cpu()
    assert not out.isnan().any()
    bound = step * (ref.abs() + 1e-3 * ref.abs().max())
    assert bool(((out - ref).abs() <= bound).all()), float(((out - ref).abs() - bound).max())


def random(*shape: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator).to(DEVICE, DTYPE)


@pytest.mark.parametrize("hidden", [64, 96, 4096])
def test_rms_norm_matches_the_model_norm(hidden):
    x, weight = random(3, 5, hidden), random(hidden, seed=1)
    close(rms_norm(x, weight, 1e-6), reference.rms_norm(x, weight, 1e-6))


def test_add_rms_norm_returns_the_sum_and_its_norm():
    h, delta, weight = random(7, 200), random(7, 200, seed=1), random(200, seed=2)
    total, normed = add_rms_norm(h, delta, 0.35, weight, 1e-5)
    want_total, want_normed = reference.add_rms_norm(h, delta, 0.35, weight, 1e-5)
    close(total, want_total)
    close(normed, want_normed)


@pytest.mark.parametrize("inner", [48, 1024, 1500])
def test_silu_mul_matches_silu_times_up(inner):
    gate_up = random(2, 3, 2 * inner)
    close(silu_mul(gate_up, block=256), reference.silu_mul(gate_up))


@pytest.mark.parametrize(("heads", "kv_heads", "dim"), [(4, 2, 16), (8, 2, 64), (32, 2, 128)])
def test_rope_into_cache_matches_rope_then_the_cache_write(heads, kv_heads, dim):
    config = ModelConfig.from_name("tiny")
    from dataclasses import replace

    config = replace(config, head_dim=dim, rope_scaling=None)
    cos, sin = (t.to(DEVICE) for t in rope_tables(config, 256))
    batch, tokens, capacity = 2, 5, 40
    qkv = random(batch, tokens, (heads + 2 * kv_heads) * dim)
    positions = torch.tensor([[3, 4, 5, 6, 7], [100, 101, 102, 103, 104]], device=DEVICE)
    slots = torch.tensor([0, 30], device=DEVICE, dtype=torch.int32)
    caches = [random(batch + 1, kv_heads, capacity, dim, seed=s) for s in (5, 6)]
    want_caches = [c.clone() for c in caches]
    q = rope_qkv_into_cache(qkv, cos, sin, positions, slots, *caches, heads, kv_heads)
    want_q = reference.rope_qkv_into_cache(qkv, cos, sin, positions, slots, *want_caches, heads, kv_heads)
    close(q, want_q)
    for got, want in zip(caches, want_caches, strict=True):
        close(got, want)  # written slots match, and nothing else changed


def test_rope_into_cache_takes_a_decode_step_s_strided_positions():
    """One token a row, positions and slots both the rows' lengths (int32, a [B, 1] view)."""
    from dataclasses import replace

    config = replace(ModelConfig.from_name("tiny"), head_dim=16)
    cos, sin = (t.to(DEVICE) for t in rope_tables(config, 64))
    lengths = torch.tensor([9, 20, 33], device=DEVICE, dtype=torch.int32)
    qkv = random(3, 1, 8 * 16)
    caches = [random(4, 2, 48, 16, seed=s) for s in (1, 2)]
    want_caches = [c.clone() for c in caches]
    q = rope_qkv_into_cache(qkv, cos, sin, lengths[:, None], lengths, *caches, 4, 2)
    want_q = reference.rope_qkv_into_cache(qkv, cos, sin, lengths[:, None], lengths, *want_caches, 4, 2)
    close(q, want_q)
    for got, want in zip(caches, want_caches, strict=True):
        close(got, want)


def test_fused_kernels_reject_layouts_they_cannot_read():
    with pytest.raises(ValueError, match="contiguous"):
        rms_norm(random(4, 8).t(), random(4), 1e-6)
    with pytest.raises(ValueError, match="contiguous"):
        silu_mul(random(8, 4).t())
    with pytest.raises(ValueError, match=r"contiguous \[B, T, 128\]"):
        rope_qkv_into_cache(random(1, 2, 100), random(8, 16), random(8, 16), None, None, None, None, 4, 2)


@pytest.mark.parametrize(("rows", "cols", "block"), [(1, 1000, 128), (3, 73448, 4096), (2, 64, 4096)])
def test_argmax_rows_matches_torch_argmax_ties_included(rows, cols, block):
    from kernels.fused.argmax import argmax_rows

    generator = torch.Generator().manual_seed(cols)
    x = torch.randn(rows, cols, generator=generator)
    x[0, cols // 3] = x[0, cols - 1] = 100.0  # a tie across chunks: the first index wins
    if rows > 1:
        x[1, 5] = x[1, 6] = 50.0  # a tie inside one chunk
    x = x.to(DEVICE)
    out = torch.zeros(rows, dtype=torch.long, device=DEVICE)
    assert argmax_rows(x, out=out, block=block) is out
    assert out.tolist() == torch.argmax(x, -1).tolist()
