"""Build the paper library from the settings: the one place app/ turns settings into a
retriever.Library."""

from __future__ import annotations

from app.settings import Settings
from retriever.library import Library


def open_library(settings: Settings) -> Library:
    """The Library at `settings.store_path` / `settings.index_dir`, configured by
    `settings.retrieval` (model, backend, batch size, max sequence length, index type, RRF k, feedback)."""
    retrieval = settings.retrieval
    return Library.open(
        settings.store_path,
        settings.index_dir,
        model=retrieval.embedding_model,
        backend=retrieval.embedding_backend,
        cache_dir=retrieval.model_cache_dir or settings.data_dir / "models",
        batch_size=retrieval.embedding_batch_size,
        max_seq_length=retrieval.embedding_max_seq_length,
        index_type=retrieval.index_type,
        exact_index_max_papers=retrieval.exact_index_max_papers,
        rrf_k=retrieval.rrf_k,
        feedback_papers=retrieval.feedback_papers,
    )
