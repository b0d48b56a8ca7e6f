"""The embedding speed this CPU could reach if the model were nothing but its matrix products.

    .venv/bin/python bench/gemm_ceiling.py [--tokens 128] [--threads 2]

Times ONNX Runtime's int8 product (MatMulInteger, u8 activations x s8 weights, the kernel the
quantized embedder runs) and its fp32 product on the embedding model's own matrix shapes
(a batch of 32 papers of `--tokens` tokens: hidden x hidden, hidden x intermediate and back),
counts the multiply-adds of one paper from the model's config.json (projections, feed-forward
and attention scores), and divides: the papers/s ceiling with every other operation
(quantizing activations, layer norms, GELU, softmax, tokenizing) free. The attention's
products count at the int8 rate too, though the embedder runs them in fp32, so the ceiling is
if anything too high. The embedder itself cannot reach it; bench/retrieval.py measures what it
does reach.

Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retriever.embeddings import DEFAULT_MODEL, resolve_model  # noqa: E402

PAPERS_PER_BATCH = 32


def product_session(rows: int, inner: int, cols: int, int8: bool, threads: int):
    """A one-node graph: [rows, inner] x [inner, cols], int8 (u8 x s8 -> int32) or fp32."""
    if int8:
        types, node = (TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32), "MatMulInteger"
    else:
        types, node = (TensorProto.FLOAT,) * 3, "MatMul"
    graph = helper.make_graph(
        [helper.make_node(node, ["a", "b"], ["y"])],
        "product",
        [
            helper.make_tensor_value_info("a", types[0], [rows, inner]),
            helper.make_tensor_value_info("b", types[1], [inner, cols]),
        ],
        [helper.make_tensor_value_info("y", types[2], [rows, cols])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def best_seconds(session, feeds: dict, repeats: int) -> float:
    session.run(None, feeds)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feeds)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128, help="tokens per paper (the embedder's max length)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="ONNX Runtime threads")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    for flag, value in (("--tokens", args.tokens), ("--threads", args.threads), ("--repeats", args.repeats)):
        if value < 1:
            parser.error(f"{flag} must be at least 1, got {value}")

    config = json.loads((Path(resolve_model(DEFAULT_MODEL).location) / "config.json").read_text())
    hidden, inner, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    t = args.tokens
    # per layer and token: Q, K, V and output projections, the two feed-forward products; per
    # layer and paper: the scores and the weighted values (t x t x hidden each)
    macs_per_paper = layers * (t * (4 * hidden * hidden + 2 * hidden * inner) + 2 * t * t * hidden)
    rows = PAPERS_PER_BATCH * t
    rng = np.random.default_rng(0)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "threads": args.threads,
        "tokens": t,
        "model": DEFAULT_MODEL,
        "gmac_per_paper": round(macs_per_paper / 1e9, 3),
    }
    for kind in ("int8", "fp32"):
        seconds, macs = 0.0, 0
        for inner_dim, cols in ((hidden, hidden), (hidden, inner), (inner, hidden)):
            if kind == "int8":
                feeds = {
                    "a": rng.integers(0, 256, (rows, inner_dim), dtype=np.uint8),
                    "b": rng.integers(-64, 64, (inner_dim, cols), dtype=np.int8),
                }
            else:
                feeds = {
                    "a": rng.standard_normal((rows, inner_dim), dtype=np.float32),
                    "b": rng.standard_normal((inner_dim, cols), dtype=np.float32),
                }
            session = product_session(rows, inner_dim, cols, kind == "int8", args.threads)
            seconds += best_seconds(session, feeds, args.repeats)
            macs += rows * inner_dim * cols
        rate = macs / seconds
        result[f"{kind}_gmacs"] = round(rate / 1e9, 1)
        result[f"{kind}_ceiling_papers_per_s"] = round(rate / macs_per_paper, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
