"""The RoPE-into-cache kernel appending compressed keys in the same launch, against the two
launches it replaces: kernels/fused/rope_cache.py without them, then kernels/infllmv2/compress.py
`append_compressed_keys`. On CPU (the interpreter, fp32) everything is bit-equal; on a GPU (bf16)
q and the caches are bit-equal and c1, c2 within one bf16 step (the fp32 window sum may run in
another order)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from kernel_testing import DEVICE

from engine.config import ModelConfig
from engine.rope import rope_tables
from kernels.fused.rope_cache import rope_qkv_into_cache
from kernels.infllmv2.compress import append_compressed_keys, compressed_count
from kernels.infllmv2.config import SparseConfig

DTYPE = torch.bfloat16 if DEVICE.type == "cuda" else torch.float32
SPARSE = SparseConfig.tiny()  # c1: windows of 8 keys at stride 4; c2: 32 at stride 16


def same(got: torch.Tensor, want: torch.Tensor, exact: bool = True) -> None:
    """Bit-equal (NaN where want has NaN), or within one bf16 step on a GPU when not exact."""
    step = 0.0 if exact or DEVICE.type != "cuda" else 2**-7
    torch.testing.assert_close(got, want, rtol=step, atol=step * 1e-2, equal_nan=True)


def tables(dim: int, positions: int) -> tuple[torch.Tensor, torch.Tensor]:
    config = replace(ModelConfig.from_name("tiny"), head_dim=dim, rope_scaling=None)
    return tuple(t.to(DEVICE) for t in rope_tables(config, positions))


def decode_state(batch: int, kv_heads: int, dim: int, capacity: int, lengths: torch.Tensor, seed: int) -> dict:
    """Random k/v caches (one spare row) and c1/c2 kept by append_compressed_keys up to lengths;
    NaN in every compressed entry no append wrote."""
    generator = torch.Generator().manual_seed(seed)
    k, v = (torch.randn(batch + 1, kv_heads, capacity, dim, generator=generator).to(DEVICE, DTYPE) for _ in "kv")
    c1, c2 = (
        torch.full((batch + 1, compressed_count(capacity, SPARSE, coarse), kv_heads, dim), float("nan")).to(
            DEVICE, DTYPE
        )
        for coarse in (False, True)
    )
    append_compressed_keys(k[:batch].transpose(1, 2), c1, torch.zeros_like(lengths), lengths, SPARSE, c2_cache=c2)
    return {"k_cache": k, "v_cache": v, "c1": c1, "c2": c2}


@pytest.mark.parametrize(("heads", "kv_heads", "dim"), [(4, 2, 16), (6, 3, 16), (8, 2, 32)])
def test_fused_append_equals_rope_then_append_over_many_steps(heads, kv_heads, dim):
    """Batch 2 from lengths 3 (below kernel_size) and 29, 40 steps: c1 windows close every 4
    steps and c2 windows every 16, at other steps in each row."""
    batch, capacity, steps = 2, 72, 40
    cos, sin = tables(dim, capacity)
    lengths = torch.tensor([3, 29], device=DEVICE, dtype=torch.int32)
    fused = decode_state(batch, kv_heads, dim, capacity, lengths, seed=heads)
    plain = {name: tensor.clone() for name, tensor in fused.items()}
    generator = torch.Generator().manual_seed(dim)
    for _ in range(steps):
        qkv = torch.randn(batch, 1, (heads + 2 * kv_heads) * dim, generator=generator).to(DEVICE, DTYPE)
        caches = (fused["k_cache"], fused["v_cache"])
        q = rope_qkv_into_cache(
            qkv, cos, sin, lengths[:, None], lengths, *caches, heads, kv_heads,
            c1_cache=fused["c1"], sparse=SPARSE, c2_cache=fused["c2"],
        )  # fmt: skip
        want_q = rope_qkv_into_cache(
            qkv, cos, sin, lengths[:, None], lengths, plain["k_cache"], plain["v_cache"], heads, kv_heads
        )
        keys = plain["k_cache"][:batch].transpose(1, 2)
        append_compressed_keys(keys, plain["c1"], lengths, lengths + 1, SPARSE, c2_cache=plain["c2"])
        same(q, want_q)
        for name in ("k_cache", "v_cache"):
            same(fused[name], plain[name])
        for name in ("c1", "c2"):
            same(fused[name], plain[name], exact=False)
        lengths = lengths + 1
    for b, length in enumerate(lengths.tolist()):  # 43 and 69 keys: 9 and 16 c1 entries, 1 and 3 c2
        for name, coarse in (("c1", False), ("c2", True)):
            count = compressed_count(length, SPARSE, coarse)
            assert bool(fused[name][b, :count].isfinite().all()) and bool(fused[name][b, count:].isnan().all())
    assert bool(fused["c1"][batch].isnan().all()), "the spare cache row was written"


def test_fused_append_without_c2_leaves_only_c1():
    batch, heads, kv_heads, dim, capacity = 2, 4, 2, 16, 40
    cos, sin = tables(dim, capacity)
    lengths = torch.tensor([7, 15], device=DEVICE, dtype=torch.int32)  # both complete a c1 window: 0 and 2
    fused = decode_state(batch, kv_heads, dim, capacity, lengths, seed=3)
    plain = {name: tensor.clone() for name, tensor in fused.items()}
    qkv = torch.randn(batch, 1, (heads + 2 * kv_heads) * dim).to(DEVICE, DTYPE)
    caches = (fused["k_cache"], fused["v_cache"])
    rope_qkv_into_cache(
        qkv, cos, sin, lengths[:, None], lengths, *caches, heads, kv_heads, c1_cache=fused["c1"], sparse=SPARSE
    )
    rope_qkv_into_cache(qkv, cos, sin, lengths[:, None], lengths, plain["k_cache"], plain["v_cache"], heads, kv_heads)
    append_compressed_keys(plain["k_cache"][:batch].transpose(1, 2), plain["c1"], lengths, lengths + 1, SPARSE)
    same(fused["c1"], plain["c1"], exact=False)
    assert bool(fused["c1"][0, 0].isfinite().all()) and bool(fused["c1"][1, 2].isfinite().all())
    assert bool(fused["c1"][0, 1:].isnan().all()) and bool(fused["c1"][1, 3:].isnan().all())
    same(fused["c2"], plain["c2"])  # untouched


def test_fused_append_rejects_what_it_cannot_append():
    qkv = torch.zeros(2, 3, 8 * 16, device=DEVICE, dtype=DTYPE)
    table = torch.zeros(64, 16, device=DEVICE)
    positions = torch.zeros(2, 3, dtype=torch.int32, device=DEVICE)
    k, v = (torch.zeros(2, 2, 64, 16, device=DEVICE, dtype=DTYPE) for _ in "kv")
    c1 = torch.zeros(2, 15, 2, 16, device=DEVICE, dtype=DTYPE)
    args = (qkv, table, table, positions, positions[:, 0], k, v, 4, 2)
    with pytest.raises(ValueError, match="one token a row, got 3"):
        rope_qkv_into_cache(*args, c1_cache=c1, sparse=SPARSE)
    one = (qkv[:, :1].contiguous(), table, table, positions[:, :1], positions[:, 0], k, v, 4, 2)
    with pytest.raises(ValueError, match="SparseConfig"):
        rope_qkv_into_cache(*one, c1_cache=c1)
    with pytest.raises(ValueError, match="only given c1_cache"):
        rope_qkv_into_cache(*one, c2_cache=c1, sparse=SPARSE)
    with pytest.raises(ValueError, match=r"c1_cache must be \[B, n, Hkv, D\]"):
        rope_qkv_into_cache(*one, c1_cache=c1.transpose(1, 2), sparse=SPARSE)


@pytest.mark.slow
def test_static_decode_steps_keep_the_compressed_keys_without_the_separate_append(monkeypatch):
    """engine/static_decode.py through the kernels: no append_compressed_keys launch in a decode
    step, and after 12 steps (rows of 5 and 30 keys to 17 and 42: three c1 windows each, one c2)
    every layer's c1 and c2 are the compression of its cache, as a prefill of that length would
    leave them (another summation order: fp32 rounding on CPU, one bf16 step on a GPU)."""
    from engine.model import MiniCPMForCausalLM
    from engine.static_runtime import StaticRuntime
    from kernels.infllmv2 import compress
    from tests.engine.conftest import random_model

    sparse = SparseConfig.tiny(dense_len=48, coarse_normaliser=True)
    config = replace(ModelConfig.from_name("tiny"), vocab_size=320, sparse_config=sparse)
    model: MiniCPMForCausalLM = random_model(config, seed=2).requires_grad_(False).fuse()
    if DEVICE.type == "cuda":
        model = model.to(DEVICE, torch.bfloat16)
    runtime = StaticRuntime(model, graphs=False, kernels=True)
    runtime.reserve(capacity=64, max_rows=2)
    runtime.prefill([list(range(7, 12)), list(range(40, 70))])
    monkeypatch.setattr(compress, "append_compressed_keys", lambda *args, **kwargs: pytest.fail("a separate append"))
    for step in range(12):
        runtime.decode(torch.tensor([step + 1, step + 100], device=DEVICE))
    decoder = runtime.decoder
    assert decoder.lengths.tolist() == [17, 42]
    for cache, kept in zip(decoder.caches, decoder.compressed, strict=True):
        for row, length in enumerate((17, 42)):
            cu = torch.tensor([0, length], dtype=torch.int32, device=DEVICE)
            keys = cache.k[row, :, :length].transpose(0, 1)
            for coarse, kept_keys in ((False, kept.c1), (True, kept.c2)):
                want = compress.compress_keys(keys, cu, length, sparse, coarse=coarse)[0]
                assert want.shape[0] == compressed_count(length, sparse, coarse)
                got = kept_keys[row, : want.shape[0]]
                torch.testing.assert_close(
                    got, want, **({"rtol": 2**-7, "atol": 1e-2} if DEVICE.type == "cuda" else {})
                )
