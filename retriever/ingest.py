"""Ingestion into the paper store: JSONL(.gz) corpora in our schema and the arXiv OAI
metadata snapshot, streamed line by line.

Each batch of lines is written in one transaction together with the number of lines done,
so an interrupted ingest leaves whole batches and resumes after the last one. Every record
passes the one schema of retriever.corpus_schema (the OAI snapshot's records are mapped onto
it first): a record that breaks a rule is counted under its reason and reported by line
number; it never reaches the store, and the good lines around it are kept.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

from retriever.corpus_schema import NOT_JSON, NOT_OBJECT, NOT_UTF8, RecordRejected, validate_record
from retriever.errors import IngestError
from retriever.store import PaperStore
from retriever.types import Paper, SearchFilters

log = logging.getLogger(__name__)

BATCH_LINES = 2000
MAX_REPORTED_LINES = 50
UTF8_BOM = "\ufeff"
_DOT_HYPHEN = re.compile(r"\.\s+-")


@dataclass
class IngestReport:
    """What an ingest did. `malformed_lines` holds the first line numbers (1-based) with reasons;
    `reasons` counts every rejected line by its reason, `coerced` every value changed by a
    stated rule of the schema (the record was kept)."""

    source: str
    lines_read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    filtered_out: int = 0
    malformed: int = 0
    malformed_lines: list[tuple[int, str]] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    coerced: Counter[str] = field(default_factory=Counter)
    resumed_from_line: int = 0
    skipped_complete: bool = False

    def note_malformed(self, line_number: int, reason: str, detail: str = "") -> None:
        """Count one bad line under `reason`; keep its number and detail among the first few."""
        self.malformed += 1
        self.reasons[reason] += 1
        if len(self.malformed_lines) < MAX_REPORTED_LINES:
            self.malformed_lines.append((line_number, f"{reason} ({detail})" if detail else reason))

    def summary(self) -> str:
        """For a person: first one line per reason a line was skipped or a value changed (most
        frequent first), then the counts."""
        if self.skipped_complete:
            return f"{self.source}: already ingested and unchanged; nothing to do"
        plural = {1: ""}
        lines = [f"{self.source}: skipped {n} line{plural.get(n, 's')}: {why}" for why, n in self.reasons.most_common()]
        lines += [
            f"{self.source}: kept {n} record{plural.get(n, 's')} with {why}" for why, n in self.coerced.most_common()
        ]
        text = (
            f"{self.source}: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.filtered_out} filtered out, {self.malformed} malformed"
        )
        if self.resumed_from_line:
            text += f" (resumed after line {self.resumed_from_line})"
        if self.malformed_lines:
            shown = ", ".join(str(n) for n, _ in self.malformed_lines[:10])
            text += f"; malformed lines: {shown}" + (" ..." if self.malformed > 10 else "")
        return "\n".join([*lines, text])


@dataclass(frozen=True, slots=True)
class SnapshotFilter:
    """Which papers of the OAI snapshot to keep.

    A category is an exact arXiv category (`cs.CL`) or an archive (`cs`, meaning `cs.*`):
    the rule of every filter (retriever.types.SearchFilters, which decides here too).
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
        return SearchFilters(self.date_from, self.date_to, self.categories).accepts(paper)


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def parse_corpus_record(record: Any, coerced: list[str] | None = None) -> Paper:
    """A record of our JSONL schema (retriever.corpus_schema); RecordRejected names the fault."""
    return validate_record(record, coerced)


def _oai_published(record: dict) -> Any:
    """The first version's date as "YYYY-MM-DD", else `update_date`; an unreadable value is
    passed on as it is, for the schema to reject with its reason."""
    versions = record.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict) and versions[0].get("created"):
        created = versions[0]["created"]
        if not isinstance(created, str):
            return created
        try:
            return parsedate_to_datetime(created).date().isoformat()
        except (TypeError, ValueError, IndexError):
            return created
    return record.get("update_date")


def _oai_authors(record: dict) -> Any:
    """Names from `authors_parsed` ([last, first, suffix, affiliations...] lists), written as
    their authors typed them ("Laura De Grazia", "C.-P. Yuan"); else the `authors` text as it is
    (the schema splits it).

    The name is kept whole rather than split at arXiv's `last`: arXiv derives that part from
    the same text by its own rule (the last word and any particle before it), which reads "Yu
    Xinmiao" as family name "Xinmiao" and "Abdullah Al Mamun" as "Mamun", where
    retriever.names reads "Yu" and "Al Mamun" and agrees with arXiv on particles ("De Grazia")
    and suffixes ("King Jr.")."""
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed and all(
        isinstance(parts, list) and all(isinstance(x, str) for x in parts) for parts in parsed
    ):
        names = [_typed_name(*[*parts, "", "", ""][:3]) for parts in parsed]
        return [n for n in names if n]
    return record.get("authors")


def _typed_name(last: str, first: str, suffix: str) -> str:
    """One `authors_parsed` entry as one name; arXiv sets a space after every dot of the given
    names, which this takes back before a hyphen ("C. -P." -> "C.-P.")."""
    first = _DOT_HYPHEN.sub(".-", first)
    return " ".join(part for part in (first, last, suffix) if part).strip()


def parse_oai_record(record: Any, coerced: list[str] | None = None) -> Paper:
    """A record of the arXiv OAI metadata snapshot (Kaggle's arxiv-metadata-oai-snapshot.json),
    mapped onto our schema and validated by it."""
    if not isinstance(record, dict):
        raise RecordRejected(NOT_OBJECT)
    mapped = {
        "id": record.get("id"),
        "title": record.get("title"),
        "abstract": record.get("abstract"),
        "authors": _oai_authors(record),
        "categories": record.get("categories"),
        "date": _oai_published(record),
    }
    # the snapshot gives categories as one text by its own format: not a fix worth reporting
    return validate_record(mapped, None)


def _decoded_lines(handle: IO[bytes]) -> Iterator[tuple[int, str | None]]:
    """(line number, text or None where the bytes are not UTF-8); a BOM on line 1 is dropped."""
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None
            continue
        yield number, text.removeprefix(UTF8_BOM) if number == 1 else text


def _parsed_lines(
    handle: IO[bytes],
    start_line: int,
    parse: Callable[[Any, list[str]], Paper],
    line_filter: Callable[[str], bool],
) -> Iterator[tuple[int, Paper | None, RecordRejected | str | None, list[str]]]:
    """(line number, paper or None, why it was not taken or None, values the schema changed)
    for each line after `start_line`; why is "filtered" or the rejection."""
    for number, line in _decoded_lines(handle):
        if number <= start_line:
            continue
        if line is None:
            yield number, None, RecordRejected(NOT_UTF8), []
            continue
        if not line.strip():
            yield number, None, None, []
            continue
        if not line_filter(line):
            yield number, None, "filtered", []
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as error:
            yield number, None, RecordRejected(NOT_JSON, str(error)[:80]), []
            continue
        coerced: list[str] = []
        try:
            yield number, parse(record, coerced), None, coerced
        except RecordRejected as rejected:
            yield number, None, rejected, []


def check_corpus_path(path: Path) -> None:
    """IngestError unless `path` is a file one can read (saying what it is otherwise)."""
    if path.is_dir():
        raise IngestError(f"{path} is a directory; give a JSONL or JSONL.gz corpus file (one paper per line)")
    if not path.exists():
        raise IngestError(f"{path}: no such file; give a JSONL or JSONL.gz corpus")
    if not path.is_file():
        raise IngestError(f"{path} is not a regular file; give a JSONL or JSONL.gz corpus file")


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
    unchanged file with the same filters is skipped. A file without a single non-blank line
    is an IngestError (nothing is recorded, so the fixed file is read afresh). `on_batch`
    sees the report after each committed batch (for progress display).
    """
    path = Path(path)
    check_corpus_path(path)
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
    saw_a_record = progress.lines_done > 0

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
        with _open_binary(path) as handle:
            lines = _parsed_lines(handle, progress.lines_done, parse, keep.line_may_match)
            for number, paper, why, coerced in lines:
                report.lines_read += 1
                last_line = number
                saw_a_record = saw_a_record or paper is not None or why is not None
                if why == "filtered" or (paper is not None and not keep.accepts(paper)):
                    report.filtered_out += 1
                elif isinstance(why, RecordRejected):
                    report.note_malformed(number, why.reason, why.detail)
                elif paper is not None:
                    batch.append(paper)
                    report.coerced.update(coerced)
                if report.lines_read % batch_lines == 0:
                    flush(complete=False)
    except (OSError, EOFError) as error:
        # a truncated .gz or unreadable disk: what was committed stays, the next run resumes
        raise IngestError(f"{path}: reading stopped after line {last_line}: {error}; fix the file and re-run") from None
    if not saw_a_record:
        raise IngestError(f"{path} is empty (no line holds a record); give a JSONL corpus with one paper per line")
    flush(complete=True)
    for number, reason in report.malformed_lines:
        log.warning("%s line %d skipped: %s", path, number, reason)
    return report
