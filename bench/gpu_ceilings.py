"""The GPU's ceilings that the kernels' figures are read against; prints one JSON line.

- "hbm_copy_tbps": a device-to-device copy of 2 GiB, bytes read plus written over its time.
- "l2_read_tbps": a Triton kernel whose programs read 16 KiB chunks of a 24 MiB buffer (it
  fits the L2, "l2_mb" as torch reports it) past the L1 (`.cg` loads), 64 chunks each, bytes
  read over its time: the rate at which blocks that several programs pick (the sparse
  prefill's lists) can come from L2.
- "matmul_tflops": torch.matmul of two 8192 x 8192 bf16 random matrices.
- The floor of a chain of dependent kernels replayed from a CUDA graph. A sparse decode step
  is such a chain (scores, pooling, top-k, attention splits, combine). This times chains of 1
  to 6 trivial kernels (each program loads a value the previous kernel wrote and stores it plus
  one: one dependent memory round trip, as every stage of the step has at least one) with and
  without programmatic dependent launch, so that the step's time splits into this floor and its
  work. "chain_N_pdl_ms": N kernels with PDL; "chain_N_ms": without; "layered_N_pdl_ms": per
  chain, with LAYERS chains back to back in one graph (its launch shared, as an engine captures
  all layers of a decode step).

    python bench/gpu_ceilings.py
"""

from __future__ import annotations

import json

import torch
import triton
import triton.language as tl
from kernels_gpu import bench_ms, graphed
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

LAYERS = 8
PROGRAMS = 128  # about one per multiprocessor, as the decode kernels launch at 128K


@triton.jit
def _step_kernel(src_ptr, dst_ptr, PDL: tl.constexpr):
    if PDL:
        gdc_wait()
        gdc_launch_dependents()
    i = tl.program_id(0)
    tl.store(dst_ptr + i, tl.load(src_ptr + i) + 1.0)


@triton.jit
def _l2_read_kernel(src_ptr, out_ptr, n_chunks, REPS: tl.constexpr, CHUNK: tl.constexpr):
    pid = tl.program_id(0)
    acc = tl.zeros([CHUNK], dtype=tl.float32)
    for r in range(REPS):  # a different chunk each time, so that nothing repeats in one SM's L1
        chunk = (pid + r * tl.num_programs(0)) % n_chunks
        acc += tl.load(src_ptr + chunk.to(tl.int64) * CHUNK + tl.arange(0, CHUNK), cache_modifier=".cg")
    tl.store(out_ptr + pid, tl.sum(acc, 0))


def l2_read_tbps() -> float:
    chunk, reps, programs = 4096, 64, 132 * 16
    src = torch.randn(24 * 2**20 // 4, device="cuda")
    out = torch.empty(programs, device="cuda")
    n_chunks = src.numel() // chunk
    ms = bench_ms(lambda: _l2_read_kernel[(programs,)](src, out, n_chunks, REPS=reps, CHUNK=chunk), 100)
    return programs * reps * chunk * 4 / ms / 1e9


def hbm_copy_tbps() -> float:
    src = torch.randn(2**29, device="cuda")  # 2 GiB
    dst = torch.empty_like(src)
    ms = bench_ms(lambda: dst.copy_(src), 100)
    return 2 * src.numel() * 4 / ms / 1e9


def matmul_tflops() -> float:
    a, b = (torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    ms = bench_ms(lambda: a @ b, 100)
    return 2 * 8192**3 / ms / 1e9


def chain(buffers: list[torch.Tensor], length: int, pdl: bool) -> None:
    """length kernels, each reading what the previous one wrote."""
    for i in range(length):
        _step_kernel[(PROGRAMS,)](buffers[i % 2], buffers[(i + 1) % 2], PDL=pdl, launch_pdl=pdl)


def graph_ms(fn) -> float:
    """Median replay time of fn captured in a CUDA graph."""
    return bench_ms(graphed(fn).replay, 300)


def main() -> None:
    buffers = [torch.randn(PROGRAMS, device="cuda") for _ in range(2)]
    row: dict[str, float | str] = {"device": torch.cuda.get_device_name()}
    row["l2_mb"] = torch.cuda.get_device_properties(0).L2_cache_size / 2**20
    row["hbm_copy_tbps"] = hbm_copy_tbps()
    row["l2_read_tbps"] = l2_read_tbps()
    row["matmul_tflops"] = matmul_tflops()
    for length in range(1, 7):
        for pdl in (False, True):
            suffix = "_pdl" if pdl else ""
            row[f"chain_{length}{suffix}_ms"] = graph_ms(lambda length=length, pdl=pdl: chain(buffers, length, pdl))
        row[f"layered_{length}_pdl_ms"] = (
            graph_ms(lambda length=length: [chain(buffers, length, True) for _ in range(LAYERS)]) / LAYERS
        )
    print(json.dumps(row))


if __name__ == "__main__":
    main()
