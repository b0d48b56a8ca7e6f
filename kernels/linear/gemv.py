"""y = x @ W.T for one row x (a decode step's weight matmul), read at memory bandwidth.

At M = 1 a matmul is a pass over W: every byte of the weight is read once and used once. The
kernel splits W's rows evenly over a fixed number of programs (a few per SM, so that no second
wave of programs leaves the chip half idle), and each program streams its rows in [ROWS, BLOCK_K]
tiles, multiplying by x in fp32 registers. On Hopper the kernel launches with PDL
(kernels/flash_attention/launch.py): its launch overlaps the end of the kernel before it (in a
decode step, the attention's last kernel), for which it waits before it reads anything. The
reference is torch.nn.functional.linear.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

from kernels.flash_attention.launch import use_pdl


@triton.jit
def _gemv_kernel(
    x_ptr,
    w_ptr,
    y_ptr,
    n_rows,
    n_cols,
    stride_w,
    row_blocks,
    ROWS: tl.constexpr,
    BLOCK_K: tl.constexpr,
    PDL: tl.constexpr = False,
):
    if PDL:  # x comes from the kernel before (launch.py)
        gdc_wait()
        gdc_launch_dependents()
    pid, n_programs = tl.program_id(0), tl.num_programs(0)
    first = pid * row_blocks // n_programs
    last = (pid + 1) * row_blocks // n_programs
    o_k = tl.arange(0, BLOCK_K)
    for block in range(first, last):
        o_n = block * ROWS + tl.arange(0, ROWS)
        m_n = o_n < n_rows
        acc = tl.zeros([ROWS, BLOCK_K], dtype=tl.float32)
        for k0 in range(0, n_cols, BLOCK_K):
            m_k = (k0 + o_k) < n_cols
            x = tl.load(x_ptr + k0 + o_k, mask=m_k, other=0.0).to(tl.float32)
            w = tl.load(
                w_ptr + o_n.to(tl.int64)[:, None] * stride_w + (k0 + o_k)[None, :],
                mask=m_n[:, None] & m_k[None, :],
                other=0.0,
            )
            acc += w.to(tl.float32) * x[None, :]
        tl.store(y_ptr + o_n, tl.sum(acc, 1).to(y_ptr.dtype.element_ty), mask=m_n)


def gemv(
    x: torch.Tensor,
    weight: torch.Tensor,
    programs: int | None = None,
    rows: int = 8,
    block_k: int = 512,
    warps: int = 4,
):
    """x [..., K] holding one row in all, weight [N, K] (last dim contiguous) -> [..., N] in x's dtype. programs: how many programs share the rows (default 4 per
    SM on CUDA, fewer under the interpreter); rows, block_k: each program's tile; warps: its warps."""
    n_rows, n_cols = weight.shape
    flat = x.reshape(-1)
    if flat.shape[0] != n_cols:
        raise ValueError(f"gemv takes one row of {n_cols} values, got x of shape {tuple(x.shape)}")
    if weight.stride(1) != 1:
        raise ValueError("gemv needs the weight's last dim contiguous")
    row_blocks = triton.cdiv(n_rows, rows)
    if programs is None:
        programs = 4 * torch.cuda.get_device_properties(x.device).multi_processor_count if x.is_cuda else 4
    programs = min(programs, row_blocks)
    out = torch.empty(n_rows, device=x.device, dtype=x.dtype)
    pdl = use_pdl(x)
    _gemv_kernel[(programs,)](
        flat,
        weight,
        out,
        n_rows,
        n_cols,
        weight.stride(0),
        row_blocks,
        ROWS=rows,
        BLOCK_K=block_k,
        PDL=pdl,
        num_warps=warps,
        launch_pdl=pdl,
    )
    return out.view(*x.shape[:-1], n_rows)
