"""The corpus schema at ingest: wrong field types rejected or coerced by the stated rules,
counted per reason, good lines kept; BOM, empty files, directories and bytes that are not
UTF-8; and the parsers fuzzed with hypothesis (a record is a Paper or a RecordRejected,
never a traceback)."""

from __future__ import annotations

import gzip
import json
import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retriever import corpus_schema as schema
from retriever.corpus_schema import RecordRejected, split_author_list, validate_record
from retriever.errors import IngestError
from retriever.ingest import ingest_lines, parse_corpus_record, parse_oai_record
from retriever.store import PaperStore
from retriever.types import Paper


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line if line.endswith("\n") else line + "\n" for line in lines), encoding="utf-8")
    return path


def _record(**fields) -> str:
    base = {"id": "2503.11851", "title": "A paper", "abstract": "Text.", "authors": ["A. B"], "date": "2025-03-14"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def test_a_numeric_id_is_rejected_and_the_rest_of_its_batch_is_kept(tmp_path, sample_lines):
    lines = [*sample_lines[:10], _record(id=12345), _record(id=2503.1185), *sample_lines[10:20]]
    store = PaperStore(tmp_path / "papers.sqlite")
    report = ingest_lines(store, _write(tmp_path / "c.jsonl", lines))
    assert report.added == 20 and store.count() == 20
    assert report.reasons == {schema.ID_NUMBER: 2}
    assert [n for n, _ in report.malformed_lines] == [11, 12]
    assert ingest_lines(store, tmp_path / "c.jsonl").skipped_complete  # a re-run does not crash either


def test_author_and_category_strings_are_split_by_the_stated_rules(tmp_path):
    lines = [
        _record(id="2501.00001", authors="Adel Ammar and Anis Koubaa", categories="cs.AI"),
        _record(id="2501.00002", authors="A. Smith, B. Jones and C. Doe", categories="cs.CL cs.LG,stat.ML"),
    ]
    store = PaperStore(tmp_path / "papers.sqlite")
    report = ingest_lines(store, _write(tmp_path / "c.jsonl", lines))
    first, second = store.get(["2501.00001", "2501.00002"])
    assert first.authors == ("Adel Ammar", "Anis Koubaa") and first.categories == ("cs.AI",)
    assert second.authors == ("A. Smith", "B. Jones", "C. Doe")
    assert second.categories == ("cs.CL", "cs.LG", "stat.ML")
    assert report.coerced == {schema.AUTHORS_SPLIT: 2, schema.CATEGORIES_SPLIT: 2}
    assert report.malformed == 0


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": None}, schema.NO_ID),
        ({"id": ...}, schema.NO_ID),
        ({"id": ["2503.11851"]}, schema.ID_NOT_TEXT),
        ({"id": True}, schema.ID_NOT_TEXT),
        ({"id": "hello"}, schema.ID_NOT_ARXIV),
        ({"title": None}, schema.NO_TITLE),
        ({"title": "   "}, schema.NO_TITLE),
        ({"title": 42}, schema.TITLE_NOT_TEXT),
        ({"abstract": {"text": "x"}}, schema.ABSTRACT_NOT_TEXT),
        ({"authors": [1, None, {"x": 1}]}, schema.AUTHORS_NOT_NAMES),
        ({"authors": {"name": "A"}}, schema.AUTHORS_NOT_NAMES),
        ({"categories": [1]}, schema.CATEGORIES_NOT_NAMES),
        ({"date": 20250314}, schema.DATE_NUMBER),
        ({"date": 2025}, schema.DATE_NUMBER),
        ({"date": "2025-13-45"}, schema.DATE_NOT_DATE),
        ({"date": ["2025-03-14"]}, schema.DATE_NOT_DATE),
    ],
)
def test_wrong_types_are_rejected_with_their_reason(fields, reason):
    with pytest.raises(RecordRejected) as caught:
        validate_record(json.loads(_record(**fields)))
    assert caught.value.reason == reason


def test_accepted_forms_match_paper_to_dict():
    paper = validate_record(
        {"arxiv_id": "https://arxiv.org/abs/2503.11851v2", "title": " A\n paper ", "published": "2025-03-14T10:00:00"}
    )
    assert paper == Paper("2503.11851", "A paper", "", (), (), date(2025, 3, 14))
    assert Paper.from_dict(paper.to_dict()) == paper
    assert validate_record({"id": "2503.11851", "title": "t", "date": None, "published": "2025-01-02"}).published


def test_the_report_names_the_reasons_first_in_plain_words(tmp_path):
    lines = [_record(id=1), _record(id=2, title="x"), _record(id=None), _record(id="2501.00003", authors="A and B")]
    report = ingest_lines(PaperStore(tmp_path / "p.sqlite"), _write(tmp_path / "c.jsonl", lines))
    first, second, third, last = report.summary().splitlines()
    assert first.endswith(f"skipped 2 lines: {schema.ID_NUMBER}")
    assert second.endswith(f"skipped 1 line: {schema.NO_ID}")
    assert third.endswith(f"kept 1 record with {schema.AUTHORS_SPLIT}")
    assert "1 added" in last and "3 malformed" in last


def test_bad_authors_never_reach_the_store(tmp_path):
    """They used to be stored and crash the BibTeX export at assembly, on every resume."""
    store = PaperStore(tmp_path / "p.sqlite")
    ingest_lines(store, _write(tmp_path / "c.jsonl", [_record(authors=[1, None, {"x": 1}])]))
    assert store.count() == 0


def test_a_utf8_bom_does_not_spoil_the_first_paper(tmp_path, sample_lines):
    for name, opener in (("bom.jsonl", open), ("bom.jsonl.gz", gzip.open)):
        path = tmp_path / name
        with opener(path, "wb") as handle:
            handle.write(("\ufeff" + "".join(sample_lines[:3])).encode("utf-8"))
        store = PaperStore(tmp_path / f"{name}.sqlite")
        report = ingest_lines(store, path)
        assert report.added == 3 and report.malformed == 0


def test_an_empty_corpus_is_an_error_and_records_nothing(tmp_path, sample_lines):
    store = PaperStore(tmp_path / "p.sqlite")
    for content in ("", "\n\n  \n"):
        path = tmp_path / "empty.jsonl"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(IngestError, match="is empty"):
            ingest_lines(store, path)
    with gzip.open(tmp_path / "empty.jsonl.gz", "wb"):
        pass
    with pytest.raises(IngestError, match="is empty"):
        ingest_lines(store, tmp_path / "empty.jsonl.gz")
    path.write_text("".join(sample_lines[:2]), encoding="utf-8")  # filled in afterwards: read afresh
    assert ingest_lines(store, path).added == 2


def test_a_directory_is_reported_as_a_directory(tmp_path):
    with pytest.raises(IngestError, match="is a directory"):
        ingest_lines(PaperStore(tmp_path / "p.sqlite"), tmp_path)


def test_a_line_that_is_not_utf8_is_skipped_alone(tmp_path, sample_lines):
    path = tmp_path / "c.jsonl"
    latin1 = b'{"id": "2501.00001", "title": "caf\xe9"}\n'
    path.write_bytes(sample_lines[0].encode() + latin1 + sample_lines[1].encode())
    report = ingest_lines(PaperStore(tmp_path / "p.sqlite"), path)
    assert report.added == 2 and report.reasons == {schema.NOT_UTF8: 1}


def test_split_author_list_keeps_names_whole():
    assert split_author_list("Ann Anderson and Bo Band,  Cy Sand") == ("Ann Anderson", "Bo Band", "Cy Sand")
    assert split_author_list(" , and ") == ()


def test_oai_records_pass_through_the_same_schema():
    record = {
        "id": "0704.0001",
        "title": "Calculation of\n  prompt diphoton",
        "authors": "C. Bal\\'azs, E. L. Berger and P. M. Nadolsky",
        "categories": "hep-ph",
        "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
    }
    paper = parse_oai_record(record)
    assert paper.title == "Calculation of prompt diphoton" and paper.published == date(2007, 4, 2)
    assert len(paper.authors) == 3 and paper.categories == ("hep-ph",)
    with pytest.raises(RecordRejected) as caught:
        parse_oai_record({**record, "id": 704.0001})
    assert caught.value.reason == schema.ID_NUMBER
    with pytest.raises(RecordRejected):
        parse_oai_record({**record, "versions": [{"created": 5}], "authors": ["x", 1], "authors_parsed": 3})


# --- fuzzing --------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_field_names = st.sampled_from(
    [
        "id",
        "arxiv_id",
        "title",
        "abstract",
        "authors",
        "authors_parsed",
        "categories",
        "date",
        "published",
        "versions",
        "update_date",
    ]
)
_plausible_values = st.one_of(
    _json_values,
    st.sampled_from(["2503.11851", "cs/0112017", "2503.11851v3", "2025-03-14", "cs.CL cs.AI", "A and B, C"]),
    st.lists(st.lists(st.text(max_size=6), max_size=3), max_size=3),
    st.just([{"created": "Mon, 2 Apr 2007 19:18:42 GMT"}]),
)
_records = st.dictionaries(_field_names, _plausible_values, max_size=8) | _json_values


@settings(max_examples=400, deadline=None)
@given(_records)
def test_fuzzed_records_give_a_paper_or_a_reason(record):
    for parse in (parse_corpus_record, parse_oai_record):
        coerced: list[str] = []
        try:
            paper = parse(record, coerced)
        except RecordRejected as rejected:
            assert rejected.reason
        else:
            assert isinstance(paper, Paper) and paper.title.strip()
            assert all(isinstance(name, str) for name in (*paper.authors, *paper.categories))


_lines = st.one_of(
    _records.map(json.dumps),
    st.binary(max_size=60),
    st.text(max_size=60).map(str.encode),
    st.sampled_from([b"[" * 5000, b'{"id": "2503.11851", "title": "ok"}', b"\xef\xbb\xbf{}", b"\r", b"null"]),
).map(lambda line: line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_lines, min_size=1, max_size=12), st.booleans())
def test_fuzzed_files_ingest_without_a_traceback(lines, oai):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.jsonl"
        path.write_bytes(b"\n".join(lines))
        store = PaperStore(Path(folder) / "p.sqlite")
        try:
            report = ingest_lines(store, path, kind="oai" if oai else "jsonl", batch_lines=3)
        except IngestError as error:
            assert "is empty" in str(error)
        else:
            assert report.added + report.unchanged + report.updated + report.malformed <= report.lines_read
            assert store.count() == report.added
        finally:
            store.close()
