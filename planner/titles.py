"""Section titles named from the papers: each group of papers gets its most distinctive
phrases (c-TF-IDF against the other groups, retriever/phrases.py) as a readable heading, and
every title, mined or proposed by a model, passes one validation (`title_problem`).

Public: `GroupTitle`, `readable`, `mined_titles`, `title_problem`, `distinctive_words`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from planner.plan import is_placeholder
from planner.schema import TITLE_CHARS
from retriever.phrases import Phrase, content_words, distinctive_phrases, rerank_by_similarity, topic_words

PHRASES_PER_GROUP = 8  # phrases mined per group: title candidates and the validator's vocabulary
CANDIDATES_PER_PHRASE = 3  # c-TF-IDF candidates per phrase kept when reranking by the embeddings
GROUNDED_SHARE = 0.5  # share of a title's own words (not the topic's) that its papers must use
HEAD_CHOICES = 3  # a title's head may be any of its group's first phrases (the best telling one)


@dataclass(frozen=True, slots=True)
class GroupTitle:
    """A group's title (None when no phrase of its papers could name it) and its phrases."""

    title: str | None
    phrases: list[Phrase] = field(default_factory=list)


def readable(spelling: str) -> str:
    """A phrase as a heading: each word capitalised, acronyms and words with digits kept,
    hyphenated parts capitalised except short joining words ("Chain-of-Thought")."""
    words = []
    for word in spelling.split():
        parts = word.split("-")
        words.append("-".join(_capitalised(part, first=index == 0) for index, part in enumerate(parts)))
    return " ".join(words)


def _capitalised(part: str, first: bool) -> str:
    if not part or any(c.isupper() or c.isdigit() for c in part):
        return part
    if not first and not content_words(part):  # a stop word inside a hyphenated word
        return part
    return part[0].upper() + part[1:]


def distinctive_words(phrases: Sequence[Phrase]) -> set[str]:
    """The normalised words of a group's distinctive phrases."""
    return {word for phrase in phrases for word in phrase.words}


def title_problem(
    title: str, topic: str, group_texts: Sequence[str], phrases: Sequence[Phrase], others: Sequence[str] = ()
) -> str | None:
    """What is wrong with `title` as the heading of a group of papers, or None when it is fit.

    A fit title is non-blank, at most TITLE_CHARS characters, not template filler; it says
    something beyond the topic's own words; at least GROUNDED_SHARE of those words occur in
    the group's texts; one of them is a word of the group's distinctive `phrases` (so a
    generic heading such as "Methods and Architectures" fails); and it differs from every
    title in `others` (also in its set of words)."""
    cleaned = " ".join(title.split())
    if not cleaned:
        return "it is blank"
    if len(cleaned) > TITLE_CHARS:
        return f"it is {len(cleaned)} characters long (at most {TITLE_CHARS})"
    if is_placeholder(cleaned):
        return "it is template filler, not a title"
    own = content_words(cleaned) - topic_words(topic)
    if not own:
        return "it says nothing beyond the topic's own words"
    used = set().union(*(content_words(text) for text in group_texts)) if group_texts else set()
    if len(own & used) < GROUNDED_SHARE * len(own):
        return f"most of its words ({', '.join(sorted(own - used))}) do not occur in the section's papers"
    if not own & distinctive_words(phrases):
        return "none of its words is distinctive of the section's papers (too generic)"
    for other in others:
        if cleaned.lower() == " ".join(other.split()).lower() or content_words(cleaned) == content_words(other):
            return f"it repeats the title {other!r}"
    return None


def mined_titles(
    groups: Sequence[Sequence[str]],
    topic: str,
    *,
    background: Sequence[str] = (),
    taken: Sequence[str] = (),
    avoid_words: Sequence[str] = (),
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
    centres: np.ndarray | None = None,
    corpus_share: Callable[[Sequence[str]], Sequence[float]] | None = None,
) -> list[GroupTitle]:
    """A title for each group of texts from its distinctive phrases: the best phrase that no
    other title uses, joined by "and" to the next phrase sharing no word with it
    ("Reward Models and Preference Data"). Groups whose best phrase scores highest choose
    first. Phrases made only of the topic's words or of `avoid_words` (e.g. the parent
    section's title) are not used. With `embed` and `centres` (one mean vector per group)
    phrases are reranked by closeness to their group (`rerank_by_similarity`); with
    `corpus_share` (e.g. `Library.phrase_shares`) phrases common in the whole collection
    sink (`distinctive_phrases`). Every title
    passes :func:`title_problem` against the others and `taken`. A group no phrase can name
    gets title None."""
    exclude = topic_words(topic) | {w for text in avoid_words for w in content_words(text)}
    pool = PHRASES_PER_GROUP * (CANDIDATES_PER_PHRASE if embed is not None else 1)
    shares = _memo(corpus_share) if corpus_share is not None else None
    options = {"background": background, "exclude_words": exclude, "corpus_share": shares}
    phrases = distinctive_phrases(groups, pool, **options)
    bare = [i for i, found in enumerate(phrases) if not found]
    if bare:  # a group too small or too varied for a phrase in two papers: one-paper phrases
        single = distinctive_phrases(groups, pool, min_documents=1, **options)
        phrases = [single[i] if i in bare else found for i, found in enumerate(phrases)]
    if embed is not None and centres is not None:
        phrases = rerank_by_similarity(phrases, embed, centres, PHRASES_PER_GROUP)
    titles: list[str | None] = [None] * len(groups)
    used_heads: list[set[str]] = []
    order = sorted(range(len(groups)), key=lambda i: (-(phrases[i][0].score if phrases[i] else 0.0), i))
    for index in order:
        chosen = _title_from(phrases[index], used_heads)
        if chosen is None:
            continue
        title, head = chosen
        others = [*taken, *(t for t in titles if t)]
        if title_problem(title, topic, groups[index], phrases[index], others) is None:
            titles[index] = title
            used_heads.append(_parts(head))
    return [GroupTitle(title, list(found)) for title, found in zip(titles, phrases, strict=True)]


def _memo(shares: Callable[[Sequence[str]], Sequence[float]]) -> Callable[[Sequence[str]], list[float]]:
    """`shares` asked once per phrase however often the naming passes ask."""
    known: dict[str, float] = {}

    def cached(phrases: Sequence[str]) -> list[float]:
        missing = [p for p in dict.fromkeys(phrases) if p not in known]
        if missing:
            known.update(zip(missing, (float(x) for x in shares(missing)), strict=True))
        return [known[p] for p in phrases]

    return cached


def _title_from(phrases: Sequence[Phrase], used_heads: Sequence[set[str]]) -> tuple[str, Phrase] | None:
    """(title, its head phrase) from a group's phrases, avoiding heads that other titles
    use (the same words, or words containing or contained in theirs). A single plain word
    ("potential", "tasks") names little: the head is the best telling phrase among the first
    HEAD_CHOICES when there is one, and a plain word partners only a plain-word head. The
    partner after "and" is the best later phrase sharing no word with the head."""
    free = [p for p in phrases if not _clashes(p, used_heads)]
    if not free:
        return None
    head = next((p for p in free[:HEAD_CHOICES] if _telling(p)), free[0])
    others = [p for p in free if p is not head and not _parts(p) & _parts(head) and not _abbreviates(p, head)]
    telling = [p for p in others if _telling(p)]
    partner = telling[0] if telling else others[0] if others and not _telling(head) else None
    title = readable(head.text) if partner is None else f"{readable(head.text)} and {readable(partner.text)}"
    return title, head


def _abbreviates(one: Phrase, other: Phrase) -> bool:
    """Whether either phrase is an acronym holding the other's initials ("RL" for
    "reinforcement learning", "RLVR" for "verifiable rewards")."""

    def initials(phrase: Phrase) -> str:
        return "".join(part[0] for word in phrase.words for part in word.split("-") if part)

    def holds(short: Phrase, long: Phrase) -> bool:
        letters = initials(long)
        return len(short.words) == 1 and len(letters) > 1 and letters in short.key

    return holds(one, other) or holds(other, one)


def _telling(phrase: Phrase) -> bool:
    """Whether a phrase names something by itself: several words (hyphenated ones count),
    or a name or acronym (capitals past the first letter, or digits: "GRPO", "GPT-4o")."""
    return len(_parts(phrase)) > 1 or any(c.isupper() or c.isdigit() for c in phrase.text[1:])


def _parts(phrase: Phrase) -> set[str]:
    """The phrase's words with hyphenated words split ("question-answering": question, answering)."""
    return {part for word in phrase.words for part in word.split("-") if part}


def _clashes(phrase: Phrase, used_heads: Sequence[set[str]]) -> bool:
    """Whether `phrase` has the words of a used head, or contains or is contained in one."""
    words = _parts(phrase)
    return any(words <= used or used <= words for used in used_heads)
