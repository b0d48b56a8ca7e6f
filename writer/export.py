"""Rendering a :class:`~writer.survey.Survey` as Markdown, BibTeX and LaTeX."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from pylatexenc.latex2text import get_default_latex_context_db

from engine.citation_marker import OPEN, SCHEME, format_marker
from retriever.names import family_first, group_author, surname
from retriever.types import Paper
from writer.citations import MARKER, find_citations
from writer.sanitize import markdown_safe, sanitize_survey
from writer.survey import Survey


def reference_numbers(survey: Survey) -> dict[str, int]:
    """arXiv id -> reference number (1-based, by first citation)."""
    return {paper.arxiv_id: number for number, paper in enumerate(survey.references, start=1)}


def cite_keys(papers: list[Paper]) -> dict[str, str]:
    """arXiv id -> a BibTeX key unique within `papers` (suffixes b, c, ... on collisions)."""
    keys: dict[str, str] = {}
    used: set[str] = set()
    for paper in papers:
        base = paper.cite_key
        key, suffix = base, ord("b")
        while key in used:
            key, suffix = f"{base}{chr(suffix)}", suffix + 1
        used.add(key)
        keys[paper.arxiv_id] = key
    return keys


def _replace_markers(text: str, render_ids) -> str:
    return MARKER.sub(lambda match: render_ids(find_citations(match.group(0))), text)


def _authors_short(paper: Paper) -> str:
    if not paper.authors:
        return "Anonymous"
    if len(paper.authors) > 3:
        return f"{paper.authors[0]} et al."
    return ", ".join(paper.authors)


def to_markdown(survey: Survey) -> str:
    """The survey in Markdown: citations as ``[[n]](arXiv link)``, references numbered; the
    model's text sanitized (writer.sanitize) and no "<" left that could open raw HTML."""
    survey, _ = sanitize_survey(survey)
    numbers = reference_numbers(survey)

    def render_ids(ids: list[str]) -> str:
        return "".join(f"[[{numbers[i]}]](https://arxiv.org/abs/{i})" for i in ids if i in numbers)

    safe = markdown_safe

    def cited(text: str) -> str:
        return _replace_markers(safe(text), render_ids)

    parts = [
        f"# {safe(survey.title)}",
        "",
        "## Abstract",
        "",
        cited(survey.abstract),
        "",
        "## 1. Introduction",
        "",
        cited(survey.introduction),
    ]
    for index, section in enumerate(survey.sections, start=2):
        parts += ["", f"## {index}. {safe(section.title)}", "", cited(section.text)]
    parts += ["", f"## {len(survey.sections) + 2}. Conclusion", "", cited(survey.conclusion), "", "## References", ""]
    for number, paper in enumerate(survey.references, start=1):
        year = f" ({paper.published.year})" if paper.published else ""
        entry = f"{safe(_authors_short(paper))}{year}. *{safe(paper.title)}*"
        parts.append(f"{number}. {entry}. {format_marker(paper.arxiv_id)}({paper.url})")
    return "\n".join(parts).rstrip() + "\n"


def _bibtex_escape(text: str) -> str:
    return tex_from_arxiv(text)


# Standard LaTeX commands that pylatexenc's table (which knows most) leaves out.
_MORE_KNOWN_MACROS = frozenset(
    {"t", "texttt", "textsf", "textup", "textmd", "textnormal", "textsuperscript", "textsubscript", "mathtt", "mathsf"}
    | {"left", "right", "bf", "it", "rm", "sf", "tt", "sc", "em", "ne", "le", "ge"}
)
# Control symbols LaTeX knows in text: accents, escaped specials, spacing.
_KNOWN_SYMBOLS = frozenset("'\"`^~=.&%#_${} ,;!-/@")
_TEXT_SPECIALS = {
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "$": r"\$",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
_TEX_TOKEN = re.compile(r"\\([A-Za-z]+)|\\(.)|\\$|(.)", re.DOTALL)
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")


@lru_cache(maxsize=1)
def _latex_macros():
    return get_default_latex_context_db()


def known_macro(name: str) -> bool:
    """Whether standard LaTeX (with amsmath, which :func:`to_latex` loads) knows ``\\name``."""
    return name in _MORE_KNOWN_MACROS or _latex_macros().get_macro_spec(name) is not None


def tex_from_arxiv(text: str) -> str:
    """arXiv's TeX-flavoured title or name as BibTeX/LaTeX text that compiles and prints as
    meant: well-formed accents, known commands and ``$...$`` math kept (``Tol\\d{o}p\\'e``,
    ``$\\alpha$``); an unknown command printed (``\\textbackslash{}model``), a bare special
    escaped (``\\_``, ``\\%``, ``\\textasciitilde{}``), an unmatched brace dropped. Math is kept
    only when its braces match and its commands are known; otherwise it is printed as text."""
    pieces = _UNESCAPED_DOLLAR.split(text)
    if len(pieces) % 2 == 0:  # an odd number of "$": no math, every "$" printed
        pieces = [text]
    out = []
    for index, piece in enumerate(pieces):
        if index % 2 and _math_ok(piece):
            out.append(f"${piece}$")
        else:
            out.append(("\\$" if index % 2 else "") + _tex_text(piece) + ("\\$" if index % 2 else ""))
    return "".join(out)


def _math_ok(math: str) -> bool:
    if not math.strip() or re.search(r"(?<!\\)[%#&]", math) or _unmatched_braces(math):
        return False
    return all(known_macro(name) for name in re.findall(r"\\([A-Za-z]+)", math))


def _unmatched_braces(text: str) -> set[int]:
    """Positions of the braces that have no partner (BibTeX counts escaped braces too)."""
    opened, unmatched = [], set()
    for position, char in enumerate(text):
        if char == "{":
            opened.append(position)
        elif char == "}":
            if opened:
                opened.pop()
            else:
                unmatched.add(position)
    return unmatched | set(opened)


def _tex_text(text: str) -> str:
    drop = _unmatched_braces(text)
    out = []
    for match in _TEX_TOKEN.finditer(text):
        name, symbol, char = match.groups()
        if name is not None:
            out.append(match.group(0) if known_macro(name) else r"\textbackslash{}" + name)
        elif symbol is not None:
            if symbol in "{}" and match.start(2) in drop:
                continue
            keep = symbol in _KNOWN_SYMBOLS
            out.append(match.group(0) if keep else r"\textbackslash{}" + _TEXT_SPECIALS.get(symbol, symbol))
        elif char is None:
            out.append(r"\textbackslash{}")
        elif match.start() not in drop:
            out.append(_TEXT_SPECIALS.get(char, char))
    return "".join(out)


def bibtex_people(authors: Sequence[str]) -> list[str]:
    """The people of an author list as BibTeX takes them: names run together with ";" or "and"
    apart ("Donald Johann Jr. and Fred Prior"; a stray "and" at either end, as in "and Shadab
    Khan", would give BibTeX an empty author), a group author whole, blanks and the ":" some
    listings put after a group left out."""
    people = []
    for author in authors:
        for part in author.split(";"):
            if group_author(part):
                people.append(" ".join(part.split()))
                continue
            run: list[str] = []
            for word in [*part.split(), "and"]:
                if word.lower() != "and":
                    run.append(word)
                elif run and run != [":"]:
                    people.append(" ".join(run))
                    run = []
                else:
                    run = []
    return people


def bibtex_name(author: str, written_family_first: bool = False) -> str:
    """One author for a BibTeX author field, so that bibliography styles split it as
    retriever.names reads it: a group author in braces ("{SIMA Team}": never abbreviated nor
    split), a name whose family name is its last word as typed ("Jutika Borah") unless a
    lower-case word before it would be read as a "von" part, any other
    "Family, Given" ("Yu, Xinmiao" when `written_family_first`, "Van Durme, Benjamin",
    "Al Mamun, Abdullah") or "Family, Suffix, Given" ("Daumé, III, Hal"). A name with a
    comma is taken to be in BibTeX's form already."""
    name = " ".join(author.split())
    if group_author(name):
        return "{" + _bibtex_escape(name) + "}"
    words = name.split(" ")
    family = surname(name, written_family_first).split(" ")
    start = 0 if written_family_first and len(words) == 2 else _last_run(words, family)
    if "," in name or start is None or (start == len(words) - 1 and not _bibtex_von(words[:-1])):
        return _bibtex_escape(name)
    before, typed, after = words[:start], words[start : start + len(family)], words[start + len(family) :]
    parts = [typed, after, before] if before and after else [typed, after or before]
    return ", ".join(_bibtex_escape(" ".join(part)) for part in parts if part)


def _bibtex_von(words: list[str]) -> bool:
    """Whether BibTeX would read a "von" part among these given names: a word starting lower-case
    ("The Institute of Cancer Research" would lose "of Cancer" to the family name)."""
    return any(word[0].isalpha() and word[0].islower() for word in words)


def _last_run(words: list[str], run: list[str]) -> int | None:
    """Where `run` last occurs in `words`, compared without case ("GUO" is read "Guo")."""
    lowered, wanted = [word.lower() for word in words], [word.lower() for word in run]
    for start in range(len(words) - len(run), -1, -1):
        if lowered[start : start + len(run)] == wanted:
            return start
    return None


def bibtex_authors(authors: Sequence[str]) -> str:
    """A BibTeX author field: :func:`bibtex_people` joined with "and", each by :func:`bibtex_name`
    (family names read over the whole list, as the survey's citations read them)."""
    people = bibtex_people(authors)
    orders = family_first(people)
    return " and ".join(bibtex_name(person, order) for person, order in zip(people, orders, strict=True))


def to_bibtex(survey: Survey) -> str:
    """One ``@misc`` entry per reference, in reference order."""
    keys = cite_keys(survey.references)
    entries = []
    for paper in survey.references:
        fields = [
            ("title", "{" + _bibtex_escape(paper.title) + "}"),
            ("author", bibtex_authors(paper.authors) or "Anonymous"),
            ("year", str(paper.published.year) if paper.published else ""),
            ("eprint", paper.arxiv_id),
            ("archivePrefix", "arXiv"),
            ("primaryClass", paper.categories[0] if paper.categories else ""),
            ("url", paper.url),
        ]
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
        entries.append(f"@misc{{{keys[paper.arxiv_id]},\n{body}\n}}")
    return "\n\n".join(entries) + ("\n" if entries else "")


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """Text safe inside a LaTeX paragraph."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def _latex_paragraphs(text: str, keys: dict[str, str]) -> str:
    """Markdown body to LaTeX: ### headings to subsections, **bold**, markers to \\cite."""
    placeholders: list[str] = []

    def stash(latex: str) -> str:
        placeholders.append(latex)
        return f"\x00{len(placeholders) - 1}\x00"

    def cite(ids: list[str]) -> str:
        known = [keys[i] for i in ids if i in keys]
        return stash(r"~\cite{" + ",".join(known) + "}") if known else ""

    lines = []
    # "claim [arXiv:X]" becomes "claim~\cite{x}": the tie replaces the space before the marker.
    text = re.sub(rf"[ \t]+(?={re.escape(OPEN)}\s*{SCHEME})", "", text, flags=re.IGNORECASE)
    for line in _replace_markers(text, cite).splitlines():
        heading = re.match(r"^\s*#{3,}\s*(.+)$", line)
        if heading:
            lines.append(stash(r"\subsection{") + latex_escape(heading.group(1).strip("* ")) + stash("}"))
            continue
        bullet = re.match(r"^\s*[-*]\s+(.*)$", line)
        lines.append(latex_escape(bullet.group(1) if bullet else line))
    body = "\n".join(lines)
    body = re.sub(r"\*\*(.+?)\*\*", lambda m: stash(r"\textbf{") + m.group(1) + stash("}"), body)
    body = re.sub(r"\x00(\d+)\x00", lambda m: placeholders[int(m.group(1))], body)
    return body.replace("}~\\cite{", ",")


def to_latex(survey: Survey) -> str:
    """A complete LaTeX article that cites ``survey.bib`` (written beside it); the model's
    text sanitized first (writer.sanitize)."""
    survey, _ = sanitize_survey(survey)
    keys = cite_keys(survey.references)
    parts = [
        r"\documentclass[11pt]{article}",
        r"\usepackage[utf8]{inputenc}",
        r"\usepackage[T1]{fontenc}",
        r"\usepackage{amsmath}",
        r"\usepackage{hyperref}",
        r"\title{" + latex_escape(survey.title) + "}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        r"\begin{abstract}",
        _latex_paragraphs(survey.abstract, keys),
        r"\end{abstract}",
        r"\section{Introduction}",
        _latex_paragraphs(survey.introduction, keys),
    ]
    for section in survey.sections:
        parts += [r"\section{" + latex_escape(section.title) + "}", _latex_paragraphs(section.text, keys)]
    parts += [
        r"\section{Conclusion}",
        _latex_paragraphs(survey.conclusion, keys),
        r"\bibliographystyle{plain}",
        r"\bibliography{survey}",
        r"\end{document}",
    ]
    return "\n\n".join(parts) + "\n"
