"""The Library end to end on real papers: ingest, embed, index, hybrid search, filters,
incremental updates, resumed embedding, model mismatch."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from retriever import library as library_module
from retriever.bm25 import BM25_FILE
from retriever.embeddings import DEFAULT_MODEL, embedding_key
from retriever.errors import IndexMismatchError, VectorIndexError
from retriever.index import META_FILE, VectorIndex
from retriever.library import Library
from retriever.store import PaperStore
from retriever.types import Retriever, SearchFilters

pytestmark = pytest.mark.slow

LIBRARY_PAPERS = 200


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _open(directory: Path, embedder, model_name: str | None = None, **options) -> Library:
    return Library(
        PaperStore(directory / "papers.sqlite"),
        directory / "index",
        lambda: embedder,
        model_name or embedder.name,
        **options,
    )


@pytest.fixture(scope="module")
def records(sample_records) -> list[dict]:
    """200 real papers spanning the sample's dates."""
    return sample_records[::5][:LIBRARY_PAPERS]


@pytest.fixture(scope="module")
def built(tmp_path_factory, records, onnx_embedder) -> Library:
    directory = tmp_path_factory.mktemp("library")
    library = _open(directory, onnx_embedder)
    library.ingest_jsonl(_write_jsonl(directory / "papers.jsonl", records))
    update = library.update_index()
    assert (update.embedded, update.total, update.index_type) == (LIBRARY_PAPERS, LIBRARY_PAPERS, "flat")
    assert update.bm25_papers == LIBRARY_PAPERS and (directory / "index" / BM25_FILE).exists()
    assert library.update_index().bm25_papers == 0
    return library


def test_library_is_a_retriever(built):
    assert isinstance(built, Retriever)


def test_titles_find_their_papers(built, records):
    for record in records[::20]:
        hits = built.search(record["title"], k=3)
        assert hits[0].paper.arxiv_id == record["id"]
        assert set(hits[0].ranks) == {"dense", "bm25"}
        assert hits[0].ranks["dense"] == 1
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_topical_query_returns_relevant_papers(built, records):
    """Relevance judged by the papers' own words: every top hit for a speech query is about speech."""
    about = re.compile(r"speech|audio|spoken|acoustic|voice|asr\b", re.IGNORECASE)
    relevant = {r["id"] for r in records if about.search(r["title"] + " " + r["abstract"])}
    assert len(relevant) >= 5, "the slice has speech papers"
    hits = built.search("automatic speech recognition of spoken audio", k=5)
    assert all(h.paper.arxiv_id in relevant for h in hits), [h.paper.title for h in hits]
    assert all(h.ranks.get("dense", 99) <= 20 for h in hits)


def test_filters_apply_to_both_retrievers(built):
    filters = SearchFilters(date_from=date(2025, 7, 1), categories=("cs.CL",))
    hits = built.search("large language models", k=30, filters=filters)
    assert len(hits) == 30
    assert all(filters.accepts(h.paper) for h in hits)
    assert any("dense" in h.ranks for h in hits) and any("bm25" in h.ranks for h in hits)
    nothing = SearchFilters(date_from=date(2030, 1, 1))
    assert built.search("large language models", k=5, filters=nothing) == []


def test_several_queries_are_fused(built, records, monkeypatch):
    # lists of 20 in a 200-paper library: with 100 (the default), every list would hold half
    # the library, and papers middling for both queries would outscore each query's best
    monkeypatch.setattr(built, "candidate_depth", 20)
    first, second = records[3]["title"], records[150]["title"]
    hits = built.search_many([first, second], k=10)
    ids = [h.paper.arxiv_id for h in hits]
    # each query's own best paper is near the top; papers both queries rank well may lead
    # (at 128 tokens two such papers do: ranks 5+3 and 11+5 across the two queries)
    assert records[3]["id"] in ids[:4] and records[150]["id"] in ids[:4]
    best = {h.paper.arxiv_id: h.ranks for h in hits}
    assert best[records[3]["id"]] == {"dense": 1, "bm25": 1}
    assert best[records[150]["id"]] == {"dense": 1, "bm25": 1}
    assert len(set(ids)) == len(ids)


def test_pseudo_relevance_feedback_equals_its_plain_reference(built, records, monkeypatch):
    """Feedback lists: each query vector plus the mean vector of the first fused papers,
    searched exactly; the reference recomputes them by brute force over the stored vectors."""
    from retriever.fusion import reciprocal_rank_fusion

    monkeypatch.setattr(built, "candidate_depth", 30)
    queries = ["speech recognition", records[40]["title"]]
    plain = built.search_many(queries, k=30)
    assert all("feedback" not in h.ranks for h in plain)
    monkeypatch.setattr(built, "feedback_papers", 5)
    with_feedback = built.search_many(queries, k=30)

    runs = [("bm25", built.bm25(q, 30)) for q in queries]
    dense, query_vectors = built._dense(queries, 30, None)
    runs += [("dense", ids) for ids in dense]
    first = [f.key for f in reciprocal_rank_fusion(runs)[:5]]
    ids, vectors = built.store.embeddings(built.model_name)
    centroid = vectors[np.isin(ids, first)].mean(axis=0)
    feedback = built._feedback(reciprocal_rank_fusion(runs), query_vectors, 30, None)
    for query_vector, found in zip(query_vectors, feedback, strict=True):
        moved = (query_vector + centroid) / np.linalg.norm(query_vector + centroid)
        reference = ids[np.argsort(-(vectors @ moved), kind="stable")[:30]].tolist()
        # FAISS sums in another order than numpy: allow swaps of near-equal neighbours only
        assert found[:10] == reference[:10] and len(set(found) & set(reference)) >= 28
    runs += [("feedback", found) for found in feedback]
    expected = [built.store.get_by_rowids([f.key])[f.key].arxiv_id for f in reciprocal_rank_fusion(runs)[:30]]
    assert [h.paper.arxiv_id for h in with_feedback] == expected
    assert any("feedback" in h.ranks for h in with_feedback)


def test_query_by_paper_equals_its_plain_reference(built, records, monkeypatch):
    """Paper lists: the stored vectors of the first fused papers, each searched exactly, their
    lists weighted in the fusion; the reference ranks by brute force over the stored vectors."""
    from retriever.fusion import reciprocal_rank_fusion

    monkeypatch.setattr(built, "candidate_depth", 30)
    queries = ["speech recognition", records[40]["title"]]
    found = built.search_with_feedback(queries, 30, None, feedback_papers=0, paper_queries=4, paper_weight=2.0)

    runs = [("bm25", built.bm25(q, 30)) for q in queries]
    runs += [("dense", ids) for ids in built._dense(queries, 30, None)[0]]
    best = [f.key for f in reciprocal_rank_fusion(runs)[:4]]
    ids, vectors = built.store.embeddings(built.model_name)
    for key in best:
        reference = ids[np.argsort(-(vectors @ vectors[ids == key][0]), kind="stable")[:30]].tolist()
        (listed,) = built._search_vectors(built._loaded_index(), vectors[ids == key], 30, None)
        assert listed[0] == key  # a paper is its own nearest neighbour
        # FAISS sums in another order than numpy: allow swaps of near-equal neighbours only
        assert listed[:10] == reference[:10] and len(set(listed) & set(reference)) >= 28
        runs.append(("papers", listed))
    fused = reciprocal_rank_fusion(runs, weights={"papers": 2.0})[:30]
    expected = [built.store.get_by_rowids([f.key])[f.key].arxiv_id for f in fused]
    assert [h.paper.arxiv_id for h in found] == expected
    assert sum("papers" in h.ranks for h in found) >= 4
    plain = built.search_with_feedback(queries, 30, None, feedback_papers=0, paper_queries=0)
    assert [h.paper.arxiv_id for h in plain] == [h.paper.arxiv_id for h in built.search_many(queries, k=30)]


def test_get_keeps_order_and_skips_unknown(built, records):
    wanted = [records[5]["id"], "2101.00001", records[1]["id"]]
    assert [p.arxiv_id for p in built.get(wanted)] == [wanted[0], wanted[2]]


def test_another_model_is_refused(built, onnx_embedder):
    directory = built.store.path.parent
    other = _open(directory, onnx_embedder, model_name="sentence-transformers/all-mpnet-base-v2")
    with pytest.raises(IndexMismatchError, match="all-MiniLM-L6-v2"):
        other.search("anything", k=3)
    with pytest.raises(IndexMismatchError, match="dimension 384"):
        VectorIndex.load(directory / "index", onnx_embedder.name, dimension=768)


class _SeededEmbedder:
    """Deterministic unit vectors per text, under a given model name (no model needed)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = [np.random.default_rng(abs(hash((self.name, text))) % 2**32).standard_normal(384) for text in texts]
        vectors = np.asarray(rows, dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_indexing_with_another_model_rebuilds_the_index_and_keeps_both_models_vectors(tmp_path, records):
    first = _open(tmp_path, _SeededEmbedder("first@128"))
    first.ingest_jsonl(_write_jsonl(tmp_path / "papers.jsonl", records[:20]))
    first.update_index()
    first.close()
    second = _open(tmp_path, _SeededEmbedder("first@256"))
    with pytest.raises(IndexMismatchError):  # searching never mixes the two models' vectors
        second.search("anything", k=3)
    update = second.update_index()  # what `cpmsurvey index` does: the user asked for this model
    assert update.rebuilt and update.total == 20 and update.embedded == 20
    assert VectorIndex.load(tmp_path / "index", "first@256").count == 20
    assert second.store.stats()["embeddings"] == {"first@128": 20, "first@256": 20}
    assert len(second.search(records[3]["title"], k=3)) == 3


def test_vectors_of_another_input_length_are_not_mixed(built, onnx_embedder):
    """The same model run at another max_seq_length makes other vectors: refused, not mixed in."""
    model, _, length = onnx_embedder.name.partition("@")
    assert model == DEFAULT_MODEL and length, "the embedding key names the input length"
    other_key = embedding_key(DEFAULT_MODEL, int(length) * 2)
    assert built.store.count_unembedded(other_key) == built.store.stats()["papers"]
    other = _open(built.store.path.parent, onnx_embedder, model_name=other_key)
    with pytest.raises(IndexMismatchError, match="embedding_max_seq_length"):
        other.search("anything", k=3)


class _CrashingEmbedder:
    """Wraps an embedder and fails on its second call, as a killed process would."""

    def __init__(self, inner):
        self.inner, self.name, self.dimension, self.backend = inner, inner.name, inner.dimension, inner.backend
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return self.inner.encode(texts)


class _CountingEmbedder(_CrashingEmbedder):
    def __init__(self, inner):
        super().__init__(inner)
        self.texts = 0

    def encode(self, texts):
        self.texts += len(texts)
        return self.inner.encode(texts)


def test_embedding_resumes_and_index_grows_incrementally(tmp_path, sample_records, onnx_embedder, monkeypatch):
    monkeypatch.setattr(library_module, "EMBED_CHUNK", 20)
    records = [r for i, r in enumerate(sample_records) if i % 5 == 1][:80]  # not in the shared library
    crashing = _CrashingEmbedder(onnx_embedder)
    library = _open(tmp_path, crashing)
    library.ingest_jsonl(_write_jsonl(tmp_path / "a.jsonl", records[:60]))
    with pytest.raises(KeyboardInterrupt):
        library.update_index()
    assert library.store.count_unembedded(onnx_embedder.name) == 40  # the first chunk was kept
    library.close()

    counting = _CountingEmbedder(onnx_embedder)
    library = _open(tmp_path, counting)
    update = library.update_index()
    assert counting.texts == 40 and update.rebuilt and update.total == 60

    library.ingest_jsonl(_write_jsonl(tmp_path / "b.jsonl", records[60:]))
    update = library.update_index()
    assert (update.embedded, update.added, update.rebuilt, update.total) == (20, 20, False, 80)

    changed = dict(records[10], title="Quantum annealing schedules for protein folding simulations")
    library.ingest_jsonl(_write_jsonl(tmp_path / "c.jsonl", [changed]))
    update = library.update_index()
    assert (update.embedded, update.replaced, update.rebuilt, update.total) == (1, 1, False, 80)
    assert library.search(changed["title"], k=1)[0].paper.arxiv_id == changed["id"]
    assert library.update_index().embedded == 0

    # reopened from disk, the index has every paper once
    reopened = VectorIndex.load(tmp_path / "index", onnx_embedder.name)
    assert sorted(reopened.ids().tolist()) == sorted(library.store.filter_rowids(SearchFilters()).tolist())


def test_hnsw_agrees_with_exact_search_and_honours_filters(built):
    ids, vectors = built.store.embeddings(built.model_name)
    exact = VectorIndex.build("m", "s", ids, vectors, "flat")
    approximate = VectorIndex.build("m", "s", ids, vectors, "hnsw")
    queries = vectors[:40]
    _, want = exact.search(queries, 10)
    _, got = approximate.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(want, got, strict=True)])
    assert recall >= 0.95
    allowed = ids[::3]
    _, filtered = approximate.search(queries, 10, allowed=allowed)
    assert set(filtered[filtered >= 0].tolist()) <= set(allowed.tolist())


def test_torn_index_files_are_detected(tmp_path, built):
    ids, vectors = built.store.embeddings(built.model_name)
    index = VectorIndex.build("m", "s", ids, vectors, "flat")
    index.save(tmp_path)
    meta = json.loads((tmp_path / META_FILE).read_text())
    (tmp_path / META_FILE).write_text(json.dumps({**meta, "count": meta["count"] + 5}))
    with pytest.raises(VectorIndexError, match="does not match"):
        VectorIndex.load(tmp_path, "m")
