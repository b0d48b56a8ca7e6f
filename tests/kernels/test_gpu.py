"""The kernels at the model's real sizes on a GPU (bf16, HQ=32, HKV=2, D=128, up to 32K)."""

from __future__ import annotations

import pytest
import torch
from kernel_testing import assert_valid_selection, cu_seqlens, reference_scores, rel_err

from kernels.infllmv2 import naive
from kernels.infllmv2.config import SparseConfig

pytestmark = pytest.mark.gpu

CONFIG = SparseConfig()  # MiniCPM4's sparse_config
N_HEADS, N_KV, DIM = 32, 2, 128
BF16_TOLERANCE = 1e-2  # relative RMS error of bf16 operands against the fp32 reference
TAIL = 192  # queries compared with the reference (its score matrix is quadratic)


def make_qkv(n_q, n_k, seed):
    generator = torch.Generator(device="cuda").manual_seed(seed)
    q = torch.randn(n_q, N_HEADS, DIM, device="cuda", generator=generator, dtype=torch.bfloat16)
    k = torch.randn(n_k, N_KV, DIM, device="cuda", generator=generator, dtype=torch.bfloat16)
    v = torch.randn(n_k, N_KV, DIM, device="cuda", generator=generator, dtype=torch.bfloat16)
    return q, k, v


def score_tolerance(scores):
    return 0.05 * float(scores[torch.isfinite(scores)].abs().max())


COARSE = SparseConfig(coarse_normaliser=True)


@pytest.mark.parametrize(
    ("window_tokens", "tile_tokens", "config"),
    [(None, 1, CONFIG), (None, 4, CONFIG), (8, 1, CONFIG), (16, 4, CONFIG), (8, 1, COARSE)],
)
def test_prefill_32k_selection_and_sparse_attention(window_tokens, tile_tokens, config):
    from kernels.infllmv2.compress import compress_keys
    from kernels.infllmv2.select import prefill_select
    from kernels.infllmv2.sparse import block_sparse_prefill, block_sparse_prefill_split

    lengths = [32768, 9000]
    q, k, v = make_qkv(sum(lengths), sum(lengths), seed=tile_tokens)
    cu = cu_seqlens(lengths, "cuda")
    c1 = compress_keys(k, cu, max(lengths), config)
    c2 = compress_keys(k, cu, max(lengths), config, coarse=True) if config.coarse_normaliser else None
    selected = prefill_select(q, c1, cu, cu, max(lengths), max(lengths), config, c2=c2)
    if window_tokens is None:
        out = block_sparse_prefill(q, k, v, selected, cu, cu, max(lengths), config, tile_tokens=tile_tokens)
    else:
        scored = prefill_select(q, c1, cu, cu, max(lengths), max(lengths), config, scored_only=True, c2=c2)
        out = block_sparse_prefill_split(
            q, k, v, scored, cu, cu, max(lengths), config, window_tokens=window_tokens, tile_tokens=tile_tokens
        )
    for b in range(2):
        end = int(cu[b + 1])
        rows, keys = slice(end - TAIL, end), slice(int(cu[b]), end)
        ref_scores = reference_scores(q[rows], k[keys], config)
        assert_valid_selection(selected[rows].transpose(0, 1), ref_scores, config, score_tolerance(ref_scores))
        ref = naive.block_sparse_attention(q[rows], k[keys], v[keys], selected[rows].transpose(0, 1), 64)
        assert rel_err(out[rows], ref) < BF16_TOLERANCE
        assert not out[keys].isnan().any()


def test_all_blocks_selected_equals_dense_at_16k():
    from kernels.flash_attention.attention import flash_attention_prefill
    from kernels.infllmv2.attention import infllmv2_prefill

    n = 16384
    config = SparseConfig(topk=256 - 32, dense_len=1)  # 256 blocks: every one selected
    q, k, v = make_qkv(n, n, seed=3)
    cu = cu_seqlens([n], "cuda")
    sparse = infllmv2_prefill(q, k, v, cu, config)
    dense = flash_attention_prefill(q, k, v, cu, cu, n)
    sdpa = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None], is_causal=True, enable_gqa=True
    )[0].transpose(0, 1)
    assert rel_err(dense, sdpa) < BF16_TOLERANCE
    assert rel_err(sparse, sdpa) < BF16_TOLERANCE


def test_varlen_below_and_above_dense_len_and_decode_tail():
    from kernels.infllmv2.attention import infllmv2_decode, infllmv2_prefill
    from kernels.infllmv2.compress import append_compressed_keys, compress_keys
    from kernels.infllmv2.select import decode_select

    lengths = [5000, 20000]
    q, k, v = make_qkv(sum(lengths), sum(lengths), seed=4)
    cu = cu_seqlens(lengths, "cuda")
    prefill = infllmv2_prefill(q, k, v, cu, CONFIG)
    dense_rows = slice(0, 5000)
    assert rel_err(prefill[dense_rows], naive.attention(q[dense_rows], k[dense_rows], v[dense_rows])) < BF16_TOLERANCE

    capacity, steps = 20480, 3
    k_cache = torch.zeros(2, capacity, N_KV, DIM, device="cuda", dtype=torch.bfloat16)
    v_cache = torch.zeros_like(k_cache)
    for b, n in enumerate(lengths):
        k_cache[b, :n], v_cache[b, :n] = k[cu[b] : cu[b + 1]], v[cu[b] : cu[b + 1]]
    c1_cache = torch.zeros(2, (capacity - 32) // 16 + 1, N_KV, DIM, device="cuda", dtype=torch.bfloat16)
    length = torch.tensor(lengths, device="cuda", dtype=torch.int32) - steps
    append_compressed_keys(k_cache, c1_cache, torch.zeros_like(length), length, CONFIG)
    for step in range(steps):
        append_compressed_keys(k_cache, c1_cache, length, length + 1, CONFIG)
        length = length + 1
        rows = (cu[1:] - steps + step).long()
        out = infllmv2_decode(q[rows], k_cache, v_cache, c1_cache, length, CONFIG)
        assert rel_err(out[0], prefill[rows[0]]) < BF16_TOLERANCE  # dense decode
        selected = decode_select(q[rows], c1_cache, length, capacity // 64, CONFIG)[1]  # [HKV, S]
        n = int(length[1])
        ref_scores = reference_scores(q[rows[1]][None], k_cache[1, :n], CONFIG)
        got = torch.where(selected >= 0, selected, 2**31 - 1).sort(-1).values
        assert_valid_selection(
            got.masked_fill(got == 2**31 - 1, -1)[:, None], ref_scores, CONFIG, score_tolerance(ref_scores)
        )
        ref = naive.block_sparse_attention(q[rows[1]][None], k_cache[1, :n], v_cache[1, :n], selected[:, None], 64)
        assert rel_err(out[1], ref[0]) < BF16_TOLERANCE
    c1 = compress_keys(k_cache[1], cu_seqlens([n], "cuda"), n, CONFIG)[0]
    assert rel_err(c1_cache[1, : c1.shape[0]], c1) < 1e-2
