"""Evaluating a set of surveys against SurveyBench's human surveys: the judge-free metrics
for every survey, the judge metrics where a judge is given, one row per survey, and the
per-survey details (fact verdicts, claim verdicts, reasons) written beside the tables.

This is the logic behind ``cpmsurvey eval``; the command only parses its options.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval import surveybench
from eval.citation_quality import citation_quality
from eval.content_quality import content_quality
from eval.fact_score import fact_score
from eval.judge import Judge
from eval.outline import outline_headings, outline_similarity, survey_headings
from eval.reference_metrics import reference_metrics
from eval.references import TitleIndex
from eval.structure import structure_stats
from eval.support_proxy import support_proxy
from retriever.embeddings import Embedder
from retriever.types import Paper
from writer.survey import Survey

log = logging.getLogger(__name__)
OURS = "cpmsurvey"


@dataclass(slots=True)
class EvalItem:
    """One survey to evaluate: who wrote it, on which topic."""

    system: str
    topic: str
    survey: Survey


@dataclass(slots=True)
class JudgeLimits:
    """How much of each survey the judges read (every call costs time on a small machine)."""

    fact_sentences: int | None = 30
    citation_claims: int | None = 30
    content_words: int = 3000


def load_library(path: Path) -> dict[str, Paper]:
    """Papers of a JSONL or JSONL.gz corpus in our schema, by id (for title resolution and
    abstracts)."""
    opener = gzip.open if path.suffix == ".gz" else open
    papers: dict[str, Paper] = {}
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    paper = Paper.from_dict(json.loads(line))
                    papers[paper.arxiv_id] = paper
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"cannot read the library {path}: {error}") from None
    return papers


def surveybench_items(
    root: Path, systems: Sequence[str], topics: Sequence[str], library: dict[str, Paper] | None = None
) -> list[EvalItem]:
    """The SurveyBench surveys of `systems` on `topics`, imported (human ones included). A
    system without a survey on a topic is skipped with a warning; a missing human survey
    is an error."""
    titles = TitleIndex(library.values()) if library else None
    items = []
    for topic in topics:
        for system in systems:
            try:
                items.append(EvalItem(system, topic, surveybench.load(root, system, topic, titles, library)))
            except surveybench.SurveyBenchError as error:
                if system == surveybench.HUMAN:
                    raise
                log.warning("%s; skipped", error)
    return items


def our_items(paths: Iterable[Path]) -> list[EvalItem]:
    """Our surveys from ``survey.json`` files (or folders holding one); the topic is the
    run's topic as its metadata records it."""
    items = []
    for path in paths:
        file = path / "survey.json" if path.is_dir() else path
        try:
            survey = Survey.from_json(file.read_text(encoding="utf-8"))
        except OSError as error:
            raise ValueError(f"cannot read our survey {file}: {error}") from None
        topic = survey.metadata.get("topic") or survey.title
        items.append(EvalItem(survey.metadata.get("system", OURS), topic, survey))
    return items


def judge_free_row(
    item: EvalItem,
    human: Survey | None,
    human_outline: Sequence[str] | None,
    embedder: Embedder | None,
    thresholds: dict[str, float],
) -> dict:
    """Structure, reference, outline and support-proxy metrics of one survey."""
    row: dict = {"system": item.system, "topic": item.topic}
    row.update(structure_stats(item.survey))
    counts = item.survey.metadata.get("reference_counts")
    if counts:  # imported surveys: how their reference entries resolved
        row.update({"refs_entries": counts["entries"], "refs_by_id": counts["resolved_by_id"],
                    "refs_by_title": counts["resolved_by_title"], "refs_unresolved": counts["unresolved"]})
    if human is not None and item.survey is not human:
        row.update(reference_metrics(item.survey, human))
    if human_outline and embedder is not None and item.system != surveybench.HUMAN:
        row.update(outline_similarity(survey_headings(item.survey), human_outline, embedder))
    row.update(support_proxy(item.survey, thresholds, embedder))
    return row


def judge_row(item: EvalItem, judge: Judge, limits: JudgeLimits) -> tuple[dict, dict]:
    """Judge metrics of one survey, and their details for inspection."""
    facts = fact_score(item.survey, judge, max_sentences=limits.fact_sentences)
    citations = citation_quality(item.survey, judge, max_claims=limits.citation_claims)
    content = content_quality(item.survey, judge, item.topic, max_words=limits.content_words)
    row = {
        "judge": judge.name,
        "fact_score": facts.all_facts,
        "fact_score_cited": facts.cited_facts,
        "facts": facts.counts["facts"],
        "facts_unparsable": facts.counts["unparsable"] + facts.counts["sentences_unparsable"],
        "citation_recall": citations.recall,
        "citation_precision": citations.precision,
        "claims_judged": citations.counts["claims"] - citations.counts["claims_unparsable"],
        "claims_unparsable": citations.counts["claims_unparsable"],
        **{name: score for name, score in content.scores.items()},
        "content_quality": content.content_quality,
    }
    details = {
        "system": item.system, "topic": item.topic, "judge": judge.name,
        "fact_score": {"counts": facts.counts, "facts": facts.facts},
        "citation_quality": {"counts": citations.counts, "claims": citations.claims},
        "content_quality": {"scores": content.scores, "reasons": content.reasons},
    }
    return row, details


def evaluate(
    items: Sequence[EvalItem],
    humans: dict[str, Survey],
    outlines: dict[str, Sequence[str]],
    embedder: Embedder | None,
    thresholds: dict[str, float],
    judge: Judge | None = None,
    judge_topics: Sequence[str] | None = None,
    limits: JudgeLimits | None = None,
    details_dir: Path | None = None,
    progress: Callable[[int, int, EvalItem], None] | None = None,
) -> list[dict]:
    """One row per item; judge metrics only for `judge_topics` (all topics when None).
    `progress(done, total, item)` is told before each item is scored."""
    from tqdm import tqdm

    rows = []
    for done, item in enumerate(tqdm(items, desc="evaluating", unit="survey")):
        if progress is not None:
            progress(done, len(items), item)
        row = judge_free_row(item, humans.get(item.topic), outlines.get(item.topic), embedder, thresholds)
        if judge is not None and (judge_topics is None or item.topic in judge_topics):
            judged, details = judge_row(item, judge, limits or JudgeLimits())
            row.update(judged)
            if details_dir is not None:
                _write_details(details_dir, item, details)
        rows.append(row)
    return rows


def _write_details(folder: Path, item: EvalItem, details: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{item.system}__{item.topic}".replace("/", "_").replace(" ", "_")
    (folder / f"{name}.json").write_text(json.dumps(details, indent=1, ensure_ascii=False), encoding="utf-8")


def human_outline_headings(root: Path) -> dict[str, list[str]]:
    """Topic -> the human outline's headings."""
    return {topic: outline_headings(text) for topic, text in surveybench.human_outlines(root).items()}
