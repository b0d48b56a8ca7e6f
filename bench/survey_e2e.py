"""Surveys end to end with the embedded default model on the 5,000-paper sample, on CPU:
the quickstart topic and three other surveybench topics, in the default (auto) writing mode.

    .venv/bin/python bench/survey_e2e.py [--topics T1 T2 ...] [--sections 4] [--mode auto]

Prints progress to stderr and one JSON object on its last stdout line. `surveys` holds one
object per survey: topic, mode, sections, words, papers_cited (distinct), min_citations_per_section
(distinct papers in the body section that cites fewest), marked_sentence_share (body sentences
with a marker), citations_resolved_share (markers resolving to a paper given to that section),
support_proxy (share of cited sentences whose content words are at least 80% covered by their
cited abstracts, writer.grounded.content_word_coverage), duplicate_sentences (sentences of the
body and frame that occur more than once), glued_words (words run together, writer.grounded.glued),
anaphoric_fronts (body sentences opening with a phrase that points back, "To address this,"),
shared_phrase_openers (sub-theme openers naming the papers that share a phrase), agreement_errors
(cited sentences of the body and conclusion whose verb disagrees with the first cited paper's
authors, "Gu et al. introduces"), dangling_demonstratives (demonstrative phrases in those sentences
pointing at an unquoted sentence, "addressing these challenges", writer.grounded.dangling), section_titles,
subsection_titles and seconds (the survey, index already built). `--score DIR...` only scores
surveys already written (seconds 0).
setup_s is the one-off ingest and embedding of the corpus; model_load_s loading the model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.settings import Settings  # noqa: E402
from app.workflow import SurveyWorkflow  # noqa: E402
from app.workflow.library import open_library  # noqa: E402
from app.workflow.llm_factory import build_llm  # noqa: E402
from writer import Survey  # noqa: E402
from writer.citations import find_citations, strip_citations  # noqa: E402
from writer.grounded import SUPPORT_THRESHOLD, content_word_coverage  # noqa: E402
from writer.grounded.abstracts import split_sentences  # noqa: E402
from writer.grounded.attribution import agreement_error, author_phrase  # noqa: E402
from writer.grounded.compress import anaphoric_front  # noqa: E402
from writer.grounded.dangling import dangling_references  # noqa: E402
from writer.grounded.glued import glued_words  # noqa: E402
from writer.grounded.section import CONNECTIVES  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "arxiv" / "arxiv_cs_CL_LG_AI_sample5k.jsonl.gz"
TOPICS = (
    "Reinforcement Learning for Large Language Models",
    "Retrieval-Augmented Generation for Large Language Models",
    "LLM-based Multi-Agent",
    "Safety in Large Language Models",
)


def body_sentences(text: str) -> list[str]:
    """A section's sentences, headings excluded."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [sentence for line in lines for sentence in split_sentences(line)]


def survey_figures(survey: Survey, seconds: float) -> dict:
    """The figures the issue asks of one survey (see the module docstring)."""
    sentences = [(section, s) for section in survey.sections for s in body_sentences(section.text)]
    cited = [(section, s, find_citations(s)) for section, s in sentences if find_citations(s)]
    markers = [(section, i) for section, _, ids in cited for i in ids]
    supported = sum(
        content_word_coverage(s, [survey.papers[i].abstract for i in ids if i in survey.papers]) >= SUPPORT_THRESHOLD
        for _, s, ids in cited
    )
    frame = [s for part in (survey.abstract, survey.introduction, survey.conclusion) for s in body_sentences(part)]
    plain = [_without_connective(s) for _, s in sentences]
    stated = [(s, ids) for _, s, ids in cited] + [
        (s, find_citations(s)) for s in body_sentences(survey.conclusion) if find_citations(s)
    ]
    keys = Counter(" ".join(strip_citations(s).lower().split()) for s in [s for _, s in sentences] + frame)
    return {
        "topic": survey.metadata["topic"],
        "mode": survey.metadata["settings"].get("writer_mode"),
        "outline_source": survey.metadata.get("outline_source"),
        "section_titles": [section.title for section in survey.sections],
        "subsection_titles": [list(section.subsections) for section in survey.sections],
        "sections": len(survey.sections),
        "words": survey.word_count(),
        "papers_cited": len(set(survey.citations)),
        "min_citations_per_section": min((len(set(s.citations)) for s in survey.sections), default=0),
        "marked_sentence_share": round(len(cited) / len(sentences), 4) if sentences else None,
        "citations_resolved_share": (
            round(sum(i in section.papers for section, i in markers) / len(markers), 4) if markers else None
        ),
        "support_proxy": round(supported / len(cited), 4) if cited else None,
        "duplicate_sentences": sum(count - 1 for count in keys.values() if count > 1),
        "glued_words": sum(len(glued_words(s)) for s in plain),
        "anaphoric_fronts": sum(anaphoric_front(s) is not None for s in plain),
        "shared_phrase_openers": sum(s.startswith(SHARED_OPENERS) for s in plain),
        "agreement_errors": sum(_disagrees(s, ids, survey) for s, ids in stated),
        "dangling_demonstratives": sum(len(dangling_references(strip_citations(s))) for s, _ in stated),
        "warnings": len(survey.metadata["warnings"]),
        "seconds": round(seconds, 1),
    }


SHARED_OPENERS = ("Some of the studies below mention", "All of the studies below mention")


def _disagrees(sentence: str, ids: list[str], survey: Survey) -> bool:
    """Whether the verb after the first cited paper's authors disagrees with them."""
    paper = survey.papers.get(ids[0])
    if paper is None:
        return False
    subject, plural = author_phrase(paper.authors)
    return agreement_error(sentence, subject, plural)


def _without_connective(sentence: str) -> str:
    """A body sentence without the writer's connective, so its own opening shows."""
    for connective in CONNECTIVES:
        if sentence.startswith(connective + " "):
            return sentence[len(connective) + 1 :]
    return sentence


def stored_figures(output_dirs: list[Path]) -> list[dict]:
    """`survey_figures` of surveys already written (their survey.json), seconds unknown (0)."""
    surveys = [Survey.from_json((d / "survey.json").read_text(encoding="utf-8")) for d in output_dirs]
    return [survey_figures(survey, 0.0) for survey in surveys]


def cpu_model() -> str:
    """The CPU's model name from lscpu (figures on these machines depend on it)."""
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor()
    return next((line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith("Model name")), "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", nargs="+", default=list(TOPICS))
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--sections", type=int, default=4)
    parser.add_argument("--mode", default="auto", choices=["auto", "grounded", "abstractive"])
    parser.add_argument("--model", default="embedded")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "cpmsurvey_bench_e2e",
        help="library and runs; kept between runs so the corpus is ingested and embedded once",
    )
    parser.add_argument("--save", type=Path, default=None, help="copy each survey.md here")
    parser.add_argument(
        "--score", type=Path, nargs="+", default=None, help="only score these run output folders (survey.json)"
    )
    args = parser.parse_args()
    if args.score:
        scored = {"bench": "survey_e2e", "scored": [str(d) for d in args.score], "surveys": stored_figures(args.score)}
        print(json.dumps(scored))
        return

    settings = Settings(
        data_dir=args.data_dir,
        corpus=str(args.corpus),
        llm={"model": args.model, "backend": "local"},
        generate={"sections": args.sections, "seed": 0},
        writer={"mode": args.mode},
    )
    started = time.perf_counter()
    library = open_library(settings)
    library.ingest_jsonl(args.corpus)
    library.update_index()
    setup_s = time.perf_counter() - started
    started = time.perf_counter()
    llm = build_llm(settings)
    load_s = time.perf_counter() - started

    surveys = []
    for topic in args.topics:
        print(f"[{time.strftime('%H:%M:%S')}] {topic}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        with SurveyWorkflow(settings, llm, library) as flow:
            outcome = flow.start(topic)
        seconds = time.perf_counter() - started
        survey = Survey.from_json((outcome.output_dir / "survey.json").read_text(encoding="utf-8"))
        surveys.append(survey_figures(survey, seconds))
        print(json.dumps(surveys[-1]), file=sys.stderr, flush=True)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            name = "".join(c if c.isalnum() else "_" for c in topic)[:60]
            (args.save / f"{name}.md").write_text((outcome.output_dir / "survey.md").read_text(encoding="utf-8"))
    library.close()
    result = {
        "bench": "survey_e2e",
        "model": llm.name,
        "surveys": surveys,
        "setup_s": round(setup_s, 1),
        "model_load_s": round(load_s, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": len(os.sched_getaffinity(0)),
        "cpu": cpu_model(),
        "machine": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
