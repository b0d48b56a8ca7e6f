"""Launch settings of the tile attention kernel (kernels/flash_attention) on one GPU; one JSON line.

Times dense causal prefill (32K by default) and InfLLM v2's sparse prefill at 128K (merged
tiles with correlated queries, one token a tile with random ones; inputs as
bench/kernels_gpu.py) over a grid of tokens a tile x keys a block x num_warps x num_stages,
side by side in one process. "_max_abs" is each output's largest difference from the first
setting's. Settings that need more shared memory than the GPU has are logged and skipped.

    python bench/tile_attention_sweep.py [--dense-length 32768] [--sparse-length 131072] [--skip-dense]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.kernels_gpu import COARSE, CONFIG, bench_ms, make_inputs, select_fn
from kernels.flash_attention.triton_attention import tile_attention
from kernels.infllmv2.sparse import merge_tile_selections

DENSE = [  # (tokens a tile, keys a block, warps, stages)
    (tile, block_n, 4 if tile == 4 else 8, stages) for tile in (4, 8) for block_n in (64, 128) for stages in (2, 3, 4)
]
SPARSE = {  # tokens a tile -> (warps, stages)
    4: [(4, 2), (4, 3), (8, 3)],
    8: [(8, 2), (8, 3), (4, 3)],
    1: [(4, 2), (4, 3)],
    2: [(4, 2), (4, 3)],
}


def dense_calls(q, k, v, cu, n) -> dict:
    """name -> call of dense causal prefill with one launch setting."""
    return {
        f"dense_t{tile}_n{block_n}_w{warps}_s{stages}": (
            lambda tile=tile, block_n=block_n, warps=warps, stages=stages: tile_attention(
                q, k, v, cu, cu, n, block_n, tile, num_warps=warps, num_stages=stages
            )
        )
        for tile, block_n, warps, stages in DENSE
    }


def sparse_calls(q, k, v, cu, n, selected, tiles) -> dict:
    """name -> call of sparse prefill over selected, per tokens a tile and launch setting."""
    calls = {}
    for tile in tiles:
        if tile == 1:
            lists = {"blocks": selected}
        else:
            merged = merge_tile_selections(selected, cu, cu, n, tile, CONFIG.block_size)
            lists = dict(zip(("blocks", "bits", "counts"), merged, strict=True))
        for warps, stages in SPARSE[tile]:
            calls[f"sparse_t{tile}_w{warps}_s{stages}"] = lambda tile=tile, lists=lists, w=warps, s=stages: (
                tile_attention(
                    q,
                    k,
                    v,
                    cu,
                    cu,
                    n,
                    CONFIG.block_size,
                    tile,
                    dense_len=CONFIG.dense_len,
                    num_warps=w,
                    num_stages=s,
                    **lists,
                )
            )
    return calls


def run(calls: dict, rep: float, log) -> dict:
    """Time every call (skipping those that do not fit), with its difference from the first."""
    row, reference = {}, None
    for name, call in calls.items():
        try:
            out = call().float()
        except triton.runtime.errors.OutOfResources as error:
            log({name: str(error)})
            continue
        reference = out if reference is None else reference
        row[f"{name}_max_abs"] = float((out - reference).abs().max())
        row[f"{name}_ms"] = bench_ms(call, rep)
        log({name: row[f"{name}_ms"]})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dense-length", type=int, default=32768)
    parser.add_argument("--sparse-length", type=int, default=131072)
    parser.add_argument("--skip-dense", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("tile_attention_sweep.py needs a CUDA GPU")

    def log(item):
        print(json.dumps(item), file=sys.stderr, flush=True)

    result = {"dense_length": args.dense_length, "sparse_length": args.sparse_length}
    if not args.skip_dense:
        n = args.dense_length
        q, k, v = make_inputs(n, correlated=False)
        cu = torch.tensor([0, n], device="cuda", dtype=torch.int32)
        result.update(run(dense_calls(q, k, v, cu, n), 300, log))
    n = args.sparse_length
    cu = torch.tensor([0, n], device="cuda", dtype=torch.int32)
    for correlated, tiles in ((True, (4, 8)), (False, (1, 2))):
        q, k, v = make_inputs(n, correlated)
        selected = select_fn(q, k, cu, n, COARSE)()
        part = run(sparse_calls(q, k, v, cu, n, selected, tiles), 600, log)
        result.update({f"{'correlated' if correlated else 'random'}_{key}": value for key, value in part.items()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
