"""Authors in the BibTeX export, on real names of the arXiv sample: each name splits, by
BibTeX's own rules, into the family name retriever.names reads (the survey's citations name
authors by it); group authors stay whole; the Markdown references keep names as typed.

No BibTeX parser is installed in the venv (bibtexparser, pybtex, bibtex: none), so
:func:`bibtex_name_parts` reads names as BibTeX does (btxdoc, "names"): authors split at
"and" outside braces; "First von Last", "von Last, First" or "von Last, Jr, First"; von is
the words that start lower-case, the last word always Last; a braced group is one word."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass

import pytest

from retriever.ingest import parse_corpus_record
from retriever.names import family_first, group_author, surname
from writer import Survey, SurveySection
from writer.export import bibtex_authors, bibtex_people, to_bibtex, to_markdown


def split_outside_braces(text: str, pattern: str) -> list[str]:
    """`text` split where `pattern` matches at brace depth 0; fails on unbalanced braces."""
    depth, masked = 0, []
    for char in text:
        depth += char == "{"
        masked.append(char if depth == 0 else "\x00")
        depth -= char == "}"
        assert depth >= 0, f"unbalanced braces in {text!r}"
    assert depth == 0, f"unbalanced braces in {text!r}"
    parts, start = [], 0
    for match in re.finditer(pattern, "".join(masked)):
        parts.append(text[start : match.start()])
        start = match.end()
    return [*parts, text[start:]]


@dataclass
class NameParts:
    first: str
    von: str
    last: str
    jr: str

    def family(self) -> str:
        return " ".join(part for part in (self.von, self.last) if part)


def _words(text: str) -> list[str]:
    return [word for word in split_outside_braces(text.strip(), r"\s+") if word]


def _von_last(words: list[str]) -> tuple[list[str], list[str]]:
    """von (up to the last lower-case word before the last word) and Last."""
    lower = [i for i, word in enumerate(words[:-1]) if word[0].isalpha() and word[0].islower()]
    if not lower:
        return [], words
    return words[: lower[-1] + 1], words[lower[-1] + 1 :]


def bibtex_name_parts(field: str) -> list[NameParts]:
    """An author field's names as BibTeX splits them."""
    found = []
    for name in split_outside_braces(field, r"(?i)\s+and\s+"):
        parts = split_outside_braces(name, ",")
        assert len(parts) <= 3, f"too many commas in {name!r}"
        if len(parts) == 1:
            words = _words(name)
            lower = [i for i, word in enumerate(words[:-1]) if word[0].isalpha() and word[0].islower()]
            start = lower[0] if lower else len(words) - 1
            von, last = _von_last(words[start:])
            found.append(NameParts(" ".join(words[:start]), " ".join(von), " ".join(last), ""))
        else:
            von, last = _von_last(_words(parts[0]))
            jr = parts[1].strip() if len(parts) == 3 else ""
            found.append(NameParts(parts[-1].strip(), " ".join(von), " ".join(last), jr))
    return found


def bib_entries(bib: str) -> dict[str, dict[str, str]]:
    """A .bib file as written by to_bibtex: key -> field -> value; fails on anything else."""
    entries = {}
    for block in bib.strip().split("\n\n"):
        head, *lines, end = block.split("\n")
        assert re.fullmatch(r"@misc\{[a-z0-9]+,", head) and end == "}", block
        fields = {}
        for line in lines:
            match = re.fullmatch(r"  (\w+) = \{(.*)\},?", line)
            assert match, line
            split_outside_braces(match.group(2), ",")  # balanced braces
            fields[match.group(1)] = match.group(2)
        entries[head[len("@misc{") : -1]] = fields
    return entries


def plain(text: str) -> str:
    return re.sub(r"[\\{}]", "", text).lower()


@pytest.fixture(scope="module")
def sample_papers(sample_corpus):
    if not sample_corpus.is_file():
        pytest.skip(f"real data not found at {sample_corpus}")
    with gzip.open(sample_corpus, "rt", encoding="utf-8") as lines:
        return [parse_corpus_record(json.loads(line)) for line in lines]


def paper_with(papers, author: str):
    return next(paper for paper in papers if author in paper.authors)


# Real authors of the sample: family name first, a group, particles, suffixes, given name first.
CASES = {
    "Zhou Haonan": NameParts("Haonan", "", "Zhou", ""),
    "Kimi Team": NameParts("", "", "{Kimi Team}", ""),
    "the TCV team": NameParts("", "", "{the TCV team}", ""),
    "Hal Daumé III": NameParts("Hal", "", "Daumé", "III"),
    "Benjamin Van Durme": NameParts("Benjamin", "", "Van Durme", ""),
    "Farida Al Haddad": NameParts("Farida", "", "Al Haddad", ""),
    "Peter van der Putten": NameParts("Peter", "van der", "Putten", ""),
    "Justin Le Louëdec": NameParts("Justin", "", "Le Louëdec", ""),
}


def survey_citing(papers) -> Survey:
    ids = [paper.arxiv_id for paper in papers]
    text = " ".join(f"Claim [arXiv:{arxiv_id}]." for arxiv_id in ids)
    section = SurveySection("Work", text, papers=ids)
    by_id = {paper.arxiv_id: paper for paper in papers}
    return Survey("T", "A.", "I.", [section], "C.", by_id, {"title": "T"}, {"run_id": "r"})


def test_real_names_split_into_the_family_name_the_text_cites(sample_papers):
    papers = list(
        {paper_with(sample_papers, author).arxiv_id: paper_with(sample_papers, author) for author in CASES}.values()
    )
    bib = bib_entries(to_bibtex(survey_citing(papers)))
    assert len(bib) == len(papers)
    by_author = {}
    for paper, fields in zip(papers, bib.values(), strict=True):
        people = bibtex_people(paper.authors)
        by_author.update(zip(people, bibtex_name_parts(fields["author"]), strict=True))
    for author, expected in CASES.items():
        assert by_author[author] == expected, author


def test_every_name_of_the_sample_splits_as_retriever_names_reads_it(sample_papers):
    checked = 0
    for paper in sample_papers:
        people = bibtex_people(paper.authors)
        parsed = bibtex_name_parts(bibtex_authors(paper.authors)) if people else []
        assert len(parsed) == len(people), paper.authors
        for person, order, parts in zip(people, family_first(people), parsed, strict=True):
            typed = sorted(plain(person).split())
            assert sorted(plain(f"{parts.first} {parts.family()} {parts.jr}").split()) == typed, person
            if group_author(person):
                assert parts.last.startswith("{") and not (parts.first or parts.von or parts.jr), person
            else:
                assert plain(parts.family()) == plain(surname(person, order)), (person, parts)
            checked += 1
    assert checked > 28_000


def test_markdown_references_keep_the_names_as_typed(sample_papers):
    papers = [paper_with(sample_papers, "Zhou Haonan"), paper_with(sample_papers, "Kimi Team")]
    references = to_markdown(survey_citing(papers)).split("## References")[1]
    for paper in papers:
        shown = ", ".join(paper.authors) if len(paper.authors) <= 3 else f"{paper.authors[0]} et al."
        assert shown in references
    assert "{" not in references and "Zhou, Haonan" not in references


def test_stray_words_of_the_listing_are_not_bibtex_authors():
    # as the full corpus lists them: 2503.16565 ("and Shadab Khan"), 2508.19477 ("Adam Hewitt
    # and"), 2606.06950 (two names in one), a ":" after a group, and names run together with ";"
    # (2606.19626)
    authors = [
        "Kimi Team",
        ":",
        "Adam Hewitt and",
        "and Shadab Khan",
        "Donald Johann Jr. and Fred Prior",
        "Antonio de Sousa Leitão Filho; Fabrício Saul Lima",
    ]
    assert bibtex_people(authors) == [
        "Kimi Team",
        "Adam Hewitt",
        "Shadab Khan",
        "Donald Johann Jr.",
        "Fred Prior",
        "Antonio de Sousa Leitão Filho",
        "Fabrício Saul Lima",
    ]
    parsed = bibtex_name_parts(bibtex_authors(authors))
    # nameparser keeps "Filho" in the family name: the bib agrees with the survey's citations
    families = ["{Kimi Team}", "Hewitt", "Khan", "Johann", "Prior", "de Sousa Leitão Filho", "Lima"]
    assert [parts.family() for parts in parsed] == families
    assert parsed[3].jr == "Jr."
