"""Embedding speed and fidelity of ONNX Runtime quantization recipes, side by side.

    .venv/bin/python bench/embedding_quantization.py --papers 256 --rounds 3

Every recipe runs the same all-MiniLM-L6-v2 transformer through retriever.embeddings'
OnnxEmbedder (same tokenizer, length-sorted batches, pooling), on the same real papers at
the default max length, timed interleaved (each round runs every recipe once; the median is
reported), so a change of machine load hits them alike. Fidelity is measured against the
fp32 export: cosine per paper and the overlap of each paper's 10 nearest neighbours.

Recipes (dynamic quantization: activations are quantized per batch at run time):
- fp32: the exported model as it is.
- u8_per_channel: unsigned 8-bit weights (the recipe before EXPORT_VERSION 3).
- s8_per_channel: signed 8-bit weights.
- s8_per_channel_reduce_range: signed 7-bit weights.
- fused_s8_reduce_range: ONNX Runtime's BERT fusions (Attention, SkipLayerNorm, BiasGelu),
  then signed 7-bit weights: the current recipe (retriever/onnx_export.py), which is what
  `load_embedder` uses.

Prints progress to stderr and one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retriever.embeddings import (  # noqa: E402
    DEFAULT_MAX_SEQ_LENGTH,
    OnnxEmbedder,
    packaged_default_path,
    resolve_model,
)
from retriever.onnx_export import exported_model  # noqa: E402
from retriever.store import paper_text  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "arxiv" / "arxiv_cs_CL_LG_AI_sample5k.jsonl.gz"


def quantized(fp32: Path, out: Path, signed: bool, reduce_range: bool) -> Path:
    """`fp32` dynamically quantized with per-channel weight scales, written once to `out`."""
    if not out.is_file():
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            str(fp32),
            str(out),
            weight_type=QuantType.QInt8 if signed else QuantType.QUInt8,
            per_channel=True,
            reduce_range=reduce_range,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return out


def embedder_for(model_file: Path, cache: Path, batch_size: int) -> OnnxEmbedder:
    """An OnnxEmbedder of the default model that runs `model_file` instead of the cached export."""
    embedder = OnnxEmbedder(resolve_model("all-MiniLM-L6-v2"), cache, batch_size, DEFAULT_MAX_SEQ_LENGTH)
    embedder._model_path = model_file  # the bench swaps the graph; everything else stays as shipped
    embedder._session = embedder._new_session(threads=0)
    return embedder


def neighbours(vectors: np.ndarray) -> np.ndarray:
    """Each row's 10 nearest other rows by inner product."""
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1)[:, :10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=256, help="real papers to embed (every 7th of the sample)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workdir", type=Path, default=None, help="keeps the exported models between runs")
    args = parser.parse_args()

    with gzip.open(CORPUS, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for _, line in zip(range(args.papers * 7), handle, strict=False)][::7]
    texts = [paper_text(" ".join(r["title"].split()), " ".join(r["abstract"].split())) for r in records]
    cache = args.workdir or Path(tempfile.mkdtemp(prefix="cpmsurvey-quant-"))
    default_dir = packaged_default_path()
    fp32 = exported_model(default_dir, cache, quantize=False)
    current = exported_model(default_dir, cache, quantize=True)
    files = {
        "fp32": fp32,
        "u8_per_channel": quantized(fp32, fp32.with_name("u8pc.onnx"), signed=False, reduce_range=False),
        "s8_per_channel": quantized(fp32, fp32.with_name("s8pc.onnx"), signed=True, reduce_range=False),
        "s8_per_channel_reduce_range": quantized(fp32, fp32.with_name("s8pc_rr.onnx"), signed=True, reduce_range=True),
        "fused_s8_reduce_range": current,
    }
    embedders = {name: embedder_for(path, cache, args.batch_size) for name, path in files.items()}
    for embedder in embedders.values():
        embedder.encode(texts[:8])  # warm
    rates: dict[str, list[float]] = {name: [] for name in embedders}
    vectors: dict[str, np.ndarray] = {}
    loads = []
    for round_number in range(args.rounds):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            vectors[name] = embedder.encode(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
        loads.append(round(os.getloadavg()[0], 2))
        figures = ", ".join(f"{n} {r[-1]:.1f}/s" for n, r in rates.items())
        print(f"round {round_number + 1}: {figures}", file=sys.stderr)
    reference = vectors["fp32"]
    reference_top = neighbours(reference)
    base = float(np.median(rates["fp32"]))
    previous = float(np.median(rates["u8_per_channel"]))
    results = {}
    for name, found in vectors.items():
        cosine = (found * reference).sum(axis=1)
        top = neighbours(found)
        median = float(np.median(rates[name]))
        results[name] = {
            "papers_per_s": round(median, 2),
            "vs_fp32": round(median / base, 3),
            "vs_u8_per_channel": round(median / previous, 3),
            "cosine_to_fp32_min": round(float(cosine.min()), 4),
            "cosine_to_fp32_mean": round(float(cosine.mean()), 4),
            "top10_overlap_with_fp32": round(
                float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top, reference_top, strict=True)])), 4
            ),
        }
    print(
        json.dumps(
            {
                "papers": len(texts),
                "max_seq_length": DEFAULT_MAX_SEQ_LENGTH,
                "rounds": args.rounds,
                "recipes": results,
                "load_avg_per_round": loads,
                "machine": platform.processor() or platform.machine(),
                "cores": os.cpu_count(),
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
    )


if __name__ == "__main__":
    main()
