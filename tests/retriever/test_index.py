"""Index mechanics, fast: the size threshold, HNSW and IVF-PQ, incremental adds, saving.

A bag-of-words embedder stands in for the model here (its vectors are real functions of
the real texts); the model itself is tested in test_embeddings.py and test_library.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from retriever.errors import VectorIndexError
from retriever.index import choose_index_type
from retriever.library import Library
from retriever.store import PaperStore


class BagOfWordsEmbedder:
    """Each word hashes to a fixed random direction; a text is the normalized sum."""

    name = "bag-of-words-test"
    dimension = 64
    backend = "test"

    def __init__(self):
        self._directions: dict[str, np.ndarray] = {}

    def _direction(self, word: str) -> np.ndarray:
        if word not in self._directions:
            seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
            self._directions[word] = np.random.default_rng(seed).standard_normal(self.dimension)
        return self._directions[word]

    def encode(self, texts):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row] += self._direction(word)
        return out / np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-9, None)


def _library(directory: Path, **options) -> Library:
    embedder = BagOfWordsEmbedder()
    return Library(
        PaperStore(directory / "papers.sqlite"), directory / "index", lambda: embedder, embedder.name, **options
    )


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_auto_switches_to_hnsw_past_the_threshold_and_adds_incrementally(tmp_path, sample_records):
    library = _library(tmp_path, exact_index_max_papers=100)
    library.ingest_jsonl(_jsonl(tmp_path / "a.jsonl", sample_records[:80]))
    assert library.update_index().index_type == "flat"
    library.ingest_jsonl(_jsonl(tmp_path / "b.jsonl", sample_records[80:300]))
    update = library.update_index()
    assert (update.index_type, update.rebuilt, update.total) == ("hnsw", True, 300)
    library.ingest_jsonl(_jsonl(tmp_path / "c.jsonl", sample_records[300:350]))
    update = library.update_index()
    assert (update.index_type, update.rebuilt, update.added, update.total) == ("hnsw", False, 50, 350)
    target = sample_records[320]
    assert library.search(target["title"], k=1)[0].paper.arxiv_id == target["id"]

    # an HNSW graph cannot drop a vector: a changed paper means a rebuild, still one vector per paper
    library.ingest_jsonl(_jsonl(tmp_path / "d.jsonl", [dict(sample_records[5], title="Entirely new words here")]))
    update = library.update_index()
    assert (update.rebuilt, update.total) == (True, 350)


def test_choose_index_type():
    assert choose_index_type("auto", 10, 100) == "flat"
    assert choose_index_type("auto", 101, 100) == "hnsw"
    assert choose_index_type("hnsw", 10, 100) == "hnsw"
    for unavailable in ("lsh", "ivfpq"):
        with pytest.raises(VectorIndexError):
            choose_index_type(unavailable, 10, 100)
