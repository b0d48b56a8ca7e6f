"""The first index of each row's maximum (torch.argmax over the last dim) in two small kernels.

A decode step ends with the argmax of [B, V] logits (V = 73448 for MiniCPM4), inside its CUDA
graph so that greedy steps can follow one another on the device; PyTorch's reduction ran about
18 us a step at batch 1 on the H200 (bench/RESULTS.md, engine GPU). Here each program takes
the maximum of one chunk of a row, then one program a row picks the first chunk holding the
row's maximum: the first index among equal maxima, as torch.argmax.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _chunk_argmax_kernel(x_ptr, values_ptr, indices_ptr, n_cols, stride_row, chunks, BLOCK: tl.constexpr):
    row, chunk = tl.program_id(0), tl.program_id(1)
    cols = chunk * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row.to(tl.int64) * stride_row + cols, mask=cols < n_cols, other=float("-inf"))
    best = tl.argmax(x, 0, tie_break_left=True)
    tl.store(values_ptr + row * chunks + chunk, tl.max(x, 0))
    tl.store(indices_ptr + row * chunks + chunk, chunk * BLOCK + best)


@triton.jit
def _row_argmax_kernel(values_ptr, indices_ptr, out_ptr, chunks, CHUNKS: tl.constexpr):
    row = tl.program_id(0)
    offsets = tl.arange(0, CHUNKS)
    values = tl.load(values_ptr + row * chunks + offsets, mask=offsets < chunks, other=float("-inf"))
    first = tl.argmax(values, 0, tie_break_left=True)
    tl.store(out_ptr + row, tl.load(indices_ptr + row * chunks + first).to(out_ptr.dtype.element_ty))


def argmax_rows(x: torch.Tensor, out: torch.Tensor | None = None, block: int = 4096) -> torch.Tensor:
    """torch.argmax(x, -1) of x [B, V] (last dim contiguous) -> [B] int64, into `out` when given."""
    if x.dim() != 2 or x.stride(1) != 1:
        raise ValueError(f"argmax_rows takes [B, V] with the last dim contiguous, got {tuple(x.shape)}")
    rows, n_cols = x.shape
    block = min(block, triton.next_power_of_2(n_cols))
    chunks = triton.cdiv(n_cols, block)
    values = torch.empty(rows, chunks, device=x.device, dtype=torch.float32)
    indices = torch.empty(rows, chunks, device=x.device, dtype=torch.int32)
    out = torch.empty(rows, device=x.device, dtype=torch.long) if out is None else out
    _chunk_argmax_kernel[(rows, chunks)](x, values, indices, n_cols, x.stride(0), chunks, BLOCK=block, num_warps=4)
    _row_argmax_kernel[(rows,)](values, indices, out, chunks, CHUNKS=triton.next_power_of_2(chunks), num_warps=1)
    return out
