"""Decode block selection in one launch: logits, pooling and top-k separated by row barriers.

select.decode_select runs three dependent kernels (logits and softmax statistics per split,
pooling, top-k by rank); in a decode step each costs a launch and a memory round trip, and the
step is bound by that chain, not by bytes. Here one grid does all three with the same stage
code (select._decode_logits, select._decode_pool, topk._rank_against): program (row, p), for a
row = (sequence, KV head),

1. computes split p's logits and softmax statistics;
2. waits for every program of its row (kernels/flash_attention/row_barrier.py), then pools
   blocks p * NB .. + NB - 1 from the row's normaliser and logits;
3. waits again, then ranks those blocks against the whole row and writes each taken block to
   its slot.

Program 0 zeroes the first counter once past the second barrier; the last program to leave
zeroes the second one and the exit ticket. Used where the grid fits one wave (fits()); on CPU
and under TRITON_INTERPRET the same kernel runs as three launches, one stage each.
"""

from __future__ import annotations

import dataclasses

import torch
import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

from kernels.flash_attention.launch import use_pdl
from kernels.flash_attention.row_barrier import (
    COUNTERS_PER_ROW,
    fits_one_wave,
    launch_options,
    row_barrier,
    row_counters,
    row_exit,
    runs_phased,
)
from kernels.infllmv2.config import SparseConfig
from kernels.infllmv2.select import LOG2E, _coarse_keys, _decode_logits, _decode_pool
from kernels.infllmv2.topk import _rank_against, _row_bits

NB = 32  # blocks pooled and ranked per program; a split's BLOCK_C = NB * pool_ratio kernels


@triton.jit
def _fused_select_kernel(
    q_ptr,
    c1_ptr,
    c2_ptr,
    lengths_ptr,
    logits_ptr,
    part_m_ptr,
    part_l_ptr,
    scores_ptr,
    out_ptr,
    counter_ptr,
    scale_log2,
    n_cap,
    n_blocks,
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
    BLOCK_S: tl.constexpr,
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
    BLOCK_SIZE: tl.constexpr,
    INIT_BLOCKS: tl.constexpr,
    LOCAL_BLOCKS: tl.constexpr,
    RATIO: tl.constexpr,
    POOL: tl.constexpr,
    NB: tl.constexpr,
    K: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    RANK_CHUNK: tl.constexpr,
    COUNTERS: tl.constexpr,
    PHASE: tl.constexpr,
    PDL: tl.constexpr = False,
):
    # PHASE 0: every stage, row barriers between them; 1..3: that stage only (one launch each)
    if PDL:  # the caches and lengths may come from the previous kernel (launch.py)
        gdc_wait()
        gdc_launch_dependents()
    i_bh, i_p = tl.program_id(0), tl.program_id(1)
    n_progs = tl.num_programs(1)
    length = tl.load(lengths_ptr + i_bh // N_KV)
    p_counters = counter_ptr + i_bh * COUNTERS
    if PHASE == 0 or PHASE == 1:  # noqa: SIM102 (a constexpr test, then a runtime one)
        if i_p < N_SPLITS:
            _decode_logits(
                q_ptr,
                c1_ptr,
                c2_ptr,
                logits_ptr,
                part_m_ptr,
                part_l_ptr,
                i_bh,
                i_p,
                length,
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
                N_KV,
                N_SPLITS,
                KERNEL_SIZE,
                KERNEL_STRIDE,
                COARSE,
                C2_SIZE,
                C2_STRIDE,
                HEAD_DIM,
                BLOCK_D,
                GROUP,
                ROWS,
                BLOCK_C,
                BLOCK_C2,
            )
    if PHASE == 0:
        row_barrier(p_counters + 0, n_progs)
    if PHASE == 0 or PHASE == 2:
        _decode_pool(
            logits_ptr,
            part_m_ptr,
            part_l_ptr,
            scores_ptr,
            i_bh,
            i_p,
            length,
            n_cap,
            n_blocks,
            N_SPLITS,
            BLOCK_S,
            KERNEL_SIZE,
            KERNEL_STRIDE,
            BLOCK_SIZE,
            INIT_BLOCKS,
            LOCAL_BLOCKS,
            RATIO,
            POOL,
            GROUP,
            ROWS,
            NB,
        )
    if PHASE == 0:
        row_barrier(p_counters + 1, n_progs)
        if i_p == 0:  # every program of the row has left the first spin
            tl.atomic_xchg(p_counters + 0, 0, sem="relaxed", scope="gpu")
    if PHASE == 0 or PHASE == 3:
        p_row = scores_ptr + i_bh.to(tl.int64) * n_blocks
        p_out = out_ptr + i_bh.to(tl.int64) * K
        # the row read once; the program's NB blocks ranked RANK_CHUNK at a time (a
        # [RANK_CHUNK, BLOCK_N] comparison each)
        b_all = _row_bits(p_row, n_blocks, BLOCK_N)
        for c in tl.static_range(NB // RANK_CHUNK):
            _rank_against(b_all, p_row, p_out, i_p * (NB // RANK_CHUNK) + c, n_blocks, K, BLOCK_N, BLOCK_K, RANK_CHUNK)
    if PHASE == 0:  # the last program to leave zeroes the second barrier and the ticket
        row_exit(p_counters + 2, n_progs, p_counters + 1)


@dataclasses.dataclass(frozen=True)
class _Shape:
    rows: int  # sequences x KV heads
    n_splits: int
    progs: int  # programs per row


def _shape(batch: int, n_kv: int, n_cap: int, n_c2: int, n_blocks: int, config: SparseConfig) -> _Shape:
    block_c = NB * config.pool_ratio
    block_c2 = block_c * config.kernel_stride // config.coarse_kernel_stride
    n_splits = max(triton.cdiv(max(n_cap, 1), block_c), triton.cdiv(max(n_c2, 1), block_c2))
    return _Shape(batch * n_kv, n_splits, max(n_splits, triton.cdiv(n_blocks, NB)))


def fits(q: torch.Tensor, c1_cache: torch.Tensor, n_blocks: int, config: SparseConfig, c2_cache=None) -> bool:
    """Whether fused_decode_select can run as one launch on q's device: always where it runs
    phased (CPU, TRITON_INTERPRET); on a GPU, if the grid fits one wave (row_barrier.py)."""
    if runs_phased(q):
        return True
    n_c2 = c2_cache.shape[1] if c2_cache is not None else 0
    shape = _shape(q.shape[0], c1_cache.shape[2], c1_cache.shape[1], n_c2, n_blocks, config)
    return fits_one_wave(q, shape.rows, shape.progs)


def fused_decode_select(
    q: torch.Tensor,
    c1_cache: torch.Tensor,
    lengths: torch.Tensor,
    n_blocks: int,
    config: SparseConfig,
    c2_cache: torch.Tensor | None = None,
    phased: bool | None = None,
) -> torch.Tensor:
    """The selection of select.decode_select (ranked: best first) in one launch.

    q [B, HQ, D]; c1_cache [B, c1_capacity, HKV, D]; lengths [B] int32 keys in use (the query's
    own included); n_blocks >= every length / block_size, fixed by the cache capacity; c2_cache
    [B, c2_capacity, HKV, D], required when config.coarse_normaliser. Returns [B, HKV,
    selected_blocks] int32 block ids, best first, -1 for unused slots at the end. Needs fits()
    on a GPU (ValueError otherwise). phased: three launches, one stage each (the default under
    TRITON_INTERPRET or on CPU, where spinning programs would never see the others).
    """
    c2_cache = _coarse_keys(c1_cache, c2_cache, config)
    if phased is None:
        phased = runs_phased(q)
    if not phased and not fits(q, c1_cache, n_blocks, config, c2_cache if config.coarse_normaliser else None):
        raise ValueError("the fused decode selection does not fit one resident grid here (see fits())")
    batch, n_heads, dim = q.shape
    n_kv = c1_cache.shape[2]
    group = n_heads // n_kv
    rows = max(16, triton.next_power_of_2(group))
    n_cap = c1_cache.shape[1]
    shape = _shape(batch, n_kv, n_cap, c2_cache.shape[1], n_blocks, config)
    block_c = NB * config.pool_ratio
    k = config.selected_blocks
    logits = torch.empty(shape.rows, rows, n_cap, device=q.device, dtype=torch.float32)
    part_m = torch.empty(shape.rows, shape.n_splits, rows, device=q.device, dtype=torch.float32)
    part_l = torch.empty_like(part_m)
    scores = torch.empty(shape.rows, n_blocks, device=q.device, dtype=torch.float32)
    out = torch.empty(batch, n_kv, k, device=q.device, dtype=torch.int32)
    counters = (
        row_counters(q.device, "fused_select") if not phased else torch.zeros(1, device=q.device, dtype=torch.int32)
    )
    args = (
        q,
        c1_cache,
        c2_cache,
        lengths,
        logits,
        part_m,
        part_l,
        scores,
        out,
        counters,
        dim**-0.5 * LOG2E,
        n_cap,
        n_blocks,
        q.stride(0),
        q.stride(1),
        c1_cache.stride(0),
        c1_cache.stride(1),
        c1_cache.stride(2),
        c2_cache.stride(0),
        c2_cache.stride(1),
        c2_cache.stride(2),
    )
    meta = dict(
        N_KV=n_kv,
        N_SPLITS=shape.n_splits,
        BLOCK_S=triton.next_power_of_2(shape.n_splits),
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
        BLOCK_C2=block_c * config.kernel_stride // config.coarse_kernel_stride,
        BLOCK_SIZE=config.block_size,
        INIT_BLOCKS=config.init_blocks,
        LOCAL_BLOCKS=config.local_blocks,
        RATIO=config.pool_ratio,
        POOL=triton.next_power_of_2(config.pool_ratio + 1),
        NB=NB,
        K=k,
        BLOCK_N=triton.next_power_of_2(n_blocks),
        BLOCK_K=triton.next_power_of_2(k),
        RANK_CHUNK=min(4, NB),
        COUNTERS=COUNTERS_PER_ROW,
        num_warps=4,
    )
    grid = (shape.rows, shape.progs)
    if phased:
        for phase in (1, 2, 3):
            _fused_select_kernel[grid](*args, PHASE=phase, **meta)
        return out
    pdl = use_pdl(q)
    _fused_select_kernel[grid](*args, PHASE=0, PDL=pdl, **launch_options(pdl), **meta)
    return out
