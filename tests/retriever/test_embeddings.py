"""The fast ONNX Runtime path against the sentence-transformers reference, on real abstracts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retriever.embeddings import DEFAULT_MODEL, resolve_model
from retriever.errors import EmbeddingError
from retriever.onnx_export import read_pipeline
from retriever.store import paper_text

pytestmark = pytest.mark.slow

# Dynamic int8 quantization moves each embedding a little; 0.98 per paper (0.99 on average)
# is far tighter than the gap between a paper and its nearest neighbour in the corpus.
MIN_COSINE = 0.98
MIN_MEAN_COSINE = 0.99


def test_onnx_matches_reference_per_paper(sample_records, onnx_embedder, torch_embedder):
    texts = [paper_text(r["title"], r["abstract"]) for r in sample_records[:48]]
    texts += ["graph neural networks", "a", "reinforcement learning from human feedback for LLMs"]
    fast = onnx_embedder.encode(texts)
    reference = torch_embedder.encode(texts)
    assert fast.shape == reference.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)
    cosine = (fast * reference).sum(axis=1)
    assert cosine.min() >= MIN_COSINE and cosine.mean() >= MIN_MEAN_COSINE, cosine


def test_onnx_keeps_retrieval_quality(sample_records, onnx_embedder, torch_embedder):
    """Same neighbours: each paper's title, as a query, finds the paper; the top 10 agree."""
    records = sample_records[:80]
    texts = [paper_text(r["title"], r["abstract"]) for r in records]
    queries = [r["title"] for r in records[:30]]
    found = {}
    top10 = {}
    for name, embedder in (("onnx", onnx_embedder), ("torch", torch_embedder)):
        corpus = embedder.encode(texts)
        scores = embedder.encode(queries) @ corpus.T
        ranking = np.argsort(-scores, axis=1)
        found[name] = float(np.mean(ranking[:, 0] == np.arange(len(queries))))
        top10[name] = ranking[:, :10]
    assert found["onnx"] >= found["torch"] - 0.025 and found["torch"] >= 0.9
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top10["onnx"], top10["torch"], strict=True)])
    assert overlap >= 0.85, overlap


def test_default_model_resolves_offline_and_pipeline_is_read():
    resolved = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert resolved.name == DEFAULT_MODEL and resolved.local
    pipeline = read_pipeline(Path(resolved.location))
    assert (pipeline.pooling, pipeline.normalize, pipeline.dimension) == ("mean", True, 384)


def test_unusable_directory_is_a_clear_error(tmp_path):
    with pytest.raises(EmbeddingError, match="not a sentence-transformers directory"):
        read_pipeline(tmp_path)


def _operators(path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node}


def test_shipped_graph_is_fused_and_fusion_matches_the_export(onnx_embedder, model_cache):
    from retriever.onnx_export import _largest_difference

    target = onnx_embedder._model_path.parent
    assert onnx_embedder._model_path.name == "model.int8.onnx"
    assert "Attention" in _operators(target / "model.fused.onnx")
    assert {"QAttention", "MatMulInteger"} <= _operators(target / "model.int8.onnx")
    assert _largest_difference(target / "model.onnx", target / "model.fused.onnx") <= 1e-3


@pytest.mark.parametrize("failure", ["not bert", "differs"])
def test_fusion_that_does_not_check_out_falls_back_to_the_export(onnx_embedder, tmp_path, monkeypatch, failure):
    """A model the BERT fusions are not checked on, or a fused graph that changes the
    outputs: the plain export is what gets quantized, and no fused graph is kept."""
    import json

    from retriever import onnx_export

    source = onnx_embedder._model_path.parent / "model.onnx"
    directory = tmp_path / "model"
    directory.mkdir()
    config = json.loads((Path(resolve_model(DEFAULT_MODEL).location) / "config.json").read_text())
    if failure == "not bert":
        config["model_type"] = "mpnet"
    else:
        monkeypatch.setattr(onnx_export, "_largest_difference", lambda a, b: 0.5)
    (directory / "config.json").write_text(json.dumps(config))
    assert onnx_export._fused(directory, source, tmp_path / "fused.onnx") == source
    assert list(tmp_path.iterdir()) == [directory]
