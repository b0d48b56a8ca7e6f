"""Distinctive phrases of groups of papers: class-based document frequencies (as in
c-TF-IDF), scored by how concentrated a phrase is in its group.

A phrase is a run of one to four words between punctuation and stop words (scikit-learn's
English list, read by retriever/stop_words.py), so "group relative policy optimization" is a
phrase and "of the" never is.
Each group (class) of texts is scored against all the groups and a background:

    share = the group's texts that contain it / the group's texts
    overall = all texts that contain it / all texts  (and/or its share of a whole collection,
              e.g. a library, when one is given: the larger of the two)
    score = share x log(share / overall)        (0 unless share > overall)

so a phrase that most papers of one group use and few others do ranks first, and words
every group shares ("large language models", "we propose") sink. Against plain c-TF-IDF
(share x log(1 + 1 / overall)) the share inside the logarithm sinks common words that one
group happens to use a little more than the others ("different", "approach"). The
background (texts only counted against, e.g. the rest of a search's hits) returns nothing.
A lone group with no background has nothing to be distinctive against: its phrases score
their share.

Public: `Phrase`, `text_phrases`, `distinctive_phrases`, `rerank_by_similarity`, `content_words`,
`topic_words`, `normalize_word`.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from retriever.stop_words import english_stop_words

MAX_WORDS = 4
# a phrase gives way to a longer one containing it that is found in this share of its texts
ABSORB_SHARE = 0.8
# A word: letters, digits and inner hyphens or dots ("chain-of-thought", "GPT-4o", "o1").
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*")
# Phrases never run across these.
_BREAK = re.compile(r"[,;:.!?()\[\]{}\"“”'`/|]+\s|[,;:!?()\[\]{}\"“”`|]|\s[-–—]+\s|\$[^$]*\$")


@dataclass(frozen=True, slots=True)
class Phrase:
    """A phrase of a group: its normalised key, its most common spelling in the group, its
    c-TF-IDF score and how many of the group's texts contain it."""

    key: str
    text: str
    score: float
    documents: int

    @property
    def words(self) -> tuple[str, ...]:
        """The key's words."""
        return tuple(self.key.split())


def normalize_word(word: str) -> str:
    """Lower case, with a plain plural 's' dropped so "models" and "model" count as one."""
    lower = word.lower()
    if len(lower) > 3 and lower.endswith("s") and not lower.endswith(("ss", "us", "is", "ics")):
        return lower[:-1]
    return lower


# Latin abbreviations of running text ("e.g." reads as the word "e.g" here); never a term.
_ABBREVIATIONS = frozenset({"e.g", "i.e", "et", "al", "etc", "cf", "vs", "viz"})


# a search mines a few hundred abstracts whose words repeat: each token is judged once
@lru_cache(maxsize=1 << 16)
def _is_word(token: str) -> bool:
    """Whether a token can be part of a phrase: not a stop word or an abbreviation such as
    "e.g.", not a bare number."""
    lower = token.lower()
    return (
        lower not in english_stop_words()
        and lower not in _ABBREVIATIONS
        and any(c.isalpha() for c in token)
        and len(token) > 1
    )


def text_phrases(text: str, max_words: int = MAX_WORDS) -> dict[str, str]:
    """Every phrase of `text`: normalised key -> its spelling here (first seen)."""
    found: dict[str, str] = {}
    for chunk in _BREAK.split(text):
        run: list[str] = []
        for token in [*_WORD.findall(chunk), ""]:
            if token and _is_word(token):
                run.append(token)
                continue
            _add_run_phrases(found, run, max_words)
            run = []
    return found


def _add_run_phrases(found: dict[str, str], run: list[str], max_words: int) -> None:
    """Every phrase of one run of words into `found` (first spelling kept), longer ones after
    shorter ones from the same start; each word is normalised once."""
    keys = [normalize_word(word) for word in run]
    for start in range(len(run)):
        for end in range(start + 1, min(start + max_words, len(run)) + 1):
            found.setdefault(" ".join(keys[start:end]), " ".join(run[start:end]))


def content_words(text: str) -> set[str]:
    """The normalised non-stop words of `text`."""
    return {normalize_word(w) for w in _WORD.findall(text) if _is_word(w)}


def topic_words(topic: str) -> set[str]:
    """The topic's content words, the parts of its hyphenated words, and the acronyms of its
    runs of two to four words ("Retrieval-Augmented Generation for Large Language Models":
    ..., "retrieval", "augmented", "rag", "llm", "lm"), normalised: a phrase made only of
    these says nothing the topic does not."""
    words = content_words(topic)
    words |= {normalize_word(part) for word in list(words) for part in word.split("-") if len(part) > 1}
    for run in text_phrases(topic, max_words=4):
        parts = [part for word in run.split() for part in word.split("-") if part]
        if len(parts) > 1:
            words.add("".join(p[0] for p in parts))
    return words


def distinctive_phrases(
    groups: Sequence[Sequence[str]],
    count: int,
    *,
    background: Sequence[str] = (),
    min_documents: int = 2,
    min_share: float = 0.0,
    exclude_words: Iterable[str] = (),
    max_words: int = MAX_WORDS,
    corpus_share: Callable[[Sequence[str]], Sequence[float]] | None = None,
    against_groups: bool = True,
    avoid_words: Iterable[str] = (),
) -> list[list[Phrase]]:
    """The best `count` phrases of each group of texts, best first, scored by how
    concentrated they are in the group (module docstring).

    The overall share a phrase is compared with is its share of all groups and `background`
    (with `against_groups`) and, with `corpus_share` (phrase keys -> the share of a whole
    collection's papers holding each, e.g. `Library.phrase_shares`), its share of the
    collection: the larger of the two, so a phrase must stand out from both. A phrase must
    occur in at least `min_documents` texts and `min_share` of its group's texts. Phrases
    made only of `exclude_words` (e.g. the topic's own words, normalised by
    :func:`normalize_word`) are left out, so are phrases holding any of `avoid_words`, and so
    is a phrase sharing half its words (or the
    other's) with a better one of its group. A phrase inside a longer one found in at least
    ABSORB_SHARE as many texts gives way to the longer one."""
    excluded = {normalize_word(w) for w in exclude_words}
    avoided = {normalize_word(w) for w in avoid_words}
    per_group = [[text_phrases(text, max_words) for text in group] for group in groups]
    per_background = [text_phrases(text, max_words) for text in background]
    total_texts = sum(len(g) for g in groups) + len(background)
    overall: Counter = Counter()
    for doc in [*(d for g in per_group for d in g), *per_background]:
        overall.update(doc.keys())
    candidates = [_eligible(docs, min_documents, min_share, excluded, avoided) for docs in per_group]
    keys = sorted({key for found in candidates for key in found[0]})
    sample = {key: overall[key] / total_texts for key in keys}
    reference: dict[str, float] = {}
    # one group and no background: nothing in the sample to contrast with
    if against_groups and (len(groups) > 1 or per_background):
        reference = dict(sample)
    if corpus_share is not None:
        for key, share in zip(keys, corpus_share(keys), strict=True):
            # a phrase the collection's own matching misses (0) is compared with the sample
            reference[key] = max(reference.get(key, 0.0), float(share) if share > 0 else sample[key])
    return [
        _group_phrases(len(docs), found, reference, count) for docs, found in zip(per_group, candidates, strict=True)
    ]


def _eligible(
    docs: list[dict[str, str]], min_documents: int, min_share: float, excluded: set[str], avoided: set[str]
) -> tuple[dict[str, int], dict[str, str]]:
    """The group's phrases found often enough, not made only of excluded words and holding
    no avoided word, with the texts holding each, and each one's most common spelling."""
    frequency: Counter = Counter()
    spellings: dict[str, Counter] = defaultdict(Counter)
    for doc in docs:
        frequency.update(doc.keys())
        for key, spelling in doc.items():
            spellings[key][spelling] += 1
    needed = max(min_documents, math.ceil(min_share * len(docs)))
    eligible = {
        key: n
        for key, n in frequency.items()
        if n >= needed and not set(key.split()) <= excluded and not set(key.split()) & avoided
    }
    return eligible, {key: _spelling(spellings[key]) for key in eligible}


def _group_phrases(
    size: int, found: tuple[dict[str, int], dict[str, str]], reference: dict[str, float], count: int
) -> list[Phrase]:
    """The group's best `count` phrases by `_score` against `reference` shares."""
    eligible, spelling = found
    absorbed = _absorbed(eligible)
    scored = [
        Phrase(key, spelling[key], _score(n / size, reference.get(key)), n)
        for key, n in eligible.items()
        if key not in absorbed
    ]
    scored = [p for p in scored if p.score > 0]  # no more common in the group than elsewhere
    scored.sort(key=lambda p: (-p.score, -len(p.words), p.key))
    chosen: list[Phrase] = []
    for phrase in scored:
        if len(chosen) >= count:
            break
        if any(_covered(phrase, better) for better in chosen):
            continue
        chosen.append(phrase)
    return chosen


def _absorbed(frequency: dict[str, int]) -> set[str]:
    """Keys inside a longer eligible phrase found in at least ABSORB_SHARE as many texts:
    "relative policy" goes where "group relative policy optimization" is nearly as common."""
    absorbed = set()
    for key, n in frequency.items():
        words = key.split()
        for size in range(1, len(words)):
            for start in range(len(words) - size + 1):
                part = " ".join(words[start : start + size])
                if part in frequency and n >= ABSORB_SHARE * frequency[part]:
                    absorbed.add(part)
    return absorbed


def _covered(phrase: Phrase, better: Phrase) -> bool:
    """Whether `phrase` repeats the better-scored `better`: they share at least half the
    words of the shorter one ("relative policy optimization" beside "group relative policy")."""
    mine, theirs = _parts(phrase.words), _parts(better.words)
    shared = mine & theirs
    return bool(shared) and 2 * len(shared) >= min(len(mine), len(theirs))


def _parts(words: Sequence[str]) -> set[str]:
    """Words with hyphenated ones split, so "question-answering" repeats "question answering"."""
    return {part for word in words for part in word.split("-") if part}


def _spelling(spellings: Counter) -> str:
    """The most common spelling; ties go to the one with more capitals (acronyms), then the
    alphabetically first."""
    return min(spellings, key=lambda s: (-spellings[s], -sum(c.isupper() for c in s), s))


def rerank_by_similarity(
    phrases: Sequence[Sequence[Phrase]],
    embed: Callable[[Sequence[str]], np.ndarray],
    anchors: np.ndarray,
    keep: int,
) -> list[list[Phrase]]:
    """Each group's phrases rescored as c-TF-IDF x cosine(phrase, the group's anchor
    vector), negative cosines counting as zero, best `keep` first. c-TF-IDF alone ranks a
    word that happens to be rare among a few hundred papers ("possible", "suffer") beside
    real sub-themes; the embedding knows which phrases mean something close to the papers.
    `embed` returns L2-normalised rows (e.g. `Library.embed`); `anchors` has one row per group."""
    texts = sorted({p.text for group in phrases for p in group})
    if not texts:
        return [[] for _ in phrases]
    if len(anchors) != len(phrases):
        raise ValueError(f"{len(anchors)} anchor vectors for {len(phrases)} groups; give one per group")
    row_of = {text: row for row, text in enumerate(texts)}
    vectors = np.asarray(embed(texts), dtype=np.float32)
    ranked = []
    for group, anchor in zip(phrases, np.asarray(anchors, dtype=np.float32), strict=True):
        similarity = vectors @ (anchor / max(float(np.linalg.norm(anchor)), 1e-12))
        rescored = [replace(p, score=p.score * max(float(similarity[row_of[p.text]]), 0.0)) for p in group]
        rescored = [p for p in rescored if p.score > 0]
        rescored.sort(key=lambda p: (-p.score, -len(p.words), p.key))
        ranked.append(rescored[:keep])
    return ranked


def _score(share: float, reference: float | None) -> float:
    """share x log(share / reference share): how much of the group uses the phrase, times
    how concentrated in the group it is (a term of the group's KL divergence from the
    reference); the share alone when there is no reference."""
    if reference is None:
        return share
    return share * math.log(share / reference) if share > reference else 0.0
