"""engine.native's matrix products against torch's F.linear on the same weights, in one process.

Weights of the embedded SmolLM2 GGUF: layer 0's gate projection (1536x576, Q4_1) and the tied
lm_head (49152x576, Q8_0), as stored (ours) and dequantized to fp32 (torch). For 1 activation row
(decode: the row kernels) and 103 rows (the bench prompt's prefill: the 6x16 GEMM). Rounds
alternate ours and torch; medians of each round's mean are reported.
Prints one JSON object on its last line.

    .venv/bin/python bench/native_kernels.py [--threads 1] [--rounds 7]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.loading import load_model
from engine.native.decoder import projection_weight


def per_call_ms(fn, calls: int) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - started) / calls * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model("embedded", device="cpu", dtype="float32").model
    decoder = model.native_decoder
    if decoder is None:
        sys.exit("engine.native is unavailable here (no C compiler?)")
    library = decoder.library
    weights = {
        "gate_q4_1": (decoder.layers[0].gate, projection_weight(model.model.layers[0], "gate")),
        "lm_head_q8_0": (decoder.struct.lm_head, model.lm_head.weight),
    }
    result: dict = {"threads": args.threads, "rounds": args.rounds, "loadavg_before": os.getloadavg()}
    for name, (struct, dense) in weights.items():
        for rows in (1, 103):
            x = torch.randn(rows, struct.cols, generator=torch.Generator().manual_seed(rows))
            out = torch.empty(rows, struct.rows)
            pointers = (ctypes.c_void_p(x.data_ptr()), ctypes.c_void_p(out.data_ptr()))

            def ours(struct=struct, rows=rows, pointers=pointers):
                library.cpm_matmul(ctypes.byref(struct), pointers[0], rows, pointers[1], args.threads)

            def theirs(x=x, dense=dense):
                torch.nn.functional.linear(x, dense)

            calls = 200 if rows == 1 and struct.rows < 10_000 else 10
            times = {"ours": [], "torch": []}
            for _ in range(args.rounds):
                times["ours"].append(per_call_ms(ours, calls))
                times["torch"].append(per_call_ms(theirs, calls))
            ours_ms, torch_ms = statistics.median(times["ours"]), statistics.median(times["torch"])
            ours()
            error = float((out - torch.nn.functional.linear(x, dense)).abs().max())
            stored_mb = struct.rows * struct.row_bytes / 1e6
            result[f"{name}_rows{rows}"] = {
                "ours_ms": round(ours_ms, 4),
                "torch_ms": round(torch_ms, 4),
                "speedup": round(torch_ms / ours_ms, 2),
                "ours_gb_s": round(stored_mb / ours_ms, 2),
                "gflop_s": round(2 * rows * struct.rows * struct.cols / ours_ms / 1e6, 1),
                "max_abs_diff": error,
            }
    result["loadavg_after"] = os.getloadavg()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
