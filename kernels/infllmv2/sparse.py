"""Block-sparse attention over the selected blocks (docs/ARCHITECTURE.md section 4, step 4).

Prefill runs the flash-attention tile kernel of kernels/flash_attention over lists of key
blocks. With one query token per tile (the G heads of its KV group as the rows), the list
is the token's own selection. With TILE_T > 1 tokens per tile, a small kernel first merges
the tokens' selections into one list per tile with a bitmask of the tokens that use each
block, so neighbouring tokens that share blocks read them once; the blocks before the tile's
first query come first, packed with their bitmask, for the attention kernel's unmasked loop.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.flash_attention.launch import use_pdl
from kernels.flash_attention.triton_attention import USERS_SHIFT, split_decode_attention, tile_attention
from kernels.infllmv2.config import SparseConfig

BIG = 2**31 - 1
BIG_IN_KERNEL: tl.constexpr = tl.constexpr(BIG)  # kernels may read module constants only as constexpr


@triton.jit
def _merge_kernel(
    sel_ptr,
    cu_q_ptr,
    cu_k_ptr,
    list_ptr,
    bits_ptr,
    count_ptr,
    n_sel,
    list_len,
    stride_st,
    stride_sh,
    stride_lt,
    stride_lh,
    stride_ct,
    stride_ch,
    TILE_T: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    i_tile, i_b, i_hk = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    q_start = tl.load(cu_q_ptr + i_b)
    q_len = tl.load(cu_q_ptr + i_b + 1) - q_start
    k_len = tl.load(cu_k_ptr + i_b + 1) - tl.load(cu_k_ptr + i_b)
    t0 = i_tile * TILE_T
    if t0 >= q_len:
        return
    o_t = tl.arange(0, TILE_T)
    o_k = tl.arange(0, BLOCK_K)
    m_t = t0 + o_t < q_len
    p_sel = sel_ptr + (q_start + t0 + o_t).to(tl.int64)[:, None] * stride_st + i_hk * stride_sh + o_k[None, :]
    b_sel = tl.load(p_sel, mask=m_t[:, None] & (o_k < n_sel)[None, :], other=-1)  # [TILE_T, BLOCK_K]
    b_sel = tl.where(b_sel < 0, BIG_IN_KERNEL, b_sel)
    # blocks that end at or before the tile's first query need no causal mask in the attention
    # kernel, only a mask of the rows of tokens that do not use them: they go first
    lim = (k_len - q_len + t0 + 1) // BLOCK_N
    o_row = (q_start + i_tile).to(tl.int64)
    p_list = list_ptr + o_row * stride_lt + i_hk * stride_lh
    p_bits = bits_ptr + o_row * stride_lt + i_hk * stride_lh
    n_whole = 0
    n_rest = 0
    cur = tl.min(tl.min(b_sel, 1), 0)
    while cur < BIG_IN_KERNEL:
        hit = b_sel == cur  # [TILE_T, BLOCK_K]
        users = tl.sum(tl.max(hit.to(tl.int32), 1) << o_t, 0)
        if cur < lim:  # packed with its users: the attention kernel's fast loop makes one load a block
            tl.store(p_list + n_whole, cur | (users << USERS_SHIFT))
            n_whole += 1
        else:  # from the row's end backwards: the union fits the row, so the two runs never meet
            n_rest += 1
            tl.store(p_list + list_len - n_rest, cur)
            tl.store(p_bits + list_len - n_rest, users)
        b_sel = tl.where(hit, BIG_IN_KERNEL, b_sel)
        cur = tl.min(tl.min(b_sel, 1), 0)
    p_count = count_ptr + o_row * stride_ct + i_hk * stride_ch
    tl.store(p_count, n_whole)
    tl.store(p_count + 1, n_rest)


def merge_tile_selections(
    selected: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    tile_tokens: int,
    block_size: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Union of the selections of tile_tokens consecutive queries (tile_tokens <= 11).

    selected [Tq, HKV, S] int32 (-1 padded); cu_seqlens_q and cu_seqlens_k [B + 1] int32 (the
    queries are the last keys of their sequence); block_size keys a block. Returns (blocks
    [Tq, HKV, U] int32, bits [Tq, HKV, U] int32, counts [Tq, HKV, 2] int32) with
    U = tile_tokens * S: the tile starting at token t0 of sequence b is row
    cu_seqlens_q[b] + t0 // tile_tokens. Its first counts[..., 0] entries, ascending, are the
    blocks that end at or before its first query (no causal mask needed), as
    block | users << USERS_SHIFT; its last counts[..., 1] entries, descending from the row's
    end, are the others (block ids). users, and bits of the latter, have bit i set where token
    t0 + i uses the block.
    """
    n_q, n_kv, n_sel = selected.shape
    if tile_tokens > 31 - USERS_SHIFT.value:
        raise ValueError(
            f"tile_tokens={tile_tokens}: merged list entries hold the users of at most {31 - USERS_SHIFT.value} tokens"
        )
    list_len = tile_tokens * n_sel
    blocks = torch.empty(n_q, n_kv, list_len, device=selected.device, dtype=torch.int32)
    bits = torch.empty_like(blocks)
    counts = torch.empty(n_q, n_kv, 2, device=selected.device, dtype=torch.int32)
    grid = (triton.cdiv(max_seqlen_q, tile_tokens), cu_seqlens_q.shape[0] - 1, n_kv)
    _merge_kernel[grid](
        selected,
        cu_seqlens_q,
        cu_seqlens_k,
        blocks,
        bits,
        counts,
        n_sel,
        list_len,
        selected.stride(0),
        selected.stride(1),
        blocks.stride(0),
        blocks.stride(1),
        counts.stride(0),
        counts.stride(1),
        TILE_T=tile_tokens,
        BLOCK_K=triton.next_power_of_2(n_sel),
        BLOCK_N=block_size,
        num_warps=1,
    )
    return blocks, bits, counts


def _merged_lists(
    selected: torch.Tensor,
    k: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    tile_tokens: int,
    config: SparseConfig,
) -> dict[str, torch.Tensor]:
    """merge_tile_selections' lists as tile_attention's keyword arguments, once the block ids
    are known to fit beside the users in an entry (fewer than 2^20 blocks: 67M keys of 64)."""
    if triton.cdiv(k.shape[0], config.block_size) > 2**USERS_SHIFT.value:
        raise ValueError(
            f"{k.shape[0]} keys make more than 2^{USERS_SHIFT.value} blocks, more than merged lists hold: "
            "use tile_tokens=1"
        )
    blocks, bits, counts = merge_tile_selections(
        selected, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, tile_tokens, config.block_size
    )
    return {"blocks": blocks, "bits": bits, "counts": counts}


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
    lists = _merged_lists(selected, k, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, tile_tokens, config)
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
        # 3 stages with the default 4 warps: the fastest at 128K, 4 tokens a tile, correlated queries
        # (the H200 sweeps in bench/RESULTS.md)
        num_stages=3,
        **lists,
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
        lists = _merged_lists(scored, k, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, tile_tokens, config)
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
