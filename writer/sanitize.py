"""Text from the model made safe to export: citations only of retrieved papers, no HTML.

A model can be steered by what it reads (an abstract saying "cite arXiv:9999.99999", a page
with a <script>); the writers' prompts cannot promise it obeys. So before any export:

- citation markers (writer.citations.MARKER) keep only the papers the survey retrieved;
- any other mention of an arXiv paper that was not retrieved is removed and reported:
  `arXiv:ID`, an arxiv.org URL (a Markdown link to one keeps its text), or a bare id with
  a valid month (`2503.11851`, `cs/0112017`); mentions of retrieved papers stay;
- HTML elements are removed and reported (script, style, iframe and the like with their
  content, other known tags leaving their text), as are HTML comments and Markdown images
  (which would load a remote file when the survey is viewed) and links whose target is not
  http(s).

What is left may still hold a "<" that a Markdown renderer would read as the start of a
tag ("x<y"): `markdown_safe` escapes those when Markdown is written. LaTeX is escaped by
its exporter and needs nothing more.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from retriever.types import normalize_arxiv_id
from writer.citations import MARKER, check_citations, tidy_removals
from writer.survey import Survey

_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7}"
_ANY_ID = rf"(?:{_NEW_ID}|{_OLD_ID})"
_VERSION = r"(?:v\d+)?"
ARXIV_URL = re.compile(
    rf"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/(?P<id>{_ANY_ID}){_VERSION}(?:\.pdf)?/?",
    re.IGNORECASE,
)
ARXIV_PREFIXED = re.compile(rf"\barXiv\s*:\s*(?P<id>{_ANY_ID}){_VERSION}", re.IGNORECASE)
# Bare ids only where they cannot be another number: a YYMM with a real month.
ARXIV_BARE = re.compile(
    rf"(?<![\w./-])(?P<id>\d{{2}}(?:0[1-9]|1[0-2])\.\d{{4,5}}|{_OLD_ID}){_VERSION}(?![\w/])"
)
# a link's target may hold one level of balanced parentheses, as CommonMark allows
MARKDOWN_LINK = re.compile(
    r"(?P<image>!?)\[(?P<text>[^\[\]]*)\]\(\s*(?P<target>(?:[^()\s]|\([^()\s]*\))*)(?:\s+\"[^\"]*\")?\s*\)"
)

_ELEMENTS_WITH_CONTENT = "script|style|iframe|object|embed|noscript|template|svg|math|textarea|select|title|head"
_HTML_BLOCK = re.compile(rf"<(?P<tag>{_ELEMENTS_WITH_CONTENT})\b[^>]*>.*?</(?P=tag)\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAGS = (
    "a|abbr|address|applet|area|article|aside|audio|b|base|basefont|bdi|bdo|big|blink|blockquote|body|br|button|"
    "canvas|caption|center|cite|code|col|colgroup|data|datalist|dd|del|details|dfn|dialog|dir|div|dl|dt|em|"
    "embed|fieldset|figcaption|figure|font|footer|form|frame|frameset|h[1-6]|head|header|hr|html|i|iframe|img|"
    "input|ins|kbd|label|legend|li|link|main|map|mark|marquee|math|menu|meta|meter|nav|noscript|object|ol|"
    "optgroup|option|output|p|param|picture|pre|progress|q|rp|rt|ruby|s|samp|script|section|select|slot|small|"
    "source|span|strike|strong|style|sub|summary|sup|svg|table|tbody|td|template|textarea|tfoot|th|thead|time|"
    "title|tr|track|tt|u|ul|var|video|wbr|xmp"
)
_HTML_TAG = re.compile(rf"</?(?:{_HTML_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_HTML_DECLARATION = re.compile(r"<[!?][^<>]*>")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_SAFE_SCHEMES = ("http://", "https://", "#")


@dataclass
class Sanitized:
    """The cleaned text and what was removed from it, each as a short note."""

    text: str
    removed: list[str] = field(default_factory=list)


def _arxiv_id(raw: str) -> str | None:
    try:
        return normalize_arxiv_id(raw)
    except ValueError:
        return None


def _outside_markers(text: str, clean) -> str:
    """`clean` applied to the stretches of `text` between citation markers (kept as they are)."""
    pieces, last = [], 0
    for match in MARKER.finditer(text):
        pieces += [clean(text[last : match.start()]), match.group(0)]
        last = match.end()
    return "".join([*pieces, clean(text[last:])])


def _remove_arxiv_mentions(text: str, allowed: set[str], removed: list[str]) -> str:
    def link(match: re.Match[str]) -> str:
        url = ARXIV_URL.fullmatch(match.group("target"))
        if url is None or _arxiv_id(url.group("id")) in allowed:
            return match.group(0)
        removed.append(f"link to arXiv:{url.group('id')}, which is not a retrieved paper")
        return match.group("text")

    def mention(match: re.Match[str]) -> str:
        if _arxiv_id(match.group("id")) in allowed:
            return match.group(0)
        removed.append(f"{match.group(0).strip()}: not a retrieved paper")
        return ""

    text = MARKDOWN_LINK.sub(link, text)
    for pattern in (ARXIV_URL, ARXIV_PREFIXED, ARXIV_BARE):
        text = pattern.sub(mention, text)
    return text


def _remove_html(text: str, removed: list[str]) -> str:
    def note(match: re.Match[str]) -> str:
        # named by its tag alone: the note is shown to people, the markup is what was unsafe
        tag = re.match(r"<\s*(/?[!?]?[\w-]*)", match.group(0))
        removed.append(f"HTML element <{tag.group(1) if tag else '?'}>")
        return ""

    text = _HTML_COMMENT.sub(note, text)
    text = _HTML_BLOCK.sub(note, text)
    text = _HTML_DECLARATION.sub(note, text)
    return _HTML_TAG.sub(note, text)


def _remove_unsafe_links(text: str, removed: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        target = match.group("target")
        if match.group("image"):
            removed.append(f"image {target[:60]!r}")
            return match.group("text")
        if target.lower().startswith(_SAFE_SCHEMES):
            return match.group(0)
        removed.append(f"link target {target[:60]!r}")
        return match.group("text")

    return MARKDOWN_LINK.sub(replace, text)


def sanitize_text(text: str, allowed_ids: Iterable[str]) -> Sanitized:
    """`text` with citations only of `allowed_ids`, no other arXiv paper, no HTML (see the
    module docstring). Applying it twice changes nothing more."""
    allowed = set(allowed_ids)
    removed: list[str] = []

    def clean(stretch: str) -> str:
        stretch = _remove_html(stretch, removed)
        stretch = _remove_arxiv_mentions(stretch, allowed, removed)
        return _remove_unsafe_links(stretch, removed)

    # until a pass removes nothing: a removal (or the tidying after it) can join the pieces
    # of another ("arX<b></b>iv:..."), and only then is the text left as it is
    while True:
        before = len(removed)
        checked = check_citations(text, allowed)
        removed += [f"citation {marker}: not a retrieved paper" for marker in checked.removed]
        cleaned = _outside_markers(checked.text, clean)
        if len(removed) == before:
            return Sanitized(text=text, removed=removed)
        text = tidy_removals(cleaned)


def markdown_safe(text: str) -> str:
    """`text` with every "<" that could open an HTML tag in Markdown written as "&lt;"."""
    return _TAG_START.sub("&lt;", text)


def sanitize_survey(survey: Survey) -> tuple[Survey, list[str]]:
    """A copy of `survey` whose model-written texts (title, abstract, introduction, section
    titles and texts, conclusion) passed :func:`sanitize_text` against the survey's papers,
    and the notes of what was removed, each naming where."""
    allowed = set(survey.papers)
    notes: list[str] = []

    def clean(where: str, text: str) -> str:
        result = sanitize_text(text, allowed)
        notes.extend(f"{where}: removed {item}" for item in result.removed)
        return result.text

    sections = [
        dataclasses.replace(
            section,
            title=clean(f"section {number} title", section.title),
            text=clean(f"section {number} ({section.title[:40]})", section.text),
            subsections=[clean(f"section {number} subsection", name) for name in section.subsections],
        )
        for number, section in enumerate(survey.sections, start=1)
    ]
    cleaned = dataclasses.replace(
        survey,
        title=clean("title", survey.title),
        abstract=clean("abstract", survey.abstract),
        introduction=clean("introduction", survey.introduction),
        sections=sections,
        conclusion=clean("conclusion", survey.conclusion),
    )
    return cleaned, notes
