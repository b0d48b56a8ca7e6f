"""Batch mode: one survey per topic of a file, one output folder per topic, a summary table.

A batch keeps a manifest (``batch.json``) in its output folder with each topic's run id and
status, written atomically on every change. Running the same file into the same folder
again skips finished topics, resumes interrupted runs by their id and starts the rest.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.settings import GenerateSettings, Settings
from app.workflow import (
    EventSink,
    RunNotFoundError,
    SurveyWorkflow,
    close_checkpointer,
    is_finished,
    is_user_error,
    limited,
    llm_concurrency,
    new_run,
    open_checkpointer,
    write_atomically,
)
from engine.types import LLM
from retriever.types import Retriever
from writer.survey import Survey

log = logging.getLogger(__name__)

MANIFEST = "batch.json"
# a topic or an error is shown at most this long in summaries (the full text is in summary.json)
SHOWN_CHARS = 80
# Per-topic JSONL keys and the GenerateSettings field each sets.
TOPIC_OPTIONS = {
    "sections": "sections",
    "words": "words_per_section",
    "words_per_section": "words_per_section",
    "papers_per_section": "papers_per_section",
    "candidates": "candidates",
    "queries": "queries",
    "check_support": "check_support",
    "temperature": "temperature",
    "seed": "seed",
    "date_from": "date_from",
    "date_to": "date_to",
    "categories": "categories",
}


class BatchFileError(ValueError):
    """The topics file cannot be read; the message names the file and line."""


@dataclass
class BatchItem:
    """One topic of a batch with its own generate options (GenerateSettings fields)."""

    index: int
    topic: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Identity in the manifest: position and topic (an edited file does not mix them up)."""
        return f"{self.index:03d}:{self.topic}"

    @property
    def folder_name(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.topic.lower()).strip("-")[:50].strip("-") or "topic"
        return f"{self.index + 1:03d}-{slug}"


@dataclass
class BatchResult:
    """How one topic ended."""

    index: int
    topic: str
    status: str  # "finished", "skipped" (finished earlier), "failed"
    run_id: str | None = None
    output_dir: str | None = None
    sections: int = 0
    words: int = 0
    citations: int = 0
    seconds: float = 0.0
    error: str | None = None


def read_batch_file(path: Path) -> list[BatchItem]:
    """Topics from a text file (one a line; blank lines and # comments skipped) or a JSONL
    file (``{"topic": ..., "sections": 6, "words": 300, ...}`` per line)."""
    try:
        lines = path.read_bytes().decode("utf-8-sig").splitlines()
    except OSError as error:
        raise BatchFileError(f"cannot read the topics file {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise BatchFileError(f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson") or any(line.lstrip().startswith("{") for line in lines[:5])
    items: list[BatchItem] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not jsonl:
            items.append(BatchItem(len(items), " ".join(text.split())))
            continue
        try:
            record = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:
            why = error.msg if isinstance(error, json.JSONDecodeError) else "nested too deeply"
            raise BatchFileError(f"{path}:{number}: not valid JSON ({why})") from None
        if not isinstance(record, dict) or not isinstance(record.get("topic"), str) or not record["topic"].strip():
            raise BatchFileError(f'{path}:{number}: expected an object with a "topic", e.g. {{"topic": "..."}}')
        unknown = set(record) - set(TOPIC_OPTIONS) - {"topic"}
        if unknown:
            raise BatchFileError(
                f"{path}:{number}: unknown option(s) {sorted(unknown)}; allowed: topic, {', '.join(TOPIC_OPTIONS)}"
            )
        options = {TOPIC_OPTIONS[key]: value for key, value in record.items() if key != "topic"}
        items.append(BatchItem(len(items), " ".join(record["topic"].split()), options))
    if not items:
        raise BatchFileError(f"{path} holds no topics (one a line, or JSONL objects with a 'topic')")
    return _without_repeats(items, path)


def _without_repeats(items: list[BatchItem], path: Path) -> list[BatchItem]:
    """The items with each topic (case and spacing aside) and options once; a repeat is
    warned about and dropped, so it is neither written twice nor mixed up in the manifest."""
    kept: list[BatchItem] = []
    seen: dict[str, int] = {}
    for item in items:
        identity = json.dumps([item.topic.casefold(), item.options], sort_keys=True, default=str)
        if identity in seen:
            log.warning(
                "%s: topic %d repeats topic %d (%s); it runs once", path, item.index + 1, seen[identity] + 1,
                shorten(item.topic),
            )  # fmt: skip
            continue
        seen[identity] = item.index
        kept.append(BatchItem(len(kept), item.topic, item.options))
    return kept


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """`text` cut to `limit` characters with an ellipsis, for tables and messages."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def settings_for_item(settings: Settings, item: BatchItem, where: str) -> Settings:
    """The batch settings with the item's options applied and validated; no outline review."""
    merged = {**settings.generate.model_dump(), **item.options, "review_outline": False}
    try:
        generate = GenerateSettings.model_validate(merged)
    except ValidationError as error:
        first = error.errors()[0]
        raise BatchFileError(
            f"{where}, topic {item.topic!r}: option {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None
    return settings.model_copy(update={"generate": generate})


class BatchManifest:
    """The batch's record of run ids and statuses, saved atomically after every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.entries: dict[str, dict[str, Any]] = {}
        if path.is_file():
            try:
                self.entries = json.loads(path.read_text(encoding="utf-8"))["items"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise BatchFileError(f"{path} is damaged; move it away to start this batch afresh") from None

    def get(self, key: str) -> dict[str, Any]:
        with self._lock:
            return dict(self.entries.get(key, {}))

    def update(self, key: str, **values: Any) -> None:
        with self._lock:
            self.entries[key] = {**self.entries.get(key, {}), **values}
            write_atomically(self.path, json.dumps({"items": self.entries}, indent=2, ensure_ascii=False))


def run_batch(
    settings: Settings,
    items: list[BatchItem],
    output_root: Path,
    llm: LLM,
    retriever: Retriever,
    on_event: EventSink | None = None,
    grammar_for: Any = "auto",
    source: str = "batch",
) -> list[BatchResult]:
    """Write a survey per item into `output_root`/<NNN-topic>/, several at once against a
    server backend (one at a time on the local engine). Topics that fail are reported in
    their result and do not stop the others. Writes summary.json and summary.md."""
    for item in items:
        settings_for_item(settings, item, source)  # refuse a bad option before any work
    output_root.mkdir(parents=True, exist_ok=True)
    manifest = BatchManifest(output_root / MANIFEST)
    checkpointer = open_checkpointer(settings.runs_db_path)
    shared_llm = limited(llm, settings)

    def run_one(item: BatchItem) -> BatchResult:
        folder = output_root / item.folder_name
        entry = manifest.get(item.key)
        if entry.get("status") == "finished" and is_finished(folder):
            return _result_from_folder(item, folder, "skipped", entry.get("run_id"))
        item_settings = settings_for_item(settings, item, source)
        workflow = SurveyWorkflow(
            item_settings, shared_llm, retriever, on_event=on_event, grammar_for=grammar_for, checkpointer=checkpointer
        )
        run_id = entry.get("run_id")
        try:
            if run_id:
                try:
                    outcome = workflow.resume(run_id)
                except RunNotFoundError:
                    run_id = None
            if not run_id:
                run = new_run(item.topic)
                run_id = run.run_id
                manifest.update(item.key, run_id=run_id, status="running", folder=str(folder))
                outcome = workflow.start(run, output_dir=folder)
        except Exception as error:
            if not is_user_error(error):
                raise
            manifest.update(item.key, status="failed", error=str(error))
            return BatchResult(item.index, item.topic, "failed", run_id, str(folder), error=str(error))
        manifest.update(item.key, status="finished", error=None)
        return _result_from_folder(item, folder, "finished", run_id, outcome.seconds)

    workers = llm_concurrency(settings)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch") as pool:
            results = list(pool.map(run_one, items))
    finally:
        close_checkpointer(checkpointer)
    write_summary(output_root, results)
    return results


def _result_from_folder(
    item: BatchItem, folder: Path, status: str, run_id: str | None, seconds: float = 0.0
) -> BatchResult:
    survey = Survey.from_json((folder / "survey.json").read_text(encoding="utf-8"))
    return BatchResult(
        index=item.index,
        topic=item.topic,
        status=status,
        run_id=run_id,
        output_dir=str(folder),
        sections=len(survey.sections),
        words=survey.word_count(),
        citations=len(survey.citations),
        seconds=round(seconds, 1),
    )


def write_summary(output_root: Path, results: list[BatchResult]) -> None:
    """summary.json and a Markdown table, side by side with the topic folders."""
    write_atomically(output_root / "summary.json", json.dumps([asdict(r) for r in results], indent=2))
    rows = [
        "| # | topic | status | sections | words | citations | seconds | folder |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        folder = Path(r.output_dir).name if r.output_dir else ""
        status = r.status if not r.error else f"failed: {shorten(r.error)}"
        cells = [r.index + 1, shorten(r.topic), status, r.sections, r.words, r.citations, r.seconds, folder]
        rows.append("| " + " | ".join(" ".join(str(cell).replace("|", "\\|").split()) for cell in cells) + " |")
    write_atomically(output_root / "summary.md", "\n".join(rows) + "\n")
