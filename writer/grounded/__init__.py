"""Grounded writing: sections, abstract, introduction and conclusion built from the retrieved
papers' own abstract sentences, each attributed and cited, so that a small model cannot add
facts. A model may only rephrase, under a coverage gate."""

from writer.grounded.coverage import SUPPORT_THRESHOLD, content_word_coverage, content_words, evidence_text

__all__ = ["SUPPORT_THRESHOLD", "content_word_coverage", "content_words", "evidence_text"]
