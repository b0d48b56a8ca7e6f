"""The grounded writer (writer/grounded) on real abstracts: how many papers it can quote, how
grounded its text is, and how long it takes, without retrieval or a model.

Splits the 5,000-paper sample (file order) into surveys of `--sections` sections of
`--papers` papers each and writes each survey's sections and frame. Reports per-paper fact
extraction time, the share of papers quoted and why the others were not, and over all
surveys: body sentences carrying a marker, markers that resolve to the section's papers, the
support proxy (cited sentences whose content words are at least 80% covered by the cited
abstract alone: SUPPORT_THRESHOLD), duplicates and seconds per survey.

With `--polish N`, the first N sections of the first survey also go through the optional
fluency rewrite by the embedded model (SmolLM2-135M, greedy): rewrites kept, kept but
unchanged, and seconds.

    .venv/bin/python bench/grounded_writer.py [--surveys 10] [--sections 4] [--papers 30] [--polish 0]

Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import statistics
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from retriever.types import Paper
from writer.citations import find_citations
from writer.grounded import (
    SUPPORT_THRESHOLD,
    content_word_coverage,
    contribution_fact,
    sentence_key,
    write_grounded_frame,
    write_grounded_sections,
)
from writer.support import split_sentences

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE = SHARED_DATA / "arxiv" / "arxiv_cs_CL_LG_AI_sample5k.jsonl.gz"


def load(path: Path) -> list[Paper]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    return [
        Paper(
            r["id"],
            r["title"],
            r["abstract"],
            tuple(r["authors"]),
            tuple(r["categories"]),
            date.fromisoformat(r["date"]),
        )
        for r in rows
    ]


def body_sentences(text: str) -> list[str]:
    blocks = [block for block in text.split("\n\n") if block and not block.startswith("#")]
    return [sentence for block in blocks for sentence in split_sentences(block)]


def provenance(started: float, source: Path | None) -> dict:
    """The figures' seconds since `started`, their source (a dump, else the sample), machine and date."""
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "source": str(source) if source else SAMPLE.name,
        "machine": _cpu_model(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def polish_figures(papers: list[Paper], sections: int, size: int, count: int) -> dict:
    """Rewrite the first `count` sections of one survey with the embedded model."""
    from engine.local import LocalEngine
    from engine.types import SamplingParams
    from writer.grounded import polish_section

    plan = [(f"Theme {i}", papers[i * size : (i + 1) * size], []) for i in range(sections)]
    drafts = write_grounded_sections(plan)[:count]
    llm = LocalEngine.load("embedded")
    started = time.perf_counter()
    checks = [check for draft in drafts for check in polish_section(llm, draft, SamplingParams()).rewrites]
    seconds = time.perf_counter() - started
    return {
        "polish_model": llm.name,
        "polish_sentences": len(checks),
        "polish_kept": sum(check["kept"] for check in checks),
        "polish_kept_unchanged": sum(check["kept"] and check["reason"] == "unchanged" for check in checks),
        "polish_refusals": dict(Counter(check["reason"].split(" <")[0] for check in checks if not check["kept"])),
        "polish_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--surveys", type=int, default=10)
    parser.add_argument("--sections", type=int, default=4)
    parser.add_argument("--papers", type=int, default=30)
    parser.add_argument("--polish", type=int, default=0, help="sections of the first survey to rewrite with the model")
    args = parser.parse_args()
    if (args.surveys * args.sections * args.papers) > 4000:
        parser.error("at most 4,000 papers in surveys: the last 1,000 of the sample time contribution_fact")
    papers = load(SAMPLE)
    per_survey = args.sections * args.papers
    seconds, sentences, marked, resolved, cited, supported, duplicates = [], 0, 0, 0, 0, 0, 0
    quoted, skip_reasons, problems = 0, Counter(), 0
    for survey in range(args.surveys):
        chosen = papers[survey * per_survey : (survey + 1) * per_survey]
        plan = [(f"Theme {i}", chosen[i * args.papers : (i + 1) * args.papers], []) for i in range(args.sections)]
        started = time.perf_counter()
        drafts = write_grounded_sections(plan)
        frame = write_grounded_frame("the sample", drafts)
        seconds.append(time.perf_counter() - started)
        seen: set[str] = set()
        for (_, group, _), draft in zip(plan, drafts, strict=True):
            by_id = {paper.arxiv_id: paper for paper in group}
            quoted += len(draft.facts)
            skip_reasons.update(skip.reason for skip in draft.skipped)
            for sentence in body_sentences(draft.text):
                sentences += 1
                ids = find_citations(sentence)
                marked += bool(ids)
                resolved += sum(arxiv_id in by_id for arxiv_id in ids)
                cited += len(ids)
                if ids:
                    abstracts = [by_id[arxiv_id].abstract for arxiv_id in ids if arxiv_id in by_id]
                    supported += content_word_coverage(sentence, abstracts) >= SUPPORT_THRESHOLD
                key = sentence_key(sentence)
                duplicates += key in seen
                seen.add(key)
        problems += frame.conclusion.count("[arXiv:")
    # Papers no survey above used, so that no cached sentence split helps.
    unseen = papers[-1000:]
    started = time.perf_counter()
    for paper in unseen:
        contribution_fact(paper)
    per_paper_ms = (time.perf_counter() - started) * 1000 / len(unseen)
    total = args.surveys * per_survey
    figures = {
        "surveys": args.surveys,
        "sections_per_survey": args.sections,
        "papers_per_section": args.papers,
        "papers_quoted_share": round(quoted / total, 4),
        "skip_reasons": dict(skip_reasons.most_common()),
        "body_sentences": sentences,
        "marked_sentence_share": round(marked / sentences, 4),
        "citations_resolved_share": round(resolved / cited, 4),
        "support_proxy": round(supported / marked, 4),
        "duplicate_sentences": duplicates,
        "open_problems_per_survey": problems / args.surveys,
        "seconds_per_survey_median": round(statistics.median(seconds), 3),
        "contribution_fact_ms_per_paper": round(per_paper_ms, 3),
        "machine": _cpu_model(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    if args.polish:
        figures.update(polish_figures(papers[:per_survey], args.sections, args.papers, args.polish))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
