"""Read a weight into the L2 cache ahead of its matmul, on a side stream, while latency-bound work runs.

A decode step's attention kernels are short and latency-bound: for ~20 us a layer the HBM sits
mostly idle. A concurrent pass over the next matmul's weight (the o projection, 33.6 MB at the
MiniCPM4-8B shape, within the H200's 50 MB L2) can then leave it in L2, so that the matmul reads
it at L2 rather than HBM speed. The loads ask to be evicted last; each program sums what it read
(fp32), so the loads cannot be dropped, and the sums are the result (tests check them).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _prefetch_kernel(x_ptr, sums_ptr, n, per_program, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    start = pid.to(tl.int64) * per_program
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for offset in range(0, per_program, BLOCK):
        where = start + offset + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + where, mask=where < n, other=0.0, eviction_policy="evict_last").to(tl.float32)
    tl.store(sums_ptr + pid, tl.sum(acc, 0))


def prefetch_l2(
    x: torch.Tensor, programs: int = 32, block: int = 2048, sums: torch.Tensor | None = None
) -> torch.Tensor:
    """Read contiguous x once, leaving it in L2 where it fits; -> [programs] fp32 partial sums of x
    (into `sums` when given: nothing is allocated, as on a side stream inside a graph capture)."""
    if not x.is_contiguous():
        raise ValueError("prefetch_l2 reads a contiguous tensor")
    n = x.numel()
    per_program = triton.cdiv(triton.cdiv(n, programs), block) * block
    if sums is None:
        sums = torch.empty(programs, device=x.device, dtype=torch.float32)
    _prefetch_kernel[(programs,)](x.view(-1), sums, n, per_program, BLOCK=block, num_warps=4)
    return sums
