"""The engine's entry points to InfLLM v2 attention: one call per prefill, one per decode step.

A decode loop keeps, per layer, k_cache and v_cache [B, capacity, HKV, D] and c1_cache
[B, compressed_count(capacity), HKV, D]. After a prefill of L tokens it fills c1 with
`compress_keys` (or `append_compressed_keys` from length 0 to L); at every step it writes
the new K and V, calls `append_compressed_keys(k_cache, c1_cache, old, new)` (every
kernel_stride = 16 new tokens complete one entry: the window ending at the new length),
then `infllmv2_decode`. With config.coarse_normaliser it also keeps c2_cache [B,
compressed_count(capacity, config, coarse=True), HKV, D] through the same calls
(`c2_cache=`). Nothing in a step synchronizes with the host or changes shape with the
lengths, so the whole step can be captured in a CUDA graph.
"""

from __future__ import annotations

import torch
import triton

from kernels.flash_attention.attention import flash_attention_prefill
from kernels.infllmv2.compress import coarse_from_fine, compress_keys
from kernels.infllmv2.config import SparseConfig
from kernels.infllmv2.select import decode_select, prefill_select
from kernels.infllmv2.sparse import block_sparse_decode, block_sparse_prefill, block_sparse_prefill_split


def infllmv2_prefill(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens: torch.Tensor,
    config: SparseConfig,
    cu_seqlens_k: torch.Tensor | None = None,
    max_seqlen_q: int | None = None,
    max_seqlen_k: int | None = None,
    tile_tokens: int = 4,
    window_tokens: int | None = None,
    c1: torch.Tensor | None = None,
    c2: torch.Tensor | None = None,
) -> torch.Tensor:
    """Causal InfLLM v2 attention over a varlen batch (dense for contexts below dense_len).

    q [Tq, HQ, D] post-RoPE queries, bf16/fp16 on GPU (fp32 too under TRITON_INTERPRET);
    k and v [Tk, HKV, D] post-RoPE keys and values, same dtype, HQ a multiple of HKV;
    cu_seqlens [B + 1] int32 cumulative query lengths; cu_seqlens_k [B + 1] int32 cumulative
    key lengths when a sequence has history (its queries are then its last keys; default
    cu_seqlens); max_seqlen_q and max_seqlen_k bound the lengths (read from the cu_seqlens,
    a host synchronization, when not given). window_tokens: queries per tile of the pass over
    the forced blocks (init and local window, shared by neighbours), then tile_tokens queries
    per tile of the pass over the blocks picked by score (sparse.block_sparse_prefill_split);
    window_tokens=None: one pass over the whole selection, tile_tokens a tile
    (sparse.block_sparse_prefill). tile_tokens is 1 or a power of two up to 8; more than
    one gains only when neighbouring queries pick the same blocks. The default, one pass with
    tile_tokens=4, is the faster at 128K on the H200 with correlated queries (as in text);
    the two-pass split is a little faster only with random queries (bench/RESULTS.md).
    c1 (and c2, with config.coarse_normaliser): the sequences' compressed keys when the caller
    keeps them already, [B, n, HKV, D] with n >= compressed_count of each key length (a decode
    loop's c1_cache and c2_cache, filled up to the keys passed; entries past a sequence's count
    are not read); None: compressed here (c2 from c1, coarse_from_fine).
    Returns [Tq, HQ, D] in q's dtype.
    """
    cu_seqlens_k = cu_seqlens if cu_seqlens_k is None else cu_seqlens_k
    if max_seqlen_q is None:
        max_seqlen_q = int((cu_seqlens[1:] - cu_seqlens[:-1]).max())
    if max_seqlen_k is None:
        max_seqlen_k = int((cu_seqlens_k[1:] - cu_seqlens_k[:-1]).max())
    if max_seqlen_k < config.dense_len:
        return flash_attention_prefill(q, k, v, cu_seqlens, cu_seqlens_k, max_seqlen_q)
    if c1 is None:
        c1 = compress_keys(k, cu_seqlens_k, max_seqlen_k, config)
        c2 = coarse_from_fine(c1, config) if config.coarse_normaliser else None
    split = window_tokens is not None
    selected = prefill_select(
        q, c1, cu_seqlens, cu_seqlens_k, max_seqlen_q, max_seqlen_k, config, scored_only=split, c2=c2
    )
    if split:
        return block_sparse_prefill_split(
            q, k, v, selected, cu_seqlens, cu_seqlens_k, max_seqlen_q, config, window_tokens, tile_tokens
        )
    return block_sparse_prefill(q, k, v, selected, cu_seqlens, cu_seqlens_k, max_seqlen_q, config, tile_tokens)


def infllmv2_decode(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    c1_cache: torch.Tensor,
    lengths: torch.Tensor,
    config: SparseConfig,
    c2_cache: torch.Tensor | None = None,
) -> torch.Tensor:
    """One decode step of InfLLM v2 attention for a batch of sequences.

    q [B, HQ, D] the new tokens' queries; k_cache and v_cache [B, capacity, HKV, D] with the
    new keys and values already written; c1_cache [B, c1_capacity, HKV, D] kept current by
    append_compressed_keys (c2_cache likewise, required when config.coarse_normaliser);
    lengths [B] int32 keys in use, the new token included. Sequences shorter than dense_len
    attend densely. Returns [B, HQ, D] in q's dtype.

    Five small kernels (logits, pooling, top-k by rank, attention splits, their combine),
    each launched with PDL on Hopper so that its launch overlaps the previous one's tail
    (kernels/flash_attention/launch.py).
    """
    n_blocks = triton.cdiv(k_cache.shape[1], config.block_size)
    selected = decode_select(q, c1_cache, lengths, n_blocks, config, c2_cache)
    return block_sparse_decode(q, k_cache, v_cache, lengths, selected, config)
