"""Ingestion into the paper store: JSONL(.gz) corpora in our schema and the arXiv OAI
metadata snapshot, streamed line by line.

Each batch of lines is written in one transaction together with the number of lines done,
so an interrupted ingest leaves whole batches and resumes after the last one. A malformed
line is counted and reported by its line number; it never reaches the store.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO

from retriever.errors import IngestError
from retriever.store import PaperStore
from retriever.types import Paper, normalize_arxiv_id

log = logging.getLogger(__name__)

BATCH_LINES = 2000
MAX_REPORTED_LINES = 50


@dataclass
class IngestReport:
    """What an ingest did. `malformed_lines` holds the first line numbers (1-based) with reasons."""

    source: str
    lines_read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    filtered_out: int = 0
    malformed: int = 0
    malformed_lines: list[tuple[int, str]] = field(default_factory=list)
    resumed_from_line: int = 0
    skipped_complete: bool = False

    def note_malformed(self, line_number: int, reason: str) -> None:
        """Count one bad line; keep its number and reason among the first few."""
        self.malformed += 1
        if len(self.malformed_lines) < MAX_REPORTED_LINES:
            self.malformed_lines.append((line_number, reason))

    def summary(self) -> str:
        """One line for a person."""
        if self.skipped_complete:
            return f"{self.source}: already ingested and unchanged; nothing to do"
        text = (
            f"{self.source}: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.filtered_out} filtered out, {self.malformed} malformed"
        )
        if self.resumed_from_line:
            text += f" (resumed after line {self.resumed_from_line})"
        if self.malformed_lines:
            shown = ", ".join(str(n) for n, _ in self.malformed_lines[:10])
            text += f"; malformed lines: {shown}" + (" ..." if self.malformed > 10 else "")
        return text


@dataclass(frozen=True, slots=True)
class SnapshotFilter:
    """Which papers of the OAI snapshot to keep.

    A category is an exact arXiv category (`cs.CL`) or an archive (`cs`, meaning `cs.*`).
    Dates are the first version's submission date.
    """

    categories: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

    def key(self) -> str:
        """A stable text for the progress record: other filters are another ingest."""
        return f"cat={','.join(sorted(self.categories))};from={self.date_from};to={self.date_to}"

    def line_may_match(self, line: str) -> bool:
        """Cheap pre-check on the raw line: a category must appear in it as text. Lines that
        fail it are not parsed (most of a 2.7M-line snapshot), so they count as filtered out
        even when malformed."""
        return not self.categories or any(c in line for c in self.categories)

    def accepts(self, paper: Paper) -> bool:
        """Whether the parsed paper passes."""
        if self.categories and not any(
            c == wanted or c.startswith(wanted + ".") for c in paper.categories for wanted in self.categories
        ):
            return False
        if self.date_from or self.date_to:
            if paper.published is None:
                return False
            if self.date_from and paper.published < self.date_from:
                return False
            if self.date_to and paper.published > self.date_to:
                return False
        return True


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def parse_corpus_record(record: dict) -> Paper:
    """A record of our JSONL schema (id, title, abstract, authors, categories, date)."""
    if not str(record.get("title") or "").strip():
        raise ValueError("no title")
    return Paper.from_dict(record)


def _oai_published(record: dict) -> date | None:
    versions = record.get("versions") or []
    if versions and isinstance(versions[0], dict) and versions[0].get("created"):
        return parsedate_to_datetime(versions[0]["created"]).date()
    update = record.get("update_date")
    return date.fromisoformat(update[:10]) if update else None


def _oai_authors(record: dict) -> tuple[str, ...]:
    parsed = record.get("authors_parsed")
    if parsed:
        names = []
        for parts in parsed:
            last, first, suffix = ([*parts, "", ""])[:3]
            names.append(" ".join(x for x in (first, last, suffix) if x).strip())
        return tuple(n for n in names if n)
    raw = record.get("authors") or ""
    return tuple(a.strip() for a in raw.replace(" and ", ", ").split(",") if a.strip())


def parse_oai_record(record: dict) -> Paper:
    """A record of the arXiv OAI metadata snapshot (Kaggle's arxiv-metadata-oai-snapshot.json)."""
    title = " ".join(str(record.get("title") or "").split())
    if not title:
        raise ValueError("no title")
    return Paper(
        arxiv_id=normalize_arxiv_id(str(record["id"])),
        title=title,
        abstract=" ".join(str(record.get("abstract") or "").split()),
        authors=_oai_authors(record),
        categories=tuple(str(record.get("categories") or "").split()),
        published=_oai_published(record),
    )


def _parsed_lines(
    handle: IO[str], start_line: int, parse: Callable[[dict], Paper], line_filter: Callable[[str], bool]
) -> Iterator[tuple[int, Paper | None, str | None]]:
    """(line number, paper or None, reason it was rejected or None) for each line after `start_line`."""
    for number, line in enumerate(handle, start=1):
        if number <= start_line:
            continue
        if not line.strip():
            yield number, None, None
            continue
        if not line_filter(line):
            yield number, None, "filtered"
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            yield number, parse(record), None
        except (ValueError, KeyError, TypeError) as error:
            reason = f"{type(error).__name__}: {error}"[:200]
            yield number, None, reason


def ingest_lines(
    store: PaperStore,
    path: Path | str,
    *,
    kind: str = "jsonl",
    snapshot_filter: SnapshotFilter | None = None,
    batch_lines: int = BATCH_LINES,
    on_batch: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """Stream a JSON-lines file (plain or .gz) into the store, resuming an interrupted run.

    `kind` is "jsonl" (our corpus schema) or "oai" (the arXiv OAI snapshot). A finished,
    unchanged file with the same filters is skipped. `on_batch` sees the report after each
    committed batch (for progress display).
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file; give a JSONL or JSONL.gz corpus")
    parse = {"jsonl": parse_corpus_record, "oai": parse_oai_record}[kind]
    keep = snapshot_filter or SnapshotFilter()
    source = f"{kind}:{path.resolve()}:{keep.key()}"
    fingerprint = _fingerprint(path)
    progress = store.progress(source, fingerprint)
    report = IngestReport(source=str(path), resumed_from_line=progress.lines_done if not progress.complete else 0)
    if progress.complete:
        report.skipped_complete = True
        return report

    batch: list[Paper] = []
    last_line = progress.lines_done

    def flush(complete: bool) -> None:
        with store.transaction():
            counts = store.upsert(batch)
            store.record_progress(source, fingerprint, last_line, complete=complete)
        report.added += counts.added
        report.updated += counts.updated
        report.unchanged += counts.unchanged
        batch.clear()
        if on_batch is not None:
            on_batch(report)

    try:
        with _open_text(path) as handle:
            for number, paper, reason in _parsed_lines(handle, progress.lines_done, parse, keep.line_may_match):
                report.lines_read += 1
                last_line = number
                if reason == "filtered" or (paper is not None and not keep.accepts(paper)):
                    report.filtered_out += 1
                elif reason is not None:
                    report.note_malformed(number, reason)
                elif paper is not None:
                    batch.append(paper)
                if report.lines_read % batch_lines == 0:
                    flush(complete=False)
    except (OSError, EOFError, UnicodeDecodeError) as error:
        # a truncated .gz or unreadable disk: what was committed stays, the next run resumes
        raise IngestError(f"{path}: reading stopped after line {last_line}: {error}; fix the file and re-run") from None
    flush(complete=True)
    for number, reason in report.malformed_lines:
        log.warning("%s line %d skipped: %s", path, number, reason)
    return report
