"""The engine's sparse attention seam (engine.attention.SparseAttention) through the fused
kernels: varlen packing of a left-padded batch, head order, prefill with history and a decode
step, against the plain-PyTorch specification on the same tensors."""

from __future__ import annotations

import pytest
import torch
from kernel_testing import DEVICE, DTYPE, TOLERANCE, rel_err

from engine.attention import SparseAttention
from kernels.infllmv2 import naive
from kernels.infllmv2.config import SparseConfig

KV_HEADS, GROUP, DIM = 2, 4, 32


def engine_layout(batch: int, tokens: int, n_keys: int, seed: int):
    """q [B, Hkv, G*T, D] (a group's heads stacked as rows), k and v [B, Hkv, S, D]."""
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, KV_HEADS, GROUP * tokens, DIM, generator=generator)
    k, v = (torch.randn(batch, KV_HEADS, n_keys, DIM, generator=generator) for _ in range(2))
    return (t.to(DEVICE, DTYPE) for t in (q, k, v))


def specification(q, k, v, b: int, start: int, config: SparseConfig) -> torch.Tensor:
    """naive.infllmv2_attention for row b's real queries -> [q_len, Hq, D]."""
    tokens = q.shape[2] // GROUP
    q_len = min(tokens, k.shape[2] - start)
    qb = q[b].view(KV_HEADS, GROUP, tokens, DIM).permute(2, 0, 1, 3).reshape(tokens, -1, DIM)[tokens - q_len :]
    kb, vb = (t[b, :, start:].transpose(0, 1).float() for t in (k, v))
    return naive.infllmv2_attention(qb.float(), kb, vb, config)


def as_tokens(out: torch.Tensor, b: int) -> torch.Tensor:
    """SparseAttention's output row b [Hkv, G*T, D] -> [T, Hq, D]."""
    tokens = out.shape[2] // GROUP
    return out[b].view(KV_HEADS, GROUP, tokens, DIM).permute(2, 0, 1, 3).reshape(tokens, -1, DIM)


@pytest.mark.parametrize(
    ("config", "tokens", "starts"),
    [
        (SparseConfig.tiny(dense_len=64), 70, [0, 20]),  # both rows sparse, prefill with history
        (SparseConfig.tiny(dense_len=64), 1, [0, 45]),  # a decode step: row 1 has 55 keys, dense
        (SparseConfig.tiny(topk=16, dense_len=1), 70, [0, 40]),  # every block: row 1 has 10 padding queries
    ],
)
def test_fused_seam_matches_the_specification(config, tokens, starts):
    n_keys = 100
    q, k, v = engine_layout(len(starts), tokens, n_keys, seed=tokens + starts[1])
    first_key = torch.tensor(starts, device=DEVICE)
    out = SparseAttention(config, GROUP, fused=True)(q, k, v, None, first_key)
    assert out.shape == q.shape
    for b, start in enumerate(starts):
        ref = specification(q, k, v, b, start, config)
        got = as_tokens(out, b)
        assert rel_err(got[tokens - ref.shape[0] :], ref) < TOLERANCE
        assert bool((got[: tokens - ref.shape[0]] == 0).all())  # queries of left padding


@pytest.mark.parametrize(
    "config", [SparseConfig.tiny(dense_len=64), SparseConfig.tiny(dense_len=64, coarse_normaliser=True)]
)
def test_fused_decode_appends_compressed_keys_and_starts_afresh(config, monkeypatch):
    """Decode steps that extend the keys by one take the kernels' decode path over compressed
    keys kept per layer; a new sequence in the same cache, or a rewritten slot, compresses anew."""
    import kernels.infllmv2.attention as entry

    decode_calls = []
    decode = entry.infllmv2_decode
    monkeypatch.setattr(entry, "infllmv2_decode", lambda *args: decode_calls.append(1) or decode(*args))
    attention = SparseAttention(config, GROUP, fused=True)
    _, k, v = engine_layout(2, 1, 160, seed=7)  # the cache: [B, Hkv, 160, D]
    generator = torch.Generator().manual_seed(8)

    def step(n: int, tokens: int = 1) -> None:
        q = torch.randn(2, KV_HEADS, GROUP * tokens, DIM, generator=generator).to(DEVICE, DTYPE)
        out = attention(q, k[:, :, :n], v[:, :, :n], None, None)
        for b in range(2):
            ref = specification(q, k[:, :, :n], v[:, :, :n], b, 0, config)
            assert rel_err(as_tokens(out, b), ref) < TOLERANCE, (n, b)

    step(110, tokens=40)  # prefill past dense_len (7 blocks of 16, 6 selected): compresses the keys
    for n in range(111, 131):  # every step appends (windows complete every 4 keys here)
        step(n)
    assert len(decode_calls) == 20
    step(133)  # keys 131 and 132 came without a call (not the engine's way, but possible): afresh
    assert len(decode_calls) == 20
    k[:, :, :63] = torch.randn(2, KV_HEADS, 63, DIM, generator=generator).to(DEVICE, DTYPE)  # a new sequence
    step(64)  # its first step past dense_len: 63 keys are not the 133 kept, so compress afresh
    step(65)
    assert len(decode_calls) == 21
    k[:, :, 63] = torch.randn(2, KV_HEADS, DIM, generator=generator).to(DEVICE, DTYPE)  # slot 63 rewritten...
    step(64)  # ...and read again at 64 keys: afresh
    step(65)
    assert len(decode_calls) == 22
