"""Block selection (DESIGN.md section 4, steps 2 and 3): block scores fused with the
max-pooling, then top-k.

Prefill: a program scores TILE_T query tokens times the G heads of one KV head against all
compressed keys in two passes (the softmax normaliser, then the probabilities summed over
the group and max-pooled to blocks), so the query-by-kernel matrix never leaves registers;
block scores go to a buffer for one chunk of queries at a time and the top-k kernel (a
bisection on the score bits per row, no sort) picks from it.
Decode: the kernels are split across programs (one query would leave the GPU idle): one
kernel writes the logits and per-split softmax statistics, the next pools them to blocks,
and the same top-k kernel picks.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.infllmv2.config import SparseConfig

LOG2E = 1.4426950408889634
BIG = 2**31 - 1
BIG_IN_KERNEL: tl.constexpr = tl.constexpr(BIG)  # kernels may read module constants only as constexpr
INF_BITS: tl.constexpr = tl.constexpr(0x7F800000)  # fp32 +inf as int32: a forced block


@triton.jit
def _prefill_scores_kernel(
    q_ptr,
    c1_ptr,
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
    stride_oh,
    stride_ot,
    KERNEL_SIZE: tl.constexpr,
    KERNEL_STRIDE: tl.constexpr,
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
    i_tile, i_b, i_hk = tl.program_id(0), tl.program_id(1), tl.program_id(2)
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

    # pass 1: the softmax normaliser of every row over its visible kernels
    m_i = tl.full([ROWS], -1.0e30, dtype=tl.float32)
    l_i = tl.zeros([ROWS], dtype=tl.float32)
    for j0 in range(0, n_vis_max, BN):
        o_j = j0 + tl.arange(0, BN)
        b_c = tl.load(
            p_c1 + o_j.to(tl.int64)[None, :] * stride_cj + o_d[:, None],
            mask=(o_j < n_vis_max)[None, :] & m_d[:, None],
            other=0.0,
        )  # [BLOCK_D, BN]
        b_s = tl.dot(b_q, b_c) * scale_log2
        b_s = tl.where(o_j[None, :] < n_vis[:, None], b_s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(b_s, 1))
        l_i = l_i * tl.exp2(m_i - m_new) + tl.sum(tl.exp2(b_s - m_new[:, None]), 1)
        m_i = m_new
    lse = tl.where(l_i > 0, m_i + tl.log2(tl.where(l_i > 0, l_i, 1.0)), float("inf"))  # no kernel seen: p = 0

    # pass 2: probabilities summed over the group, max-pooled to blocks, forced and excluded
    o_tok = tl.arange(0, TILE_T)
    m_tok = t0 + o_tok < hi
    pos_tok = k_len - (q_end - q_start) + (t0 + o_tok - q_start)  # [TILE_T]
    own = pos_tok // BLOCK_SIZE
    o_nb = tl.arange(0, NB)
    o_in = tl.arange(0, RATIO)
    carry = tl.zeros([TILE_T], dtype=tl.float32)  # last kernel of the previous block chunk
    p_out = out_ptr + i_hk.to(tl.int64) * stride_oh + (t0 - chunk_start + o_tok).to(tl.int64)[:, None] * stride_ot
    for b0 in range(0, n_cols, NB):
        j0 = b0 * RATIO
        if j0 < n_vis_max:
            o_j = j0 + tl.arange(0, BN)
            b_c = tl.load(
                p_c1 + o_j.to(tl.int64)[None, :] * stride_cj + o_d[:, None],
                mask=(o_j < n_vis_max)[None, :] & m_d[:, None],
                other=0.0,
            )  # [BLOCK_D, BN]
            b_s = tl.dot(b_q, b_c) * scale_log2
            b_p = tl.where(o_j[None, :] < n_vis[:, None], tl.exp2(b_s - lse[:, None]), 0.0)  # [ROWS, BN]
            b_p = tl.sum(tl.reshape(b_p, [TILE_T, GROUP_PAD, BN]), 1)  # [TILE_T, BN]
        else:
            b_p = tl.zeros([TILE_T, BN], dtype=tl.float32)
        b_p3 = tl.reshape(b_p, [TILE_T, NB, RATIO])
        inside = tl.max(b_p3, 2)  # [TILE_T, NB] kernels starting inside the block
        last = tl.max(tl.where((o_in == RATIO - 1)[None, None, :], b_p3, 0.0), 2)  # [TILE_T, NB]
        shift = (o_nb[:, None] + 1) == o_nb[None, :]  # [NB, NB]: block b takes the last kernel of b - 1
        before = tl.sum(tl.where(shift[None, :, :], last[:, :, None], 0.0), 1)  # [TILE_T, NB]
        before = tl.where((o_nb == 0)[None, :], carry[:, None], before)
        carry = tl.sum(tl.where((o_nb == NB - 1)[None, :], last, 0.0), 1)
        score = tl.maximum(inside, before)
        blk = b0 + o_nb
        forced = (blk[None, :] < INIT_BLOCKS) | (blk[None, :] >= own[:, None] - LOCAL_BLOCKS)
        score = tl.where(forced, float("inf"), score)
        score = tl.where(blk[None, :] > own[:, None], float("-inf"), score)
        key = (score.to(tl.int32, bitcast=True).to(tl.int64) << 32) | (-blk + BIG_IN_KERNEL)[None, :].to(tl.int64)
        tl.store(p_out + blk[None, :], key, mask=m_tok[:, None] & (blk < n_cols)[None, :])


@triton.jit
def _decode_logits_kernel(
    q_ptr,
    c1_ptr,
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
    N_KV: tl.constexpr,
    N_SPLITS: tl.constexpr,
    KERNEL_SIZE: tl.constexpr,
    KERNEL_STRIDE: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    GROUP: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
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
    m = tl.max(b_s, 1)
    l = tl.sum(tl.exp2(b_s - tl.where(m > float("-inf"), m, 0.0)[:, None]), 1)
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
    KERNEL_SIZE: tl.constexpr,
    KERNEL_STRIDE: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
    INIT_BLOCKS: tl.constexpr,
    LOCAL_BLOCKS: tl.constexpr,
    RATIO: tl.constexpr,
    POOL: tl.constexpr,
    GROUP: tl.constexpr,
    ROWS: tl.constexpr,
    NB: tl.constexpr,
):
    i_bh, i_c = tl.program_id(0), tl.program_id(1)
    length = tl.load(lengths_ptr + i_bh // N_KV)
    n_c1 = tl.where(length >= KERNEL_SIZE, (length - KERNEL_SIZE) // KERNEL_STRIDE + 1, 0)
    o_g = tl.arange(0, ROWS)
    o_s = tl.arange(0, BLOCK_S)
    o_part = (i_bh * N_SPLITS + o_s)[:, None] * ROWS + o_g[None, :]  # [BLOCK_S, ROWS]
    m_part = (o_s < N_SPLITS)[:, None]
    b_m = tl.load(part_m_ptr + o_part, mask=m_part, other=float("-inf"))
    b_l = tl.load(part_l_ptr + o_part, mask=m_part, other=0.0)
    m = tl.max(b_m, 0)  # [ROWS]
    m_safe = tl.where(m > float("-inf"), m, 0.0)
    l = tl.sum(b_l * tl.exp2(b_m - m_safe[None, :]), 0)
    lse = m_safe + tl.log2(tl.where(l > 0, l, 1.0))  # [ROWS] log2 of each head's normaliser

    o_b = i_c * NB + tl.arange(0, NB)
    o_p = tl.arange(0, POOL)
    o_j = o_b[:, None] * RATIO - 1 + o_p[None, :]  # [NB, POOL] kernels overlapping each block
    m_j = (o_p < RATIO + 1)[None, :] & (o_j >= 0) & (o_j < n_c1)
    p_l = logits_ptr + (i_bh.to(tl.int64) * ROWS + o_g)[:, None, None] * n_cap + o_j[None, :, :]
    m_l = (o_g < GROUP)[:, None, None] & m_j[None, :, :]
    b_s = tl.load(p_l, mask=m_l, other=float("-inf"))  # [ROWS, NB, POOL]
    b_p = tl.where(m_l, tl.exp2(b_s - lse[:, None, None]), 0.0)
    score = tl.max(tl.sum(b_p, 0), 1)  # [NB]
    own = (length - 1) // BLOCK_SIZE
    score = tl.where((o_b < INIT_BLOCKS) | (o_b >= own - LOCAL_BLOCKS), float("inf"), score)
    score = tl.where(o_b > own, float("-inf"), score)
    key = (score.to(tl.int32, bitcast=True).to(tl.int64) << 32) | (-o_b + BIG_IN_KERNEL).to(tl.int64)
    tl.store(scores_ptr + i_bh.to(tl.int64) * n_blocks + o_b, key, mask=o_b < n_blocks)


@triton.jit
def _topk_kernel(
    keys_ptr,
    out_ptr,
    n_y,
    n_cols,
    stride_kx,
    stride_ky,
    stride_ox,
    stride_oy,
    K: tl.constexpr,
    K_OUT: tl.constexpr,
    SKIP_FORCED: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    # Per row, a bisection on the score bits (the keys' high halves: >= 0 for scores >= 0 and
    # +inf, < 0 for -inf and padding) for the k-th largest score T; then every block above T
    # and, of those equal to T, the lowest-indexed ones that fill the k slots (ties to the
    # lower block). ROWS rows of one x at a time.
    i_x, i_y = tl.program_id(0), tl.program_id(1)
    o_y = i_y * ROWS + tl.arange(0, ROWS)
    m_y = o_y < n_y
    o_c = tl.arange(0, BLOCK)
    p_key = keys_ptr + i_x.to(tl.int64) * stride_kx + o_y.to(tl.int64)[:, None] * stride_ky + o_c[None, :]
    b_key = tl.load(p_key, mask=m_y[:, None] & (o_c < n_cols)[None, :], other=-1)  # [ROWS, BLOCK] int64
    bits = (b_key >> 32).to(tl.int32)
    lo = tl.zeros([ROWS], dtype=tl.int32)  # count(bits >= lo) >= K, unless fewer than K are valid
    hi = tl.full([ROWS], INF_BITS + 1, dtype=tl.int32)  # count(bits >= hi) < K
    for _ in tl.static_range(31):  # the span [0, 2^31) halves a round
        mid = lo + (hi - lo) // 2
        enough = tl.sum((bits >= mid[:, None]).to(tl.int32), 1) >= K
        lo = tl.where(enough, mid, lo)
        hi = tl.where(enough, hi, mid)
    above = bits > lo[:, None]
    tie = bits == lo[:, None]
    need = K - tl.sum(above.to(tl.int32), 1)
    chosen = above | (tie & (tl.cumsum(tie.to(tl.int32), 1) <= need[:, None]))
    if SKIP_FORCED:
        chosen = chosen & (bits != INF_BITS)
    count = tl.sum(chosen.to(tl.int32), 1)
    slot = tl.cumsum(chosen.to(tl.int32), 1) - 1  # ascending block ids, as column order
    p_out = out_ptr + i_x.to(tl.int64) * stride_ox + o_y.to(tl.int64)[:, None] * stride_oy
    tl.store(p_out + slot, o_c[None, :] + tl.zeros([ROWS, BLOCK], dtype=tl.int32), mask=chosen & (slot < K_OUT))
    o_k = tl.arange(0, BLOCK_K)
    m_pad = m_y[:, None] & (o_k[None, :] >= count[:, None]) & (o_k < K_OUT)[None, :]
    tl.store(p_out + o_k[None, :], tl.full([ROWS, BLOCK_K], -1, dtype=tl.int32), mask=m_pad)


def scores_from_keys(keys: torch.Tensor) -> torch.Tensor:
    """The fp32 block scores inside selection keys (see torch_topk_blocks)."""
    return (keys >> 32).to(torch.int32).view(torch.float32)


def ids_from_keys(keys: torch.Tensor) -> torch.Tensor:
    """Block ids inside selection keys, int32, -1 where the score is -inf (an excluded block)."""
    return (BIG - (keys & 0xFFFFFFFF)).to(torch.int32).masked_fill(keys < 0, -1)


def topk_blocks(
    keys: torch.Tensor,
    k: int,
    out: torch.Tensor | None = None,
    use_kernel: bool = True,
    skip_forced: bool = False,
    k_out: int | None = None,
) -> torch.Tensor:
    """The k best blocks of every row of selection keys, in one Triton kernel (a bisection on
    the score bits per row: 31 counting steps in registers, then a gather; no sort).

    keys [X, Y, n_blocks] int64 -> [X, Y, k_out] int32 ascending block ids, -1 padding at the
    end (k_out defaults to k); out may be a strided view of that shape (e.g. the transpose of
    a [Y, X, k_out] tensor). With skip_forced, the forced blocks (score +inf) are chosen but
    not written: the list holds only the blocks picked by score. use_kernel=False takes
    torch.topk instead (a reference; it has no skip_forced).
    """
    x, y, n_cols = keys.shape
    k_out = k if k_out is None else k_out
    if out is None:
        out = torch.empty(x, y, k_out, device=keys.device, dtype=torch.int32)
    if not use_kernel:
        assert not skip_forced and k_out == k
        out.copy_(torch_topk_blocks(keys, k, sort=True))
        return out
    block = triton.next_power_of_2(n_cols)
    # rows per program: enough for 2048 columns on a GPU; under the interpreter, whose cost
    # grows with program instances, many more
    rows = min(triton.next_power_of_2(y), max(1, (2048 if keys.is_cuda else 16384) // block))
    _topk_kernel[(x, triton.cdiv(y, rows))](
        keys,
        out,
        y,
        n_cols,
        keys.stride(0),
        keys.stride(1),
        out.stride(0),
        out.stride(1),
        K=k,
        K_OUT=k_out,
        SKIP_FORCED=skip_forced,
        ROWS=rows,
        BLOCK=block,
        BLOCK_K=triton.next_power_of_2(k_out),
        num_warps=max(1, min(8, rows * block // 256)),
    )
    return out


def torch_topk_blocks(keys: torch.Tensor, k: int, sort: bool) -> torch.Tensor:
    """[..., n_blocks] int64 selection keys -> [..., k] int32 block ids, -1 for unused slots.

    A key is a block's fp32 score bits in the high half and BIG - block id in the low half:
    scores are >= 0 or +-inf, so their bit patterns order like the values (-inf, with the
    sign bit, below all), and equal scores order by lower block id first, as in
    naive.select_blocks."""
    take = min(k, keys.shape[-1])
    index = ids_from_keys(keys.topk(take, dim=-1, sorted=False).values)
    if sort:
        index = index.masked_fill(index < 0, BIG).sort(-1).values
        index = index.masked_fill(index == BIG, -1)
    if take < k:
        index = torch.nn.functional.pad(index, (0, k - take), value=-1)
    return index


def prefill_block_scores(
    q: torch.Tensor,
    c1: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    n_cols: int,
    chunk: tuple[int, int],
    config: SparseConfig,
    tile_rows: int = 128,
    blocks_per_step: int = 16,
) -> torch.Tensor:
    """Block scores of the queries whose packed rows fall in chunk = (start, end).

    q [Tq, HQ, D]; c1 [B, n_c1, HKV, D] (compress_keys; same dtype as q); cu_seqlens_q and
    cu_seqlens_k [B + 1] int32; n_cols >= every sequence's block count. Returns selection
    keys [HKV, end - start, n_cols] int64 (see torch_topk_blocks; scores_from_keys reads the fp32
    scores: +inf forced, -inf excluded, after the query's block). A program scores
    tile_rows / G queries (G heads each) against blocks_per_step blocks' kernels per step.
    """
    n_heads, dim = q.shape[1], q.shape[2]
    n_kv = c1.shape[2]
    group = n_heads // n_kv
    start, end = chunk
    group_pad = triton.next_power_of_2(group)
    tile_tokens = max(1, tile_rows // group_pad)
    nb = max(blocks_per_step, 64 // config.pool_ratio)
    out = torch.empty(n_kv, end - start, n_cols, device=q.device, dtype=torch.int64)
    grid = (triton.cdiv(min(max_seqlen_q, end - start), tile_tokens), cu_seqlens_q.shape[0] - 1, n_kv)
    _prefill_scores_kernel[grid](
        q,
        c1,
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
        out.stride(0),
        out.stride(1),
        KERNEL_SIZE=config.kernel_size,
        KERNEL_STRIDE=config.kernel_stride,
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
        num_warps=8 if tile_tokens * group_pad >= 128 else 4,
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
    chunk_tokens: int = 16384,
    tile_rows: int = 128,
    blocks_per_step: int = 16,
    scored_only: bool = False,
) -> torch.Tensor:
    """Selected key blocks of every query of a varlen batch.

    q [Tq, HQ, D]; c1 [B, n_c1, HKV, D] from compress_keys; cu_seqlens_q and cu_seqlens_k
    [B + 1] int32 (each sequence's queries are its last keys); max_seqlen_q and max_seqlen_k
    bound the lengths. Scores are built and reduced chunk_tokens query rows at a time;
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
            q, c1, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, n_cols, (start, end), config, tile_rows, blocks_per_step
        )
        topk_blocks(
            scores,
            config.selected_blocks,
            out=selected[start:end].transpose(0, 1),
            skip_forced=scored_only,
            k_out=width,
        )
    return selected


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
    as_keys: bool = False,
) -> torch.Tensor:
    """Selected key blocks for one query token per sequence.

    q [B, HQ, D]; c1_cache [B, c1_capacity, HKV, D] (append_compressed_keys keeps it); lengths
    [B] int32 keys in use (the query's own included); n_blocks >= every length / block_size,
    fixed by the cache capacity so that the launch shapes never change. Returns [B, HKV,
    selected_blocks] int32 ascending block ids, -1 for unused slots at the end; with
    as_keys, the int64 selection keys of those blocks instead (what block_sparse_decode
    reads directly, sparing the launches that decode them).
    """
    batch, n_heads, dim = q.shape
    n_kv = c1_cache.shape[2]
    group = n_heads // n_kv
    rows = max(16, triton.next_power_of_2(group))
    n_cap = c1_cache.shape[1]
    block_c = 128
    n_splits = triton.cdiv(max(n_cap, 1), block_c)
    logits = torch.empty(batch * n_kv, rows, n_cap, device=q.device, dtype=torch.float32)
    part_m = torch.empty(batch * n_kv, n_splits, rows, device=q.device, dtype=torch.float32)
    part_l = torch.empty_like(part_m)
    _decode_logits_kernel[(batch * n_kv, n_splits)](
        q,
        c1_cache,
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
        N_KV=n_kv,
        N_SPLITS=n_splits,
        KERNEL_SIZE=config.kernel_size,
        KERNEL_STRIDE=config.kernel_stride,
        HEAD_DIM=dim,
        BLOCK_D=triton.next_power_of_2(dim),
        GROUP=group,
        ROWS=rows,
        BLOCK_C=block_c,
        num_warps=4,
    )
    scores = torch.empty(batch, n_kv, n_blocks, device=q.device, dtype=torch.int64)
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
        KERNEL_SIZE=config.kernel_size,
        KERNEL_STRIDE=config.kernel_stride,
        BLOCK_SIZE=config.block_size,
        INIT_BLOCKS=config.init_blocks,
        LOCAL_BLOCKS=config.local_blocks,
        RATIO=config.pool_ratio,
        POOL=triton.next_power_of_2(config.pool_ratio + 1),
        GROUP=group,
        ROWS=rows,
        NB=nb,
        num_warps=4,
    )
    if as_keys:
        return scores.topk(min(config.selected_blocks, n_blocks), dim=-1, sorted=False).values
    return topk_blocks(scores, config.selected_blocks)
