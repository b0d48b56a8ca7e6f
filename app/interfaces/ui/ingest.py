"""Adding papers to the library from the Library page: an arXiv query, an uploaded JSONL
file or an arXiv OAI snapshot on this machine, then embedding and indexing, as one
background job (key "ingest") that reports each step."""

from __future__ import annotations

import gzip
import io
import json
import re
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from app.interfaces.ui import MAX_UPLOAD_MB
from app.interfaces.ui.jobs import Job, JobRegistry
from app.interfaces.ui.runs import InputError
from app.settings import Settings
from app.workflow import open_library

INGEST_KEY = "ingest"
UPLOADS = "uploads"

Report = Callable[[str], None]


def upload_path(settings: Settings, file_name: str) -> Path:
    """Where an uploaded file is kept: under <data_dir>/uploads, with a name made of safe
    characters only (no folders, no dots at the start) and the upload time."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(file_name).name).lstrip("._") or "upload.jsonl"
    return settings.data_dir / UPLOADS / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}"


def check_jsonl(data: bytes, file_name: str) -> None:
    """Raise :class:`InputError` unless `data` (JSONL, or gzip of it) starts with a JSON
    object carrying an id and a title, as the corpus schema wants."""
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        raise InputError(f"{file_name} is larger than {MAX_UPLOAD_MB} MB; put it on this machine and ingest by path")
    text = data
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
                text = unpacked.read(1 << 20)
        except (OSError, EOFError) as error:
            raise InputError(f"{file_name} looks gzipped but cannot be unpacked ({error})") from None
    first = next((line for line in text.splitlines() if line.strip()), b"")
    try:
        record = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(
            f"{file_name} is not JSONL: its first line is not JSON. Upload one JSON object per line "
            '({"id": "2501.00001", "title": ..., "abstract": ...})'
        ) from None
    if not isinstance(record, dict) or not ("id" in record or "arxiv_id" in record) or "title" not in record:
        raise InputError(f"{file_name}: the first record has no id or no title; each line needs both")


def save_upload(settings: Settings, file_name: str, data: bytes) -> Path:
    """Check an uploaded corpus and write it under the data folder; returns its path."""
    check_jsonl(data, file_name)
    path = upload_path(settings, file_name + ("" if file_name.endswith((".jsonl", ".gz")) else ".jsonl"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def start_ingest(
    registry: JobRegistry,
    settings: Settings,
    *,
    arxiv_query: str | None = None,
    max_results: int = 200,
    jsonl: Path | None = None,
    oai_snapshot: Path | None = None,
    categories: Sequence[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
) -> Job:
    """Start one ingest (exactly one source) and the index update after it, in the background."""
    if oai_snapshot is not None and not Path(oai_snapshot).is_file():
        raise InputError(f"no file at {oai_snapshot}; give the path of the arXiv OAI metadata snapshot on this machine")
    if arxiv_query is not None and not arxiv_query.strip():
        raise InputError("the arXiv query is empty; e.g. 'cat:cs.CL AND abs:retrieval'")
    title = f"arXiv query {arxiv_query!r}" if arxiv_query else f"{Path(jsonl or oai_snapshot).name}"

    def work(report: Report) -> str:
        library = open_library(settings)
        try:
            if arxiv_query:
                report(f"fetching up to {max_results} papers from arXiv (one request every 3 s) ...")
                summary = library.ingest_arxiv(query=arxiv_query, max_results=max_results).summary()
            elif jsonl is not None:
                report(f"ingesting {Path(jsonl).name} ...")
                summary = library.ingest_jsonl(
                    jsonl, on_batch=lambda r: report(f"{r.lines_read:,} lines read")
                ).summary()
            else:
                report(f"streaming {oai_snapshot} ...")
                summary = library.ingest_oai_snapshot(
                    oai_snapshot,
                    categories,
                    date_from,
                    date_to,
                    on_batch=lambda r: report(f"{r.lines_read:,} lines read"),
                ).summary()
            report(summary)
            pending, embedded = library.stats()["unembedded"], [0]
            report(f"embedding {pending:,} new papers and updating the index ...")

            def on_chunk(papers: int, seconds: float) -> None:
                embedded[0] += papers
                report(f"embedded {embedded[0]:,} of {pending:,} papers")

            update = library.update_index(on_chunk=on_chunk)
            report(update.summary())
            return summary
        finally:
            library.close()

    return registry.start(INGEST_KEY, title, work)
