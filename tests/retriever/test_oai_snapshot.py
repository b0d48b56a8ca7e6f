"""Streaming the arXiv OAI metadata snapshot format with category and date filters."""

from __future__ import annotations

import gzip
import json
from datetime import date, datetime
from email.utils import format_datetime

from retriever.ingest import SnapshotFilter, ingest_lines, parse_oai_record
from retriever.store import PaperStore


def to_oai(record: dict, extra_category: str | None = None) -> dict:
    """A real paper written the way the OAI snapshot writes it."""
    created = datetime.fromisoformat(record["date"] + "T10:00:00+00:00")
    categories = list(record["categories"]) + ([extra_category] if extra_category else [])
    return {
        "id": record["id"],
        "submitter": record["authors"][0] if record["authors"] else None,
        "authors": ", ".join(record["authors"]),
        "title": record["title"],
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "categories": " ".join(categories),
        "license": None,
        "abstract": "  " + record["abstract"] + "\n",
        "versions": [{"version": "v1", "created": format_datetime(created)}, {"version": "v2", "created": "x"}],
        "update_date": "2026-08-01",
        "authors_parsed": [[*reversed(name.rsplit(" ", 1)), ""] for name in record["authors"]],
    }


def test_oai_record_is_parsed_like_our_corpus(sample_records):
    record = sample_records[0]
    paper = parse_oai_record(to_oai(record))
    assert paper.arxiv_id == record["id"]
    assert paper.published == date.fromisoformat(record["date"])
    assert paper.categories == tuple(record["categories"])
    assert paper.authors == tuple(record["authors"])
    assert paper.abstract == " ".join(record["abstract"].split())


def test_snapshot_streams_with_filters_and_reports_bad_lines(tmp_path, sample_records):
    path = tmp_path / "arxiv-metadata-oai-snapshot.json.gz"
    lines = [json.dumps(to_oai(r)) for r in sample_records[::2][:400]]
    lines.insert(100, '{"id": "2504.00001", "categories": "cs.CV", "title": ')  # line 101: truncated
    lines.insert(
        200,
        json.dumps(
            {
                "id": "2504.00002",
                "title": "Statistics paper",
                "categories": "cs.CV stat.ML",
                "versions": [{"created": "not a date"}],
            }
        ),
    )  # line 201
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")

    store = PaperStore(tmp_path / "papers.sqlite")
    keep = SnapshotFilter(categories=("cs.CV",), date_from=date(2025, 6, 1), date_to=date(2025, 12, 31))
    report = ingest_lines(store, path, kind="oai", snapshot_filter=keep, batch_lines=64)
    expected = {
        r["id"]
        for r in sample_records[::2][:400]
        if "cs.CV" in r["categories"] and "2025-06-01" <= r["date"] <= "2025-12-31"
    }
    assert expected, "the slice holds cs.CV papers of that period"
    assert report.added == len(expected) and store.count() == len(expected)
    assert [n for n, _ in report.malformed_lines] == [101, 201]
    assert report.filtered_out == 400 - len(expected)

    # an archive name keeps all its categories; another filter is another ingest of the same file
    report = ingest_lines(store, path, kind="oai", snapshot_filter=SnapshotFilter(categories=("cs",)))
    assert store.count() == 400 and report.unchanged == len(expected)


def test_authors_parsed_names_are_kept_whole(sample_records):
    # arXiv's own split of real names (arxiv-base arxiv/authors): the last word and particles
    # before it as `last`, a space after each dot of the given names, affiliations after.
    record = to_oai(sample_records[0]) | {
        "authors_parsed": [
            ["Xinmiao", "Yu", ""],  # typed "Yu Xinmiao": arXiv's `last` is the given name
            ["De Grazia", "Laura", ""],
            ["King", "Martin Luther", "Jr.", "MIT"],
            ["Yuan", "C. -P.", ""],
            ["Qwen Team", "", ""],
        ]
    }
    paper = parse_oai_record(record)
    assert paper.authors == ("Yu Xinmiao", "Laura De Grazia", "Martin Luther King Jr.", "C.-P. Yuan", "Qwen Team")
    assert paper.cite_key.startswith(f"yu{paper.published.year}")
