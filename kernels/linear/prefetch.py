"""Ask the memory system to bring a weight into L2 ahead of its matmul, without waiting for it.

A decode step's attention is a chain of short, latency-bound kernels (about 20 us a layer at
128K) during which HBM sits mostly idle; the o projection that follows reads its 33.6 MB weight
(MiniCPM4-8B) at HBM speed. Hopper's bulk prefetch (`cp.async.bulk.prefetch.L2`) hands a whole
range to the copy engine and returns at once: one short kernel issues the ranges and exits, the
attention kernels start behind it, and the weight streams into the 50 MB L2 meanwhile, so that
the matmul reads it from L2. Nothing is read into registers and nothing is written: a prefetch
changes no number, only where the bytes sit (tests check the matmul after it is unchanged).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

CHUNK_BYTES = 1 << 16  # one bulk prefetch a thread: a multiple of 16 bytes, as the instruction needs


@triton.jit
def _bulk_prefetch_kernel(base_ptr, n_bytes, CHUNK: tl.constexpr, PER_PROGRAM: tl.constexpr):
    start = (tl.program_id(0) * PER_PROGRAM + tl.arange(0, PER_PROGRAM)).to(tl.int64) * CHUNK
    inside = start < n_bytes
    # past the end a thread prefetches the first 16 bytes again (harmless), so no branch per thread
    offset = tl.where(inside, start, 0)
    size = tl.where(inside, tl.minimum(n_bytes - start, CHUNK), 16).to(tl.int32)
    tl.inline_asm_elementwise(
        "cp.async.bulk.prefetch.L2.global [$1], $2;\n\tmov.u32 $0, 0;",
        "=r,l,r",
        [base_ptr + offset, size],
        dtype=tl.int32,
        is_pure=False,
        pack=1,
    )


@triton.jit
def _line_prefetch_kernel(base_ptr, n_lines, LINES: tl.constexpr):
    line = (tl.program_id(0) * LINES + tl.arange(0, LINES)).to(tl.int64)
    where = tl.where(line < n_lines, line, 0) * 128
    tl.inline_asm_elementwise(
        "prefetch.global.L2::evict_last [$1];\n\tmov.u32 $0, 0;",
        "=r,l",
        [base_ptr + where],
        dtype=tl.int32,
        is_pure=False,
        pack=1,
    )


def prefetch_l2(weight: torch.Tensor, method: str = "bulk", per_program: int = 128, chunk: int = CHUNK_BYTES) -> None:
    """Start bringing contiguous `weight` (CUDA, compute capability 9.0+) into L2 and return:
    method "bulk" issues `chunk`-byte bulk prefetches, per_program of them a program; "lines"
    one prefetch per 128-byte line (many threads). Graph-capturable; allocates nothing."""
    if not weight.is_cuda or not weight.is_contiguous():
        raise ValueError("prefetch_l2 takes a contiguous CUDA tensor")
    raw = weight.view(-1).view(torch.uint8)
    n_bytes = raw.numel()
    if method == "bulk":
        grid = (triton.cdiv(triton.cdiv(n_bytes, chunk), per_program),)
        warps = max(1, min(4, per_program // 32))
        _bulk_prefetch_kernel[grid](raw, n_bytes, CHUNK=chunk, PER_PROGRAM=per_program, num_warps=warps)
    elif method == "lines":
        lines, n_lines = 1024, triton.cdiv(n_bytes, 128)
        _line_prefetch_kernel[(triton.cdiv(n_lines, lines),)](raw, n_lines, LINES=lines, num_warps=4)
    else:
        raise ValueError(f"prefetch method must be 'bulk' or 'lines', got {method!r}")
