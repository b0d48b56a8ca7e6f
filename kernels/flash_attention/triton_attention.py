"""Flash attention in Triton over key blocks: dense causal, or a per-tile list of blocks.

One prefill kernel serves dense attention and InfLLM v2's block-sparse attention: a tile is
TILE_T consecutive query tokens times the G query heads of one KV head (so K and V are read
once for the whole GQA group), and the loop runs over key blocks, either every block up to
the causal limit or the blocks of a list with a bitmask of the tokens that use each one.
Decode splits the blocks of one query across programs (flash-decoding) and merges the
partial results in a second kernel. Layouts are varlen (cu_seqlens); queries are the last
tokens of their sequence's keys, so prefill with history (chunked prefill) works too.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

LOG2E = 1.4426950408889634
_SHIFT = 20
USERS_SHIFT: tl.constexpr = tl.constexpr(_SHIFT)  # merged list entries: block | users << USERS_SHIFT
BLOCK_ID_MASK: tl.constexpr = tl.constexpr((1 << _SHIFT) - 1)


@triton.jit
def _attend_block(
    acc,
    l_i,
    m_i,
    b_q,
    p_k,
    p_v,
    o_kt,
    stride_kt,
    stride_vt,
    kv_mask_k,
    kv_mask_v,
    b_mask,
    scale_log2,
    MASK: tl.constexpr,
):
    """One key block of online softmax (log2 domain) over key rows o_kt [BLOCK_N] (int64) of
    p_k [BLOCK_D, 1] and p_v [1, BLOCK_D] (one KV head's row starts). kv_mask_k, kv_mask_v: the
    loads' masks, None when the whole block is in range and D a power of two. MASK 0: every
    score counts (no elementwise mask work); 1: b_mask [ROWS] says which rows see the whole
    block; 2: b_mask [ROWS, BLOCK_N] says which scores count."""
    k_ptrs = p_k + o_kt[None, :] * stride_kt
    v_ptrs = p_v + o_kt[:, None] * stride_vt
    if kv_mask_k is None:
        b_k = tl.load(k_ptrs)  # [BLOCK_D, BLOCK_N]
        b_v = tl.load(v_ptrs)  # [BLOCK_N, BLOCK_D]
    else:
        b_k = tl.load(k_ptrs, mask=kv_mask_k, other=0.0)
        b_v = tl.load(v_ptrs, mask=kv_mask_v, other=0.0)
    b_s = tl.dot(b_q, b_k)  # [ROWS, BLOCK_N]
    if MASK == 0:
        m_new = tl.maximum(m_i, tl.max(b_s, 1) * scale_log2)
        b_p = tl.exp2(b_s * scale_log2 - m_new[:, None])
    else:
        if MASK == 1:
            b_s = tl.where(b_mask[:, None], b_s * scale_log2, float("-inf"))
        else:
            b_s = tl.where(b_mask, b_s * scale_log2, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(b_s, 1))
        b_p = tl.exp2(b_s - m_new[:, None])
    alpha = tl.exp2(m_i - m_new)
    l_i = l_i * alpha + tl.sum(b_p, 1)
    acc = tl.dot(b_p.to(b_v.dtype), b_v, acc * alpha[:, None])
    return acc, l_i, m_new


@triton.jit
def _tile_attention_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    o_ptr,
    cu_q_ptr,
    cu_k_ptr,
    list_ptr,
    bits_ptr,
    count_ptr,
    lse_ptr,
    state_o_ptr,
    state_lse_ptr,
    scale_log2,
    dense_len,
    list_len,
    stride_qt,
    stride_qh,
    stride_kt,
    stride_kh,
    stride_vt,
    stride_vh,
    stride_ot,
    stride_oh,
    stride_lt,
    stride_lh,
    stride_ct,
    stride_ch,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    GROUP: tl.constexpr,
    GROUP_PAD: tl.constexpr,
    TILE_T: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK_N: tl.constexpr,
    SPARSE: tl.constexpr,
    LIST_PAD: tl.constexpr = 16,
    WINDOW: tl.constexpr = False,
    INIT_BLOCKS: tl.constexpr = 0,
    LOCAL_BLOCKS: tl.constexpr = 0,
    LSE_OUT: tl.constexpr = False,
    STATE_IN: tl.constexpr = False,
):
    i_tile, i_b, i_hk = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    q_start = tl.load(cu_q_ptr + i_b)
    q_len = tl.load(cu_q_ptr + i_b + 1) - q_start
    k_start = tl.load(cu_k_ptr + i_b)
    k_len = tl.load(cu_k_ptr + i_b + 1) - k_start
    t0 = i_tile * TILE_T
    if t0 >= q_len:
        return
    o_r = tl.arange(0, ROWS)
    i_t = o_r // GROUP_PAD  # [ROWS] token of the row within the tile
    i_g = o_r % GROUP_PAD  # [ROWS] query head within the group
    m_row = (i_t < TILE_T) & (i_g < GROUP) & (t0 + i_t < q_len)
    pos = k_len - q_len + t0 + i_t  # [ROWS] key position of the row's query
    o_d = tl.arange(0, BLOCK_D)
    m_d = o_d < HEAD_DIM
    o_qt = (q_start + t0 + i_t).to(tl.int64)
    o_h = i_hk * GROUP + i_g
    b_q = tl.load(
        q_ptr + o_qt[:, None] * stride_qt + o_h[:, None] * stride_qh + o_d[None, :],
        mask=m_row[:, None] & m_d[None, :],
        other=0.0,
    )  # [ROWS, BLOCK_D]
    # Rows outside the tile's queries (padding heads, tokens past the sequence) compute
    # garbage that is never stored, so the loops below need not mask them.
    even_d: tl.constexpr = BLOCK_D == HEAD_DIM
    kv_mask_k = None if even_d else m_d[:, None]
    kv_mask_v = None if even_d else m_d[None, :]
    o_k_head = k_ptr + i_hk * stride_kh + o_d[:, None]
    o_v_head = v_ptr + i_hk * stride_vh + o_d[None, :]

    # Two phases: iterations [0, n_full) over blocks that end at or before the tile's first
    # query, with no elementwise mask (the softmax's exp2 and reductions are the tile's
    # non-matmul time; merged lists only mask whole rows of the tokens that do not use a block);
    # then iterations [u_rest, n_iter), masked per score.
    first_pos = k_len - q_len + t0
    last_pos = k_len - q_len + tl.minimum(t0 + TILE_T, q_len) - 1
    n_iter = last_pos // BLOCK_N + 1
    lim = (first_pos + 1) // BLOCK_N  # blocks below lim end at or before every row's query
    n_full = tl.minimum(lim, n_iter)
    if SPARSE:
        use_list = k_len >= dense_len
        dense_seq = k_len < dense_len
        o_list = (q_start + i_tile).to(tl.int64) * stride_lt + i_hk * stride_lh
        if TILE_T == 1:  # the leading entries below lim; any order stays exact, ascending is fastest
            o_u = tl.arange(0, LIST_PAD)
            b_list = tl.load(list_ptr + o_list + o_u, mask=o_u < tl.where(use_list, list_len, 0), other=-1)
            n_listed = tl.max(tl.where(b_list >= 0, o_u + 1, 0), 0)  # past the last used slot
            n_listed_full = tl.min(tl.where((b_list < 0) | (b_list >= lim) | (o_u >= n_listed), o_u, LIST_PAD), 0)
            u_listed_rest = n_listed_full
        else:  # merged lists come split so (merge_tile_selections)
            p_count = count_ptr + (q_start + i_tile).to(tl.int64) * stride_ct + i_hk * stride_ch
            n_listed_full = tl.load(p_count)
            u_listed_rest = list_len - tl.load(p_count + 1)
            n_listed = list_len
        if STATE_IN:  # after a WINDOW pass a dense sequence is complete: nothing is left to add
            n_iter = 0
            n_full = 0
        n_iter = tl.where(use_list, n_listed, n_iter)
        n_full = tl.where(use_list, n_listed_full, n_full)
        u_rest = tl.where(use_list, u_listed_rest, n_full)
    else:
        u_rest = n_full
    if WINDOW:  # the init blocks, then the window of every token of the tile; no lists
        use_win = k_len >= dense_len
        own = pos // BLOCK_N  # [ROWS]
        b_last = last_pos // BLOCK_N
        n_init = tl.minimum(INIT_BLOCKS, b_last + 1)
        w_start = tl.maximum(INIT_BLOCKS, (k_len - q_len + t0) // BLOCK_N - LOCAL_BLOCKS)
        n_iter_win = n_init + tl.maximum(b_last - w_start + 1, 0)
        # when the tile's tokens share their own block they share their window too: every
        # block but the own one (the last) is then whole to every row; else all are masked
        same_own = first_pos // BLOCK_N == b_last
        n_full = tl.where(use_win, tl.where(same_own, n_iter_win - 1, 0), n_full)
        n_iter = tl.where(use_win, n_iter_win, n_iter)
        u_rest = n_full

    o_qh = o_qt * (stride_ot // stride_oh) + o_h  # [ROWS] row of the fp32 states ([Tq, HQ] layout)
    if STATE_IN:  # continue the softmax of an earlier pass: (m, l, acc) = (its lse, 1, its output)
        s_lse = tl.load(state_lse_ptr + o_qh, mask=m_row, other=float("-inf"))
        m_i = tl.where(s_lse > float("-inf"), s_lse, -1.0e30)
        l_i = tl.where(s_lse > float("-inf"), 1.0, 0.0)
        acc = tl.load(
            state_o_ptr + o_qh[:, None] * HEAD_DIM + o_d[None, :], mask=m_row[:, None] & m_d[None, :], other=0.0
        )
    else:
        m_i = tl.full([ROWS], -1.0e30, dtype=tl.float32)
        l_i = tl.zeros([ROWS], dtype=tl.float32)
        acc = tl.zeros([ROWS, BLOCK_D], dtype=tl.float32)
    o_bn = tl.arange(0, BLOCK_N)
    for u in range(0, n_full):
        blk = u
        m_use = m_row
        if WINDOW:
            blk = tl.where(use_win & (u >= n_init), w_start + u - n_init, u)
        if SPARSE:
            entry = tl.load(list_ptr + o_list + u, mask=use_list, other=0)
            if TILE_T > 1:  # block | users << USERS_SHIFT, one load (merge_tile_selections)
                m_use = ((((entry >> USERS_SHIFT) >> i_t) & 1) != 0) | dense_seq
                entry = entry & BLOCK_ID_MASK
            blk = tl.where(use_list, entry, u)
        o_kt = (k_start + blk * BLOCK_N + o_bn).to(tl.int64)
        acc, l_i, m_i = _attend_block(
            acc, l_i, m_i, b_q, o_k_head, o_v_head, o_kt, stride_kt, stride_vt, kv_mask_k, kv_mask_v, m_use,
            scale_log2, 1 if SPARSE and TILE_T > 1 else 0,
        )  # fmt: skip
    for u in range(u_rest, n_iter):
        blk = u
        m_use = m_row
        if WINDOW:
            blk = tl.where(use_win & (u >= n_init), w_start + u - n_init, u)
            m_use = m_row & ((blk < INIT_BLOCKS) | (blk >= own - LOCAL_BLOCKS) | (k_len < dense_len))
        if SPARSE:
            listed = tl.load(list_ptr + o_list + u, mask=use_list, other=0)
            if TILE_T == 1:
                m_use = m_row & ((listed >= 0) | dense_seq)
            else:
                bits = tl.load(bits_ptr + o_list + u, mask=use_list, other=0)
                m_use = m_row & ((((bits >> i_t) & 1) != 0) | dense_seq)
            blk = tl.where(use_list, tl.maximum(listed, 0), u)
        o_n = blk * BLOCK_N + o_bn
        m_n = o_n < k_len
        o_kt = (k_start + o_n).to(tl.int64)
        m_s = m_use[:, None] & m_n[None, :] & (o_n[None, :] <= pos[:, None])
        acc, l_i, m_i = _attend_block(
            acc, l_i, m_i, b_q, o_k_head, o_v_head, o_kt, stride_kt, stride_vt,
            m_n[None, :] & m_d[:, None], m_n[:, None] & m_d[None, :], m_s, scale_log2, 2,
        )  # fmt: skip
    acc = acc / tl.where(l_i > 0, l_i, 1.0)[:, None]
    if LSE_OUT:  # log2-domain normaliser, for a later STATE_IN pass
        lse = tl.where(l_i > 0, m_i + tl.log2(tl.where(l_i > 0, l_i, 1.0)), float("-inf"))
        tl.store(lse_ptr + o_qh, lse, mask=m_row)
    p_o = o_ptr + o_qt[:, None] * stride_ot + o_h[:, None] * stride_oh + o_d[None, :]
    tl.store(p_o, acc.to(o_ptr.dtype.element_ty), mask=m_row[:, None] & m_d[None, :])


@triton.jit
def _decode_split_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    lengths_ptr,
    list_ptr,
    part_o_ptr,
    part_lse_ptr,
    scale_log2,
    dense_len,
    list_len,
    slots_per_split,
    stride_qb,
    stride_qh,
    stride_kb,
    stride_kt,
    stride_kh,
    stride_vb,
    stride_vt,
    stride_vh,
    stride_lb,
    stride_lh,
    N_KV: tl.constexpr,
    N_SPLITS: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    GROUP: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK_N: tl.constexpr,
    SPARSE: tl.constexpr,
    PDL: tl.constexpr = False,
):
    if PDL and not SPARSE:  # dense: the query may come from the kernel just before (launch.py)
        gdc_wait()
        gdc_launch_dependents()
    i_bh, i_s = tl.program_id(0), tl.program_id(1)
    i_b = i_bh // N_KV
    i_hk = i_bh % N_KV
    length = tl.load(lengths_ptr + i_b)
    n_key_blocks = (length + BLOCK_N - 1) // BLOCK_N
    n_slots = n_key_blocks
    if SPARSE:
        use_list = length >= dense_len
        n_slots = tl.where(use_list, list_len, n_slots)
    lo = i_s * slots_per_split
    hi = tl.minimum(lo + slots_per_split, n_slots)
    o_g = tl.arange(0, ROWS)
    m_g = o_g < GROUP
    o_d = tl.arange(0, BLOCK_D)
    m_d = o_d < HEAD_DIM
    b_q = tl.load(
        q_ptr + i_b.to(tl.int64) * stride_qb + (i_hk * GROUP + o_g)[:, None] * stride_qh + o_d[None, :],
        mask=m_g[:, None] & m_d[None, :],
        other=0.0,
    )  # [ROWS, BLOCK_D]
    if PDL and SPARSE:
        # the lists come from the top-k kernel just before; the query and the lengths are older
        # (a sparse step's chain starts with its scores: launch.py), so they were read first
        gdc_wait()
        gdc_launch_dependents()
    o_kb = i_b.to(tl.int64) * stride_kb + i_hk * stride_kh
    o_vb = i_b.to(tl.int64) * stride_vb + i_hk * stride_vh
    m_i = tl.full([ROWS], -1.0e30, dtype=tl.float32)
    l_i = tl.zeros([ROWS], dtype=tl.float32)
    acc = tl.zeros([ROWS, BLOCK_D], dtype=tl.float32)
    for u in range(lo, hi):
        blk = u
        if SPARSE:  # an unused slot (-1) points just past the keys, where everything is masked
            listed = tl.load(list_ptr + i_b.to(tl.int64) * stride_lb + i_hk * stride_lh + u, mask=use_list, other=0)
            blk = tl.where(use_list, tl.where(listed >= 0, listed, n_key_blocks), u)
        o_n = blk * BLOCK_N + tl.arange(0, BLOCK_N)
        m_n = o_n < length
        b_k = tl.load(
            k_ptr + o_kb + o_n.to(tl.int64)[None, :] * stride_kt + o_d[:, None],
            mask=m_n[None, :] & m_d[:, None],
            other=0.0,
        )  # [BLOCK_D, BLOCK_N]
        b_v = tl.load(
            v_ptr + o_vb + o_n.to(tl.int64)[:, None] * stride_vt + o_d[None, :],
            mask=m_n[:, None] & m_d[None, :],
            other=0.0,
        )  # [BLOCK_N, BLOCK_D]
        b_s = tl.dot(b_q, b_k) * scale_log2  # [ROWS, BLOCK_N]
        b_s = tl.where(m_n[None, :], b_s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(b_s, 1))
        alpha = tl.exp2(m_i - m_new)
        b_p = tl.exp2(b_s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(b_p, 1)
        acc = acc * alpha[:, None] + tl.dot(b_p.to(b_v.dtype), b_v)
        m_i = m_new
    lse = tl.where(l_i > 0, m_i + tl.log2(tl.where(l_i > 0, l_i, 1.0)), float("-inf"))
    acc = acc / tl.where(l_i > 0, l_i, 1.0)[:, None]
    o_part = (i_bh.to(tl.int64) * N_SPLITS + i_s) * ROWS
    tl.store(part_lse_ptr + o_part + o_g, lse)
    tl.store(part_o_ptr + (o_part + o_g)[:, None] * BLOCK_D + o_d[None, :], acc)


@triton.jit
def _decode_combine_kernel(
    part_o_ptr,
    part_lse_ptr,
    o_ptr,
    stride_ob,
    stride_oh,
    N_KV: tl.constexpr,
    N_SPLITS: tl.constexpr,
    BLOCK_S: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    GROUP: tl.constexpr,
    ROWS: tl.constexpr,
    PDL: tl.constexpr = False,
):
    if PDL:  # the partial results come from the split kernel
        gdc_wait()
        gdc_launch_dependents()
    i_bh, i_g = tl.program_id(0), tl.program_id(1)
    o_s = tl.arange(0, BLOCK_S)
    m_s = o_s < N_SPLITS
    o_d = tl.arange(0, BLOCK_D)
    o_part = (i_bh.to(tl.int64) * N_SPLITS + o_s) * ROWS + i_g  # [BLOCK_S]
    b_lse = tl.load(part_lse_ptr + o_part, mask=m_s, other=float("-inf"))
    # loaded with the lse, not after it, to save a round trip to memory: splits that saw no
    # key (sparse decode's unused slots) stored zeros and lse -inf, so they weigh 0
    b_o = tl.load(part_o_ptr + o_part[:, None] * BLOCK_D + o_d[None, :], mask=m_s[:, None], other=0.0)
    m = tl.max(b_lse, 0)
    w = tl.exp2(b_lse - m)  # [BLOCK_S]
    out = tl.sum(b_o * w[:, None], 0) / tl.sum(w, 0)  # [BLOCK_D]
    i_b = i_bh // N_KV
    i_h = (i_bh % N_KV) * GROUP + i_g
    tl.store(
        o_ptr + i_b.to(tl.int64) * stride_ob + i_h * stride_oh + o_d,
        out.to(o_ptr.dtype.element_ty),
        mask=o_d < HEAD_DIM,
    )


def _pow2(n: int, at_least: int = 1) -> int:
    return max(at_least, triton.next_power_of_2(n))


def tile_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cu_seqlens_q: torch.Tensor,
    cu_seqlens_k: torch.Tensor,
    max_seqlen_q: int,
    block_n: int,
    tile_tokens: int,
    blocks: torch.Tensor | None = None,
    bits: torch.Tensor | None = None,
    counts: torch.Tensor | None = None,
    dense_len: int = 0,
    scale: float | None = None,
    window: tuple[int, int] | None = None,
    state: tuple[torch.Tensor, torch.Tensor] | None = None,
    lse_out: bool = False,
    num_stages: int = 2,
    num_warps: int | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Launch the prefill kernel; dense when `blocks` is None, else per-tile block lists.

    q [Tq, HQ, D], k and v [Tk, HKV, D] (token strides free, last dim contiguous).
    blocks [Tq, HKV, U] int32: for the tile starting at token t0 of sequence b, row
    cu_seqlens_q[b] + t0 // tile_tokens lists its key blocks. With tile_tokens 1: -1 = none,
    fastest ascending. With more: as merge_tile_selections (kernels/infllmv2/sparse.py) lays
    them out: counts [Tq, HKV, 2] int32 (last dim contiguous) giving how many leading entries
    end before the tile's first query (block | users << 20, bit i of users set when token
    t0 + i uses the block), and how many trailing entries list the others, with bits
    [Tq, HKV, U] int32 (likewise) for those.
    Sequences whose key length is below dense_len ignore the lists and attend densely.
    window = (init_blocks, local_blocks), without blocks: each token attends to the blocks
    before init_blocks and to its own block and the local_blocks before it (InfLLM v2's
    forced blocks), read once per tile. lse_out: return (out fp32, lse [Tq, HQ] fp32, log2
    domain), a partial result; state = such a pair from a window pass: continue its softmax
    over the listed blocks (sequences below dense_len, already complete, only copy it).
    num_stages: the kernel's software pipelining depth; num_warps: its warps (default 4 for
    tiles of up to 64 x 128 elements, else 8).
    """
    _, n_heads, dim = q.shape
    n_kv = k.shape[1]
    group = n_heads // n_kv
    group_pad = _pow2(group)
    rows = _pow2(tile_tokens * group_pad, 16)
    out = torch.empty(q.shape, device=q.device, dtype=torch.float32 if lse_out else q.dtype)
    lse = torch.empty(q.shape[:2], device=q.device, dtype=torch.float32) if lse_out else out
    if state is not None:
        assert state[0].is_contiguous() and state[1].is_contiguous() and state[0].shape == q.shape
    state_o, state_lse = state if state is not None else (out, out)
    sparse = blocks is not None
    if not sparse:
        blocks = bits = counts = cu_seqlens_q  # placeholders, never read
        list_len = 0
        list_strides = (0, 0)
    else:
        list_len = blocks.shape[-1]
        list_strides = (blocks.stride(0), blocks.stride(1))
        if bits is None:
            bits = counts = blocks
    count_strides = (0, 0)
    if sparse and tile_tokens > 1:
        if counts.shape[-1] != 2 or counts.stride(-1) != 1:
            raise ValueError(
                f"counts {tuple(counts.shape)}: want [Tq, HKV, 2], last dim contiguous (merge_tile_selections)"
            )
        count_strides = (counts.stride(0), counts.stride(1))
    scale = scale if scale is not None else 1.0 / math.sqrt(dim)
    grid = (triton.cdiv(max_seqlen_q, tile_tokens), cu_seqlens_q.shape[0] - 1, n_kv)
    _tile_attention_kernel[grid](
        q,
        k,
        v,
        out,
        cu_seqlens_q,
        cu_seqlens_k,
        blocks,
        bits,
        counts,
        lse,
        state_o,
        state_lse,
        scale * LOG2E,
        dense_len,
        list_len,
        q.stride(0),
        q.stride(1),
        k.stride(0),
        k.stride(1),
        v.stride(0),
        v.stride(1),
        out.stride(0),
        out.stride(1),
        *list_strides,
        *count_strides,
        HEAD_DIM=dim,
        BLOCK_D=_pow2(dim, 16),
        GROUP=group,
        GROUP_PAD=group_pad,
        TILE_T=tile_tokens,
        ROWS=rows,
        BLOCK_N=block_n,
        SPARSE=sparse,
        LIST_PAD=_pow2(list_len, 16) if tile_tokens == 1 else 16,  # only one-token lists are read whole
        WINDOW=window is not None,
        INIT_BLOCKS=window[0] if window else 0,
        LOCAL_BLOCKS=window[1] if window else 0,
        LSE_OUT=lse_out,
        STATE_IN=state is not None,
        num_warps=num_warps or (4 if rows * _pow2(dim) <= 64 * 128 else 8),
        num_stages=num_stages,
    )
    return (out, lse) if lse_out else out


def split_decode_attention(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    lengths: torch.Tensor,
    block_n: int,
    num_splits: int,
    slots_per_split: int,
    blocks: torch.Tensor | None = None,
    dense_len: int = 0,
    scale: float | None = None,
    pdl: bool = False,
) -> torch.Tensor:
    """Launch split decode and its combine: one query token per sequence.

    q [B, HQ, D]; k_cache and v_cache [B, capacity, HKV, D]; lengths [B] int32 (keys in use,
    the query's own included); blocks [B, HKV, S] int32 (-1 = none), or None for dense.
    Split i covers slots [i * slots_per_split, (i + 1) * slots_per_split): key blocks in
    dense mode, list entries in sparse mode. Sequences shorter than dense_len attend densely.
    pdl: launch both kernels with programmatic dependent launch (launch.py). With blocks, the
    split kernel then reads q and lengths before it waits for the kernel launched just before
    (the one that wrote the lists): that kernel must not have written them.
    """
    batch, n_heads, dim = q.shape
    n_kv = k_cache.shape[2]
    group = n_heads // n_kv
    rows = _pow2(group, 16)
    block_d = _pow2(dim, 16)
    part_o = torch.empty(batch * n_kv, num_splits, rows, block_d, device=q.device, dtype=torch.float32)
    part_lse = torch.empty(batch * n_kv, num_splits, rows, device=q.device, dtype=torch.float32)
    sparse = blocks is not None
    if not sparse:
        blocks = lengths
        list_len, list_strides = 0, (0, 0)
    else:
        list_len, list_strides = blocks.shape[-1], (blocks.stride(0), blocks.stride(1))
    scale = scale if scale is not None else 1.0 / math.sqrt(dim)
    _decode_split_kernel[(batch * n_kv, num_splits)](
        q,
        k_cache,
        v_cache,
        lengths,
        blocks,
        part_o,
        part_lse,
        scale * LOG2E,
        dense_len,
        list_len,
        slots_per_split,
        q.stride(0),
        q.stride(1),
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        v_cache.stride(0),
        v_cache.stride(1),
        v_cache.stride(2),
        *list_strides,
        N_KV=n_kv,
        N_SPLITS=num_splits,
        HEAD_DIM=dim,
        BLOCK_D=block_d,
        GROUP=group,
        ROWS=rows,
        BLOCK_N=block_n,
        SPARSE=sparse,
        PDL=pdl,
        num_warps=4,
        num_stages=2,
        launch_pdl=pdl,
    )
    out = torch.empty_like(q)
    _decode_combine_kernel[(batch * n_kv, group)](
        part_o,
        part_lse,
        out,
        out.stride(0),
        out.stride(1),
        N_KV=n_kv,
        N_SPLITS=num_splits,
        BLOCK_S=_pow2(num_splits),
        HEAD_DIM=dim,
        BLOCK_D=block_d,
        GROUP=group,
        ROWS=rows,
        PDL=pdl,
        num_warps=4,
        launch_pdl=pdl,
    )
    return out
