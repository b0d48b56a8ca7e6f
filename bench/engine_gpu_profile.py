"""Where the GPU time of a MiniCPM4-8B prefill and decode step goes (issue 18): torch.profiler's
CUDA kernel totals for one sparse prefill of --context tokens and for 16 eager decode steps at that
length (the same kernels a graph replays, timed one by one). With --graphed the runtime warms up
first (matmul choices, graphs) and the 16 steps are replays of its decode graph, as a request runs
them (the profiler still reports each kernel of a replay). Random bf16 weights, as
bench/engine_gpu.py. The last line printed is one JSON object.

    python3 bench/engine_gpu_profile.py --context 131072 [--graphed]
"""

from __future__ import annotations

import argparse
import json

import torch
from engine_gpu import minicpm4_config, our_model
from torch.profiler import ProfilerActivity, profile

from engine.static_runtime import StaticRuntime


def kernel_table(prof, top: int) -> list[dict]:
    """The `top` kernels by total CUDA time: name (shortened), calls, total ms."""
    rows = []
    for event in prof.key_averages():
        total = event.device_time_total / 1e3
        if total > 0 and event.device_type == torch.autograd.DeviceType.CUDA:
            rows.append({"kernel": event.key[:90], "calls": event.count, "ms": round(total, 3)})
    return sorted(rows, key=lambda r: -r["ms"])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=int, default=131072)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--graphed", action="store_true", help="warm up and profile graph replays")
    args = parser.parse_args()
    config = minicpm4_config()
    context = min(args.context, config.max_position_embeddings - 320)
    model = our_model(config)
    runtime = StaticRuntime(model)
    runtime.reserve(context + 320, 1)
    if args.graphed:
        results_warmup = runtime.warmup()
    prompt = torch.randint(3, config.vocab_size, (context,)).tolist()
    runtime.prefill([prompt])  # warm: kernels compiled, allocator grown
    torch.cuda.synchronize()
    results = {"context": context, "graphed": args.graphed}
    if args.graphed:
        results["warmup_s"] = results_warmup
        results["decode_matmuls"] = {name: choice.gemv for name, choice in runtime.decoder.matmuls.items()}
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        runtime.prefill([prompt])
        torch.cuda.synchronize()
    results["prefill_kernels"] = kernel_table(prof, args.top)
    results["prefill_gpu_ms"] = (
        sum(e.device_time_total for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA) / 1e3
    )
    runtime.graphs = args.graphed
    tokens = torch.ones(1, dtype=torch.long, device="cuda")
    for _ in range(4):
        runtime.decode(tokens)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(16):
            runtime.decode(tokens)
        torch.cuda.synchronize()
    results["decode_kernels_16_steps"] = kernel_table(prof, args.top)
    for part in ("prefill_kernels", "decode_kernels_16_steps"):
        print(part)
        for row in results[part]:
            print(f"  {row['ms']:10.3f} ms {row['calls']:6d}  {row['kernel']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
