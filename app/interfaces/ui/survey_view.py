"""A finished survey as the Result page shows it: sections whose citation markers become
numbered links to arXiv, each with a card (title, authors, date, abstract) that opens on
hover or keyboard focus; a table of contents; the reference list.

Everything the model wrote is HTML-escaped before markers are replaced, so a survey can
never inject markup into the page; Markdown (headings, emphasis) still renders.
"""

from __future__ import annotations

import html
import re

from retriever.types import Paper
from writer.citations import MARKER, find_citations
from writer.survey import Survey

ABSTRACT_CHARS = 900

CITATION_CSS = """
<style>
.cite { position: relative; display: inline-block; }
.cite > a { text-decoration: none; font-weight: 600; }
.cite-card {
  display: none; position: absolute; z-index: 1000; left: 0; top: 1.4em; width: 28em;
  padding: 0.6em 0.8em; border: 1px solid #bbb; border-radius: 6px; background: #fff; color: #222;
  box-shadow: 0 4px 14px rgba(0,0,0,.18); font-size: 0.85em; line-height: 1.35; white-space: normal;
}
.cite:hover .cite-card, .cite:focus-within .cite-card { display: block; }
.cite-card .cite-title { font-weight: 600; display: block; margin-bottom: .2em; }
.cite-card .cite-meta { color: #555; display: block; margin-bottom: .3em; }
</style>
"""


def anchor(number: int) -> str:
    """The page anchor of the survey's `number`-th heading (1 is the introduction)."""
    return f"part-{number}"


def contents(survey: Survey) -> list[tuple[str, str]]:
    """(anchor, label) of every heading, in reading order: introduction, sections, conclusion."""
    titles = ["Introduction", *(section.title for section in survey.sections), "Conclusion"]
    return [(anchor(number), f"{number}. {title}") for number, title in enumerate(titles, start=1)]


def reference_numbers(survey: Survey) -> dict[str, int]:
    """arXiv id -> reference number (1-based, by first citation), as the exports number them."""
    return {paper.arxiv_id: number for number, paper in enumerate(survey.references, start=1)}


def authors_line(paper: Paper, limit: int = 6) -> str:
    """The paper's authors, shortened with "et al." past `limit`."""
    if not paper.authors:
        return "unknown authors"
    names = list(paper.authors[:limit])
    return ", ".join(names) + (" et al." if len(paper.authors) > limit else "")


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def citation_html(paper: Paper, number: int) -> str:
    """One citation: the numbered link to the paper's arXiv page and its hover card."""
    published = paper.published.isoformat() if paper.published else "undated"
    title = html.escape(paper.title)
    meta = html.escape(f"{authors_line(paper)} · {published} · arXiv:{paper.arxiv_id}")
    abstract = html.escape(_shortened(paper.abstract, ABSTRACT_CHARS))
    return (
        f'<span class="cite"><a href="{html.escape(paper.url)}" target="_blank" rel="noopener" '
        f'title="{title}" data-arxiv-id="{html.escape(paper.arxiv_id)}">[{number}]</a>'
        f'<span class="cite-card" role="tooltip"><span class="cite-title">{title}</span>'
        f'<span class="cite-meta">{meta}</span><span class="cite-abstract">{abstract}</span></span></span>'
    )


def render_text(text: str, survey: Survey, numbers: dict[str, int] | None = None) -> str:
    """`text` (a section, the introduction...) escaped, with each marker replaced by its
    citations; ids that are not among the references are dropped, as in the exports."""
    numbers = reference_numbers(survey) if numbers is None else numbers
    escaped = html.escape(text, quote=False)

    def replace(match: re.Match[str]) -> str:
        ids = [arxiv_id for arxiv_id in find_citations(match.group(0)) if arxiv_id in numbers]
        return "".join(citation_html(survey.papers[arxiv_id], numbers[arxiv_id]) for arxiv_id in ids)

    return _demoted_headings(MARKER.sub(replace, escaped))


def _demoted_headings(markdown: str) -> str:
    """Headings inside a part sit under the part's own heading: "#" and "##" become "####"."""
    return re.sub(r"^#{1,3}(?=\s)", "####", markdown, flags=re.MULTILINE)


def reference_markdown(paper: Paper, number: int) -> str:
    """One entry of the reference list (Markdown)."""
    year = f" ({paper.published.year})" if paper.published else ""
    return f"**[{number}]** {_escape_markdown(authors_line(paper, 3))}{year}. *{_escape_markdown(paper.title)}*"


def _escape_markdown(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)
