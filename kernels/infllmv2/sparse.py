"""Block-sparse attention over the selected blocks (DESIGN.md section 4, step 4).

Prefill runs the flash-attention tile kernel of kernels/flash_attention over lists of key
blocks. With one query token per tile (the G heads of its KV group as the rows), the list
is the token's own selection. With TILE_T > 1 tokens per tile, a small kernel first merges
the tokens' sorted selections into one list per tile with a bitmask of the tokens that use
each block, so neighbouring tokens that share blocks read them once.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.flash_attention.launch import use_pdl
from kernels.flash_attention.triton_attention import split_decode_attention, tile_attention
from kernels.infllmv2.config import SparseConfig

BIG = 2**31 - 1
BIG_IN_KERNEL: tl.constexpr = tl.constexpr(BIG)  # kernels may read module constants only as constexpr


@triton.jit
def _merge_kernel(
    sel_ptr,
    cu_q_ptr,
    list_ptr,
    bits_ptr,
    count_ptr,
    n_sel,
    stride_st,
    stride_sh,
    stride_lt,
    stride_lh,
    stride_ct,
    stride_ch,
    TILE_T: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    i_tile, i_b, i_hk = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    q_start = tl.load(cu_q_ptr + i_b)
    q_len = tl.load(cu_q_ptr + i_b + 1) - q_start
    t0 = i_tile * TILE_T
    if t0 >= q_len:
        return
    o_t = tl.arange(0, TILE_T)
    o_k = tl.arange(0, BLOCK_K)
    m_t = t0 + o_t < q_len
    p_sel = sel_ptr + (q_start + t0 + o_t).to(tl.int64)[:, None] * stride_st + i_hk * stride_sh + o_k[None, :]
    b_sel = tl.load(p_sel, mask=m_t[:, None] & (o_k < n_sel)[None, :], other=-1)  # [TILE_T, BLOCK_K]
    b_sel = tl.where(b_sel < 0, BIG_IN_KERNEL, b_sel)
    o_row = (q_start + i_tile).to(tl.int64)
    p_list = list_ptr + o_row * stride_lt + i_hk * stride_lh
    p_bits = bits_ptr + o_row * stride_lt + i_hk * stride_lh
    n = 0
    cur = tl.min(tl.min(b_sel, 1), 0)
    while cur < BIG_IN_KERNEL:
        hit = b_sel == cur  # [TILE_T, BLOCK_K]
        users = tl.max(hit.to(tl.int32), 1)  # [TILE_T]
        tl.store(p_list + n, cur)
        tl.store(p_bits + n, tl.sum(users << o_t, 0))
        b_sel = tl.where(hit, BIG_IN_KERNEL, b_sel)
        cur = tl.min(tl.min(b_sel, 1), 0)
        n += 1
    tl.store(count_ptr + o_row * stride_ct + i_hk * stride_ch, n)


def merge_tile_selections(
    selected: torch.Tensor, cu_seqlens_q: torch.Tensor, max_seqlen_q: int, tile_tokens: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Union of the selections of tile_tokens consecutive queries (tile_tokens <= 32).

    selected [Tq, HKV, S] int32 (ascending, -1 padded) -> (blocks [Tq, HKV, tile_tokens * S]
    int32, bits [Tq, HKV, tile_tokens * S] int32, counts [Tq, HKV] int32): the tile starting
    at token t0 of sequence b is row cu_seqlens_q[b] + t0 // tile_tokens; its first counts
    entries list its blocks in ascending order, bit i of bits marking token t0 + i's use.
    """
    n_q, n_kv, n_sel = selected.shape
    blocks = torch.empty(n_q, n_kv, tile_tokens * n_sel, device=selected.device, dtype=torch.int32)
    bits = torch.empty_like(blocks)
    counts = torch.empty(n_q, n_kv, device=selected.device, dtype=torch.int32)
    grid = (triton.cdiv(max_seqlen_q, tile_tokens), cu_seqlens_q.shape[0] - 1, n_kv)
    _merge_kernel[grid](
        selected,
        cu_seqlens_q,
        blocks,
        bits,
        counts,
        n_sel,
        selected.stride(0),
        selected.stride(1),
        blocks.stride(0),
        blocks.stride(1),
        counts.stride(0),
        counts.stride(1),
        TILE_T=tile_tokens,
        BLOCK_K=triton.next_power_of_2(n_sel),
        num_warps=1,
    )
    return blocks, bits, counts


def block_sparse_prefill(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    selected: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    config: SparseConfig,
    tile_tokens: int = 4,
) -> torch.Tensor:
    """Exact causal attention of each query over its selected key blocks.

    q [Tq, HQ, D]; k and v [Tk, HKV, D] (same dtype); selected [Tq, HKV, S] int32 from
    prefill_select (ascending, -1 padded); cu_seqlens_q and cu_seqlens_k [B + 1] int32.
    Sequences with fewer than config.dense_len keys attend densely instead. tile_tokens
    queries share one tile (1: no merging). Returns [Tq, HQ, D] in q's dtype.
    """
    if tile_tokens == 1:
        return tile_attention(
            q,
            k,
            v,
            cu_seqlens_q,
            cu_seqlens_k,
            max_seqlen_q,
            config.block_size,
            1,
            blocks=selected,
            dense_len=config.dense_len,
        )
    blocks, bits, counts = merge_tile_selections(selected, cu_seqlens_q, max_seqlen_q, tile_tokens)
    return tile_attention(
        q,
        k,
        v,
        cu_seqlens_q,
        cu_seqlens_k,
        max_seqlen_q,
        config.block_size,
        tile_tokens,
        blocks=blocks,
        bits=bits,
        counts=counts,
        dense_len=config.dense_len,
        # 3 stages: 56.2 against 58.2 ms with 2 at 128K, 4 tokens a tile, correlated queries
        # (an H200 sweep, bench/RESULTS.md, session 4); 4 stages: 75.5
        num_stages=3,
    )


def decode_splits(config: SparseConfig, batch_kv: int, num_sms: int = 132) -> tuple[int, int]:
    """(num_splits, slots per split) for sparse decode: enough slots for the selected blocks
    and for the dense blocks of a context just under dense_len."""
    slots = max(config.selected_blocks, triton.cdiv(config.dense_len, config.block_size))
    per_split = max(1, triton.cdiv(slots * batch_kv, 2 * num_sms))
    per_split = max(per_split, triton.cdiv(slots, 128))
    return triton.cdiv(slots, per_split), per_split


def block_sparse_decode(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    lengths: torch.Tensor,
    selected: torch.Tensor,
    config: SparseConfig,
) -> torch.Tensor:
    """One decode step over the selected blocks, split across programs and merged.

    q [B, HQ, D]; k_cache and v_cache [B, capacity, HKV, D]; lengths [B] int32 keys in use
    (the query's own included); selected [B, HKV, S] int32 from decode_select (-1 = none,
    any order). Sequences shorter than config.dense_len attend densely. Two kernels (splits,
    combine), with PDL on Hopper (kernels/flash_attention/launch.py). Returns [B, HQ, D] in
    q's dtype.
    """
    num_splits, per_split = decode_splits(config, q.shape[0] * k_cache.shape[2])
    return split_decode_attention(
        q,
        k_cache,
        v_cache,
        lengths,
        config.block_size,
        num_splits,
        per_split,
        blocks=selected,
        dense_len=config.dense_len,
        pdl=use_pdl(q),
    )


def block_sparse_prefill_split(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scored: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    config: SparseConfig,
    window_tokens: int = 8,
    tile_tokens: int = 1,
) -> torch.Tensor:
    """block_sparse_prefill in two passes that together attend to the same blocks.

    The forced blocks (the init blocks, the query's own block and the local_blocks before it)
    depend on the position only, so window_tokens neighbouring queries share them: the first
    pass reads them once per tile of window_tokens tokens (no lists) and keeps its softmax
    state in fp32; the second continues it over scored [Tq, HKV, W] int32, the blocks each
    query picked by score (prefill_select(..., scored_only=True)), tile_tokens tokens a tile
    (merged lists as in block_sparse_prefill when more than one). Returns [Tq, HQ, D] in q's
    dtype.
    """
    window = (config.init_blocks, config.local_blocks)
    state = tile_attention(
        q,
        k,
        v,
        cu_seqlens_q,
        cu_seqlens_k,
        max_seqlen_q,
        config.block_size,
        window_tokens,
        dense_len=config.dense_len,
        window=window,
        lse_out=True,
    )
    if tile_tokens == 1:
        lists = {"blocks": scored}
    else:
        blocks, bits, counts = merge_tile_selections(scored, cu_seqlens_q, max_seqlen_q, tile_tokens)
        lists = {"blocks": blocks, "bits": bits, "counts": counts}
    return tile_attention(
        q,
        k,
        v,
        cu_seqlens_q,
        cu_seqlens_k,
        max_seqlen_q,
        config.block_size,
        tile_tokens,
        dense_len=config.dense_len,
        state=state,
        **lists,
    )
