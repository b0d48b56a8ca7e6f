"""Comparison tables (Markdown and CSV) and plots (PNG) of evaluation rows.

Published reference numbers (docs/ARCHITECTURE.md section 7: SurveyEval, 20 topics, GPT-4o judge)
stand beside ours only where the metric is the same: Content Quality and its four
criteria, and Fact Score. They were measured on other topics with another judge, so they
are context, not a head-to-head comparison.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

# system -> metric -> published value. Deep Research has no fact score (no citations).
PUBLISHED: dict[str, dict[str, float]] = {
    "MiniCPM4-Survey": {"content_quality": 3.50, "relevance": 3.45, "coverage": 3.70, "depth": 3.85,
                        "novelty": 3.00, "fact_score": 68.73},
    "OpenAI_DeepResearch": {"content_quality": 3.50, "relevance": 3.50, "coverage": 3.95, "depth": 3.55,
                            "novelty": 3.00},
    "AutoSurvey": {"content_quality": 3.16, "fact_score": 46.56},
    "naive RAG": {"content_quality": 3.04, "fact_score": 43.68},
}
PUBLISHED_SOURCE = "SurveyEval, 20 topics, GPT-4o judge (MiniCPM4-Survey report)"

RESOLUTION_COLUMNS = ("refs_entries", "refs_by_id", "refs_by_title", "refs_unresolved")
JUDGE_FREE_COLUMNS = (
    "sections", "words", "citations", "cited_references", "listed_references",
    "citation_density", "cited_sentence_share", "ref_precision", "ref_recall", "reference_coverage",
    "input_coverage", "outline_similarity", "outline_cosine", "support_sentences", "support_lexical",
    "support_lexical_pass", "support_embedding", "support_embedding_pass",
)
JUDGE_COLUMNS = (
    "fact_score", "fact_score_cited", "citation_recall", "citation_precision", "relevance", "coverage", "depth",
    "novelty", "structure", "content_quality",
)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(present) / len(present) if present else None


def system_means(rows: Sequence[dict], columns: Sequence[str]) -> list[dict]:
    """Per system (in first-seen order): topics evaluated and the mean of each column
    over the topics that have it."""
    systems = list(dict.fromkeys(row["system"] for row in rows))
    table = []
    for system in systems:
        mine = [row for row in rows if row["system"] == system]
        entry = {"system": system, "topics": len({row["topic"] for row in mine})}
        entry.update({column: _mean([row.get(column) for row in mine]) for column in columns})
        table.append(entry)
    return table


def system_sums(rows: Sequence[dict], columns: Sequence[str]) -> list[dict]:
    """Per system, the sum of each column over its rows (missing values as 0)."""
    systems = list(dict.fromkeys(row["system"] for row in rows))
    return [
        {"system": system} | {c: sum(row.get(c) or 0 for row in rows if row["system"] == system) for c in columns}
        for system in systems
    ]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """A Markdown table of `columns` (missing values as '-')."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(column)) for column in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(path: Path, rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Rows as CSV with these columns (missing values empty)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def with_published(table: Sequence[dict], metrics: Sequence[str]) -> list[dict]:
    """The judged table with a ``published_<metric>`` column per metric that has a
    published value for the system, and rows for published-only systems."""
    result = []
    for entry in table:
        published = PUBLISHED.get(entry["system"], {})
        result.append(entry | {f"published_{m}": published.get(m) for m in metrics})
    for system, published in PUBLISHED.items():
        if system not in {entry["system"] for entry in table}:
            result.append({"system": f"{system} (published only)"} | {f"published_{m}": published.get(m)
                                                                      for m in metrics})
    return result


def write_report(rows: Sequence[dict], out_dir: Path, judge_name: str | None, notes: Sequence[str] = ()) -> Path:
    """Write per-survey CSV, per-system tables (CSV and one Markdown file) and plots; the
    Markdown file's path is returned."""
    out_dir.mkdir(parents=True, exist_ok=True)
    all_columns = ["system", "topic", *RESOLUTION_COLUMNS, *JUDGE_FREE_COLUMNS, "judge", *JUDGE_COLUMNS,
                   *JUDGE_COUNT_COLUMNS]
    write_csv(out_dir / "per_survey.csv", rows, all_columns)
    free = system_means(rows, JUDGE_FREE_COLUMNS)
    write_csv(out_dir / "judge_free.csv", free, ["system", "topics", *JUDGE_FREE_COLUMNS])
    sections = ["# Evaluation", "", *notes, "", "## Judge-free metrics (mean over topics)", "",
                markdown_table(free, ["system", "topics", *JUDGE_FREE_COLUMNS])]
    resolution = system_sums(rows, RESOLUTION_COLUMNS)
    if any(entry["refs_entries"] for entry in resolution):
        write_csv(out_dir / "reference_resolution.csv", resolution, ["system", *RESOLUTION_COLUMNS])
        sections += ["", "## Reference resolution of imported surveys (sums over topics)", "",
                     "Entries resolved to an arXiv id by an id in their text or by an exact library title; the "
                     "rest are unresolved and count as such (never matched to a look-alike).", "",
                     markdown_table(resolution, ["system", *RESOLUTION_COLUMNS])]
    judged_rows = [row for row in rows if row.get("judge")]
    if judged_rows:
        judged = system_means(judged_rows, JUDGE_COLUMNS)
        published_metrics = ["content_quality", "fact_score"]
        judged = with_published(judged, published_metrics)
        columns = ["system", "topics", *JUDGE_COLUMNS, *(f"published_{m}" for m in published_metrics)]
        write_csv(out_dir / "judged.csv", judged, columns)
        sections += ["", f"## Judge metrics (judge: {judge_name}; mean over judged topics)", "",
                     f"Published columns: {PUBLISHED_SOURCE}.", "", markdown_table(judged, columns)]
    sections += ["", "## Per survey", "", markdown_table(rows, ["system", "topic", "ref_precision", "ref_recall",
                                                                 "outline_similarity", "cited_sentence_share",
                                                                 "support_lexical_pass", *(
                                                                     ["fact_score", "content_quality"]
                                                                     if judged_rows else [])])]
    plot_paths = write_plots(rows, out_dir, judge_name)
    sections += ["", "## Plots", "", *(f"![{path.stem}]({path.name})" for path in plot_paths)]
    report = out_dir / "report.md"
    report.write_text("\n".join(sections) + "\n", encoding="utf-8")
    return report


# How much each judged figure rests on (and how much the judge could not answer).
JUDGE_COUNT_COLUMNS = ("facts", "facts_unparsable", "claims_judged", "claims_unparsable")
BAR_METRICS = ("ref_recall", "ref_precision", "outline_similarity", "cited_sentence_share", "support_lexical_pass",
               "support_embedding_pass")
SPREAD_METRICS = ("ref_recall", "outline_similarity", "cited_sentence_share", "citation_density")


def write_plots(rows: Sequence[dict], out_dir: Path, judge_name: str | None) -> list[Path]:
    """Bar charts of per-system means and box plots of the per-topic spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(dict.fromkeys(row["system"] for row in rows))
    paths = []
    groups = [("judge_free_bars.png", BAR_METRICS, "Judge-free metrics, mean over topics")]
    if any(row.get("judge") for row in rows):
        groups.append(("judge_bars.png", ("citation_recall", "citation_precision", "fact_score_cited"),
                       f"Judge metrics (judge: {judge_name}), mean over judged topics"))
    for name, metrics, title in groups:
        means = system_means(rows if "judge_free" in name else [r for r in rows if r.get("judge")], metrics)
        figure, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.6), squeeze=False)
        for axis, metric in zip(axes[0], metrics, strict=True):
            values = [entry[metric] if entry[metric] is not None else 0.0 for entry in means]
            axis.bar(range(len(means)), values, color=[f"C{i}" for i in range(len(means))])
            axis.set_xticks(range(len(means)), [entry["system"] for entry in means], rotation=45, ha="right",
                            fontsize=7)
            axis.set_title(metric, fontsize=9)
        figure.suptitle(title, fontsize=10)
        figure.tight_layout()
        figure.savefig(out_dir / name, dpi=110)
        plt.close(figure)
        paths.append(out_dir / name)
    figure, axes = plt.subplots(1, len(SPREAD_METRICS), figsize=(3.2 * len(SPREAD_METRICS), 3.6), squeeze=False)
    for axis, metric in zip(axes[0], SPREAD_METRICS, strict=True):
        data = [[row[metric] for row in rows if row["system"] == s and row.get(metric) is not None] for s in systems]
        shown = [(s, d) for s, d in zip(systems, data, strict=True) if d]
        if shown:
            axis.boxplot([d for _, d in shown])
            axis.set_xticks(range(1, len(shown) + 1), [s for s, _ in shown], rotation=45, ha="right", fontsize=7)
        axis.set_title(metric, fontsize=9)
    figure.suptitle("Per-topic spread", fontsize=10)
    figure.tight_layout()
    figure.savefig(out_dir / "per_topic_spread.png", dpi=110)
    plt.close(figure)
    paths.append(out_dir / "per_topic_spread.png")
    return paths
