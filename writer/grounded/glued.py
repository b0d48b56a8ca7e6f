"""Words run together in an abstract ("a novelunderstanding of", "we demonstratethe"): arXiv
metadata loses spaces at line breaks, and a survey must not quote such a sentence as it is.

A lower-case word is taken for two words run together when wordfreq's English list (which
ships with the package; nothing is downloaded) does not know it, it splits into two words
that the list knows as common, and the split is not a compound that English builds all
the time: a prefix ("pre", "sub", "over", "multi") or a suffix ("ability", "wise", "less")
makes words ("pretraining", "layerwise"), so a side must be a function word ("andproblems",
"thecontent") or both sides must be words of five letters or more ("novelunderstanding").

Public: `MIN_PART_ZIPF`, `glued_split`, `glued_words`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from wordfreq import zipf_frequency

from writer.grounded.coverage import FUNCTION_WORDS

# Both sides of a split are words at least this common (Zipf scale: 4 is about once per
# 100,000 words, "novel" 4.6, "understanding" 4.8).
MIN_PART_ZIPF = 4.0
MIN_GLUED_LETTERS = 7
MIN_SIDE_LETTERS = 3
MIN_CONTENT_SIDE_LETTERS = 5
# Beginnings and endings that make ordinary compounds rather than two words run together.
_PREFIXES_TEXT = """
    pre post sub super under over out up down off in on non multi micro macro mini meta hyper auto anti
    counter cross inter intra self mid mis back fore bio geo semi poly mono co re un de dis trans
"""
_PREFIXES = frozenset(_PREFIXES_TEXT.split())
_SUFFIXES_TEXT = "ability able ible less ness wise ally ive ment like fold ward wards ship hood ism"
_SUFFIXES = frozenset(_SUFFIXES_TEXT.split())
_CANDIDATE = re.compile(r"(?<![\w-])[a-z]{7,}(?![\w-])")


@lru_cache(maxsize=65536)
def glued_split(word: str) -> tuple[str, str] | None:
    """The two words `word` was run together from, or None when it is a word (or no split
    qualifies, see the module docstring). Only lower-case words of MIN_GLUED_LETTERS letters
    or more are judged."""
    if len(word) < MIN_GLUED_LETTERS or not word.isalpha() or not word.islower():
        return None
    if zipf_frequency(word, "en") > 0:
        return None
    for cut in range(MIN_SIDE_LETTERS, len(word) - MIN_SIDE_LETTERS + 1):
        left, right = word[:cut], word[cut:]
        if left in _PREFIXES or right in _SUFFIXES:
            continue
        if min(zipf_frequency(left, "en"), zipf_frequency(right, "en")) < MIN_PART_ZIPF:
            continue
        function_side = (left in FUNCTION_WORDS) != (right in FUNCTION_WORDS)
        if function_side or min(len(left), len(right)) >= MIN_CONTENT_SIDE_LETTERS:
            return left, right
    return None


def glued_words(text: str) -> list[str]:
    """The words of `text` that are two words run together, in order."""
    return [word for word in _CANDIDATE.findall(text) if glued_split(word) is not None]
