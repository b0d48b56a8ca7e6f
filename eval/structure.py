"""Structure statistics of a survey: no judge, no model."""

from __future__ import annotations

from eval.survey_text import cited_references, listed_references, sentences, word_count
from writer.survey import Survey


def structure_stats(survey: Survey) -> dict[str, float | int | None]:
    """Sections, subsections, words, citations (markers, repeats counted), distinct cited
    and listed references, citations per 1000 words, and the share of body sentences that
    carry at least one citation."""
    body = sentences(survey)
    words = word_count(survey)
    citations = sum(len(sentence.citations) for sentence in body)
    return {
        "sections": len(survey.sections) + bool(survey.introduction.strip()) + bool(survey.conclusion.strip()),
        "subsections": sum(len(section.subsections) for section in survey.sections),
        "words": words,
        "sentences": len(body),
        "citations": citations,
        "cited_references": len(cited_references(survey)),
        "listed_references": len(listed_references(survey)),
        "citation_density": 1000 * citations / words if words else None,
        "cited_sentence_share": sum(bool(s.citations) for s in body) / len(body) if body else None,
    }
