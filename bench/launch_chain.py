"""The floor of a chain of dependent kernels replayed from a CUDA graph; prints one JSON line.

A sparse decode step is a chain of small dependent kernels (scores, pooling, top-k, attention
splits, combine). This times chains of 1 to 6 trivial kernels (each program loads a value the
previous kernel wrote and stores it plus one: one dependent memory round trip, as every
stage of the step has at least one) with and without programmatic dependent launch, replayed
from a CUDA graph, so that the step's time can be split into this floor and its work.
"chain_N_pdl_ms": N kernels with PDL; "chain_N_ms": without; "layered_N_pdl_ms": per chain,
with LAYERS chains back to back in one graph (the graph's launch shared, as an engine captures
all layers of a decode step).

    python bench/launch_chain.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LAYERS = 8
PROGRAMS = 128  # about one per multiprocessor, as the decode kernels launch at 128K


@triton.jit
def _step_kernel(src_ptr, dst_ptr, PDL: tl.constexpr):
    if PDL:
        gdc_wait()
        gdc_launch_dependents()
    i = tl.program_id(0)
    tl.store(dst_ptr + i, tl.load(src_ptr + i) + 1.0)


def chain(buffers: list[torch.Tensor], length: int, pdl: bool) -> None:
    """length kernels, each reading what the previous one wrote."""
    for i in range(length):
        _step_kernel[(PROGRAMS,)](buffers[i % 2], buffers[(i + 1) % 2], PDL=pdl, launch_pdl=pdl)


def graph_ms(fn) -> float:
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        fn()  # compile and warm outside the capture
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return triton.testing.do_bench(graph.replay, warmup=50, rep=300, return_mode="median")


def main() -> None:
    buffers = [torch.randn(PROGRAMS, device="cuda") for _ in range(2)]
    row: dict[str, float | str] = {"device": torch.cuda.get_device_name()}
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
