"""InfLLM v2 kernels against dense attention on one GPU; prints one JSON line.

For 8K, 32K and 128K contexts (batch 1, HQ=32, HKV=2, D=128, bf16, MiniCPM4's
sparse_config): prefill time of our selection (compressed keys, block scores, top-k) and of
our block-sparse attention, their sum, dense causal SDPA on the same tensors (the fastest of
its cuDNN and flash backends, each with GQA and with K, V expanded: "dense_sdpa_variant"; on the
H200 cuDNN, 1.7x faster than flash at 128K) and the speedup ("speedup_vs_flash": against the
flash backend alone, the anchor of the runs before 2026-11-29 11:30 UTC); then one decode
step likewise (every decode variant captured in a CUDA graph, as the engine runs it, so that
host launch overhead is left out of all of them;
"empty_graph_ms" is the time of a graph of one trivial kernel, the floor of those figures;
"sparse_graph_before" is the previous decode structure, bisection top-k and no PDL;
"layered_*" is the time per layer of LAYERS layers' calls, each on its own caches, back to
back in one graph, as an engine captures a whole decode step: the graph's launch is shared
by the layers, which run with nothing between them).
"selection_ms", "total_ms", "speedup" and the decode step use the coarse c2 normaliser
(SparseConfig(coarse_normaliser=True)); the "_exact" fields the exact one.
Prefill also runs with correlated queries (neighbouring tokens alike, as in real text) at the
longest length, where merging the selections of several tokens per tile pays.
"sparse_tileT_gbps": the K and V bytes the one-pass sparse prefill reads from its lists (each
listed block once per tile) over its time: with one token a tile at 128K, random queries, this
is every token's own 96 blocks, which bounds that case by memory traffic. Medians of
triton.testing.do_bench after warm-up.

    python bench/kernels_gpu.py [--lengths 8192 32768 131072]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels.flash_attention import launch
from kernels.flash_attention.attention import flash_attention_decode, flash_attention_prefill
from kernels.infllmv2.attention import infllmv2_decode
from kernels.infllmv2.compress import append_compressed_keys, coarse_from_fine, compress_keys, compressed_count
from kernels.infllmv2.config import SparseConfig
from kernels.infllmv2.select import decode_select, prefill_block_scores, prefill_select
from kernels.infllmv2.sparse import (
    block_sparse_decode,
    block_sparse_prefill,
    block_sparse_prefill_split,
    merge_tile_selections,
)
from kernels.infllmv2.topk import topk_blocks, topk_by_rank, torch_topk_blocks

N_HEADS, N_KV, DIM = 32, 2, 128
CONFIG = SparseConfig()  # MiniCPM4's sparse_config with the exact normaliser (checkpoints select with c2)
COARSE = SparseConfig(coarse_normaliser=True)  # the same with the c2 normaliser: the headline figures
LAYERS = 8  # layers per graph for the "layered_" decode figures


def bench_ms(fn, rep_ms: float) -> float:
    return float(triton.testing.do_bench(fn, warmup=max(25, rep_ms / 4), rep=rep_ms, return_mode="median"))


SDPA_BACKENDS = ("CUDNN_ATTENTION", "FLASH_ATTENTION")  # the dense anchor is the faster (cuDNN on the H200)


def sdpa(q, k, v, causal, backend="FLASH_ATTENTION"):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(getattr(SDPBackend, backend)):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)


def fastest_sdpa(time_variant) -> tuple[float, dict, tuple[str, bool]]:
    """The fastest dense SDPA: every backend of SDPA_BACKENDS, with GQA and with K, V expanded
    to every head. time_variant(backend, expanded) -> ms. Returns (ms, row fields: every
    variant's ms and the winner's name, the winner as (backend, expanded)); a backend that
    refuses the shapes is left out."""
    times = {}
    for backend in SDPA_BACKENDS:
        for expanded in (False, True):
            try:
                times[backend, expanded] = time_variant(backend, expanded)
            except RuntimeError:  # "No available kernel": this backend cannot run these shapes
                continue

    def name(variant: tuple[str, bool]) -> str:
        return f"{variant[0].split('_')[0].lower()}_{'expanded' if variant[1] else 'gqa'}"

    best = min(times, key=times.get)
    fields = {f"sdpa_{name(variant)}_ms": ms for variant, ms in times.items()}
    fields["dense_sdpa_variant"] = name(best)
    fields["dense_flash_ms"] = min(ms for (backend, _), ms in times.items() if backend == "FLASH_ATTENTION")
    return times[best], fields, best


def attended_keys(n: int) -> int:
    """Keys the n queries of a sparse prefill attend to (all of them before selected*64)."""
    span = CONFIG.selected_blocks * CONFIG.block_size
    pos = torch.arange(n, dtype=torch.int64)
    full = (CONFIG.selected_blocks - 1) * CONFIG.block_size + pos % CONFIG.block_size + 1
    return int(torch.where(pos < span, pos + 1, full).sum())


def make_inputs(n: int, correlated: bool):
    generator = torch.Generator(device="cuda").manual_seed(n)
    q = torch.randn(n, N_HEADS, DIM, device="cuda", dtype=torch.bfloat16, generator=generator)
    k = torch.randn(n, N_KV, DIM, device="cuda", dtype=torch.bfloat16, generator=generator)
    v = torch.randn(n, N_KV, DIM, device="cuda", dtype=torch.bfloat16, generator=generator)
    if correlated:  # neighbouring queries alike, as in real text: one direction per 64 tokens, plus noise
        base = torch.randn(n // 64 + 1, 1, N_HEADS, DIM, device="cuda", generator=generator)
        q = (base.expand(-1, 64, -1, -1).reshape(-1, N_HEADS, DIM)[:n] + 0.3 * q.float()).to(torch.bfloat16)
    return q, k, v


def list_bytes(selected: torch.Tensor, cu: torch.Tensor, n: int, tile: int) -> int:
    """Bytes of K and V the one-pass sparse prefill (block_sparse_prefill, tile tokens a tile)
    reads over selected [n, HKV, S] of one sequence: every block of a tile's list once."""
    block_bytes = 2 * CONFIG.block_size * DIM * 2  # K and V of one block of one KV head, bf16
    if tile == 1:
        return int((selected >= 0).sum()) * block_bytes
    _, _, counts = merge_tile_selections(selected, cu, cu, n, tile, CONFIG.block_size)
    return int(counts[: triton.cdiv(n, tile)].sum()) * block_bytes


def dense_prefill_ms(q, k, v, rep):
    """The fastest causal SDPA on these tensors (fastest_sdpa), contiguous [1, H, n, D]."""
    qt = q.transpose(0, 1)[None].contiguous()
    kt, vt = (t.transpose(0, 1)[None].contiguous() for t in (k, v))
    ke, ve = (t.repeat_interleave(N_HEADS // N_KV, 1) for t in (kt, vt))
    return fastest_sdpa(
        lambda backend, expanded: bench_ms(
            lambda: sdpa(qt, ke if expanded else kt, ve if expanded else vt, True, backend), rep
        )
    )


def select_fn(q, k, cu, n, config, scored_only=False):
    def select():
        c1 = compress_keys(k, cu, n, config)
        c2 = coarse_from_fine(c1, config) if config.coarse_normaliser else None
        return prefill_select(q, c1, cu, cu, n, n, config, scored_only=scored_only, c2=c2)

    return select


def scored_kernels(n: int, size: int, stride: int) -> int:
    """Sum over the n queries of the compressed keys (of that size and stride) each one sees."""
    pos = torch.arange(n, dtype=torch.int64)
    return int(torch.where(pos + 1 >= size, (pos + 1 - size) // stride + 1, 0).sum())


def selection_details(row: dict, q, k, cu, n: int, rep: float) -> None:
    """Stage times of the selection (compressed keys, block scores, top-k) and how far the
    coarse normaliser's picks agree with the exact ones."""
    n_cols = triton.cdiv(n, CONFIG.block_size)
    chunks = [(start, min(n, start + 32768)) for start in range(0, n, 32768)]  # prefill_select default
    c1 = compress_keys(k, cu, n, CONFIG)
    c2 = compress_keys(k, cu, n, COARSE, coarse=True)
    row["compress_ms"] = bench_ms(lambda: compress_keys(k, cu, n, CONFIG), rep)
    row["compress_coarse_from_k_ms"] = bench_ms(lambda: compress_keys(k, cu, n, CONFIG, coarse=True), rep)
    row["compress_coarse_from_c1_ms"] = bench_ms(lambda: coarse_from_fine(c1, CONFIG), rep)
    c1_flop = 2 * DIM * N_HEADS * scored_kernels(n, CONFIG.kernel_size, CONFIG.kernel_stride)
    c2_flop = 2 * DIM * N_HEADS * scored_kernels(n, COARSE.coarse_kernel_size, COARSE.coarse_kernel_stride)
    for name, config, flop in (("exact", CONFIG, 2 * c1_flop), ("coarse", COARSE, c1_flop + c2_flop)):
        row[f"scores_{name}_ms"] = bench_ms(
            lambda config=config: [
                prefill_block_scores(q, c1, cu, cu, n, n_cols, chunk, config, c2=c2) for chunk in chunks
            ],
            rep,
        )
        row[f"scores_{name}_tflops"] = flop / row[f"scores_{name}_ms"] / 1e9
    scores = prefill_block_scores(q, c1, cu, cu, n, n_cols, chunks[-1], CONFIG)
    row["topk_ms"] = bench_ms(lambda: topk_blocks(scores, CONFIG.selected_blocks), rep) * len(chunks)
    assert torch.equal(topk_blocks(scores, CONFIG.selected_blocks), torch_topk_blocks(scores, CONFIG.selected_blocks))
    row["topk_torch_ms"] = bench_ms(lambda: torch_topk_blocks(scores, CONFIG.selected_blocks), rep) * len(chunks)
    exact, coarse = (select_fn(q, k, cu, n, config)()[-16384:] for config in (CONFIG, COARSE))
    picked = [torch.zeros(*exact.shape[:2], n_cols + 1, device="cuda") for _ in range(2)]
    for mask, ids in zip(picked, (exact, coarse), strict=True):
        mask.scatter_(-1, ids.long().masked_fill(ids < 0, n_cols), 1.0)
    row["coarse_exact_overlap"] = float((picked[0] * picked[1])[..., :n_cols].sum() / picked[0][..., :n_cols].sum())


def prefill_row(n: int, log, correlated: bool = False, tiles=(1, 4), splits=((8, 1), (16, 1), (8, 4))) -> dict:
    q, k, v = make_inputs(n, correlated)
    cu = torch.tensor([0, n], device="cuda", dtype=torch.int32)
    rep = 300 if n <= 32768 else 1500
    row = {"context": n, "queries": "correlated" if correlated else "random"}
    # the split path's selection; the full list costs the same
    row["selection_ms"] = bench_ms(select_fn(q, k, cu, n, COARSE, scored_only=True), rep)
    row["selection_exact_ms"] = bench_ms(select_fn(q, k, cu, n, CONFIG, scored_only=True), rep)
    if not correlated:
        selection_details(row, q, k, cu, n, rep)
    selected = select_fn(q, k, cu, n, COARSE)()
    scored = select_fn(q, k, cu, n, COARSE, scored_only=True)()
    for tile in tiles:
        row[f"sparse_tile{tile}_ms"] = bench_ms(
            lambda tile=tile: block_sparse_prefill(q, k, v, selected, cu, cu, n, CONFIG, tile_tokens=tile), rep
        )
        row[f"sparse_tile{tile}_gbps"] = list_bytes(selected, cu, n, tile) / row[f"sparse_tile{tile}_ms"] / 1e6
    for window, tile in splits:
        row[f"split_w{window}_t{tile}_ms"] = bench_ms(
            lambda window=window, tile=tile: block_sparse_prefill_split(
                q, k, v, scored, cu, cu, n, CONFIG, window_tokens=window, tile_tokens=tile
            ),
            rep,
        )
    variants = [f"sparse_tile{tile}" for tile in tiles] + [f"split_w{w}_t{t}" for w, t in splits]
    best = min(variants, key=lambda name: row[f"{name}_ms"])
    row["sparse_variant"] = best
    row["sparse_ms"] = row[f"{best}_ms"]
    split_out = block_sparse_prefill_split(q, k, v, scored, cu, cu, n, CONFIG)
    one_pass = block_sparse_prefill(q, k, v, selected, cu, cu, n, CONFIG, tile_tokens=1)
    row["split_vs_one_pass_max_abs"] = float((split_out.float() - one_pass.float()).abs().max())
    row["total_ms"] = row["selection_ms"] + row["sparse_ms"]
    row["total_exact_ms"] = row["selection_exact_ms"] + row["sparse_ms"]
    row["dense_sdpa_ms"], variants, _ = dense_prefill_ms(q, k, v, rep * 2)
    row.update(variants)
    row["speedup_vs_flash"] = row["dense_flash_ms"] / row["total_ms"]
    if not correlated:
        cu_n = torch.tensor([0, n], device="cuda", dtype=torch.int32)
        row["dense_triton_ms"] = bench_ms(lambda: flash_attention_prefill(q, k, v, cu_n, cu_n, n), rep * 2)
    row["speedup"] = row["dense_sdpa_ms"] / row["total_ms"]
    row["speedup_exact"] = row["dense_sdpa_ms"] / row["total_exact_ms"]
    sparse_flop = 4 * DIM * N_HEADS * attended_keys(n)
    dense_flop = 4 * DIM * N_HEADS * n * (n + 1) // 2
    row["sparse_tflops"] = sparse_flop / row["sparse_ms"] / 1e9
    row["dense_sdpa_tflops"] = dense_flop / row["dense_sdpa_ms"] / 1e9
    log(row)
    return row


def graphed(fn) -> torch.cuda.CUDAGraph:
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph


def decode_inputs(n: int, seed: int):
    """One layer's decode step at n keys: random q [1, HQ, D], full K and V caches [1, n, HKV,
    D], and their c1 and c2 caches; with lengths [n]."""
    generator = torch.Generator(device="cuda").manual_seed(seed)
    k_cache = torch.randn(1, n, N_KV, DIM, device="cuda", dtype=torch.bfloat16, generator=generator)
    v_cache = torch.randn(1, n, N_KV, DIM, device="cuda", dtype=torch.bfloat16, generator=generator)
    q = torch.randn(1, N_HEADS, DIM, device="cuda", dtype=torch.bfloat16, generator=generator)
    lengths = torch.tensor([n], device="cuda", dtype=torch.int32)
    c1_cache, c2_cache = (
        torch.empty(1, compressed_count(n, CONFIG, coarse), N_KV, DIM, device="cuda", dtype=torch.bfloat16)
        for coarse in (False, True)
    )
    append_compressed_keys(k_cache, c1_cache, torch.zeros_like(lengths), lengths, CONFIG, c2_cache=c2_cache)
    return q, k_cache, v_cache, c1_cache, c2_cache, lengths


def decode_row(n: int, log) -> dict:
    q, k_cache, v_cache, c1_cache, c2_cache, lengths = decode_inputs(n, seed=n + 1)
    n_blocks = triton.cdiv(n, CONFIG.block_size)
    row = {"context": n}
    for name, config, c2 in (("", COARSE, c2_cache), ("_exact", CONFIG, None)):
        row[f"sparse_graph{name}_ms"] = bench_ms(
            graphed(
                lambda config=config, c2=c2: infllmv2_decode(q, k_cache, v_cache, c1_cache, lengths, config, c2)
            ).replay,
            200,
        )
        row[f"graph_select{name}_ms"] = bench_ms(
            graphed(lambda config=config, c2=c2: decode_select(q, c1_cache, lengths, n_blocks, config, c2)).replay, 200
        )
        # the previous session's step in this run: sorted top-k by bisection, no PDL
        launch.ENABLED = False
        try:
            row[f"sparse_graph_before{name}_ms"] = bench_ms(
                graphed(
                    lambda config=config, c2=c2: block_sparse_decode(
                        q,
                        k_cache,
                        v_cache,
                        lengths,
                        decode_select(q, c1_cache, lengths, n_blocks, config, c2, ranked=False),
                        CONFIG,
                    )
                ).replay,
                200,
            )
        finally:
            launch.ENABLED = True
    selected = decode_select(q, c1_cache, lengths, n_blocks, COARSE, c2_cache)
    row["graph_attention_ms"] = bench_ms(
        graphed(lambda: block_sparse_decode(q, k_cache, v_cache, lengths, selected, CONFIG)).replay, 200
    )
    scores = torch.rand(1, N_KV, n_blocks, device="cuda")
    row["graph_topk_ms"] = bench_ms(graphed(lambda: topk_by_rank(scores, CONFIG.selected_blocks)).replay, 200)
    row["graph_topk_bisect_ms"] = bench_ms(graphed(lambda: topk_blocks(scores, CONFIG.selected_blocks)).replay, 200)
    reference = torch_topk_blocks(scores, CONFIG.selected_blocks)
    assert torch.equal(topk_blocks(scores, CONFIG.selected_blocks), reference)
    ranked = topk_by_rank(scores, CONFIG.selected_blocks)  # best first: compare as sorted sets
    assert torch.equal(ranked.sort(-1).values, reference)  # (every slot is used here: no -1)
    empty = torch.zeros(1, device="cuda")
    row["empty_graph_ms"] = bench_ms(graphed(lambda: empty.add_(1)).replay, 200)  # the floor of every graph figure
    qt = q[:, :, None]  # [1, HQ, 1, D]
    kt, vt = (t.transpose(1, 2).contiguous() for t in (k_cache, v_cache))  # [1, HKV, n, D]
    ke, ve = (t.repeat_interleave(N_HEADS // N_KV, 1) for t in (kt, vt))
    row["dense_sdpa_ms"], variants, best_sdpa = fastest_sdpa(  # bytes below count HKV heads
        lambda backend, expanded: bench_ms(
            graphed(lambda: sdpa(qt, ke if expanded else kt, ve if expanded else vt, False, backend)).replay, 200
        )
    )
    row.update(variants)
    row["speedup_vs_flash"] = row["dense_flash_ms"] / row["sparse_graph_ms"]
    row["dense_triton_ms"] = bench_ms(graphed(lambda: flash_attention_decode(q, k_cache, v_cache, lengths)).replay, 200)
    row["speedup"] = row["dense_sdpa_ms"] / row["sparse_graph_ms"]
    row["speedup_exact"] = row["dense_sdpa_ms"] / row["sparse_graph_exact_ms"]
    row["speedup_before"] = row["dense_sdpa_ms"] / row["sparse_graph_before_ms"]
    compressed = c1_cache.shape[1] + c2_cache.shape[1]
    sparse_bytes = (CONFIG.selected_blocks * CONFIG.block_size * 2 + compressed) * N_KV * DIM * 2
    row["sparse_gbps"] = sparse_bytes / row["sparse_graph_ms"] / 1e6
    row["dense_sdpa_gbps"] = 2 * n * N_KV * DIM * 2 / row["dense_sdpa_ms"] / 1e6
    layered_decode(n, row, best_sdpa)
    log(row)
    return row


def layered_decode(n: int, row: dict, best_sdpa: tuple[str, bool]) -> None:
    """Per-layer decode times of LAYERS layers, each on its own caches, in one graph; SDPA in
    the single call's winning variant best_sdpa = (backend, expanded)."""
    layers = [decode_inputs(n, seed=1000 * n + layer) for layer in range(LAYERS)]
    lengths = layers[0][-1]

    def per_layer(call) -> float:
        return bench_ms(graphed(lambda: [call(*layer) for layer in layers]).replay, 200) / LAYERS

    row["layered_sparse_ms"] = per_layer(lambda q, k, v, c1, c2, _: infllmv2_decode(q, k, v, c1, lengths, COARSE, c2))
    row["layered_sparse_exact_ms"] = per_layer(lambda q, k, v, c1, c2, _: infllmv2_decode(q, k, v, c1, lengths, CONFIG))
    row["layered_dense_triton_ms"] = per_layer(lambda q, k, v, c1, c2, _: flash_attention_decode(q, k, v, lengths))
    backend, expanded = best_sdpa
    for layer, (q, k, v, *_) in enumerate(layers):  # SDPA's layout [1, HKV or HQ, n, D]
        kt, vt = (t.transpose(1, 2).contiguous() for t in (k, v))
        if expanded:
            kt, vt = (t.repeat_interleave(N_HEADS // N_KV, 1) for t in (kt, vt))
        layers[layer] = (q[:, :, None], kt, vt)
    row["layered_dense_sdpa_ms"] = per_layer(lambda qt, kt, vt: sdpa(qt, kt, vt, False, backend))
    row["layered_speedup"] = row["layered_dense_sdpa_ms"] / row["layered_sparse_ms"]
    row["layered_speedup_exact"] = row["layered_dense_sdpa_ms"] / row["layered_sparse_exact_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[8192, 32768, 131072])
    parser.add_argument("--decode-only", action="store_true", help="skip the prefill rows")
    args = parser.parse_args()

    def log(row):
        print(
            json.dumps({key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}),
            file=sys.stderr,
            flush=True,
        )

    start = time.time()
    result = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "shape": {"batch": 1, "hq": N_HEADS, "hkv": N_KV, "d": DIM, "dtype": "bfloat16"},
        "prefill": [] if args.decode_only else [prefill_row(n, log) for n in args.lengths],
        "prefill_correlated": []
        if args.decode_only
        else [prefill_row(max(args.lengths), log, correlated=True, tiles=(4, 8), splits=((8, 1), (8, 4), (16, 4)))],
        "decode": [decode_row(n, log) for n in args.lengths],
    }
    result["seconds"] = round(time.time() - start, 1)
    print(json.dumps(result, default=lambda value: round(value, 4)))


if __name__ == "__main__":
    main()
