"""Block selection (docs/ARCHITECTURE.md section 4, steps 2 and 3): block scores fused with the
max-pooling, then top-k.

Prefill: a program scores TILE_T query tokens times the G heads of one KV head against all
compressed keys in two passes (the softmax normaliser, then the probabilities summed over
the group and max-pooled to blocks), so the query-by-kernel matrix never leaves registers;
block scores (fp32) go to a buffer for one chunk of queries at a time and the top-k kernel
(topk.py) picks from it. With config.coarse_normaliser the first pass runs over the 4x
fewer coarse keys c2 instead (an approximate normaliser, as docs/ARCHITECTURE.md section 4 allows).
Decode: the kernels are split across programs (one query would leave the GPU idle): one
kernel writes the logits and per-split softmax statistics (of c1, or of c2 for the coarse
normaliser), the next pools them to blocks, and a top-k kernel that ranks every block in
parallel (topk.topk_by_rank) picks; the three launch with PDL where it exists.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

from kernels.flash_attention.launch import use_pdl
from kernels.infllmv2.config import SparseConfig
from kernels.infllmv2.topk import topk_blocks, topk_by_rank

LOG2E = 1.4426950408889634


@triton.jit
def _prefill_scores_kernel(
    q_ptr,
    c1_ptr,
    c2_ptr,
    cu_q_ptr,
    cu_k_ptr,
    out_ptr,
    scale_log2,
    chunk_start,
    chunk_end,
    n_cols,
    stride_qt,
    stride_qh,
    stride_cb,
    stride_cj,
    stride_ch,
    stride_c2b,
    stride_c2j,
    stride_c2h,
    stride_oh,
    stride_ot,
    KERNEL_SIZE: tl.constexpr,
    KERNEL_STRIDE: tl.constexpr,
    COARSE: tl.constexpr,
    C2_SIZE: tl.constexpr,
    C2_STRIDE: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
    INIT_BLOCKS: tl.constexpr,
    LOCAL_BLOCKS: tl.constexpr,
    RATIO: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    GROUP: tl.constexpr,
    GROUP_PAD: tl.constexpr,
    TILE_T: tl.constexpr,
    ROWS: tl.constexpr,
    NB: tl.constexpr,
    BN: tl.constexpr,
):
    i_b, i_hk = tl.program_id(1), tl.program_id(2)
    i_tile = tl.num_programs(0) - 1 - tl.program_id(0)  # the latest queries, with the most kernels, first
    q_start = tl.load(cu_q_ptr + i_b)
    q_end = tl.load(cu_q_ptr + i_b + 1)
    k_len = tl.load(cu_k_ptr + i_b + 1) - tl.load(cu_k_ptr + i_b)
    lo = tl.maximum(q_start, chunk_start)  # packed rows of this sequence inside the chunk
    hi = tl.minimum(q_end, chunk_end)
    t0 = lo + i_tile * TILE_T
    if t0 >= hi:
        return
    o_r = tl.arange(0, ROWS)
    i_t = o_r // GROUP_PAD
    i_g = o_r % GROUP_PAD
    m_row = (i_g < GROUP) & (t0 + i_t < hi)
    pos = k_len - (q_end - q_start) + (t0 + i_t - q_start)  # [ROWS] key position of the query
    n_vis = tl.where(pos + 1 >= KERNEL_SIZE, (pos + 1 - KERNEL_SIZE) // KERNEL_STRIDE + 1, 0)  # [ROWS]
    n_vis = tl.where(m_row, n_vis, 0)
    o_d = tl.arange(0, BLOCK_D)
    m_d = o_d < HEAD_DIM
    o_qt = (t0 + i_t).to(tl.int64)
    b_q = tl.load(
        q_ptr + o_qt[:, None] * stride_qt + (i_hk * GROUP + i_g)[:, None] * stride_qh + o_d[None, :],
        mask=m_row[:, None] & m_d[None, :],
        other=0.0,
    )  # [ROWS, BLOCK_D]
    p_c1 = c1_ptr + i_b.to(tl.int64) * stride_cb + i_hk * stride_ch
    n_vis_max = tl.max(n_vis, 0)

    # pass 1: the softmax normaliser of every row over its visible kernels (c1, or c2 if COARSE)
    if COARSE:
        n_norm = tl.where(pos + 1 >= C2_SIZE, (pos + 1 - C2_SIZE) // C2_STRIDE + 1, 0)
        n_norm = tl.where(m_row, n_norm, 0)
        p_norm = c2_ptr + i_b.to(tl.int64) * stride_c2b + i_hk * stride_c2h
        stride_nj = stride_c2j
    else:
        n_norm = n_vis
        p_norm = p_c1
        stride_nj = stride_cj
    n_norm_max = tl.max(n_norm, 0)
    m_i = tl.full([ROWS], -1.0e30, dtype=tl.float32)
    l_i = tl.zeros([ROWS], dtype=tl.float32)
    for j0 in range(0, n_norm_max, BN):
        o_j = j0 + tl.arange(0, BN)
        b_c = tl.load(
            p_norm + o_j.to(tl.int64)[None, :] * stride_nj + o_d[:, None],
            mask=(o_j < n_norm_max)[None, :] & m_d[:, None],
            other=0.0,
        )  # [BLOCK_D, BN]
        b_s = tl.dot(b_q, b_c) * scale_log2
        b_s = tl.where(o_j[None, :] < n_norm[:, None], b_s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(b_s, 1))
        l_i = l_i * tl.exp2(m_i - m_new) + tl.sum(tl.exp2(b_s - m_new[:, None]), 1)
        m_i = m_new
    lse = tl.where(l_i > 0, m_i + tl.log2(tl.where(l_i > 0, l_i, 1.0)), float("inf"))  # no kernel seen: p = 0

    # pass 2: probabilities summed over the group, max-pooled to blocks, forced and excluded
    o_nb = tl.arange(0, NB)
    o_in = tl.arange(0, RATIO)
    shift = (o_nb[:, None] + 1) == o_nb[None, :]  # [NB, NB]: block b takes the last kernel of b - 1
    o_tok = tl.arange(0, TILE_T)
    m_tok = t0 + o_tok < hi
    own = (k_len - (q_end - q_start) + (t0 + o_tok - q_start)) // BLOCK_SIZE  # [TILE_T]
    carry = tl.zeros([TILE_T], dtype=tl.float32)  # last kernel of the previous block chunk
    p_out = out_ptr + i_hk.to(tl.int64) * stride_oh + (t0 - chunk_start + o_tok).to(tl.int64)[:, None] * stride_ot
    for b0 in range(0, n_cols, NB):
        j0 = b0 * RATIO
        blk = b0 + o_nb
        # past the visible kernels every block is a token's own block or later: forced or excluded
        score = tl.zeros([TILE_T, NB], dtype=tl.float32)
        if j0 < n_vis_max:
            o_j = j0 + tl.arange(0, BN)
            b_c = tl.load(
                p_c1 + o_j.to(tl.int64)[None, :] * stride_cj + o_d[:, None],
                mask=(o_j < n_vis_max)[None, :] & m_d[:, None],
                other=0.0,
            )  # [BLOCK_D, BN]
            b_s = tl.dot(b_q, b_c) * scale_log2
            b_p = tl.where(o_j[None, :] < n_vis[:, None], tl.exp2(b_s - lse[:, None]), 0.0)  # [ROWS, BN]
            b_p3 = tl.reshape(tl.sum(tl.reshape(b_p, [TILE_T, GROUP_PAD, BN]), 1), [TILE_T, NB, RATIO])
            inside = tl.max(b_p3, 2)  # [TILE_T, NB] kernels starting inside the block
            last = tl.max(tl.where((o_in == RATIO - 1)[None, None, :], b_p3, 0.0), 2)  # [TILE_T, NB]
            before = tl.sum(tl.where(shift[None, :, :], last[:, :, None], 0.0), 1)  # [TILE_T, NB]
            before = tl.where((o_nb == 0)[None, :], carry[:, None], before)
            carry = tl.sum(tl.where((o_nb == NB - 1)[None, :], last, 0.0), 1)
            score = tl.maximum(inside, before)
        forced = (blk[None, :] < INIT_BLOCKS) | (blk[None, :] >= own[:, None] - LOCAL_BLOCKS)
        score = tl.where(forced, float("inf"), score)
        score = tl.where(blk[None, :] > own[:, None], float("-inf"), score)
        tl.store(p_out + blk[None, :], score, mask=m_tok[:, None] & (blk < n_cols)[None, :])


@triton.jit
def _decode_logits_kernel(
    q_ptr,
    c1_ptr,
    c2_ptr,
    lengths_ptr,
    logits_ptr,
    part_m_ptr,
    part_l_ptr,
    scale_log2,
    n_cap,
    stride_qb,
    stride_qh,
    stride_cb,
    stride_cj,
    stride_ch,
    stride_c2b,
    stride_c2j,
    stride_c2h,
    N_KV: tl.constexpr,
    N_SPLITS: tl.constexpr,
    KERNEL_SIZE: tl.constexpr,
    KERNEL_STRIDE: tl.constexpr,
    COARSE: tl.constexpr,
    C2_SIZE: tl.constexpr,
    C2_STRIDE: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    GROUP: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK_C: tl.constexpr,
    BLOCK_C2: tl.constexpr,
    PDL: tl.constexpr = False,
):
    if PDL:  # the caches and lengths may come from the previous kernel (launch.py)
        gdc_wait()
        gdc_launch_dependents()
    i_bh, i_s = tl.program_id(0), tl.program_id(1)
    i_b = i_bh // N_KV
    i_hk = i_bh % N_KV
    length = tl.load(lengths_ptr + i_b)
    n_c1 = tl.where(length >= KERNEL_SIZE, (length - KERNEL_SIZE) // KERNEL_STRIDE + 1, 0)
    o_g = tl.arange(0, ROWS)
    m_g = o_g < GROUP
    o_d = tl.arange(0, BLOCK_D)
    m_d = o_d < HEAD_DIM
    o_j = i_s * BLOCK_C + tl.arange(0, BLOCK_C)
    m_j = o_j < n_c1
    b_q = tl.load(
        q_ptr + i_b.to(tl.int64) * stride_qb + (i_hk * GROUP + o_g)[:, None] * stride_qh + o_d[None, :],
        mask=m_g[:, None] & m_d[None, :],
        other=0.0,
    )  # [ROWS, BLOCK_D]
    b_c = tl.load(
        c1_ptr + i_b.to(tl.int64) * stride_cb + o_j.to(tl.int64)[None, :] * stride_cj + i_hk * stride_ch + o_d[:, None],
        mask=m_j[None, :] & m_d[:, None],
        other=0.0,
    )  # [BLOCK_D, BLOCK_C]
    b_s = tl.where(m_j[None, :], tl.dot(b_q, b_c) * scale_log2, float("-inf"))  # [ROWS, BLOCK_C]
    if COARSE:  # the softmax statistics of this split's share of c2 instead
        n_c2 = tl.where(length >= C2_SIZE, (length - C2_SIZE) // C2_STRIDE + 1, 0)
        o_j2 = i_s * BLOCK_C2 + tl.arange(0, BLOCK_C2)
        m_j2 = o_j2 < n_c2
        p_c2 = c2_ptr + i_b.to(tl.int64) * stride_c2b + o_j2.to(tl.int64)[None, :] * stride_c2j + i_hk * stride_c2h
        b_c2 = tl.load(p_c2 + o_d[:, None], mask=m_j2[None, :] & m_d[:, None], other=0.0)  # [BLOCK_D, BLOCK_C2]
        b_n = tl.where(m_j2[None, :], tl.dot(b_q, b_c2) * scale_log2, float("-inf"))  # [ROWS, BLOCK_C2]
    else:
        b_n = b_s
    m = tl.max(b_n, 1)
    l = tl.sum(tl.exp2(b_n - tl.where(m > float("-inf"), m, 0.0)[:, None]), 1)
    o_part = (i_bh * N_SPLITS + i_s) * ROWS + o_g
    tl.store(part_m_ptr + o_part, m)
    tl.store(part_l_ptr + o_part, l)
    tl.store(
        logits_ptr + (i_bh.to(tl.int64) * ROWS + o_g)[:, None] * n_cap + o_j[None, :], b_s, mask=(o_j < n_cap)[None, :]
    )


@triton.jit
def _decode_pool_kernel(
    logits_ptr,
    part_m_ptr,
    part_l_ptr,
    lengths_ptr,
    scores_ptr,
    n_cap,
    n_blocks,
    N_KV: tl.constexpr,
    N_SPLITS: tl.constexpr,
    BLOCK_S: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
    INIT_BLOCKS: tl.constexpr,
    LOCAL_BLOCKS: tl.constexpr,
    RATIO: tl.constexpr,
    GROUP: tl.constexpr,
    ROWS: tl.constexpr,
    NB: tl.constexpr,
    PDL: tl.constexpr = False,
):
    if PDL:  # the logits come from the previous kernel (launch.py)
        gdc_wait()
        gdc_launch_dependents()
    i_bh, i_c = tl.program_id(0), tl.program_id(1)
    # Every load below is independent of the others (one round trip to memory): the logits
    # kernel stored -inf for the kernels past the sequence's, up to n_cap, so the logits need
    # no mask from the length.
    length = tl.load(lengths_ptr + i_bh // N_KV)
    o_g = tl.arange(0, ROWS)
    m_g = (o_g < GROUP)[:, None]
    o_s = tl.arange(0, BLOCK_S)
    o_part = (i_bh * N_SPLITS + o_s)[:, None] * ROWS + o_g[None, :]  # [BLOCK_S, ROWS]
    m_part = (o_s < N_SPLITS)[:, None]
    b_m = tl.load(part_m_ptr + o_part, mask=m_part, other=float("-inf"))
    b_l = tl.load(part_l_ptr + o_part, mask=m_part, other=0.0)
    p_rows = logits_ptr + (i_bh.to(tl.int64) * ROWS + o_g)[:, None] * n_cap
    o_b = i_c * NB + tl.arange(0, NB)
    o_in = i_c * NB * RATIO + tl.arange(0, NB * RATIO)  # the kernels starting inside the blocks
    m_in = m_g & (o_in < n_cap)[None, :]
    b_in = tl.load(p_rows + o_in[None, :], mask=m_in, other=float("-inf"))  # [ROWS, NB * RATIO]
    o_before = o_b * RATIO - 1  # the kernel starting in the block before, overlapping this one
    m_before = m_g & ((o_before >= 0) & (o_before < n_cap))[None, :]
    b_before = tl.load(p_rows + o_before[None, :], mask=m_before, other=float("-inf"))  # [ROWS, NB]
    m = tl.max(b_m, 0)  # [ROWS]
    m_safe = tl.where(m > float("-inf"), m, 0.0)
    l = tl.sum(b_l * tl.exp2(b_m - m_safe[None, :]), 0)
    lse = tl.where(l > 0, m_safe + tl.log2(tl.where(l > 0, l, 1.0)), float("inf"))  # [ROWS] log2; none seen: p = 0
    p_in = tl.sum(tl.exp2(b_in - lse[:, None]), 0)  # [NB * RATIO] summed over the group
    inside = tl.max(tl.reshape(p_in, [NB, RATIO]), 1)
    score = tl.maximum(inside, tl.sum(tl.exp2(b_before - lse[:, None]), 0))  # [NB]
    own = (length - 1) // BLOCK_SIZE
    score = tl.where((o_b < INIT_BLOCKS) | (o_b >= own - LOCAL_BLOCKS), float("inf"), score)
    score = tl.where(o_b > own, float("-inf"), score)
    tl.store(scores_ptr + i_bh.to(tl.int64) * n_blocks + o_b, score, mask=o_b < n_blocks)


def prefill_block_scores(
    q: torch.Tensor,
    c1: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    n_cols: int,
    chunk: tuple[int, int],
    config: SparseConfig,
    tile_rows: int = 256,
    blocks_per_step: int = 16,
    c2: torch.Tensor | None = None,
) -> torch.Tensor:
    """Block scores of the queries whose packed rows fall in chunk = (start, end).

    q [Tq, HQ, D]; c1 [B, n_c1, HKV, D] (compress_keys; same dtype as q); cu_seqlens_q and
    cu_seqlens_k [B + 1] int32; n_cols >= every sequence's block count; c2 [B, n_c2, HKV, D]
    (compress_keys(..., coarse=True)), required when config.coarse_normaliser. Returns fp32
    scores [HKV, end - start, n_cols] (+inf forced, -inf excluded, after the query's block).
    A program (8 warps for tiles of 256 rows or more, else 4) scores tile_rows / G queries
    (G heads each) against blocks_per_step blocks' kernels per step.
    """
    c2 = _coarse_keys(c1, c2, config)
    n_heads, dim = q.shape[1], q.shape[2]
    n_kv = c1.shape[2]
    group = n_heads // n_kv
    start, end = chunk
    group_pad = triton.next_power_of_2(group)
    tile_tokens = max(1, tile_rows // group_pad)
    nb = max(blocks_per_step, 64 // config.pool_ratio)
    out = torch.empty(n_kv, end - start, n_cols, device=q.device, dtype=torch.float32)
    grid = (triton.cdiv(min(max_seqlen_q, end - start), tile_tokens), cu_seqlens_q.shape[0] - 1, n_kv)
    _prefill_scores_kernel[grid](
        q,
        c1,
        c2,
        cu_seqlens_q,
        cu_seqlens_k,
        out,
        dim**-0.5 * LOG2E,
        start,
        end,
        n_cols,
        q.stride(0),
        q.stride(1),
        c1.stride(0),
        c1.stride(1),
        c1.stride(2),
        c2.stride(0),
        c2.stride(1),
        c2.stride(2),
        out.stride(0),
        out.stride(1),
        KERNEL_SIZE=config.kernel_size,
        KERNEL_STRIDE=config.kernel_stride,
        COARSE=config.coarse_normaliser,
        C2_SIZE=config.coarse_kernel_size,
        C2_STRIDE=config.coarse_kernel_stride,
        BLOCK_SIZE=config.block_size,
        INIT_BLOCKS=config.init_blocks,
        LOCAL_BLOCKS=config.local_blocks,
        RATIO=config.pool_ratio,
        HEAD_DIM=dim,
        BLOCK_D=triton.next_power_of_2(dim),
        GROUP=group,
        GROUP_PAD=group_pad,
        TILE_T=tile_tokens,
        ROWS=tile_tokens * group_pad,
        NB=nb,
        BN=nb * config.pool_ratio,
        # 256-row tiles run fastest with 8 warps, 128-row ones with 4; 64-row tiles or 32
        # blocks a step are slower (the H200 sweeps in bench/RESULTS.md)
        num_warps=8 if tile_tokens * group_pad >= 256 else 4,
        num_stages=2,
    )
    return out


def prefill_select(
    q: torch.Tensor,
    c1: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    max_seqlen_k: int,
    config: SparseConfig,
    chunk_tokens: int = 32768,
    tile_rows: int = 256,
    blocks_per_step: int = 16,
    scored_only: bool = False,
    c2: torch.Tensor | None = None,
) -> torch.Tensor:
    """Selected key blocks of every query of a varlen batch.

    q [Tq, HQ, D]; c1 [B, n_c1, HKV, D] from compress_keys; cu_seqlens_q and cu_seqlens_k
    [B + 1] int32 (each sequence's queries are its last keys); max_seqlen_q and max_seqlen_k
    bound the lengths; c2 [B, n_c2, HKV, D] from compress_keys(..., coarse=True), required
    when config.coarse_normaliser. Scores are built and reduced chunk_tokens query rows at a time;
    tile_rows and blocks_per_step shape the scoring kernel (prefill_block_scores).
    Returns [Tq, HKV, selected_blocks] int32, ascending block ids, -1 padding at the end;
    with scored_only, [Tq, HKV, scored_width(config)] of the same form holding only the
    blocks chosen by score (the forced ones, init and window, left out: see
    sparse.block_sparse_prefill_split, which attends to those by position).
    """
    n_q = q.shape[0]
    n_kv = c1.shape[2]
    n_cols = triton.cdiv(max_seqlen_k, config.block_size)
    width = scored_width(config) if scored_only else config.selected_blocks
    selected = torch.empty(n_q, n_kv, width, device=q.device, dtype=torch.int32)
    for start in range(0, n_q, chunk_tokens):
        end = min(n_q, start + chunk_tokens)
        scores = prefill_block_scores(
            q,
            c1,
            cu_seqlens_q,
            cu_seqlens_k,
            max_seqlen_q,
            n_cols,
            (start, end),
            config,
            tile_rows,
            blocks_per_step,
            c2,
        )
        topk_blocks(
            scores,
            config.selected_blocks,
            out=selected[start:end].transpose(0, 1),
            skip_forced=scored_only,
            k_out=width,
        )
    return selected


def _coarse_keys(c1: torch.Tensor, c2: torch.Tensor | None, config: SparseConfig) -> torch.Tensor:
    """c2 when the configuration needs it (checked), else c1 as a placeholder the kernels never read."""
    if config.coarse_normaliser and c2 is None:
        raise ValueError(
            "config.coarse_normaliser needs the coarse keys c2: pass c2=compress_keys(..., coarse=True) "
            "(prefill) or c2_cache kept by append_compressed_keys(..., c2_cache=...) (decode)"
        )
    return c2 if config.coarse_normaliser else c1


def scored_width(config: SparseConfig) -> int:
    """Most blocks a query picks by score: selected_blocks less the forced init blocks, the
    query's own block and the local_blocks before it (fewer are forced only where the window
    overlaps the init blocks, and then no block is left to pick by score)."""
    return max(1, config.topk - config.init_blocks - 1)


def decode_select(
    q: torch.Tensor,
    c1_cache: torch.Tensor,
    lengths: torch.Tensor,
    n_blocks: int,
    config: SparseConfig,
    c2_cache: torch.Tensor | None = None,
    ranked: bool = True,
) -> torch.Tensor:
    """Selected key blocks for one query token per sequence.

    q [B, HQ, D]; c1_cache [B, c1_capacity, HKV, D] (append_compressed_keys keeps it); lengths
    [B] int32 keys in use (the query's own included); n_blocks >= every length / block_size,
    fixed by the cache capacity so that the launch shapes never change; c2_cache [B,
    c2_capacity, HKV, D], required when config.coarse_normaliser. Returns [B, HKV,
    selected_blocks] int32 block ids, -1 for unused slots at the end: best first
    (topk.topk_by_rank, no serial rounds), or with ranked=False ascending (topk_blocks).
    """
    scores = decode_block_scores(q, c1_cache, lengths, n_blocks, config, c2_cache)
    if ranked:
        return topk_by_rank(scores, config.selected_blocks, pdl=use_pdl(q))
    return topk_blocks(scores, config.selected_blocks)


def decode_block_scores(
    q: torch.Tensor,
    c1_cache: torch.Tensor,
    lengths: torch.Tensor,
    n_blocks: int,
    config: SparseConfig,
    c2_cache: torch.Tensor | None = None,
) -> torch.Tensor:
    """Block scores of one query token per sequence (arguments as decode_select's).

    Returns fp32 [B, HKV, n_blocks]: >= 0, +inf for the forced blocks, -inf past the query's
    block. Two kernels (logits and softmax statistics per split of the kernels, then the
    pooling), chained with PDL on Hopper (kernels/flash_attention/launch.py).
    """
    c2_cache = _coarse_keys(c1_cache, c2_cache, config)
    pdl = use_pdl(q)
    batch, n_heads, dim = q.shape
    n_kv = c1_cache.shape[2]
    group = n_heads // n_kv
    rows = max(16, triton.next_power_of_2(group))
    n_cap = c1_cache.shape[1]
    block_c = 128
    block_c2 = block_c * config.kernel_stride // config.coarse_kernel_stride
    n_splits = max(triton.cdiv(max(n_cap, 1), block_c), triton.cdiv(c2_cache.shape[1], block_c2))
    logits = torch.empty(batch * n_kv, rows, n_cap, device=q.device, dtype=torch.float32)
    part_m = torch.empty(batch * n_kv, n_splits, rows, device=q.device, dtype=torch.float32)
    part_l = torch.empty_like(part_m)
    _decode_logits_kernel[(batch * n_kv, n_splits)](
        q,
        c1_cache,
        c2_cache,
        lengths,
        logits,
        part_m,
        part_l,
        dim**-0.5 * LOG2E,
        n_cap,
        q.stride(0),
        q.stride(1),
        c1_cache.stride(0),
        c1_cache.stride(1),
        c1_cache.stride(2),
        c2_cache.stride(0),
        c2_cache.stride(1),
        c2_cache.stride(2),
        N_KV=n_kv,
        N_SPLITS=n_splits,
        KERNEL_SIZE=config.kernel_size,
        KERNEL_STRIDE=config.kernel_stride,
        COARSE=config.coarse_normaliser,
        C2_SIZE=config.coarse_kernel_size,
        C2_STRIDE=config.coarse_kernel_stride,
        HEAD_DIM=dim,
        BLOCK_D=triton.next_power_of_2(dim),
        GROUP=group,
        ROWS=rows,
        BLOCK_C=block_c,
        BLOCK_C2=block_c2,
        PDL=pdl,
        num_warps=4,
        launch_pdl=pdl,
    )
    scores = torch.empty(batch, n_kv, n_blocks, device=q.device, dtype=torch.float32)
    nb = 32
    _decode_pool_kernel[(batch * n_kv, triton.cdiv(n_blocks, nb))](
        logits,
        part_m,
        part_l,
        lengths,
        scores,
        n_cap,
        n_blocks,
        N_KV=n_kv,
        N_SPLITS=n_splits,
        BLOCK_S=triton.next_power_of_2(n_splits),
        BLOCK_SIZE=config.block_size,
        INIT_BLOCKS=config.init_blocks,
        LOCAL_BLOCKS=config.local_blocks,
        RATIO=config.pool_ratio,
        GROUP=group,
        ROWS=rows,
        NB=nb,
        PDL=pdl,
        num_warps=8,  # faster than 4 warps for a 128K decode step with c2 (bench/RESULTS.md)
        launch_pdl=pdl,
    )
    return scores
