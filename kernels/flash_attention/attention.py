"""Dense causal flash attention (prefill and decode) for the engine, in Triton."""

from __future__ import annotations

import torch
import triton

from kernels.flash_attention.triton_attention import split_decode_attention, tile_attention


def flash_attention_prefill(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    scale: float | None = None,
) -> torch.Tensor:
    """Causal attention over a varlen batch, GQA heads packed into one tile.

    q [Tq, HQ, D] (fp16/bf16 on GPU; fp32 too under TRITON_INTERPRET); k and v [Tk, HKV, D],
    same dtype, HQ a multiple of HKV, last dim contiguous; cu_seqlens_q [B + 1] and
    cu_seqlens_k [B + 1] int32 cumulative lengths, with every sequence's queries being its
    last keys (query i of a sequence sits at key position len_k - len_q + i: prefill with
    history works); max_seqlen_q an int >= every query length; scale defaults to D ** -0.5.
    Returns [Tq, HQ, D] in q's dtype.
    """
    group = q.shape[1] // k.shape[1]
    tile_tokens = max(1, 128 // triton.next_power_of_2(group))
    # tiles of 128 rows x 128 keys with 3 stages: the fastest at 32K on the H200
    # (bench/tile_attention_sweep.py, bench/RESULTS.md); 3 stages of 128-key K and V blocks
    # fit the shared memory only up to D = 128
    wide = q.shape[-1] <= 128
    return tile_attention(
        q,
        k,
        v,
        cu_seqlens_q,
        cu_seqlens_k,
        max_seqlen_q,
        block_n=128 if wide else 64,
        tile_tokens=tile_tokens,
        scale=scale,
        num_stages=3 if wide else 2,
    )


def decode_splits(capacity: int, batch_kv: int, block_n: int = 64, num_sms: int = 132) -> tuple[int, int]:
    """(num_splits, blocks per split) for a cache of `capacity` tokens and batch * HKV rows of work."""
    n_blocks = triton.cdiv(capacity, block_n)
    num_splits = max(1, min(n_blocks, triton.cdiv(2 * num_sms, batch_kv), 128))
    return num_splits, triton.cdiv(n_blocks, num_splits)


def flash_attention_decode(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    lengths: torch.Tensor,
    num_splits: int | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """One decode step of attention, split over the key blocks (flash-decoding).

    q [B, HQ, D]; k_cache and v_cache [B, capacity, HKV, D] (same dtype as q); lengths [B]
    int32, keys in use per sequence (the new token's own key already written). Returns
    [B, HQ, D] in q's dtype. The launch shapes depend only on the capacity, not on the
    lengths, so a CUDA graph can capture it.
    """
    block_n = 64
    splits, per_split = decode_splits(k_cache.shape[1], q.shape[0] * k_cache.shape[2], block_n)
    if num_splits is not None:
        splits, per_split = num_splits, triton.cdiv(triton.cdiv(k_cache.shape[1], block_n), num_splits)
    return split_decode_attention(q, k_cache, v_cache, lengths, block_n, splits, per_split, scale=scale)
