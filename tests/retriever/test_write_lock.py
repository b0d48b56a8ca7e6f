"""One writer per library and per ONNX export: a second process waits (and says so), and
what a killed writer left behind is removed by the next one that holds the lock."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from retriever import onnx_export
from retriever.library import Library
from retriever.store import PaperStore
from retriever.write_lock import LOCK_SUFFIX

HOLD_SECONDS = 1.5


class CountingEmbedder:
    """Deterministic vectors from the text's hash; counts what it embedded."""

    name = "counting-embedder"
    dimension = 8

    def __init__(self) -> None:
        self.embedded = 0

    def encode(self, texts):
        self.embedded += len(texts)
        rng = [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dimension) for t in texts]
        vectors = np.asarray(rng, dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _hold_lock(path: Path) -> subprocess.Popen:
    """Another process holding `path`'s lock for HOLD_SECONDS (started once it holds it)."""
    code = (
        "import sys, time; from filelock import FileLock\n"
        f"lock = FileLock({str(path) + LOCK_SUFFIX!r}); lock.acquire(); print('held', flush=True)\n"
        f"time.sleep({HOLD_SECONDS})"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_index_waits_for_the_first_and_embeds_nothing_twice(tmp_path, sample_lines, caplog):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(sample_lines[:30]), encoding="utf-8")
    embedder = CountingEmbedder()
    library = Library(PaperStore(tmp_path / "papers.sqlite"), tmp_path / "index", lambda: embedder, embedder.name)
    library.ingest_jsonl(corpus)
    holder = _hold_lock(tmp_path / "papers.sqlite")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="retriever.write_lock"):
        update = library.update_index()
    waited = time.monotonic() - started
    holder.wait()
    assert waited >= HOLD_SECONDS * 0.5, "the update did not wait for the other writer"
    assert "another cpmsurvey process is indexing the library" in caplog.text
    assert update.embedded == 30 and library.update_index().embedded == 0 and embedder.embedded == 30


def test_an_index_update_removes_what_a_killed_write_left(tmp_path, sample_lines):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(sample_lines[:5]), encoding="utf-8")
    embedder = CountingEmbedder()
    library = Library(PaperStore(tmp_path / "papers.sqlite"), tmp_path / "index", lambda: embedder, embedder.name)
    library.ingest_jsonl(corpus)
    (tmp_path / "index").mkdir()
    left = [tmp_path / "index" / name for name in ("papers.faiss.k3j2.tmp", "bm25.npz.x1.tmp")]
    for path in left:
        path.write_bytes(b"half")
    library.update_index()
    assert not any(path.exists() for path in left)
    assert (tmp_path / "index" / "papers.faiss").is_file()


def _fake_model(directory: Path) -> Path:
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (directory / "modules.json").write_text("[]")
    return directory


def test_onnx_export_removes_a_killed_exports_folder(tmp_path, monkeypatch):
    model = _fake_model(tmp_path / "tiny-model")
    monkeypatch.setattr(onnx_export, "_export", lambda directory, out: out.write_bytes(b"onnx"))
    cache = tmp_path / "cache"
    target = cache / "onnx" / f"tiny-model-{onnx_export._cache_key(model)}"
    target.mkdir(parents=True)
    killed = target / ".export-abc123"
    killed.mkdir()
    (killed / "model.onnx").write_bytes(b"x" * 1000)
    assert onnx_export.exported_model(model, cache, quantize=False).read_bytes() == b"onnx"
    assert not killed.exists()
    killed.mkdir()  # left by a kill after the model was made: removed on the next use
    onnx_export.exported_model(model, cache, quantize=False)
    assert not killed.exists()


def test_onnx_export_leaves_a_live_exports_folder_alone(tmp_path):
    model = _fake_model(tmp_path / "tiny-model")
    cache = tmp_path / "cache"
    target = cache / "onnx" / f"tiny-model-{onnx_export._cache_key(model)}"
    target.mkdir(parents=True)
    (target / "model.onnx").write_bytes(b"onnx")
    live = target / ".export-live"
    live.mkdir()
    holder = _hold_lock(target / "export")
    try:
        onnx_export.exported_model(model, cache, quantize=False)
        assert live.exists()
    finally:
        holder.wait()
