"""A decode step's residual add and RMSNorm inside the one-row matmul that reads them.

In a decode step each layer's qkv and gate/up projections read the RMSNorm of the residual sum
h + alpha * delta (delta: the previous sublayer's output); run as kernels of their own, the add
and the norm cost a launch and a round trip each, between two matmuls that stream weights. Here
every program of the GEMV (kernels/linear/gemv.py's row split) first loads the whole of h and
delta (one row of a few KB, from L2), forms the sum rounded as torch.add rounds it, and its
inverse RMS; then it streams its weight rows, normalising each tile of x as it goes, rounded as
kernels/fused/reference.py's rms_norm rounds. Program 0 also stores the sum: the next residual.
With `swiglu`, the weight is the fused [gate; up] projection and a program multiplies gate row j
and up row j together and stores silu(gate) * up (rounded as the unfused ops round): the MLP's
activation costs no kernel of its own. On Hopper the kernel launches with PDL and loads its first
weight tile before it waits for the kernel before it, since the weights depend on no kernel.
Reference: reference.add_rms_norm (or rms_norm) then F.linear, then reference.silu_mul.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

from kernels.flash_attention.launch import use_pdl


@triton.jit
def _residual_sum(h_ptr, delta_ptr, k, m_k, alpha, ADD: tl.constexpr):
    """(h + alpha * delta)[k] rounded to h's dtype, as fp32 (h alone without ADD)."""
    x = tl.load(h_ptr + k, mask=m_k, other=0.0).to(tl.float32)
    if ADD:
        delta = tl.load(delta_ptr + k, mask=m_k, other=0.0).to(tl.float32)
        x = (x + alpha * delta).to(h_ptr.dtype.element_ty).to(tl.float32)
    return x


@triton.jit
def _normed(h_ptr, delta_ptr, norm_ptr, k, m_k, alpha, rstd, ADD: tl.constexpr):
    """rms_norm's x tile: (sum * rstd) rounded, times the norm weight, rounded, as fp32."""
    x = (_residual_sum(h_ptr, delta_ptr, k, m_k, alpha, ADD) * rstd).to(h_ptr.dtype.element_ty)
    weight = tl.load(norm_ptr + k, mask=m_k, other=0.0)
    return (x.to(tl.float32) * weight.to(tl.float32)).to(h_ptr.dtype.element_ty).to(tl.float32)


@triton.jit
def _norm_gemv_kernel(
    h_ptr,
    delta_ptr,
    sum_ptr,
    norm_ptr,
    w_ptr,
    y_ptr,
    n_out,
    n_cols,
    stride_w,
    row_blocks,
    alpha,
    eps,
    ROWS: tl.constexpr,
    BLOCK_K: tl.constexpr,
    BLOCK_H: tl.constexpr,
    ADD: tl.constexpr,
    SWIGLU: tl.constexpr,
    PDL: tl.constexpr,
):
    pid, n_programs = tl.program_id(0), tl.num_programs(0)
    first = pid * row_blocks // n_programs
    last = (pid + 1) * row_blocks // n_programs
    o_k = tl.arange(0, BLOCK_K)
    # the first weight tile depends on no kernel: its loads are in flight while this one waits
    o_first = first * ROWS + tl.arange(0, ROWS)
    m_first = o_first < tl.minimum(n_out, last * ROWS)  # none when this program has no block
    w_first = tl.load(
        w_ptr + o_first.to(tl.int64)[:, None] * stride_w + o_k[None, :],
        mask=m_first[:, None] & (o_k < n_cols)[None, :],
        other=0.0,
    )
    if PDL:  # h and delta come from the kernels before (launch.py)
        gdc_wait()
        gdc_launch_dependents()
    o_h = tl.arange(0, BLOCK_H)
    m_h = o_h < n_cols
    total = _residual_sum(h_ptr, delta_ptr, o_h, m_h, alpha, ADD)
    if ADD and pid == 0:
        tl.store(sum_ptr + o_h, total.to(sum_ptr.dtype.element_ty), mask=m_h)
    rstd = 1.0 / tl.sqrt(tl.sum(total * total, 0) / n_cols + eps)
    for block in range(first, last):
        o_n = block * ROWS + tl.arange(0, ROWS)
        m_n = o_n < n_out
        acc = tl.zeros([ROWS, BLOCK_K], dtype=tl.float32)
        acc_up = tl.zeros([ROWS, BLOCK_K], dtype=tl.float32)
        for k0 in range(0, n_cols, BLOCK_K):
            m_k = (k0 + o_k) < n_cols
            x = _normed(h_ptr, delta_ptr, norm_ptr, k0 + o_k, m_k, alpha, rstd, ADD)
            p_w = w_ptr + o_n.to(tl.int64)[:, None] * stride_w + (k0 + o_k)[None, :]
            m_w = m_n[:, None] & m_k[None, :]
            # branch-free: the preloaded tile loads no bytes again
            again = (tl.zeros([ROWS, BLOCK_K], dtype=tl.int32) + (block - first) * n_cols + k0) != 0
            w = tl.where(again, tl.load(p_w, mask=m_w & again, other=0.0), w_first)
            acc += w.to(tl.float32) * x[None, :]
            if SWIGLU:
                up = tl.load(p_w + n_out.to(tl.int64) * stride_w, mask=m_w, other=0.0)
                acc_up += up.to(tl.float32) * x[None, :]
        out = tl.sum(acc, 1).to(y_ptr.dtype.element_ty)
        if SWIGLU:  # F.silu(gate) * up on the rounded projections
            gate = out.to(tl.float32)
            silu = (gate / (1.0 + tl.exp(-gate))).to(y_ptr.dtype.element_ty).to(tl.float32)
            up_out = tl.sum(acc_up, 1).to(y_ptr.dtype.element_ty).to(tl.float32)
            out = (silu * up_out).to(y_ptr.dtype.element_ty)
        tl.store(y_ptr + o_n, out, mask=m_n)


def norm_gemv(
    h: torch.Tensor,
    norm_weight: torch.Tensor,
    weight: torch.Tensor,
    eps: float,
    delta: torch.Tensor | None = None,
    alpha: float = 1.0,
    swiglu: bool = False,
    shape: tuple[int, int, int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One row: s = h + alpha * delta (h alone when delta is None), then rms_norm(s, norm_weight,
    eps) @ weight.T, or with swiglu silu(gate) * up of it (weight [2I, K], gate rows first).
    h, delta [..., K] holding one row in all, contiguous; weight [N, K] (last dim contiguous);
    shape: (rows a block, programs, BLOCK_K, warps). -> (s, y [..., N or I]) in h's dtype
    (s is h itself when delta is None)."""
    n_rows, n_cols = weight.shape
    if h.numel() != n_cols or (delta is not None and delta.numel() != n_cols):
        raise ValueError(f"norm_gemv takes one row of {n_cols} values, got {tuple(h.shape)}")
    if swiglu and n_rows % 2:
        raise ValueError(f"a swiglu weight stacks gate and up rows: {n_rows} rows is odd")
    if weight.stride(1) != 1 or not h.is_contiguous() or (delta is not None and not delta.is_contiguous()):
        raise ValueError("norm_gemv needs contiguous h and delta and the weight's last dim contiguous")
    rows, programs, block_k, warps = shape or (4, 4 * _sms(h), 512, 4)
    n_out = n_rows // 2 if swiglu else n_rows
    row_blocks = triton.cdiv(n_out, rows)
    total = torch.empty_like(h) if delta is not None else h
    out = torch.empty(n_out, device=h.device, dtype=h.dtype)
    pdl = use_pdl(h)
    _norm_gemv_kernel[(min(programs, row_blocks),)](
        h,
        delta if delta is not None else h,
        total,
        norm_weight,
        weight,
        out,
        n_out,
        n_cols,
        weight.stride(0),
        row_blocks,
        alpha,
        eps,
        ROWS=rows,
        BLOCK_K=block_k,
        BLOCK_H=triton.next_power_of_2(n_cols),
        ADD=delta is not None,
        SWIGLU=swiglu,
        PDL=pdl,
        num_warps=warps,
        launch_pdl=pdl,
    )
    return total, out.view(*h.shape[:-1], n_out)


def _sms(x: torch.Tensor) -> int:
    return torch.cuda.get_device_properties(x.device).multi_processor_count if x.is_cuda else 1
