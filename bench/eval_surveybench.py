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
from pathlib import Path

from eval import pipeline, runner
from eval.judge import Judge

SMOKE_TEST = (
    "**The judge here is the embedded SmolLM2-135M: its scores are a SMOKE TEST of the machinery (prompts, "
    "parsing, cache, tables), not a measurement of quality.** Use a strong judge (an OpenAI-compatible endpoint) "
    "for numbers to compare with the published ones."
)
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
    parser.add_argument("--judge-topics", nargs="*", help="topics the judge reads (default: all evaluated)")
    parser.add_argument("--fact-sentences", type=int, default=4)
    parser.add_argument("--citation-claims", type=int, default=4)
    parser.add_argument("--content-words", type=int, default=500)
    parser.add_argument("--judge-tokens", type=int, default=192, help="most tokens a judge reply may take")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "cpmsurvey" / "judge")
    parser.add_argument("--out", type=Path, default=Path("bench/eval"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from retriever.embeddings import load_embedder

    judge = None
    if args.judge == "local":
        from engine.local import LocalEngine

        judge = Judge(LocalEngine.load("embedded"), args.cache, max_new_tokens=args.judge_tokens)
    request = pipeline.EvalRequest(
        surveybench=args.surveybench, out=args.out, deepscholar=args.deepscholar, library=args.library,
        topics=args.topics, ours=args.ours, judge_topics=args.judge_topics,
        limits=runner.JudgeLimits(args.fact_sentences, args.citation_claims, args.content_words),
        notes=[SMOKE_TEST] if judge is not None else [],
    )
    embedder = load_embedder("all-MiniLM-L6-v2", backend="torch")
    summary = pipeline.run_evaluation(request, embedder, judge, machine=_cpu())
    print(json.dumps({"cpu": _cpu(), **summary}))


if __name__ == "__main__":
    main()
