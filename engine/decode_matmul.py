"""Which kernel multiplies a one-row decode step by each small weight: cuBLAS or our GEMV.

At M = 1 a weight matmul is one pass over the weight. For the small weights of a MiniCPM4-8B
layer (qkv 37.7 MB, o 33.6 MB) cuBLAS runs a split-K matmul and a reduce kernel, and the Triton
GEMV of kernels/linear/gemv.py, with the right launch shape, was faster on the H200; for the
large ones it was slower (bench/RESULTS.md, engine GPU). Which wins, and with which launch
shape, depends on the GPU and the weight, so warm-up measures it on the model's own weights
(every layer's, in a CUDA graph, so that no weight is read from L2) and keeps the faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

# (rows a block, programs per SM, BLOCK_K, warps) launch shapes tried against cuBLAS: the fastest
# few of the H200 sweeps (bench/engine_gpu_parts.py --gemv-sweep) for each kind of weight
GEMV_SHAPES = {
    "qkv": ((8, 16, 512, 4), (4, 8, 512, 4), (4, 8, 1024, 4), (4, 4, 2048, 8), (8, 4, 512, 4)),
    "o": ((4, 8, 1024, 4), (4, 8, 512, 4), (4, 4, 2048, 8), (8, 16, 512, 4)),
    "down": ((2, 16, 2048, 4), (1, 16, 2048, 8), (2, 8, 2048, 4), (4, 8, 2048, 8), (4, 8, 1024, 4)),
}


@dataclass(frozen=True, slots=True)
class MatmulChoice:
    """F.linear (gemv None) or kernels.linear.gemv with (rows, programs, block_k, warps)."""

    gemv: tuple[int, int, int, int] | None = None

    def __call__(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if self.gemv is None or x.numel() != weight.shape[1]:
            return F.linear(x, weight)
        from kernels.linear.gemv import gemv

        rows, programs, block_k, warps = self.gemv
        return gemv(x, weight, programs=programs, rows=rows, block_k=block_k, warps=warps)


def choose_matmul(
    x: torch.Tensor, weights: list[torch.Tensor], shapes: tuple, rounds: int = 3
) -> tuple[MatmulChoice, dict]:
    """The fastest of F.linear and the GEMV launch `shapes` (GEMV_SHAPES' entries) for x [1, 1, K]
    times each of `weights` (one per layer, same shape) in turn, on CUDA; -> (choice, microseconds
    per call of each)."""
    sms = torch.cuda.get_device_properties(x.device).multi_processor_count
    candidates = [MatmulChoice()] + [MatmulChoice((r, p * sms, k, w)) for r, p, k, w in shapes]
    timings = {}
    for choice in candidates:
        timings[choice] = _graph_us(lambda choice=choice: [choice(x, w) for w in weights], len(weights), rounds)
    best = min(timings, key=timings.get)
    return best, {
        ("cublas" if c.gemv is None else "gemv_r{}_p{}_k{}_w{}".format(*c.gemv)): us for c, us in timings.items()
    }


def _graph_us(calls, count: int, rounds: int) -> float:
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        calls()  # compiles and loads the kernel before the capture
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        calls()
    graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(rounds):
        graph.replay()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) * 1e3 / (rounds * count)
