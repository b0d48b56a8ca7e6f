"""Top-k of block scores (docs/ARCHITECTURE.md section 4, step 3) without a sort.

Scores are >= 0 or +-inf, so their fp32 bit patterns, read as int32, order like the values
(-inf, with the sign bit, below all). Two kernels:

- topk_blocks (prefill; many rows): per row, a bisection on the bits finds a threshold T
  with exactly k scores >= T, or else the k-th largest score T; then every block above T
  and, of those equal to T, the lowest-indexed ones that fill the k slots are taken (ties
  to the lower block, as in naive.select_blocks). Output by block id.
- topk_by_rank (decode; a row per KV head): every block's rank (higher scores, plus equal
  scores at lower ids) in one comparison against its row, so no dependent rounds; the
  block of rank r goes to slot r. The same blocks, output best first.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

BIG = 2**31 - 1
INF_BITS: tl.constexpr = tl.constexpr(0x7F800000)  # fp32 +inf as int32: a forced block


@triton.jit
def _topk_kernel(
    scores_ptr,
    out_ptr,
    n_y,
    n_cols,
    stride_sx,
    stride_sy,
    stride_ox,
    stride_oy,
    K: tl.constexpr,
    K_OUT: tl.constexpr,
    SKIP_FORCED: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    # ROWS rows of one x at a time; count(bits >= lo) >= K (unless fewer than K blocks are
    # allowed) and count(bits >= hi) < K hold throughout; a row stops as soon as exactly K
    # are >= lo (then no tie is left to break), or when hi = lo + 1.
    i_x, i_y = tl.program_id(0), tl.program_id(1)
    o_y = i_y * ROWS + tl.arange(0, ROWS)
    m_y = o_y < n_y
    o_c = tl.arange(0, BLOCK)
    p_score = scores_ptr + i_x.to(tl.int64) * stride_sx + o_y.to(tl.int64)[:, None] * stride_sy + o_c[None, :]
    b_score = tl.load(p_score, mask=m_y[:, None] & (o_c < n_cols)[None, :], other=float("-inf"))  # [ROWS, BLOCK]
    bits = b_score.to(tl.int32, bitcast=True)
    # start from the row's own range rather than all of [0, +inf]: a few rounds fewer.
    # lo = its lowest allowed score (all allowed blocks are >= it); hi = just above its highest
    # finite score, unless K or more blocks are forced (+inf): then T is +inf itself
    n_inf = tl.sum((bits == INF_BITS).to(tl.int32), 1)
    lo = tl.min(tl.where(bits >= 0, bits, INF_BITS), 1)
    hi = tl.where(n_inf >= K, INF_BITS + 1, tl.max(tl.where(bits == INF_BITS, -1, bits), 1) + 1)
    n_lo = tl.sum((bits >= 0).to(tl.int32), 1)  # count(bits >= lo)
    active = n_lo > K  # done when exactly K are >= lo (or fewer blocks than K are allowed)
    while tl.max(active.to(tl.int32), 0) > 0:  # at most 31 rounds: the span halves
        mid = lo + (hi - lo) // 2
        n_mid = tl.sum((bits >= mid[:, None]).to(tl.int32), 1)
        enough = active & (n_mid >= K)
        lo = tl.where(enough, mid, lo)
        n_lo = tl.where(enough, n_mid, n_lo)
        hi = tl.where(active & (n_mid < K), mid, hi)
        active = (n_lo > K) & (hi - lo > 1)
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


def topk_blocks(
    scores: torch.Tensor,
    k: int,
    out: torch.Tensor | None = None,
    skip_forced: bool = False,
    k_out: int | None = None,
) -> torch.Tensor:
    """The k best blocks of every row of block scores, in one Triton kernel (a bisection on the
    score bits per row: 31 counting steps in registers, then a gather; no sort).

    scores [X, Y, n_blocks] fp32 (>= 0, +inf forced, -inf excluded; last dim contiguous) ->
    [X, Y, k_out] int32 ascending block ids, -1 padding at the end (k_out defaults to k); out may
    be a strided view of that shape (e.g. the transpose of a [Y, X, k_out] tensor). With
    skip_forced, the forced blocks (+inf) are chosen but not written: the list holds only the
    blocks picked by score. split: parts a round cuts the search span into (a power of two;
    default by topk_launch). torch_topk_blocks is the reference.
    """
    x, y, n_cols = scores.shape
    k_out = k if k_out is None else k_out
    if out is None:
        out = torch.empty(x, y, k_out, device=scores.device, dtype=torch.int32)
    block = triton.next_power_of_2(n_cols)
    # rows per program: enough for 2048 columns on a GPU, over up to 4 warps (8 or 16 were
    # slower: each round's count is a reduction across them); under the interpreter, whose
    # cost grows with program instances, many more
    rows = min(triton.next_power_of_2(y), max(1, (2048 if scores.is_cuda else 16384) // block))
    _topk_kernel[(x, triton.cdiv(y, rows))](
        scores,
        out,
        y,
        n_cols,
        scores.stride(0),
        scores.stride(1),
        out.stride(0),
        out.stride(1),
        K=k,
        K_OUT=k_out,
        SKIP_FORCED=skip_forced,
        ROWS=rows,
        BLOCK=block,
        BLOCK_K=triton.next_power_of_2(k_out),
        num_warps=max(1, min(4, rows * block // 256)),
    )
    return out


@triton.jit
def _rank_topk_kernel(
    scores_ptr,
    out_ptr,
    n_cols,
    stride_sr,
    stride_or,
    K: tl.constexpr,
    BLOCK: tl.constexpr,
    BLOCK_K: tl.constexpr,
    CHUNK: tl.constexpr,
    PDL: tl.constexpr,
):
    # each program ranks CHUNK blocks of one row against the whole row, all at once: no
    # dependent rounds. rank = scores above + equal scores at lower block ids, so the ranks of
    # the allowed blocks are 0, 1, 2, ... and a block is taken iff its rank is below K
    if PDL:
        gdc_wait()  # the scores come from the previous kernel
        gdc_launch_dependents()
    i_r, i_c = tl.program_id(0), tl.program_id(1)
    p_row = scores_ptr + i_r.to(tl.int64) * stride_sr
    o_all = tl.arange(0, BLOCK)
    b_all = tl.load(p_row + o_all, mask=o_all < n_cols, other=float("-inf")).to(tl.int32, bitcast=True)  # [BLOCK]
    o_mine = i_c * CHUNK + tl.arange(0, CHUNK)
    b_mine = tl.load(p_row + o_mine, mask=o_mine < n_cols, other=float("-inf")).to(tl.int32, bitcast=True)
    ahead = (b_all[None, :] > b_mine[:, None]) | ((b_all[None, :] == b_mine[:, None]) & (o_all < o_mine[:, None]))
    rank = tl.sum(ahead.to(tl.int32), 1)  # [CHUNK]
    p_out = out_ptr + i_r.to(tl.int64) * stride_or
    tl.store(p_out + rank, o_mine, mask=(b_mine >= 0) & (rank < K))  # -inf (negative bits): never
    if i_c == 0:  # unused slots: past the number of allowed blocks
        n_allowed = tl.sum((b_all >= 0).to(tl.int32), 0)
        o_k = tl.arange(0, BLOCK_K)
        tl.store(p_out + o_k, tl.full([BLOCK_K], -1, tl.int32), mask=(o_k >= n_allowed) & (o_k < K))


def topk_by_rank(scores: torch.Tensor, k: int, chunk: int = 4, pdl: bool = False) -> torch.Tensor:
    """The same k best blocks as topk_blocks, listed best first instead of by block id.

    scores [X, Y, n_blocks] fp32 (>= 0, +inf forced, -inf excluded; last dim contiguous) ->
    [X, Y, k] int32: slot r holds the block of rank r (by score, ties to the lower block),
    -1 in the slots past the number of allowed blocks. A program ranks chunk blocks against
    the whole row in one comparison (chunk * n_blocks pairs), so the kernel has no serial
    rounds: for decode, with one row per KV head, where the bisection's ~25 dependent
    reductions took ~7 us at 128K. Not for prefill: X * Y * n_blocks / chunk programs.
    pdl: launch with programmatic dependent launch (kernels/flash_attention/launch.py).
    """
    x, y, n_cols = scores.shape
    out = torch.empty(x, y, k, device=scores.device, dtype=torch.int32)
    rows = scores.reshape(x * y, n_cols)
    _rank_topk_kernel[(x * y, triton.cdiv(n_cols, chunk))](
        rows,
        out,
        n_cols,
        rows.stride(0),
        k,
        K=k,
        BLOCK=triton.next_power_of_2(n_cols),
        BLOCK_K=triton.next_power_of_2(k),
        CHUNK=chunk,
        PDL=pdl,
        num_warps=4,
        launch_pdl=pdl,
    )
    return out


def torch_topk_blocks(scores: torch.Tensor, k: int, sort: bool = True) -> torch.Tensor:
    """torch.topk's answer to topk_blocks: [..., n_blocks] fp32 scores -> [..., k] int32 block
    ids, -1 for unused slots. The scores become int64 keys, score bits high and BIG - block id
    low, so that equal scores order by the lower block first; -inf blocks are never taken."""
    n_cols = scores.shape[-1]
    low = BIG - torch.arange(n_cols, device=scores.device, dtype=torch.int64)
    keys = (scores.contiguous().view(torch.int32).to(torch.int64) << 32) | low
    take = min(k, n_cols)
    best = keys.topk(take, dim=-1, sorted=False).values
    index = (BIG - (best & 0xFFFFFFFF)).to(torch.int32).masked_fill(best < 0, -1)
    if sort:
        index = index.masked_fill(index < 0, BIG).sort(-1).values
        index = index.masked_fill(index == BIG, -1)
    if take < k:
        index = torch.nn.functional.pad(index, (0, k - take), value=-1)
    return index
