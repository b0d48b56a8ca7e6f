"""How much of a sentence its cited abstracts can account for: the share of the sentence's
content words that occur in them.

This is the one definition of the lexical support proxy. The grounded writer gates model
rewrites with it, and evaluation reports it; both call :func:`content_word_coverage`.
A content word is a word that is not a function word, not a discourse connective (the
writer's own "In a related direction," states no fact) and not part of a citation marker.
Words are compared lower-cased and Snowball-stemmed, and hyphenated words count as their
parts ("large-scale" covers "large scale").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

from retriever.types import Paper
from writer.citations import MARKER, NUMERIC_CITATION

# Function words of English: articles, pronouns, auxiliaries, prepositions, conjunctions and
# quantifiers that carry no claim of their own.
_FUNCTION_WORDS_TEXT = """
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each either et al etc few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just may me
    might more most must my myself neither no nor not of off on once only or other our ours ourselves out over
    own same shall she should so some such than that the their theirs them themselves then there these they
    this those through thus to too under until up upon us very via was we were what when where whether which
    while who whom whose why will with within without would yet you your yours yourself yourselves one ones
    e g ie eg vs
"""
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())
# Words of the connectives and attributions the grounded writer adds around extracted facts;
# they assert nothing a reader would check against an abstract ("mention" in
# writer.grounded.shared says a phrase is in every cited abstract, which the writer checks).
_DISCOURSE_WORDS_TEXT = """
    additionally addition another besides finally furthermore hence likewise meanwhile moreover related
    direction similarly separately turn line vein along closely work works study studies paper papers
    propose proposes present presents introduce introduces show shows describe describes report reports note notes
    mention mentions
"""
DISCOURSE_WORDS = frozenset(_DISCOURSE_WORDS_TEXT.split())
STOPWORDS = FUNCTION_WORDS | DISCOURSE_WORDS
# A cited sentence counts as supported when at least this share of its content words is in
# its cited abstracts (the support proxy of issue 14's benchmark).
SUPPORT_THRESHOLD = 0.8
# A word: letters/digits run, decimals kept whole ("95.3"); underscores split.
_WORD = re.compile(r"[^\W_]+(?:[.,]\d+)*", re.UNICODE)
_STEMMER = snowballstemmer.stemmer("english")
_DISCOURSE_STEMS = frozenset(_STEMMER.stemWords(sorted(DISCOURSE_WORDS)))


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def content_words(text: str) -> list[str]:
    """The stemmed content words of `text`, in order, repeats kept: citation markers removed,
    lower-cased, hyphenated words split, function words and discourse words in any form
    ("proposed" as "propose") dropped."""
    text = NUMERIC_CITATION.sub(" ", MARKER.sub(" ", text))
    stems = (_stem(word) for word in _WORD.findall(text.lower()) if word not in FUNCTION_WORDS)
    return [stem for stem in stems if stem not in _DISCOURSE_STEMS]


def content_word_coverage(sentence: str, abstracts: Iterable[str]) -> float:
    """Share of the distinct content words of `sentence` found among the content words of
    `abstracts` (the texts of the papers it cites; see :func:`evidence_text`).

    1.0 for a sentence without content words (it claims nothing); 0.0 when it has some and
    no abstract is given.
    """
    claimed = set(content_words(sentence))
    if not claimed:
        return 1.0
    known: set[str] = set()
    for abstract in abstracts:
        known.update(content_words(abstract))
    return len(claimed & known) / len(claimed)


def evidence_text(paper: Paper) -> str:
    """What a sentence citing `paper` may draw on: its abstract, its title and its authors'
    names (an attributed sentence names them: "Smith et al. propose ...")."""
    return "\n".join([paper.abstract, paper.title, "; ".join(paper.authors)])
