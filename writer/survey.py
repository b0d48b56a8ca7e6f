"""The finished survey: text, references and everything needed to re-render and evaluate it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from retriever.types import Paper
from writer.citations import find_citations
from writer.errors import SurveyFormatError

FORMAT_VERSION = 1


@dataclass
class SurveySection:
    """One body section: its text with checked markers, the papers its writer was given
    (ids, best first) and the outcome of the checks."""

    title: str
    text: str
    description: str = ""
    subsections: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    papers: list[str] = field(default_factory=list)
    removed_citations: list[str] = field(default_factory=list)
    support_checks: list[dict] = field(default_factory=list)

    @property
    def citations(self) -> list[str]:
        """Ids cited in the text, in order, repeats kept."""
        return find_citations(self.text)


@dataclass
class Survey:
    """A survey as written. `papers` holds every paper given to any writer, by id;
    `metadata` the run's record (run id, model, corpus, settings, timings, token counts,
    warnings, the outline's provenance)."""

    title: str
    abstract: str
    introduction: str
    sections: list[SurveySection]
    conclusion: str
    papers: dict[str, Paper] = field(default_factory=dict)
    outline: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def citations(self) -> list[str]:
        """Every cited id across the sections, in order, repeats kept."""
        return [arxiv_id for section in self.sections for arxiv_id in section.citations]

    @property
    def references(self) -> list[Paper]:
        """Cited papers, numbered by first citation (reference 1 is ``references[0]``)."""
        ordered = dict.fromkeys(arxiv_id for arxiv_id in self.citations if arxiv_id in self.papers)
        return [self.papers[arxiv_id] for arxiv_id in ordered]

    @property
    def unresolved_citations(self) -> list[str]:
        """Cited ids that are not among the papers given to the writers (empty after checking)."""
        return [arxiv_id for arxiv_id in self.citations if arxiv_id not in self.papers]

    def word_count(self) -> int:
        """Words of the body sections, markers excluded."""
        from writer.citations import strip_citations

        return sum(len(strip_citations(section.text).split()) for section in self.sections)

    def to_markdown(self) -> str:
        """Markdown with numbered citations linked to arXiv and a reference list."""
        from writer.export import to_markdown

        return to_markdown(self)

    def to_bibtex(self) -> str:
        """BibTeX entries of the references."""
        from writer.export import to_bibtex

        return to_bibtex(self)

    def to_latex(self) -> str:
        """A LaTeX document citing ``survey.bib`` with ``\\cite``."""
        from writer.export import to_latex

        return to_latex(self)

    def to_json(self) -> str:
        """Everything to re-render and evaluate the survey; read back with :meth:`from_json`."""
        record = {
            "format_version": FORMAT_VERSION,
            "title": self.title,
            "abstract": self.abstract,
            "introduction": self.introduction,
            "sections": [
                {
                    "title": s.title,
                    "description": s.description,
                    "subsections": s.subsections,
                    "queries": s.queries,
                    "text": s.text,
                    "papers": s.papers,
                    "citations": s.citations,
                    "removed_citations": s.removed_citations,
                    "support_checks": s.support_checks,
                }
                for s in self.sections
            ],
            "conclusion": self.conclusion,
            "references": [paper.arxiv_id for paper in self.references],
            "papers": [paper.to_dict() for paper in self.papers.values()],
            "outline": self.outline,
            "metadata": self.metadata,
        }
        return json.dumps(record, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Survey:
        """Inverse of :meth:`to_json`."""
        try:
            record = json.loads(text)
            version = record.get("format_version")
            if version != FORMAT_VERSION:
                raise SurveyFormatError(f"survey JSON format_version {version!r}; this version reads {FORMAT_VERSION}")
            papers = [Paper.from_dict(paper) for paper in record["papers"]]
            sections = [
                SurveySection(
                    title=s["title"],
                    text=s["text"],
                    description=s.get("description", ""),
                    subsections=list(s.get("subsections", [])),
                    queries=list(s.get("queries", [])),
                    papers=list(s.get("papers", [])),
                    removed_citations=list(s.get("removed_citations", [])),
                    support_checks=list(s.get("support_checks", [])),
                )
                for s in record["sections"]
            ]
            return cls(
                title=record["title"],
                abstract=record["abstract"],
                introduction=record["introduction"],
                sections=sections,
                conclusion=record["conclusion"],
                papers={paper.arxiv_id: paper for paper in papers},
                outline=record.get("outline", {}),
                metadata=record.get("metadata", {}),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            if isinstance(error, SurveyFormatError):
                raise
            raise SurveyFormatError(f"not a cpmsurvey survey JSON: {error}") from None
