"""Compressed keys (docs/ARCHITECTURE.md section 4, step 1): the mean of each complete key window, c1
(kernel 32, stride 16) and, for an approximate softmax normaliser, c2 (kernel 128, stride 64)."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from kernels.infllmv2.config import SparseConfig


@triton.jit
def _compress_kernel(
    k_ptr,
    c1_ptr,
    cu_k_ptr,
    stride_kt,
    stride_kh,
    stride_cb,
    stride_cj,
    stride_ch,
    KERNEL_SIZE: tl.constexpr,
    KERNEL_STRIDE: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_J: tl.constexpr,
):
    i_j, i_b, i_hk = tl.program_id(0), tl.program_id(1), tl.program_id(2)
    k_start = tl.load(cu_k_ptr + i_b)
    k_len = tl.load(cu_k_ptr + i_b + 1) - k_start
    n_c1 = tl.where(k_len >= KERNEL_SIZE, (k_len - KERNEL_SIZE) // KERNEL_STRIDE + 1, 0)
    o_j = i_j * BLOCK_J + tl.arange(0, BLOCK_J)
    m_j = o_j < n_c1
    o_d = tl.arange(0, BLOCK_D)
    m_d = o_d < HEAD_DIM
    acc = tl.zeros([BLOCK_J, BLOCK_D], dtype=tl.float32)
    for i in range(KERNEL_SIZE):
        o_t = (k_start + o_j * KERNEL_STRIDE + i).to(tl.int64)
        acc += tl.load(
            k_ptr + o_t[:, None] * stride_kt + i_hk * stride_kh + o_d[None, :],
            mask=m_j[:, None] & m_d[None, :],
            other=0.0,
        ).to(tl.float32)
    acc = acc / KERNEL_SIZE
    p_c = (
        c1_ptr + i_b.to(tl.int64) * stride_cb + o_j.to(tl.int64)[:, None] * stride_cj + i_hk * stride_ch + o_d[None, :]
    )
    tl.store(p_c, acc.to(c1_ptr.dtype.element_ty), mask=m_d[None, :])


@triton.jit
def _append_windows(
    k_ptr,
    c_ptr,
    i_b,
    i_hk,
    old_len,
    new_len,
    stride_kb,
    stride_kt,
    stride_kh,
    stride_cb,
    stride_cj,
    stride_ch,
    KERNEL_SIZE: tl.constexpr,
    KERNEL_STRIDE: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    j_lo = tl.where(old_len >= KERNEL_SIZE, (old_len - KERNEL_SIZE) // KERNEL_STRIDE + 1, 0)
    j_hi = tl.where(new_len >= KERNEL_SIZE, (new_len - KERNEL_SIZE) // KERNEL_STRIDE + 1, 0)
    o_t = tl.arange(0, KERNEL_SIZE)
    o_d = tl.arange(0, BLOCK_D)
    m_d = o_d < HEAD_DIM
    for j in range(j_lo, j_hi):
        o_k = i_b.to(tl.int64) * stride_kb + (j * KERNEL_STRIDE + o_t).to(tl.int64)[:, None] * stride_kt
        b_k = tl.load(k_ptr + o_k + i_hk * stride_kh + o_d[None, :], mask=m_d[None, :], other=0.0)
        mean = tl.sum(b_k.to(tl.float32), 0) / KERNEL_SIZE  # [BLOCK_D]
        p_c = c_ptr + i_b.to(tl.int64) * stride_cb + j * stride_cj + i_hk * stride_ch + o_d
        tl.store(p_c, mean.to(c_ptr.dtype.element_ty), mask=m_d)


@triton.jit
def _append_kernel(
    k_ptr,
    c1_ptr,
    c2_ptr,
    old_len_ptr,
    new_len_ptr,
    stride_kb,
    stride_kt,
    stride_kh,
    stride_cb,
    stride_cj,
    stride_ch,
    stride_c2b,
    stride_c2j,
    stride_c2h,
    KERNEL_SIZE: tl.constexpr,
    KERNEL_STRIDE: tl.constexpr,
    C2_SIZE: tl.constexpr,
    C2_STRIDE: tl.constexpr,
    HAS_C2: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    i_b, i_hk = tl.program_id(0), tl.program_id(1)
    old_len = tl.load(old_len_ptr + i_b)
    new_len = tl.load(new_len_ptr + i_b)
    _append_windows(
        k_ptr,
        c1_ptr,
        i_b,
        i_hk,
        old_len,
        new_len,
        stride_kb,
        stride_kt,
        stride_kh,
        stride_cb,
        stride_cj,
        stride_ch,
        KERNEL_SIZE,
        KERNEL_STRIDE,
        HEAD_DIM,
        BLOCK_D,
    )
    if HAS_C2:
        _append_windows(
            k_ptr,
            c2_ptr,
            i_b,
            i_hk,
            old_len,
            new_len,
            stride_kb,
            stride_kt,
            stride_kh,
            stride_c2b,
            stride_c2j,
            stride_c2h,
            C2_SIZE,
            C2_STRIDE,
            HEAD_DIM,
            BLOCK_D,
        )


def _window(config: SparseConfig, coarse: bool) -> tuple[int, int]:
    if coarse:
        return config.coarse_kernel_size, config.coarse_kernel_stride
    return config.kernel_size, config.kernel_stride


def compressed_count(n_keys: int, config: SparseConfig, coarse: bool = False) -> int:
    """Complete windows among n_keys keys: the c1 entries (coarse: c2) a context of that length has."""
    size, stride = _window(config, coarse)
    if n_keys < size:
        return 0
    return (n_keys - size) // stride + 1


def compress_keys(
    k: torch.Tensor, cu_seqlens_k: torch.Tensor, max_seqlen_k: int, config: SparseConfig, coarse: bool = False
) -> torch.Tensor:
    """c1 (coarse: c2, the windows of config.coarse_kernel_size) of every sequence of a varlen batch.

    k [Tk, HKV, D] (fp16/bf16; fp32 under the interpreter), cu_seqlens_k [B + 1] int32,
    max_seqlen_k >= every key length. Returns c1 [B, n, HKV, D] in k's dtype with
    n = compressed_count(max_seqlen_k, config, coarse); entries past a sequence's own count are zero.
    """
    n_kv, dim = k.shape[1], k.shape[2]
    batch = cu_seqlens_k.shape[0] - 1
    size, stride = _window(config, coarse)
    n_c1 = compressed_count(max_seqlen_k, config, coarse)
    block_j = 64
    c1 = torch.empty(batch, triton.cdiv(max(n_c1, 1), block_j) * block_j, n_kv, dim, device=k.device, dtype=k.dtype)
    _compress_kernel[(triton.cdiv(max(n_c1, 1), block_j), batch, n_kv)](
        k,
        c1,
        cu_seqlens_k,
        k.stride(0),
        k.stride(1),
        c1.stride(0),
        c1.stride(1),
        c1.stride(2),
        KERNEL_SIZE=size,
        KERNEL_STRIDE=stride,
        HEAD_DIM=dim,
        BLOCK_D=triton.next_power_of_2(dim),
        BLOCK_J=block_j,
        num_warps=4,
    )
    return c1[:, :n_c1]


def append_compressed_keys(
    k_cache: torch.Tensor,
    c1_cache: torch.Tensor,
    old_lengths: torch.Tensor,
    new_lengths: torch.Tensor,
    config: SparseConfig,
    c2_cache: torch.Tensor | None = None,
) -> None:
    """Add the c1 (and c2) entries that keys written since the last call complete (in place).

    k_cache [B, capacity, HKV, D]; c1_cache [B, c1_capacity, HKV, D], same dtype, with
    c1_capacity >= compressed_count(capacity); old_lengths and new_lengths [B] int32: keys in
    the cache before and after the new tokens were written. Every kernel_stride new tokens
    complete one entry; a decode loop calls this once per step, after writing K, with no
    host synchronization, so it can live inside a CUDA graph. c2_cache [B, c2_capacity, HKV,
    D], c2_capacity >= compressed_count(capacity, config, coarse=True), for
    config.coarse_normaliser: one entry every coarse_kernel_stride new tokens, in the same launch.
    """
    batch, _, n_kv, dim = k_cache.shape
    c2 = c1_cache if c2_cache is None else c2_cache
    _append_kernel[(batch, n_kv)](
        k_cache,
        c1_cache,
        c2,
        old_lengths,
        new_lengths,
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        c1_cache.stride(0),
        c1_cache.stride(1),
        c1_cache.stride(2),
        c2.stride(0),
        c2.stride(1),
        c2.stride(2),
        KERNEL_SIZE=config.kernel_size,
        KERNEL_STRIDE=config.kernel_stride,
        C2_SIZE=config.coarse_kernel_size,
        C2_STRIDE=config.coarse_kernel_stride,
        HAS_C2=c2_cache is not None,
        HEAD_DIM=dim,
        BLOCK_D=triton.next_power_of_2(dim),
        num_warps=4,
    )


def coarse_from_fine(c1: torch.Tensor, config: SparseConfig) -> torch.Tensor:
    """c2 from c1, without reading K again: a c2 window is four c1 windows end to end, so
    c2[j] = mean(c1[4j], c1[4j + 2], c1[4j + 4], c1[4j + 6]) (in fp32, rounded to c1's dtype).

    c1 [B, n_c1, HKV, D] from compress_keys -> c2 [B, n_c2, HKV, D]; each sequence's first
    compressed_count(its length, config, coarse=True) entries are its c2, later ones are not
    meaningful (no kernel reads them).
    """
    n_c1 = c1.shape[1]
    n_c2 = (n_c1 - 7) // 4 + 1 if n_c1 >= 7 else 0
    even = c1[:, : 4 * n_c2 + 3 : 2]  # [B, 2 * n_c2 + 2, HKV, D]: windows end to end
    return even.unfold(1, 4, 2).float().mean(-1).to(c1.dtype)  # unfold: [B, n_c2, HKV, D, 4]
