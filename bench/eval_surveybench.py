"""Evaluate SurveyBench's surveys (human and four systems, and ours when given) with the
judge-free metrics on every topic, and the judge metrics on the topics named.

    .venv/bin/python bench/eval_surveybench.py --out bench/eval \
        --library ../shared/data/arxiv/arxiv_cs_CL_LG_AI_2025-03_2026-07.jsonl.gz \
        --judge local --judge-topics "Vision Transformers" ...

Writes the report (report.md, CSV tables, PNG plots), the support proxy's calibration
(calibration.json) and the judges' per-survey details under --out. Prints one JSON object
on its last line: the calibration and the per-system means.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from eval import report, runner, surveybench
from eval.judge import Judge
from eval.support_proxy import calibrate, deepscholar_pairs

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surveybench", type=Path, default=DATA / "surveybench")
    parser.add_argument("--deepscholar", type=Path, default=DATA / "deepscholar")
    parser.add_argument("--library", type=Path, help="JSONL(.gz) corpus for title resolution and abstracts")
    parser.add_argument("--ours", type=Path, nargs="*", default=[], help="our survey.json files or run folders")
    parser.add_argument("--topics", nargs="*", help="topics (default: all 15)")
    parser.add_argument("--judge", choices=["none", "local"], default="none")
    parser.add_argument("--judge-topics", nargs="*", default=[])
    parser.add_argument("--fact-sentences", type=int, default=4)
    parser.add_argument("--citation-claims", type=int, default=4)
    parser.add_argument("--content-words", type=int, default=500)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "cpmsurvey" / "judge")
    parser.add_argument("--out", type=Path, default=Path("bench/eval"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()

    from retriever.embeddings import load_embedder

    embedder = load_embedder("all-MiniLM-L6-v2", backend="torch")
    calibration = calibrate(deepscholar_pairs(args.deepscholar), embedder)
    thresholds = {name: values["threshold"] for name, values in calibration.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "calibration.json").write_text(json.dumps(calibration, indent=2) + "\n")

    library = runner.load_library(args.library) if args.library else None
    topics = args.topics or surveybench.topics(args.surveybench)
    items = runner.surveybench_items(args.surveybench, surveybench.SYSTEMS, topics, library)
    items += runner.our_items(args.ours)
    humans = {item.topic: item.survey for item in items if item.system == surveybench.HUMAN}
    judge = None
    if args.judge == "local":
        from engine.local import LocalEngine

        judge = Judge(LocalEngine.load("embedded"), args.cache, max_new_tokens=192)
    limits = runner.JudgeLimits(args.fact_sentences, args.citation_claims, args.content_words)
    rows = runner.evaluate(
        items, humans, runner.human_outline_headings(args.surveybench), embedder, thresholds,
        judge=judge, judge_topics=args.judge_topics, limits=limits, details_dir=args.out / "details",
    )
    notes = [
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {_cpu()} by `bench/eval_surveybench.py`.",
        f"Embeddings: {embedder.name}. Support proxy thresholds (DeepScholar, Youden J): "
        + ", ".join(f"{name} {values['threshold']:.3f} (AUC {values['auc']:.3f})" for name, values in
                    calibration.items()) + ".",
        f"Library for title resolution and abstracts: {args.library or 'none'}.",
    ]
    if judge is not None:
        notes.append(
            f"Judge: {judge.name} on {len(args.judge_topics)} topics, {args.fact_sentences} sentences for the fact "
            f"score, {args.citation_claims} claims for citation quality, {args.content_words} words for content "
            "quality per survey. A 135M judge is a SMOKE TEST of the machinery, not a measurement of quality."
        )
    report.write_report(rows, args.out, judge.name if judge else None, notes)
    summary = {
        "seconds": round(time.perf_counter() - started, 1),
        "cpu": _cpu(),
        "surveys": len(rows),
        "calibration": calibration,
        "judge": judge.name if judge else None,
        "judge_calls": judge.calls if judge else 0,
        "judge_cache_hits": judge.cache_hits if judge else 0,
        "means": report.system_means(rows, ["ref_precision", "ref_recall", "outline_similarity",
                                            "cited_sentence_share", "support_lexical_pass", "fact_score",
                                            "citation_recall", "content_quality"]),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
