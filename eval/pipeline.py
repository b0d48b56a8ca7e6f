"""One evaluation from options to report: calibrate the support proxy, import the
SurveyBench surveys and ours, score them, write the report. ``cpmsurvey eval`` and
bench/eval_surveybench.py are thin callers of :func:`run_evaluation`; ``--generate`` asks
:func:`generation_plan` which topics to write as of which date."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from eval import report, runner, surveybench
from eval.judge import Judge
from eval.support_proxy import calibrate, deepscholar_pairs
from retriever.embeddings import Embedder

SUMMARY_METRICS = (
    "ref_precision", "ref_recall", "outline_similarity", "cited_sentence_share", "support_lexical_pass",
    "fact_score", "fact_score_cited", "citation_recall", "citation_precision", "content_quality",
)


@dataclass(slots=True)
class EvalRequest:
    """What to evaluate and where to write. `topics` None: every SurveyBench topic;
    `judge_topics` None: every evaluated topic (when a judge is given)."""

    surveybench: Path
    out: Path
    deepscholar: Path | None = None
    library: Path | None = None
    topics: Sequence[str] | None = None
    systems: Sequence[str] = surveybench.SYSTEMS
    ours: Sequence[Path] = ()
    judge_topics: Sequence[str] | None = None
    limits: runner.JudgeLimits = field(default_factory=runner.JudgeLimits)
    notes: Sequence[str] = ()  # extra lines for the report's head


def check_topics(root: Path, topics: Sequence[str]) -> list[str]:
    """`topics` (every SurveyBench topic when empty), refused with the known ones listed
    when one is not a SurveyBench topic."""
    known = surveybench.topics(root)
    unknown = [topic for topic in topics if topic not in known]
    if unknown:
        raise surveybench.SurveyBenchError(f"unknown topics {unknown}; SurveyBench has: {', '.join(known)}")
    return list(topics) or known


def run_evaluation(
    request: EvalRequest,
    embedder: Embedder,
    judge: Judge | None = None,
    machine: str = "",
    progress: Callable[[int, int, runner.EvalItem], None] | None = None,
) -> dict:
    """Evaluate, write the report under ``request.out`` and return a summary (calibration,
    judge calls and cache hits, per-system means). `progress(done, total, item)` is told
    before each survey is scored."""
    started = time.perf_counter()
    topics = check_topics(request.surveybench, request.topics or [])
    check_topics(request.surveybench, request.judge_topics or [])
    request.out.mkdir(parents=True, exist_ok=True)
    calibration: dict = {}
    if request.deepscholar is not None:
        calibration = calibrate(deepscholar_pairs(request.deepscholar), embedder)
        (request.out / "calibration.json").write_text(json.dumps(calibration, indent=2) + "\n", encoding="utf-8")
    thresholds = {name: values["threshold"] for name, values in calibration.items()}
    library = runner.load_library(request.library) if request.library else None
    systems = list(dict.fromkeys([surveybench.HUMAN, *request.systems]))
    items = runner.surveybench_items(request.surveybench, systems, topics, library)
    items += runner.our_items(request.ours)
    humans = {item.topic: item.survey for item in items if item.system == surveybench.HUMAN}
    rows = runner.evaluate(
        items, humans, runner.human_outline_headings(request.surveybench), embedder, thresholds,
        judge=judge, judge_topics=request.judge_topics, limits=request.limits, details_dir=request.out / "details",
        progress=progress,
    )
    report.write_report(rows, request.out, judge.name if judge else None,
                        _notes(request, embedder, calibration, judge, machine))
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "surveys": len(rows),
        "calibration": calibration,
        "judge": judge.name if judge else None,
        "judge_calls": judge.calls if judge else 0,
        "judge_cache_hits": judge.cache_hits if judge else 0,
        "means": report.system_means(rows, SUMMARY_METRICS),
    }


def _notes(request: EvalRequest, embedder: Embedder, calibration: dict, judge: Judge | None, machine: str) -> list[str]:
    notes = [f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC{f' on {machine}' if machine else ''}.",
             f"Embeddings: {embedder.name}."]
    if calibration:
        notes.append("Support proxy thresholds (DeepScholar pairs, Youden J): " + ", ".join(
            f"{name} {values['threshold']:.3f} (ROC AUC {values['auc']:.3f})" for name, values in calibration.items()
        ) + ".")
    else:
        notes.append("Support proxy not calibrated (no DeepScholar data given): no pass rates.")
    notes.append(f"Library for title resolution and abstracts: {request.library or 'none'}.")
    if judge is not None:
        limits = request.limits
        notes.append(
            f"Judge: {judge.name}; per survey {limits.fact_sentences} sentences for the fact score, "
            f"{limits.citation_claims} claims for citation quality, {limits.content_words} words for content quality."
        )
    return [*notes, *request.notes]


def generation_plan(root: Path, topics: Sequence[str]) -> list[dict]:
    """For each topic, the batch-file record that writes our survey as of the human
    survey's date (:func:`eval.surveybench.as_of`): ``{"topic", "date_to"}``."""
    check_topics(root, topics)
    plan = []
    for topic in topics:
        cutoff = surveybench.as_of(surveybench.load(root, surveybench.HUMAN, topic))
        plan.append({"topic": topic, **({"date_to": cutoff.isoformat()} if cutoff else {})})
    return plan
