"""One InfLLM v2 decode step as a single persistent kernel (DESIGN.md section 4, Tq = 1).

The five-kernel step (select.decode_select, then sparse.block_sparse_decode) is bound by its
dependent launches, not by bytes. Here one grid of at most one program per SM does every
stage, separated by software grid barriers:

1. logits of the group's heads against the c1 kernels overlapping the program's NB blocks
   (kept in registers) and this program's softmax statistics (of its share of c1, or of c2);
2. (barrier) the row's normaliser from every program's statistics, the probabilities summed
   over the group and max-pooled to block scores, forced and excluded blocks: scores to memory;
3. (barrier) ranked top-k: each of the program's blocks is ranked against the whole row
   (as topk.topk_by_rank) and written to its slot;
4. (barrier) split attention: the program's slots of the list (or of the dense blocks, for
   a sequence shorter than dense_len), one softmax state per split;
5. (barrier) the splits merged, one (query head, slice of D) per program and loop step.

The barrier is a counter per barrier in global memory: every program adds 1 (acq_rel, after
a CTA barrier so all its threads' writes come first) and spins until it reads the number of
programs (acquire). The counters must read 0 at every launch (a CUDA graph replays the same
buffer): counter i is zeroed by program 0 once barrier i + 1 is passed (every program has left
counter i's spin by then), and the last counter and the exit ticket by the last program to
leave. The spin needs every program resident at once: the grid is at most the SM count and
each program fits an SM, so no program waits on one that cannot start.

Under TRITON_INTERPRET programs run one after another, so a spin would never end: there
(and with phased=True) the same kernel runs as five launches, one stage each (PHASE 1..5), and
stage 2 computes its logits again instead of keeping them from stage 1.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

from kernels.flash_attention.launch import use_pdl
from kernels.infllmv2.config import SparseConfig

LOG2E = 1.4426950408889634
MAX_NB = 64  # blocks per program at most (the logits tile is ROWS x NB * POOL fp32 registers)

_COUNTERS: dict[torch.device, torch.Tensor] = {}


@triton.jit
def _grid_sync(counter_ptr, n_progs):
    tl.debug_barrier()  # every thread of this program has written what the others will read
    seen = tl.atomic_add(counter_ptr, 1, sem="acq_rel", scope="gpu") + 1
    while seen < n_progs:
        seen = tl.atomic_add(counter_ptr, 0, sem="acquire", scope="gpu")
    tl.debug_barrier()


@triton.jit
def _load_q(
    q_ptr,
    i_b,
    i_hk,
    stride_qb,
    stride_qh,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    GROUP: tl.constexpr,
    ROWS: tl.constexpr,
):
    o_g = tl.arange(0, ROWS)
    o_d = tl.arange(0, BLOCK_D)
    return tl.load(
        q_ptr + i_b.to(tl.int64) * stride_qb + (i_hk * GROUP + o_g)[:, None] * stride_qh + o_d[None, :],
        mask=(o_g < GROUP)[:, None] & (o_d < HEAD_DIM)[None, :],
        other=0.0,
    )  # [ROWS, BLOCK_D]


@triton.jit
def _pooled_logits(
    b_q,
    c1_ptr,
    i_b,
    i_hk,
    i_c,
    n_c1,
    scale_log2,
    stride_cb,
    stride_cj,
    stride_ch,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    NB: tl.constexpr,
    RATIO: tl.constexpr,
    POOL: tl.constexpr,
):
    # logits of the program's blocks i_c * NB .. + NB - 1 in pooling layout: column
    # i * POOL + p is kernel RATIO * block - 1 + p, the p-th kernel overlapping the block
    # (p <= RATIO); neighbouring blocks share one kernel, computed twice (cheap, and it saves
    # a trip through memory to pool)
    o_i = tl.arange(0, NB * POOL)
    o_p = o_i % POOL
    o_j = (i_c * NB + o_i // POOL) * RATIO - 1 + o_p
    m_j = (o_p <= RATIO) & (o_j >= 0) & (o_j < n_c1)
    o_d = tl.arange(0, BLOCK_D)
    b_c = tl.load(
        c1_ptr + i_b.to(tl.int64) * stride_cb + o_j.to(tl.int64)[None, :] * stride_cj + i_hk * stride_ch + o_d[:, None],
        mask=m_j[None, :] & (o_d < HEAD_DIM)[:, None],
        other=0.0,
    )  # [BLOCK_D, NB * POOL]
    return tl.dot(b_q, b_c) * scale_log2, o_p, m_j  # [ROWS, NB * POOL]


@triton.jit
def _stats(
    b_s,
    o_p,
    m_j,
    b_q,
    c2_ptr,
    i_b,
    i_hk,
    i_c,
    length,
    scale_log2,
    part_m_ptr,
    part_l_ptr,
    o_part,
    stride_c2b,
    stride_c2j,
    stride_c2h,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    NB: tl.constexpr,
    BLOCK_C2: tl.constexpr,
    COARSE: tl.constexpr,
    C2_SIZE: tl.constexpr,
    C2_STRIDE: tl.constexpr,
):
    # this program's share of the softmax normaliser: the kernels p = 1..RATIO of its blocks
    # (each kernel once over the row), or c2 entries i_c * NB .. + NB - 1 (n_c2 <= n_blocks)
    if COARSE:
        n_c2 = tl.where(length >= C2_SIZE, (length - C2_SIZE) // C2_STRIDE + 1, 0)
        o_k = tl.arange(0, BLOCK_C2)
        o_j2 = i_c * NB + o_k
        m_j2 = (o_k < NB) & (o_j2 < n_c2)
        o_d = tl.arange(0, BLOCK_D)
        b_c2 = tl.load(
            c2_ptr
            + i_b.to(tl.int64) * stride_c2b
            + o_j2.to(tl.int64)[None, :] * stride_c2j
            + i_hk * stride_c2h
            + o_d[:, None],
            mask=m_j2[None, :] & (o_d < HEAD_DIM)[:, None],
            other=0.0,
        )  # [BLOCK_D, BLOCK_C2]
        b_n = tl.where(m_j2[None, :], tl.dot(b_q, b_c2) * scale_log2, float("-inf"))
    else:
        b_n = tl.where((m_j & (o_p >= 1))[None, :], b_s, float("-inf"))
    m = tl.max(b_n, 1)
    l = tl.sum(tl.exp2(b_n - tl.where(m > float("-inf"), m, 0.0)[:, None]), 1)
    tl.store(part_m_ptr + o_part, m)
    tl.store(part_l_ptr + o_part, l)


@triton.jit
def _pool(
    b_s,
    m_j,
    i_row,
    i_c,
    length,
    n_blocks,
    part_m_ptr,
    part_l_ptr,
    scores_ptr,
    N_PROGS_ROW: tl.constexpr,
    BLOCK_P: tl.constexpr,
    GROUP: tl.constexpr,
    ROWS: tl.constexpr,
    NB: tl.constexpr,
    POOL: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
    INIT_BLOCKS: tl.constexpr,
    LOCAL_BLOCKS: tl.constexpr,
):
    # the row's normaliser (log2) from every program's statistics, then block scores
    o_g = tl.arange(0, ROWS)
    o_s = tl.arange(0, BLOCK_P)
    o_part = (i_row * N_PROGS_ROW + o_s)[:, None] * ROWS + o_g[None, :]  # [BLOCK_P, ROWS]
    m_part = (o_s < N_PROGS_ROW)[:, None]
    b_m = tl.load(part_m_ptr + o_part, mask=m_part, other=float("-inf"), cache_modifier=".cg")
    b_l = tl.load(part_l_ptr + o_part, mask=m_part, other=0.0, cache_modifier=".cg")
    m = tl.max(b_m, 0)
    m_safe = tl.where(m > float("-inf"), m, 0.0)
    l = tl.sum(b_l * tl.exp2(b_m - m_safe[None, :]), 0)
    lse = tl.where(l > 0, m_safe + tl.log2(tl.where(l > 0, l, 1.0)), float("inf"))  # none seen: p = 0
    b_p = tl.where((o_g < GROUP)[:, None] & m_j[None, :], tl.exp2(b_s - lse[:, None]), 0.0)
    score = tl.max(tl.reshape(tl.sum(b_p, 0), (NB, POOL)), 1)  # [NB]: missing kernels count 0
    o_b = i_c * NB + tl.arange(0, NB)
    own = (length - 1) // BLOCK_SIZE
    score = tl.where((o_b < INIT_BLOCKS) | (o_b >= own - LOCAL_BLOCKS), float("inf"), score)
    score = tl.where(o_b > own, float("-inf"), score)
    tl.store(scores_ptr + i_row.to(tl.int64) * n_blocks + o_b, score, mask=o_b < n_blocks)


@triton.jit
def _rank(
    i_row,
    i_c,
    n_blocks,
    scores_ptr,
    selected_ptr,
    K: tl.constexpr,
    BLOCK_K: tl.constexpr,
    NB: tl.constexpr,
    BLOCK_ROW: tl.constexpr,
    CHUNK: tl.constexpr,
):
    # rank = scores above + equal scores at lower ids (topk.topk_by_rank): the allowed blocks
    # rank 0, 1, 2, ...; block b goes to slot rank(b) if below K. fp32 scores (>= 0 or +-inf)
    # order like their int32 bits; -inf (negative bits) is never taken. The program's own
    # scores come back from memory even in the fused kernel: kept from the pooling, they carry
    # its register layout into the comparison tile, which then held ~8x more elements per
    # thread (measured: a 128K step of 180 us, against ~20)
    o_b = i_c * NB + tl.arange(0, NB)
    p_row = scores_ptr + i_row.to(tl.int64) * n_blocks
    mine = tl.load(p_row + o_b, mask=o_b < n_blocks, other=float("-inf"), cache_modifier=".cg")
    mine = mine.to(tl.int32, bitcast=True)
    rank = tl.zeros([NB], dtype=tl.int32)
    allowed = tl.zeros([CHUNK], dtype=tl.int32)
    for start in tl.static_range(0, BLOCK_ROW, CHUNK):
        o_a = start + tl.arange(0, CHUNK)
        b_a = tl.load(p_row + o_a, mask=o_a < n_blocks, other=float("-inf"), cache_modifier=".cg")
        b_a = b_a.to(tl.int32, bitcast=True)
        ahead = (b_a[None, :] > mine[:, None]) | ((b_a[None, :] == mine[:, None]) & (o_a[None, :] < o_b[:, None]))
        rank += tl.sum(ahead.to(tl.int32), 1)
        allowed += (b_a >= 0).to(tl.int32)
    p_out = selected_ptr + i_row.to(tl.int64) * K
    tl.store(p_out + rank, o_b, mask=(mine >= 0) & (rank < K) & (o_b < n_blocks))
    if i_c == 0:  # unused slots: past the number of allowed blocks
        n_allowed = tl.sum(allowed, 0)
        o_k = tl.arange(0, BLOCK_K)
        tl.store(p_out + o_k, tl.full([BLOCK_K], -1, tl.int32), mask=(o_k >= n_allowed) & (o_k < K))


@triton.jit
def _attend(
    b_q,
    k_ptr,
    v_ptr,
    selected_ptr,
    part_o_ptr,
    part_lse_ptr,
    i_b,
    i_hk,
    i_row,
    i_c,
    length,
    dense_len,
    scale_log2,
    stride_kb,
    stride_kt,
    stride_kh,
    stride_vb,
    stride_vt,
    stride_vh,
    N_PROGS_ROW: tl.constexpr,
    SLOTS: tl.constexpr,
    TILE_SLOTS: tl.constexpr,
    K: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
):
    # split i_c of the row: slots i_c * SLOTS .. + SLOTS - 1 of the selected list, or key
    # blocks of the same numbers for a sequence shorter than dense_len; TILE_SLOTS blocks
    # gathered into one key tile
    use_list = length >= dense_len
    n_slots = tl.where(use_list, K, (length + BLOCK_SIZE - 1) // BLOCK_SIZE)
    lo = i_c * SLOTS
    hi = tl.minimum(lo + SLOTS, n_slots)
    o_g = tl.arange(0, ROWS)
    o_d = tl.arange(0, BLOCK_D)
    m_d = o_d < HEAD_DIM
    o_kb = i_b.to(tl.int64) * stride_kb + i_hk * stride_kh
    o_vb = i_b.to(tl.int64) * stride_vb + i_hk * stride_vh
    o_t = tl.arange(0, TILE_SLOTS * BLOCK_SIZE)
    m_i = tl.full([ROWS], -1.0e30, dtype=tl.float32)
    l_i = tl.zeros([ROWS], dtype=tl.float32)
    acc = tl.zeros([ROWS, BLOCK_D], dtype=tl.float32)
    for u in range(lo, hi, TILE_SLOTS):
        slot = u + o_t // BLOCK_SIZE
        m_slot = slot < hi
        # (a vector compare: the interpreter rejects a vector mask & a scalar one)
        m_list = m_slot & (length + 0 * slot >= dense_len)
        listed = tl.load(selected_ptr + i_row.to(tl.int64) * K + slot, mask=m_list, other=0, cache_modifier=".cg")
        blk = tl.where(use_list, listed, slot)
        o_n = blk * BLOCK_SIZE + o_t % BLOCK_SIZE
        m_n = m_slot & (blk >= 0) & (o_n < length)
        b_k = tl.load(
            k_ptr + o_kb + o_n.to(tl.int64)[None, :] * stride_kt + o_d[:, None],
            mask=m_n[None, :] & m_d[:, None],
            other=0.0,
        )  # [BLOCK_D, TILE]
        b_v = tl.load(
            v_ptr + o_vb + o_n.to(tl.int64)[:, None] * stride_vt + o_d[None, :],
            mask=m_n[:, None] & m_d[None, :],
            other=0.0,
        )  # [TILE, BLOCK_D]
        b_s = tl.where(m_n[None, :], tl.dot(b_q, b_k) * scale_log2, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(b_s, 1))
        alpha = tl.exp2(m_i - m_new)
        b_p = tl.exp2(b_s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(b_p, 1)
        acc = acc * alpha[:, None] + tl.dot(b_p.to(b_v.dtype), b_v)
        m_i = m_new
    lse = tl.where(l_i > 0, m_i + tl.log2(tl.where(l_i > 0, l_i, 1.0)), float("-inf"))
    acc = acc / tl.where(l_i > 0, l_i, 1.0)[:, None]
    o_part = (i_row.to(tl.int64) * N_PROGS_ROW + i_c) * ROWS + o_g
    tl.store(part_lse_ptr + o_part, lse)
    tl.store(part_o_ptr + o_part[:, None] * BLOCK_D + o_d[None, :], acc)


@triton.jit
def _combine(
    part_o_ptr,
    part_lse_ptr,
    o_ptr,
    pid,
    n_progs,
    n_items,
    stride_ob,
    stride_oh,
    N_KV: tl.constexpr,
    N_PROGS_ROW: tl.constexpr,
    BLOCK_P: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    GROUP: tl.constexpr,
    ROWS: tl.constexpr,
    D_SPLIT: tl.constexpr,
):
    # item = (row, head of the group, slice of D); splits that saw no key (lse -inf) not read
    DC: tl.constexpr = BLOCK_D // D_SPLIT
    o_s = tl.arange(0, BLOCK_P)
    o_dc = tl.arange(0, DC)
    for item in range(pid, n_items, n_progs):
        i_row = item // (GROUP * D_SPLIT)
        i_g = (item // D_SPLIT) % GROUP
        d0 = (item % D_SPLIT) * DC
        o_part = (i_row.to(tl.int64) * N_PROGS_ROW + o_s) * ROWS + i_g
        m_s = o_s < N_PROGS_ROW
        b_lse = tl.load(part_lse_ptr + o_part, mask=m_s, other=float("-inf"), cache_modifier=".cg")
        w = tl.exp2(b_lse - tl.max(b_lse, 0))
        b_o = tl.load(
            part_o_ptr + o_part[:, None] * BLOCK_D + d0 + o_dc[None, :],
            mask=(m_s & (b_lse > float("-inf")))[:, None],
            other=0.0,
            cache_modifier=".cg",
        )  # [BLOCK_P, DC]
        out = tl.sum(b_o * w[:, None], 0) / tl.sum(w, 0)
        i_b = i_row // N_KV
        i_h = (i_row % N_KV) * GROUP + i_g
        tl.store(
            o_ptr + i_b.to(tl.int64) * stride_ob + i_h * stride_oh + d0 + o_dc,
            out.to(o_ptr.dtype.element_ty),
            mask=d0 + o_dc < HEAD_DIM,
        )


@triton.jit
def _fused_decode_kernel(
    q_ptr,
    k_ptr,
    v_ptr,
    c1_ptr,
    c2_ptr,
    lengths_ptr,
    o_ptr,
    part_m_ptr,
    part_l_ptr,
    scores_ptr,
    selected_ptr,
    part_o_ptr,
    part_lse_ptr,
    counter_ptr,
    scale_log2,
    n_blocks,
    dense_len,
    n_items,
    stride_qb,
    stride_qh,
    stride_kb,
    stride_kt,
    stride_kh,
    stride_vb,
    stride_vt,
    stride_vh,
    stride_cb,
    stride_cj,
    stride_ch,
    stride_c2b,
    stride_c2j,
    stride_c2h,
    stride_ob,
    stride_oh,
    PHASE: tl.constexpr,
    N_KV: tl.constexpr,
    N_PROGS_ROW: tl.constexpr,
    BLOCK_P: tl.constexpr,
    NB: tl.constexpr,
    BLOCK_ROW: tl.constexpr,
    RANK_CHUNK: tl.constexpr,
    SLOTS: tl.constexpr,
    TILE_SLOTS: tl.constexpr,
    D_SPLIT: tl.constexpr,
    K: tl.constexpr,
    BLOCK_K: tl.constexpr,
    KERNEL_SIZE: tl.constexpr,
    KERNEL_STRIDE: tl.constexpr,
    COARSE: tl.constexpr,
    C2_SIZE: tl.constexpr,
    C2_STRIDE: tl.constexpr,
    BLOCK_C2: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
    INIT_BLOCKS: tl.constexpr,
    LOCAL_BLOCKS: tl.constexpr,
    RATIO: tl.constexpr,
    POOL: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    GROUP: tl.constexpr,
    ROWS: tl.constexpr,
    PDL: tl.constexpr = False,
):
    # PHASE 0: every stage, grid barriers between them; 1..5: that stage only (one launch each)
    if PDL:  # the caches and lengths may come from the previous kernel (launch.py)
        gdc_wait()
        gdc_launch_dependents()
    pid = tl.program_id(0)
    n_progs = tl.num_programs(0)
    i_row = pid // N_PROGS_ROW  # (sequence, KV head)
    i_c = pid % N_PROGS_ROW  # its blocks i_c * NB .. + NB - 1, then its attention split
    i_b = i_row // N_KV
    i_hk = i_row % N_KV
    length = tl.load(lengths_ptr + i_b)
    n_c1 = tl.where(length >= KERNEL_SIZE, (length - KERNEL_SIZE) // KERNEL_STRIDE + 1, 0)
    o_part = (i_row * N_PROGS_ROW + i_c) * ROWS + tl.arange(0, ROWS)
    if PHASE <= 2 or PHASE == 4:
        b_q = _load_q(q_ptr, i_b, i_hk, stride_qb, stride_qh, HEAD_DIM, BLOCK_D, GROUP, ROWS)
    if PHASE <= 2:
        b_s, o_p, m_j = _pooled_logits(
            b_q,
            c1_ptr,
            i_b,
            i_hk,
            i_c,
            n_c1,
            scale_log2,
            stride_cb,
            stride_cj,
            stride_ch,
            HEAD_DIM,
            BLOCK_D,
            NB,
            RATIO,
            POOL,
        )
    if PHASE <= 1:
        _stats(
            b_s,
            o_p,
            m_j,
            b_q,
            c2_ptr,
            i_b,
            i_hk,
            i_c,
            length,
            scale_log2,
            part_m_ptr,
            part_l_ptr,
            o_part,
            stride_c2b,
            stride_c2j,
            stride_c2h,
            HEAD_DIM,
            BLOCK_D,
            NB,
            BLOCK_C2,
            COARSE,
            C2_SIZE,
            C2_STRIDE,
        )
    if PHASE == 0:
        _grid_sync(counter_ptr + 0, n_progs)
    if PHASE == 0 or PHASE == 2:
        _pool(
            b_s,
            m_j,
            i_row,
            i_c,
            length,
            n_blocks,
            part_m_ptr,
            part_l_ptr,
            scores_ptr,
            N_PROGS_ROW,
            BLOCK_P,
            GROUP,
            ROWS,
            NB,
            POOL,
            BLOCK_SIZE,
            INIT_BLOCKS,
            LOCAL_BLOCKS,
        )
    if PHASE == 0:
        _grid_sync(counter_ptr + 1, n_progs)
        if pid == 0:  # every program has left barrier 0
            tl.atomic_xchg(counter_ptr + 0, 0, sem="relaxed", scope="gpu")
    if PHASE == 0 or PHASE == 3:
        _rank(i_row, i_c, n_blocks, scores_ptr, selected_ptr, K, BLOCK_K, NB, BLOCK_ROW, RANK_CHUNK)
    if PHASE == 0:
        _grid_sync(counter_ptr + 2, n_progs)
        if pid == 0:
            tl.atomic_xchg(counter_ptr + 1, 0, sem="relaxed", scope="gpu")
    if PHASE == 0 or PHASE == 4:
        _attend(
            b_q,
            k_ptr,
            v_ptr,
            selected_ptr,
            part_o_ptr,
            part_lse_ptr,
            i_b,
            i_hk,
            i_row,
            i_c,
            length,
            dense_len,
            scale_log2,
            stride_kb,
            stride_kt,
            stride_kh,
            stride_vb,
            stride_vt,
            stride_vh,
            N_PROGS_ROW,
            SLOTS,
            TILE_SLOTS,
            K,
            HEAD_DIM,
            BLOCK_D,
            ROWS,
            BLOCK_SIZE,
        )
    if PHASE == 0:
        _grid_sync(counter_ptr + 3, n_progs)
        if pid == 0:
            tl.atomic_xchg(counter_ptr + 2, 0, sem="relaxed", scope="gpu")
    if PHASE == 0 or PHASE == 5:
        _combine(
            part_o_ptr,
            part_lse_ptr,
            o_ptr,
            pid,
            n_progs,
            n_items,
            stride_ob,
            stride_oh,
            N_KV,
            N_PROGS_ROW,
            BLOCK_P,
            HEAD_DIM,
            BLOCK_D,
            GROUP,
            ROWS,
            D_SPLIT,
        )
    if PHASE == 0:  # the last program to leave zeroes the last barrier and the ticket
        ticket = tl.atomic_add(counter_ptr + 4, 1, sem="acq_rel", scope="gpu")
        if ticket == n_progs - 1:
            tl.atomic_xchg(counter_ptr + 3, 0, sem="relaxed", scope="gpu")
            tl.atomic_xchg(counter_ptr + 4, 0, sem="relaxed", scope="gpu")


def blocks_per_program(n_rows: int, n_blocks: int, num_sms: int) -> int | None:
    """Blocks NB (a power of two >= 2) each program scores and ranks so that the grid, n_rows *
    cdiv(n_blocks, NB) programs, fits one program per SM; None where it would take more than
    MAX_NB (then the five-kernel step is the way: select.decode_select and block_sparse_decode)."""
    nb = 2
    while n_rows * triton.cdiv(n_blocks, nb) > num_sms:
        nb *= 2
        if nb > MAX_NB:
            return None
    return nb


def fits(q: torch.Tensor, k_cache: torch.Tensor, config: SparseConfig) -> bool:
    """Whether fused_decode can run this batch (q [B, HQ, D], k_cache [B, capacity, HKV, D])
    as one persistent grid on q's GPU."""
    if not q.is_cuda or os.environ.get("TRITON_INTERPRET") == "1":
        return True  # phased: no residency needed
    n_blocks = triton.cdiv(k_cache.shape[1], config.block_size)
    sms = torch.cuda.get_device_properties(q.device).multi_processor_count
    return blocks_per_program(q.shape[0] * k_cache.shape[2], n_blocks, sms) is not None


def _counters(device: torch.device) -> torch.Tensor:
    counters = _COUNTERS.get(device)
    if counters is None:
        counters = torch.zeros(8, device=device, dtype=torch.int32)
        if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
            return counters  # zeroed by the graph itself at every replay; not kept past it
        _COUNTERS[device] = counters
    return counters


def fused_decode(
    q: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    c1_cache: torch.Tensor,
    lengths: torch.Tensor,
    config: SparseConfig,
    c2_cache: torch.Tensor | None = None,
    phased: bool | None = None,
    num_warps: int = 4,
    return_selected: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """One decode step (selection and block-sparse attention) in one persistent kernel.

    q [B, HQ, D] bf16/fp16 (fp32 under TRITON_INTERPRET); k_cache, v_cache [B, capacity, HKV,
    D] with the new token's key and value written; c1_cache [B, c1_capacity, HKV, D] (and with
    config.coarse_normaliser c2_cache [B, c2_capacity, HKV, D]) kept by append_compressed_keys;
    lengths [B] int32 keys in use, the new token included. Sequences shorter than dense_len
    attend densely. Returns [B, HQ, D] in q's dtype; the same math as infllmv2_decode's
    five-kernel path (block lists come best first; the attention does not care).
    phased: run the five stages as five launches of the same kernel (default: only under
    TRITON_INTERPRET or on CPU). Otherwise one launch of n_rows * cdiv(n_blocks, NB) <= SM count
    programs (fits() says whether the batch allows it) that must all be resident at once, and
    that shares a counter buffer per device: one step at a time per device (one stream).
    num_warps: per program. return_selected: also return the block lists [B, HKV, selected_blocks]
    int32 (best first, -1 for unused slots; not meaningful for sequences below dense_len).
    """
    if config.coarse_normaliser and c2_cache is None:
        raise ValueError("config.coarse_normaliser needs c2_cache (append_compressed_keys(..., c2_cache=...))")
    if phased is None:
        phased = not q.is_cuda or os.environ.get("TRITON_INTERPRET") == "1"
    batch, n_heads, dim = q.shape
    n_kv = k_cache.shape[2]
    group = n_heads // n_kv
    rows = max(16, triton.next_power_of_2(group))
    block_d = max(16, triton.next_power_of_2(dim))
    n_rows = batch * n_kv
    n_blocks = triton.cdiv(k_cache.shape[1], config.block_size)
    sms = torch.cuda.get_device_properties(q.device).multi_processor_count if q.is_cuda else 132
    nb = blocks_per_program(n_rows, n_blocks, sms)
    if nb is None:
        raise ValueError(f"{n_rows} rows of {n_blocks} blocks do not fit one persistent grid (fits())")
    per_row = triton.cdiv(n_blocks, nb)
    n_progs = n_rows * per_row
    k = config.selected_blocks
    slots = triton.cdiv(max(k, triton.cdiv(config.dense_len, config.block_size)), per_row)
    tile_slots = max(1, min(slots, 128 // config.block_size))
    d_split = 1
    while d_split < block_d // 16 and n_rows * group * d_split * 2 <= n_progs:
        d_split *= 2
    c2 = c2_cache if config.coarse_normaliser else c1_cache  # a placeholder the kernel never reads
    if config.coarse_normaliser and c2.shape[1] > n_blocks:
        raise ValueError(f"c2_cache holds {c2.shape[1]} entries, more than the {n_blocks} blocks of the cache")
    device = q.device
    part_m = torch.empty(n_progs * rows, device=device, dtype=torch.float32)
    part_l = torch.empty_like(part_m)
    scores = torch.empty(n_rows, n_blocks, device=device, dtype=torch.float32)
    selected = torch.empty(n_rows, k, device=device, dtype=torch.int32)
    part_o = torch.empty(n_progs * rows, block_d, device=device, dtype=torch.float32)
    part_lse = torch.empty(n_progs * rows, device=device, dtype=torch.float32)
    out = torch.empty_like(q)
    counters = _counters(device) if not phased else torch.zeros(8, device=device, dtype=torch.int32)
    block_row = triton.next_power_of_2(n_blocks)
    pdl = use_pdl(q) and not phased
    args = (
        q,
        k_cache,
        v_cache,
        c1_cache,
        c2,
        lengths,
        out,
        part_m,
        part_l,
        scores,
        selected,
        part_o,
        part_lse,
        counters,
        dim**-0.5 * LOG2E,
        n_blocks,
        config.dense_len,
        n_rows * group * d_split,
        q.stride(0),
        q.stride(1),
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        v_cache.stride(0),
        v_cache.stride(1),
        v_cache.stride(2),
        c1_cache.stride(0),
        c1_cache.stride(1),
        c1_cache.stride(2),
        c2.stride(0),
        c2.stride(1),
        c2.stride(2),
        out.stride(0),
        out.stride(1),
    )
    meta = dict(
        N_KV=n_kv,
        N_PROGS_ROW=per_row,
        BLOCK_P=triton.next_power_of_2(per_row),
        NB=nb,
        BLOCK_ROW=block_row,
        RANK_CHUNK=min(block_row, max(16, 8192 // nb)),
        SLOTS=slots,
        TILE_SLOTS=tile_slots,
        D_SPLIT=d_split,
        K=k,
        BLOCK_K=triton.next_power_of_2(k),
        KERNEL_SIZE=config.kernel_size,
        KERNEL_STRIDE=config.kernel_stride,
        COARSE=config.coarse_normaliser,
        C2_SIZE=config.coarse_kernel_size,
        C2_STRIDE=config.coarse_kernel_stride,
        BLOCK_C2=max(16, nb),
        BLOCK_SIZE=config.block_size,
        INIT_BLOCKS=config.init_blocks,
        LOCAL_BLOCKS=config.local_blocks,
        RATIO=config.pool_ratio,
        POOL=triton.next_power_of_2(config.pool_ratio + 1),
        HEAD_DIM=dim,
        BLOCK_D=block_d,
        GROUP=group,
        ROWS=rows,
        num_warps=num_warps,
    )
    if phased:
        for phase in range(1, 6):
            _fused_decode_kernel[(n_progs,)](*args, PHASE=phase, **meta)
    else:
        _fused_decode_kernel[(n_progs,)](*args, PHASE=0, PDL=pdl, launch_pdl=pdl, **meta)
    return (out, selected.view(batch, n_kv, k)) if return_selected else out
