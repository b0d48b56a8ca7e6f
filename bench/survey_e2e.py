"""One survey end to end with the embedded default model on the 5,000-paper sample, on CPU.

    .venv/bin/python bench/survey_e2e.py [--sections 4] [--words 250] [--save bench/samples]

Prints progress to stderr and one JSON object on its last stdout line: total_s (the survey,
from planning to the written files; the one-off ingest and embedding of the corpus is
setup_s), per_stage_s (plan, retrieve, write, check, assemble: summed node seconds),
sections, words, citations, unique_papers_cited, citations_resolved_share (citations that
resolve to a paper given to that section's writer; must be 1.0), tokens_generated, the
load average and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.settings import Settings  # noqa: E402
from app.workflow import SurveyWorkflow  # noqa: E402
from app.workflow.llm_factory import build_llm  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "arxiv" / "arxiv_cs_CL_LG_AI_sample5k.jsonl.gz"
TOPIC = "reinforcement learning for large language model reasoning"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topic", default=TOPIC)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--sections", type=int, default=4)
    parser.add_argument("--words", type=int, default=250)
    parser.add_argument("--papers-per-section", type=int, default=8)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--batch-sections", action="store_true", help="write all sections in one batch")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "cpmsurvey_bench_e2e",
        help="library and runs; kept between runs so the corpus is ingested and embedded once",
    )
    parser.add_argument("--save", type=Path, default=None, help="copy survey.md and survey.json here")
    args = parser.parse_args()

    data_dir = args.data_dir
    settings = Settings(
        data_dir=data_dir,
        corpus=str(args.corpus),
        llm={"model": args.model, "backend": "local"},
        generate={
            "sections": args.sections,
            "words_per_section": args.words,
            "papers_per_section": args.papers_per_section,
            "temperature": 0.7,
            "seed": 0,
            "batch_sections": args.batch_sections,
        },
    )
    from app.workflow.library import open_library

    started = time.perf_counter()
    library = open_library(settings)
    library.ingest_jsonl(args.corpus)
    library.update_index()
    setup_s = time.perf_counter() - started
    started = time.perf_counter()
    llm = build_llm(settings)
    load_s = time.perf_counter() - started

    def progress(event) -> None:
        if event.kind in ("node_finished", "warning", "run_started"):
            print(
                f"[{time.strftime('%H:%M:%S')}] {event.kind} {event.node or ''} {event.section or ''} "
                f"{event.message[:120]} {event.data.get('seconds', '')}",
                file=sys.stderr,
                flush=True,
            )

    started = time.perf_counter()
    with SurveyWorkflow(settings, llm, library, on_event=progress) as flow:
        outcome = flow.start(args.topic)
    total_s = time.perf_counter() - started
    survey = outcome.survey
    citations = survey.citations
    resolved = sum(1 for section in survey.sections for cited in section.citations if cited in section.papers)
    stages = survey.metadata["timings_s"]
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for name in ("survey.md", "survey.json"):
            shutil.copyfile(outcome.output_dir / name, args.save / name)
    result = {
        "bench": "survey_e2e",
        "topic": args.topic,
        "model": llm.name,
        "total_s": round(total_s, 1),
        "per_stage_s": {
            stage: round(stages.get(stage, 0.0), 1) for stage in ("plan", "retrieve", "write", "check", "assemble")
        },
        "setup_s": round(setup_s, 1),
        "model_load_s": round(load_s, 1),
        "sections": len(survey.sections),
        "words": survey.word_count(),
        "citations": len(citations),
        "unique_papers_cited": len(set(citations)),
        "citations_resolved_share": round(resolved / len(citations), 4) if citations else None,
        "citations_removed": sum(len(section.removed_citations) for section in survey.sections),
        "tokens_generated": survey.metadata["tokens"].get("completion_tokens", 0),
        "batch_sections": args.batch_sections,
        "outline_source": survey.metadata["outline_source"],
        "warnings": len(survey.metadata["warnings"]),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": len(os.sched_getaffinity(0)),
        "machine": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
