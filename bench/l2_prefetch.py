"""Does prefetching a decode layer's o weight into L2 during its attention pay? (issue 18)

Per layer of a MiniCPM4-8B decode step at 128K: InfLLM v2 decode attention (the real kernels on
random caches, one set per layer) followed by the o projection (4096 x 4096 bf16, 33.6 MB, one
distinct weight per layer so that L2 holds none of them at the start), 32 layers back to back in
one CUDA graph, as the engine replays a step. Variants: no prefetch; kernels.linear.prefetch's
bulk prefetch (or one prefetch per line) of the o weight issued just before the attention.
Also a spin kernel of about the attention's length in place of the attention, and the matmul
alone. The o matmul runs as the engine's GEMV (4 rows a block, 8 programs an SM) and as cuBLAS.
Prints one JSON object on its last line: microseconds per layer of each variant.

    python3 bench/l2_prefetch.py [--context 131072]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels.infllmv2.attention import infllmv2_decode
from kernels.infllmv2.compress import append_compressed_keys, compressed_count
from kernels.infllmv2.config import SparseConfig
from kernels.linear.gemv import gemv
from kernels.linear.prefetch import prefetch_l2

HIDDEN, HEADS, KV_HEADS, DIM, LAYERS = 4096, 32, 2, 128, 32


def layer_inputs(n: int, config: SparseConfig, seed: int) -> tuple:
    """q, k/v caches with their c1/c2 and the lengths of one layer's decode at n keys."""
    gen = torch.Generator(device="cuda").manual_seed(seed)
    k = torch.randn(1, n, KV_HEADS, DIM, device="cuda", dtype=torch.bfloat16, generator=gen)
    v = torch.randn(1, n, KV_HEADS, DIM, device="cuda", dtype=torch.bfloat16, generator=gen)
    q = torch.randn(1, HEADS, DIM, device="cuda", dtype=torch.bfloat16, generator=gen)
    lengths = torch.tensor([n], device="cuda", dtype=torch.int32)
    c1, c2 = (
        torch.empty(1, compressed_count(n, config, coarse), KV_HEADS, DIM, device="cuda", dtype=torch.bfloat16)
        for coarse in (False, True)
    )
    append_compressed_keys(k, c1, torch.zeros_like(lengths), lengths, config, c2_cache=c2)
    return q, k, v, c1, c2, lengths


def per_layer_us(step) -> float:
    """Median microseconds per layer of a graph replaying `step` (all layers once)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return triton.testing.do_bench(graph.replay, warmup=50, rep=400, return_mode="median") * 1e3 / LAYERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=int, default=131072)
    args = parser.parse_args()
    config = SparseConfig(coarse_normaliser=True)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    layers = [layer_inputs(args.context, config, seed) for seed in range(LAYERS)]
    weights = [torch.randn(HIDDEN, HEADS * DIM, device="cuda", dtype=torch.bfloat16) / 64 for _ in range(LAYERS)]
    x = torch.randn(1, 1, HEADS * DIM, device="cuda", dtype=torch.bfloat16)
    matmuls = {
        "gemv": lambda w: gemv(x, w, programs=8 * sms, rows=4, block_k=512),
        "cublas": lambda w: F.linear(x, w),
    }
    figures: dict = {"context": args.context, "gpu": torch.cuda.get_device_name(0)}

    def attention(i: int) -> None:
        q, k, v, c1, c2, lengths = layers[i]
        infllmv2_decode(q, k, v, c1, lengths, config, c2)

    figures["attention_us"] = per_layer_us(lambda: [attention(i) for i in range(LAYERS)])
    spin_cycles = int(figures["attention_us"] * 1.7e3)  # about the attention's length at ~1.7 GHz
    figures["spin_alone_us"] = per_layer_us(lambda: [torch.cuda._sleep(spin_cycles) for _ in range(LAYERS)])
    side = torch.cuda.Stream()
    variants = {
        "none": None,
        "lines": ("lines", 0, 0),
        "bulk128x64k": ("bulk", 128, 1 << 16),
        "bulk1x64k": ("bulk", 1, 1 << 16),
        "bulk4x16k": ("bulk", 4, 1 << 14),
        "bulk32x16k": ("bulk", 32, 1 << 14),
    }

    def prefetch(i: int, variant) -> None:
        method, per_program, chunk = variant
        if method == "lines":
            prefetch_l2(weights[i], "lines")
        else:
            prefetch_l2(weights[i], "bulk", per_program=per_program, chunk=chunk)

    for label, variant in variants.items():
        if variant is not None:
            alone = per_layer_us(lambda v=variant: [prefetch(i, v) for i in range(LAYERS)])
            figures[f"prefetch_{label}_alone_us"] = alone
    for name, matmul in matmuls.items():
        figures[f"{name}_alone_us"] = per_layer_us(lambda m=matmul: [m(w) for w in weights])
        for label, variant in variants.items():
            for on_side in (False, True) if variant is not None else (False,):

                def step(m=matmul, v=variant, spin=False, on_side=on_side) -> None:
                    main_stream = torch.cuda.current_stream()
                    for i in range(LAYERS):
                        if v is not None and on_side:
                            side.wait_stream(main_stream)
                            with torch.cuda.stream(side):
                                prefetch(i, v)
                        elif v is not None:
                            prefetch(i, v)
                        torch.cuda._sleep(spin_cycles) if spin else attention(i)
                        if v is not None and on_side:
                            main_stream.wait_stream(side)
                        m(weights[i])

                key = f"{name}_{label}{'_side' if on_side else ''}"
                figures[f"{key}_attention_us"] = per_layer_us(step)
                figures[f"{key}_spin_us"] = per_layer_us(lambda s=step: s(spin=True))
    reference = F.linear(x, weights[0]).float()
    prefetch_l2(weights[0], "bulk")
    after = gemv(x, weights[0], programs=8 * sms, rows=4, block_k=512).float()
    figures["gemv_after_prefetch_rel_error"] = float((after - reference).norm() / reference.norm())
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
