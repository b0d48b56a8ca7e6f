"""Paper store, ingestion, embeddings, FAISS index and hybrid search. Imports nothing from
engine/ or app/."""

from retriever.types import Hit, Paper, Retriever, SearchFilters, VectorSource, normalize_arxiv_id

__all__ = ["Hit", "Paper", "Retriever", "SearchFilters", "VectorSource", "normalize_arxiv_id"]
