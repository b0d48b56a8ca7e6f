"""One launch of each kernel of the 128K sparse prefill and decode step, for Nsight Compute;
prints one JSON line.

Everything the kernels need (compressed keys, selections, merged lists) is built first; only
the launches between torch.cuda.profiler.start() and stop() are profiled, so run it as

    ncu --clock-control none --profile-from-start off --section SpeedOfLight \
        --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --csv --page details \
        python bench/kernels_profile.py > ncu.csv

Profiled, in this order: block scores of the last 32768 queries (c2 normaliser, then exact),
the top-k over the first of those, random queries; the sparse attention with one token a tile
and the split path (16/1), random queries; the one-pass attention with 4 tokens a tile
(merge kernel, then attention), correlated queries; our dense prefill at 128K; then the five
kernels of one decode step at 128K keys (c2 normaliser: logits, pooling, top-k by rank,
attention splits, combine). Nsight Compute serialises kernels, so its durations leave out
what programmatic dependent launch overlaps.

The JSON line holds, per kind of queries and tokens a tile, the mean number of blocks in a
tile's merged list ("union_T"; 96 at one token) and "waste_T": the score rows the attention
computes (16 x T rows for every listed block) over the rows of blocks some token really picked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernels_gpu import COARSE, CONFIG, decode_inputs, make_inputs, select_fn

from kernels.flash_attention.attention import flash_attention_prefill
from kernels.infllmv2.attention import infllmv2_decode
from kernels.infllmv2.compress import coarse_from_fine, compress_keys
from kernels.infllmv2.select import prefill_block_scores
from kernels.infllmv2.sparse import (
    block_sparse_prefill,
    block_sparse_prefill_split,
    merge_tile_selections,
)
from kernels.infllmv2.topk import topk_blocks

N = 131072


def union_stats(selected: torch.Tensor, cu: torch.Tensor, row: dict, name: str) -> None:
    picked = int((selected >= 0).sum())
    for tile in (1, 2, 4, 8):
        if tile == 1:
            listed = picked
        else:
            _, _, counts = merge_tile_selections(selected, cu, cu, N, tile, CONFIG.block_size)
            listed = int(counts[: triton.cdiv(N, tile)].sum())
        tiles = triton.cdiv(N, tile) * selected.shape[1]
        row[f"{name}_union_{tile}"] = listed / tiles
        row[f"{name}_waste_{tile}"] = listed * tile / picked


def main() -> None:
    cu = torch.tensor([0, N], device="cuda", dtype=torch.int32)
    n_cols = triton.cdiv(N, CONFIG.block_size)
    row: dict[str, float | str] = {"device": torch.cuda.get_device_name(), "context": N}
    q, k, v = make_inputs(N, correlated=False)
    c1 = compress_keys(k, cu, N, CONFIG)
    c2 = coarse_from_fine(c1, CONFIG)
    selected = select_fn(q, k, cu, N, COARSE)()
    scored = select_fn(q, k, cu, N, COARSE, scored_only=True)()
    qc, kc, vc = make_inputs(N, correlated=True)
    selected_c = select_fn(qc, kc, cu, N, COARSE)()
    union_stats(selected, cu, row, "random")
    union_stats(selected_c, cu, row, "correlated")
    chunk = (N - 32768, N)
    dq, k_cache, v_cache, c1_cache, c2_cache, lengths = decode_inputs(N, seed=N + 1)
    infllmv2_decode(dq, k_cache, v_cache, c1_cache, lengths, COARSE, c2_cache)  # compiled outside the profile
    torch.cuda.synchronize()

    torch.cuda.profiler.start()
    scores = prefill_block_scores(q, c1, cu, cu, N, n_cols, chunk, COARSE, c2=c2)
    prefill_block_scores(q, c1, cu, cu, N, n_cols, chunk, CONFIG)
    topk_blocks(scores, CONFIG.selected_blocks)
    block_sparse_prefill(q, k, v, selected, cu, cu, N, CONFIG, tile_tokens=1)
    block_sparse_prefill_split(q, k, v, scored, cu, cu, N, CONFIG, window_tokens=16, tile_tokens=1)
    block_sparse_prefill(qc, kc, vc, selected_c, cu, cu, N, CONFIG, tile_tokens=4)
    flash_attention_prefill(q, k, v, cu, cu, N)
    infllmv2_decode(dq, k_cache, v_cache, c1_cache, lengths, COARSE, c2_cache)
    torch.cuda.synchronize()
    torch.cuda.profiler.stop()
    print(json.dumps(row))


if __name__ == "__main__":
    main()
