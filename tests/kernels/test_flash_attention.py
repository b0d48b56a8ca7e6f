"""Dense flash attention kernels against the fp32 reference, on small odd shapes."""

from __future__ import annotations

import pytest
import torch
from kernel_testing import DEVICE, DTYPE, TOLERANCE, cu_seqlens, rel_err

from kernels.flash_attention.naive import attention


@pytest.mark.parametrize(("n_heads", "n_kv", "dim"), [(3, 3, 40), (8, 2, 64), (16, 1, 24)])
def test_prefill_varlen_with_history(n_heads, n_kv, dim):
    from kernels.flash_attention.attention import flash_attention_prefill

    k_lengths, q_lengths = [1, 77, 130], [1, 77, 45]  # the last sequence continues 85 tokens of history
    generator = torch.Generator().manual_seed(n_heads)
    q = torch.randn(sum(q_lengths), n_heads, dim, generator=generator).to(DEVICE, DTYPE)
    k = torch.randn(sum(k_lengths), n_kv, dim, generator=generator).to(DEVICE, DTYPE)
    v = torch.randn(sum(k_lengths), n_kv, dim, generator=generator).to(DEVICE, DTYPE)
    cu_q, cu_k = cu_seqlens(q_lengths, DEVICE), cu_seqlens(k_lengths, DEVICE)
    out = flash_attention_prefill(q, k, v, cu_q, cu_k, max(q_lengths))
    for b in range(3):
        qs, ks = slice(cu_q[b], cu_q[b + 1]), slice(cu_k[b], cu_k[b + 1])
        assert rel_err(out[qs], attention(q[qs], k[ks], v[ks])) < TOLERANCE


def test_decode_split_over_blocks():
    from kernels.flash_attention.attention import flash_attention_decode

    batch, capacity, n_heads, n_kv, dim = 3, 300, 8, 2, 48
    generator = torch.Generator().manual_seed(1)
    k_cache = torch.randn(batch, capacity, n_kv, dim, generator=generator).to(DEVICE, DTYPE)
    v_cache = torch.randn(batch, capacity, n_kv, dim, generator=generator).to(DEVICE, DTYPE)
    q = torch.randn(batch, n_heads, dim, generator=generator).to(DEVICE, DTYPE)
    lengths = torch.tensor([1, 129, 300], device=DEVICE, dtype=torch.int32)
    out = flash_attention_decode(q, k_cache, v_cache, lengths, num_splits=3)
    for b in range(batch):
        n = int(lengths[b])
        assert rel_err(out[b], attention(q[b : b + 1], k_cache[b, :n], v_cache[b, :n])[0]) < TOLERANCE
