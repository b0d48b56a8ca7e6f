"""Abstracts as quotable sentences: markup turned into plain text, sentence boundaries, and
the tests that keep garbage (empty, withdrawn or non-English abstracts, sentences with left-
over markup, links or tables) out of a survey."""

from __future__ import annotations

import html
import re
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text, get_default_latex_context_db
from sentencex import segment

from retriever.types import Paper
from writer.grounded.coverage import FUNCTION_WORDS
from writer.grounded.glued import glued_words

# Function words of the languages besides English that arXiv abstracts come in (French,
# German, Spanish, Italian, Portuguese). English technical prose has almost none of them.
_FOREIGN_FUNCTION_WORDS_TEXT = """
    le la les des du une est et dans pour sur avec par qui que sont nous cette ces aux au ou
    der die das und ist nicht mit sich den dem ein eine zu von auf wir werden für im wird
    el los las del y en por para con una es se lo al como más su sus este esta
    il gli della delle che di per con sono una nel questo questa
    os das em não uma para com por um como são mais foi
"""
_FOREIGN_FUNCTION_WORDS = frozenset(_FOREIGN_FUNCTION_WORDS_TEXT.split())
# An English abstract has several times more English than foreign function words; a
# French or German one the other way round.
MIN_ENGLISH_TO_FOREIGN_RATIO = 2.0
# English function words as a share of all words, below which a whole abstract is taken for
# another language (Indonesian or Turkish prose has none of either list). Terse technical
# English stays above 10%.
MIN_ABSTRACT_FUNCTION_WORD_SHARE = 0.05
# Letters outside ASCII, as a share of all letters, above which a text is not English prose.
MAX_NON_ASCII_LETTER_SHARE = 0.2
MIN_QUOTABLE_WORDS = 6
MAX_QUOTABLE_WORDS = 80
# Characters that survive only from markup, formulas or code: never quoted.
# A space before punctuation is where a LaTeX macro of the authors' own rendered as nothing.
_MARKUP_LEFTOVER = re.compile(r"[\\{}$^_<>|@#*~=]|<cit\.>|\bhttps?:|\bwww\.|\.(?:com|org|io|html)\b|\s[,.;:!?]")
_LATEX_HINT = re.compile(r"[\\$]")
# A macro standing where a word would ("\model achieves"), not a command applied to a group
# ("\textbf{X}", "{\bf X}"); "\textbf{\model}" is one.
_WORD_MACRO = re.compile(r"(?<!\{)\\([A-Za-z]+)\b(?!\s*[{\[])|\{\\([A-Za-z]+)\}")
# A bare % is a percent sign in an abstract, but a comment to LaTeX, which would drop the rest of the line.
_BARE_PERCENT = re.compile(r"(?<!\\)%")
_MISSING_SPACE = re.compile(r"(?<=[a-z]),(?=[A-Za-z])")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]{0,80}>")
_WITHDRAWN = re.compile(
    r"^(this (paper|article|manuscript|submission|work) (has been|is) )?withdrawn\b|\bwithdraw (this|the) "
    r"(paper|article|manuscript|submission)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# A full stop after a lower-case word, digit or acronym, then a capitalised word, or an
# acronym and a lower-case word ("(TSPO). TSPO introduces"): a sentence boundary unless the
# word is an abbreviation.
_MISSED_BOUNDARY = re.compile(
    r"(?:(?<=[a-z0-9%)\"”])|(?<=[A-Z0-9]{2}))[.!](?=\s+(?:[A-Z][a-z]|[A-Z][A-Z0-9-]+(?:'s)?\s+[a-z]))"
)
_ABBREVIATIONS_TEXT = (
    "al e.g i.e vs etc approx cf fig figs eq eqs sec secs tab ref refs no vol pp ch resp dr mr mrs ms prof st"
)
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
# Abbreviations that sentencex ends a sentence at when a number follows ("Eq. 4", "approx. 5").
_REFERENCE_ABBREVIATION = re.compile(r"\b(?:approx|eqs?|secs?|figs?|tabs?|refs?|no|nos|vol|pp|ch|cf)\.$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _latex() -> LatexNodes2Text:
    return LatexNodes2Text(math_mode="text", strict_latex_spaces=False)


def _unknown_word_macro(text: str) -> bool:
    """Whether `text` uses a macro of the authors' own as a word ("demonstrate that \\model
    achieves"): pylatexenc knows no text for it and would drop it, leaving "that achieves"."""
    known = _latex_context()
    return any(known.get_macro_spec(match.group(1) or match.group(2)) is None for match in _WORD_MACRO.finditer(text))


@lru_cache(maxsize=1)
def _latex_context():
    return get_default_latex_context_db()


def plain_text(text: str) -> str:
    """`text` with HTML entities and tags removed, TeX quotes (````x''``) made typographic, a
    space after a comma between words ("Moreover,they") and whitespace collapsed (other LaTeX
    left as is)."""
    text = _HTML_TAG.sub(" ", html.unescape(text)).replace("``", "“").replace("''", "”")
    return " ".join(_MISSING_SPACE.sub(", ", text).split())


def latex_to_plain(text: str) -> str:
    """`text` with LaTeX (``$k$-means``, ``\\emph{x}``, ``10\\%``) rendered as plain text; text
    without a backslash or dollar sign is returned unchanged (the conversion is slow)."""
    if not _LATEX_HINT.search(text) or _unknown_word_macro(text):
        return text
    try:
        converted = _latex().latex_to_text(_BARE_PERCENT.sub(r"\\%", text))
    except Exception:  # pylatexenc is lenient; a failure leaves the markup for is_quotable to refuse
        return text
    return " ".join(converted.split())


_CATEGORY_DOT = re.compile(r"(?<=\b[a-z]{2})\.(?=[A-Z]{2}\b)|(?<=\b[a-z]{4})\.(?=[A-Z]{2}\b)")
_HIDDEN_DOT = "\ue000"  # a private-use character: no splitter reads it as an end


def split_sentences(text: str) -> list[str]:
    """Sentences of a plain-text abstract ("e.g.", "et al.", "Fig. 2", "Eq. 4" and decimals
    do not end one). sentencex finds the boundaries; pieces it left joined after a quoted
    question (``"Which is correct?". We test``) or before an acronym (``(TSPO). TSPO
    introduces``) are split where a word ends a sentence and a capitalised word starts the
    next."""
    sentences: list[str] = []
    # sentencex ends a sentence inside arXiv category names ("cs.AI"): hide their dots.
    text = _CATEGORY_DOT.sub(_HIDDEN_DOT, text)
    for piece in (piece.replace(_HIDDEN_DOT, ".") for piece in segment("en", text)):
        for part in _split_missed(piece.strip()):
            if sentences and _REFERENCE_ABBREVIATION.search(sentences[-1]) and part[0].isdigit():
                sentences[-1] = f"{sentences[-1]} {part}"
            else:
                sentences.append(part)
    return sentences


def _split_missed(piece: str) -> list[str]:
    parts, start = [], 0
    for match in _MISSED_BOUNDARY.finditer(piece):
        word = piece[: match.start() + 1].rsplit(" ", 1)[-1].lower().rstrip(".!").lstrip("([\"“")
        if word not in _ABBREVIATIONS:
            parts.append(piece[start : match.start() + 1].strip())
            start = match.end()
    parts.append(piece[start:].strip())
    return [part for part in parts if part]


def is_english(text: str, min_function_word_share: float = 0.0) -> bool:
    """Whether `text` reads as English prose: mostly ASCII letters, and far more English
    function words than French, German, Spanish, Italian or Portuguese ones, and English
    function words at least `min_function_word_share` of all words."""
    words = _WORD.findall(text)
    if not words:
        return False
    letters = "".join(words)
    non_ascii = sum(1 for char in letters if not char.isascii())
    if non_ascii / len(letters) > MAX_NON_ASCII_LETTER_SHARE:
        return False
    lowered = [word.lower() for word in words]
    english = sum(1 for word in lowered if word in FUNCTION_WORDS)
    foreign = sum(1 for word in lowered if word in _FOREIGN_FUNCTION_WORDS)
    if english < min_function_word_share * len(words):
        return False
    return english >= MIN_ENGLISH_TO_FOREIGN_RATIO * foreign


def is_quotable(sentence: str) -> bool:
    """Whether `sentence` can stand in a survey as written: a finished sentence of ordinary
    length, with no markup, formula, link or table left in it, and no words run together
    ("novelunderstanding", writer.grounded.glued)."""
    words = sentence.split()
    if not MIN_QUOTABLE_WORDS <= len(words) <= MAX_QUOTABLE_WORDS or sentence[-1] not in ".!":
        return False
    # A question inside ("... to inquire: Do X degrade Y?") would be cut there by any splitter.
    if _MARKUP_LEFTOVER.search(sentence) or "?" in sentence or sentence.count("(") != sentence.count(")"):
        return False
    letters = sum(1 for char in sentence if char.isalpha())
    return letters / len(sentence) >= 0.6 and not glued_words(sentence)


def unusable_reason(paper: Paper) -> str | None:
    """Why `paper`'s abstract cannot be quoted at all (empty, withdrawn, not English), or None.
    An abstract in English and another language (a translation after it) counts as English
    when two of its sentences are."""
    text = plain_text(paper.abstract)
    if not text:
        return "its abstract is empty"
    if _WITHDRAWN.search(text):
        return "it has been withdrawn"
    if not is_english(text, MIN_ABSTRACT_FUNCTION_WORD_SHARE):
        english = [s for s in split_sentences(text) if is_english(s, MIN_ABSTRACT_FUNCTION_WORD_SHARE)]
        if len(english) < 2:
            return "its abstract is not in English"
    return None


def quotable_sentences(paper: Paper) -> list[str]:
    """The sentences of `paper`'s abstract that may be quoted, LaTeX rendered as text, in
    order; empty when the abstract is unusable (see :func:`unusable_reason`)."""
    if unusable_reason(paper) is not None:
        return []
    return list(_quotable_sentences(paper.abstract))


@lru_cache(maxsize=8192)
def _quotable_sentences(abstract: str) -> tuple[str, ...]:
    sentences = (latex_to_plain(sentence) for sentence in split_sentences(plain_text(abstract)))
    return tuple(sentence for sentence in sentences if is_quotable(sentence) and is_english(sentence))
