"""Parts of a MiniCPM4-8B step on one GPU against their bounds (issue 18): the weight matmuls of a
decode step at M = 1 and 8 rows, fused (qkv, gate/up) and unfused, as achieved bytes per second
(each weight read once from HBM; copies rotated so that the 50 MB L2 holds none of them); and the
dense causal prefill attention, our Triton tile kernel against SDPA's backends, one pass at 32K.
The last line printed is one JSON object. `--gemv-sweep` instead times our GEMV over a wider grid of
launch shapes (rows a block, programs an SM, BLOCK_K, warps) on the qkv, o, gate/up and down weights
against cuBLAS. (A GEMV computing the SwiGLU activation of its input itself, measured slower than
the activation kernel plus the plain GEMV, is in history at 2269b83.)

    python3 bench/engine_gpu_parts.py [--gemv-sweep]
"""

from __future__ import annotations

import argparse
import itertools
import json

import torch
import triton

from kernels.flash_attention.attention import flash_attention_prefill
from kernels.linear.gemv import gemv

HIDDEN, INTER, HEADS, KV_HEADS, DIM, VOCAB, LAYERS = 4096, 16384, 32, 2, 128, 73448, 32
SHAPES = {  # (out, in) of each weight of one layer, fused and as the checkpoint stores them
    "qkv": (HEADS * DIM + 2 * KV_HEADS * DIM, HIDDEN),
    "q": (HEADS * DIM, HIDDEN),
    "k": (KV_HEADS * DIM, HIDDEN),
    "o": (HIDDEN, HEADS * DIM),
    "gate_up": (2 * INTER, HIDDEN),
    "gate": (INTER, HIDDEN),
    "down": (HIDDEN, INTER),
    "lm_head": (VOCAB, HIDDEN),
}


def graph_ms(fn, calls: int, rep: int = 300) -> float:
    """Median ms of one call of fn, from a CUDA graph of `calls` calls (launch gaps amortised)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    return triton.testing.do_bench(graph.replay, warmup=50, rep=rep, return_mode="median") / calls


def gemv_variants(weights: list[torch.Tensor], x: torch.Tensor) -> dict:
    """kernels.linear.gemv at M = 1 in a few launch shapes: us and TB/s of each, and the best."""
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    reference = torch.nn.functional.linear(x, weights[0]).float()
    found = {}
    for rows_per_block in (4, 8, 16):
        for per_sm in (2, 4, 8):
            for block_k in (256, 512):
                out = gemv(x, weights[0], programs=per_sm * sms, rows=rows_per_block, block_k=block_k).float()
                error = float((out - reference).norm() / reference.norm())
                assert error < 1e-2, f"gemv rows={rows_per_block} per_sm={per_sm}: relative error {error}"
                state = {"i": 0}

                def call(state=state, r=rows_per_block, p=per_sm * sms, b=block_k):
                    gemv(x, weights[state["i"] % len(weights)], programs=p, rows=r, block_k=b)
                    state["i"] += 1

                found[f"r{rows_per_block}_p{per_sm}_k{block_k}"] = graph_ms(call, len(weights)) * 1e3
    best = min(found, key=found.get)
    size = weights[0].numel() * 2
    return {"best": best, "us": found[best], "tb_s": size / found[best] / 1e6, "all_us": found}


def matmul_rows() -> dict:
    """Achieved TB/s of x [M, in] @ W.T for every weight, M = 1 and 8, over rotating copies; and
    our Triton GEMV at M = 1."""
    rows = {}
    for name, (out_features, in_features) in SHAPES.items():
        copies = max(2, (400 << 20) // (out_features * in_features * 2))  # > 400 MB in all: no L2 reuse
        weights = [torch.randn(out_features, in_features, device="cuda", dtype=torch.bfloat16) for _ in range(copies)]
        for m in (1, 8):
            x = torch.randn(m, in_features, device="cuda", dtype=torch.bfloat16)
            state = {"i": 0}

            def call(x=x, weights=weights, state=state):
                torch.nn.functional.linear(x, weights[state["i"] % len(weights)])
                state["i"] += 1

            ms = graph_ms(call, len(weights))
            rows[f"{name}_m{m}"] = {"us": ms * 1e3, "tb_s": out_features * in_features * 2 / ms / 1e9}
            if m == 1 and name in ("qkv", "o", "gate_up", "down", "lm_head"):
                rows[f"{name}_gemv"] = gemv_variants(weights, x)
        del weights
    fused = sum(rows[f"{n}_m1"]["us"] for n in ("qkv", "o", "gate_up", "down"))
    unfused = sum(rows[f"{n}_m1"]["us"] for n in ("q", "k", "k", "o", "gate", "gate", "down"))
    weight_bytes = LAYERS * sum(SHAPES[n][0] * SHAPES[n][1] * 2 for n in ("qkv", "o", "gate_up", "down"))
    weight_bytes += SHAPES["lm_head"][0] * SHAPES["lm_head"][1] * 2
    rows["step_matmuls_ms"] = (LAYERS * fused + rows["lm_head_m1"]["us"]) / 1e3
    rows["step_matmuls_unfused_ms"] = (LAYERS * unfused + rows["lm_head_m1"]["us"]) / 1e3
    rows["step_weight_gb"] = weight_bytes / 1e9
    best = {n: min(rows[f"{n}_m1"]["us"], rows[f"{n}_gemv"]["us"]) for n in ("qkv", "o", "gate_up", "down", "lm_head")}
    rows["step_matmuls_best_ms"] = (
        LAYERS * sum(best[n] for n in ("qkv", "o", "gate_up", "down")) + best["lm_head"]
    ) / 1e3
    return rows


# (rows a block, programs an SM, BLOCK_K, warps): a grid, and the engine's shapes before it
SWEEP = [
    *itertools.product((4, 8), (2, 4, 8), (1024, 2048), (4, 8)),
    *itertools.product((1, 2), (4, 8, 16), (2048, 4096), (4, 8)),
    (4, 8, 512, 4),
    (8, 16, 512, 4),
]


def rotating(name: str) -> list[torch.Tensor]:
    """Copies of weight `name`, over 400 MB in all, so that L2 holds none of them between calls."""
    out_features, in_features = SHAPES[name]
    copies = max(2, (400 << 20) // (out_features * in_features * 2))
    return [torch.randn(out_features, in_features, device="cuda", dtype=torch.bfloat16) for _ in range(copies)]


def rotating_us(fn, weights: list[torch.Tensor]) -> float:
    """Microseconds of fn(weight) a call, weights taken in turn inside one graph."""
    state = {"i": 0}

    def call():
        fn(weights[state["i"] % len(weights)])
        state["i"] += 1

    return graph_ms(call, len(weights), rep=150) * 1e3


def gemv_sweep(names: tuple[str, ...] = ("qkv", "o", "gate_up", "down")) -> dict:
    """Our GEMV over SWEEP's launch shapes against cuBLAS on each decode weight."""
    rows = {}
    for name in names:
        rows[name] = sweep_weight(name)
        print(json.dumps({name: {k: v for k, v in rows[name].items() if not k.startswith("r")}}), flush=True)
    return rows


def sweep_weight(name: str) -> dict:
    """gemv_sweep's figures for one weight (us a call, TB/s of the best and of cuBLAS)."""
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    weights = rotating(name)
    x = torch.randn(1, 1, weights[0].shape[1], device="cuda", dtype=torch.bfloat16)
    row = {"cublas_us": rotating_us(lambda w: torch.nn.functional.linear(x, w), weights)}
    want = torch.nn.functional.linear(x.float(), weights[0].float())
    for r, p, k, warps in SWEEP:
        shape = dict(programs=p * sms, rows=r, block_k=k, warps=warps)
        error = float((gemv(x, weights[0], **shape).float() - want).norm() / want.norm())
        assert error < 1e-2, f"gemv {shape}: relative error {error}"
        row[f"r{r}_p{p}_k{k}_w{warps}"] = rotating_us(lambda w, s=shape: gemv(x, w, **s), weights)
    size = weights[0].numel() * 2
    best = min((key for key in row if key.startswith("r")), key=row.get)
    row.update(best=best, best_us=row[best], best_tb_s=size / row[best] / 1e6)
    row["cublas_tb_s"] = size / row["cublas_us"] / 1e6
    return row


def prefill_attention_row(n: int) -> dict:
    """One layer's causal attention over n tokens: our Triton kernel and each SDPA backend."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q = torch.randn(n, HEADS, DIM, device="cuda", dtype=torch.bfloat16)
    k, v = (torch.randn(n, KV_HEADS, DIM, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    cu = torch.tensor([0, n], device="cuda", dtype=torch.int32)
    row = {"triton_ms": triton.testing.do_bench(lambda: flash_attention_prefill(q, k, v, cu, cu, n), rep=300)}
    qt, kt, vt = (t.transpose(0, 1)[None] for t in (q, k, v))  # [1, H, n, D] views
    for backend in ("CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION"):
        for expanded in (False, True):
            keys = (kt.repeat_interleave(HEADS // KV_HEADS, 1), vt.repeat_interleave(HEADS // KV_HEADS, 1))
            kk, vv = keys if expanded else (kt, vt)
            try:
                with sdpa_kernel(getattr(SDPBackend, backend)):
                    ms = triton.testing.do_bench(
                        lambda kk=kk, vv=vv, e=expanded: torch.nn.functional.scaled_dot_product_attention(
                            qt, kk, vv, is_causal=True, enable_gqa=not e
                        ),
                        rep=300,
                    )
            except RuntimeError as exc:
                row[f"{backend.lower()}_{'expanded' if expanded else 'gqa'}"] = f"refused: {str(exc)[:60]}"
                continue
            row[f"{backend.lower()}_{'expanded' if expanded else 'gqa'}_ms"] = ms
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gemv-sweep", action="store_true", help="only the GEMV launch-shape sweep")
    parser.add_argument("--weights", default="qkv,o,gate_up,down", help="the sweep's weights, comma-separated")
    args = parser.parse_args()
    if args.gemv_sweep:
        sweep = gemv_sweep(tuple(args.weights.split(",")))
        print(json.dumps({"device": torch.cuda.get_device_name(), "gemv_sweep": sweep}))
        return
    results = {"device": torch.cuda.get_device_name(), "matmuls": matmul_rows()}
    print(json.dumps(results["matmuls"]), flush=True)
    results["prefill_attention_32k"] = prefill_attention_row(32768)
    print(json.dumps(results["prefill_attention_32k"]), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
