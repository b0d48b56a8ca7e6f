"""Section titles named from the papers: each group of papers gets its most distinctive
phrases (c-TF-IDF against the other groups, retriever/phrases.py) as a readable heading, and
every title, mined or proposed by a model, passes one validation (`title_problem`).

A title is a noun phrase or two joined by "and" (planner/title_grammar.py), says more than
the topic (its acronyms' expansions included), is specific (with the library's word shares:
not made only of words most papers use), and names what its papers share: each part in
several of them, the whole in MIN_TITLE_SHARE of them, and something in every sub-theme.
A group's title is the first of its candidate titles, best phrases first, that passes; a
phrase the papers use as a modifier is first completed with the noun they put after it.

Public: `GroupTitle`, `readable`, `mined_titles`, `title_problem`, `named_papers`,
`distinctive_words`, `restated_topic_words`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from planner.plan import is_placeholder
from planner.schema import TITLE_CHARS
from planner.title_grammar import completed_phrase, grammar_problem, title_parts, word_classes
from retriever.phrases import (
    Phrase,
    content_words,
    distinctive_phrases,
    normalize_word,
    rerank_by_similarity,
    topic_words,
)

PHRASES_PER_GROUP = 8  # phrases mined per group: title candidates and the validator's vocabulary
CANDIDATES_PER_PHRASE = 3  # c-TF-IDF candidates per phrase kept when reranking by the embeddings
GROUNDED_SHARE = 0.5  # share of a title's own words (not the topic's) that its papers must use
HEAD_CHOICES = 3  # a title's head may be any of its group's first phrases (the best telling one)
# A word in at least this share of the library's papers names nothing specific ("performance",
# "experiments", "AI" in a library of language-model papers).
GENERIC_SHARE = 0.1
MIN_TITLE_SHARE = 0.25  # share of a group's papers a title must name (one of its parts in each)
MIN_PART_PAPERS = 2  # papers of its group in which each part of a title occurs
# A part (or every word of it) whose papers spread over the library's topics at least this
# evenly, relative to as many papers drawn at random (planner/phrase_spread.py), is
# boilerplate: "Future Research", "Promising Approach", "Evidence", "Category".
EVEN_SPREAD = 0.72

WordShare = Callable[[Sequence[str]], Sequence[float]]
Spread = Callable[[Sequence[str]], Sequence[float | None]]
_MODIFIER_CLASSES = frozenset({"ADJ", "ADV"})
_RUN_BREAK = re.compile(r"[,;:!?()\[\]{}\"“”]|\.(?:\s|$)")
_WORD_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class GroupTitle:
    """A group's title (None when no phrase of its papers could name it), its phrases,
    whether the title names what its papers share (False: a fallback that need not),
    whether it passed the checks of specificity and boilerplate (False: the last resort),
    and whether it names each of the sub-themes it was asked to (False: it names the group
    as a whole but leaves a sub-theme out, the mark of a catch-all group)."""

    title: str | None
    phrases: list[Phrase] = field(default_factory=list)
    names_papers: bool = True
    specific: bool = True
    names_themes: bool = True


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


def restated_topic_words(title: str, topic: str) -> set[str]:
    """The title's words that spell out one of the topic's acronyms: "Large Language Models"
    in a title for "LLM-based Multi-Agent" (normalised, as `content_words` gives them)."""
    acronyms = topic_words(topic)
    found: set[str] = set()
    for word in title.split():  # "LMs" for "language models" (normalize_word keeps 3-letter plurals)
        if len(word) > 2 and word.endswith("s") and word[:-1].isupper() and word[:-1].lower() in acronyms:
            found |= content_words(word)
    for part in title_parts(title):
        for start in range(len(part)):
            for end in range(start + 2, min(start + 4, len(part)) + 1):
                run = part[start:end]
                letters = "".join(piece[0] for word in run for piece in word.split("-") if piece).lower()
                if letters in acronyms:
                    found |= content_words(" ".join(run))
    return found


def title_problem(
    title: str,
    topic: str,
    group_texts: Sequence[str],
    phrases: Sequence[Phrase],
    others: Sequence[str] = (),
    *,
    word_share: WordShare | None = None,
    spread: Spread | None = None,
    parts: Sequence[Sequence[str]] = (),
    usage: Sequence[str] = (),
    covering: bool = True,
    grammatical: bool = True,
) -> str | None:
    """What is wrong with `title` as the heading of a group of papers, or None when it is fit.

    A fit title is non-blank, at most TITLE_CHARS characters, not template filler; it says
    something beyond the topic's own words (each of its parts does); it is a noun phrase
    (`planner.title_grammar.grammar_problem`); at least GROUNDED_SHARE of its words occur in
    the group's texts; one of them is a word of the group's distinctive `phrases` (so a
    generic heading such as "Methods and Architectures" fails); with `word_share` (words ->
    their share of the library's papers) some part of it is specific and no later part is
    generic (`GENERIC_SHARE`); with `spread` (phrases -> their relative evenness over the
    library's topics) no part is boilerplate (`_boilerplate_problem`); it names what its
    papers share (`_coverage_problem`, with `parts` the texts of the group's sub-themes);
    and it differs from every title in
    `others` (also in its set of words). How the papers use its phrases is read from
    `usage` (e.g. every group's texts), or from `group_texts` when that is empty. With
    `covering` False the title need not name what the papers share, with `grammatical` False
    it need not be a noun phrase."""
    cleaned = " ".join(title.split())
    if not cleaned:
        return "it is blank"
    if len(cleaned) > TITLE_CHARS:
        return f"it is {len(cleaned)} characters long (at most {TITLE_CHARS})"
    if is_placeholder(cleaned):
        return "it is template filler, not a title"
    topical = topic_words(topic) | restated_topic_words(cleaned, topic)
    own = content_words(cleaned) - topical
    if not own:
        return "it says nothing beyond the topic's own words"
    problem = grammar_problem(cleaned, usage or group_texts) if grammatical else None
    problem = problem or _topic_part_problem(cleaned, topical)
    if problem is not None:
        return problem
    used = set().union(*(content_words(text) for text in group_texts)) if group_texts else set()
    if len(own & used) < GROUNDED_SHARE * len(own):
        return f"most of its words ({', '.join(sorted(own - used))}) do not occur in the section's papers"
    if not own & distinctive_words(phrases):
        return "none of its words is distinctive of the section's papers (too generic)"
    problem = _generic_problem(cleaned, topical, word_share) or _boilerplate_problem(cleaned, topical, spread)
    if problem is None and covering:
        problem = _coverage_problem(cleaned, topical, group_texts, parts)
    if problem is not None:
        return problem
    for other in others:
        if cleaned.lower() == " ".join(other.split()).lower() or content_words(cleaned) == content_words(other):
            return f"it repeats the title {other!r}"
    return None


def _own_parts(title: str, topical: set[str]) -> list[tuple[str, set[str]]]:
    """Each part of `title` with its words beyond the topic."""
    return [(" ".join(part), content_words(" ".join(part)) - topical) for part in title_parts(title)]


def _topic_part_problem(title: str, topical: set[str]) -> str | None:
    """Whether a part of the title is the topic's words, or mostly ("Aligning Large Language
    Models" under safety in large language models: more of the topic's words than its own)."""
    for text, own in _own_parts(title, topical):
        if not own:
            return f"its part “{text}” restates the topic"
        if len(content_words(text) & topical) > len(own):
            return f"its part “{text}” mostly restates the topic"
    return None


def _generic_problem(title: str, topical: set[str], word_share: WordShare | None) -> str | None:
    """Whether the title is made of words many papers of the library use: no part with a word
    in under GENERIC_SHARE of them, a first part of one such word, or a generic later part.
    A part with topic words is generic only when the whole part is common too (`_narrowed`)."""
    if word_share is None:
        return None
    parts = _own_parts(title, topical)
    words = sorted(set().union(*(own for _, own in parts)))
    # the library is asked about words as spelled ("capabilities", not the key "capabilitie")
    spelled = {normalize_word(w): w.lower() for w in _WORD_TOKEN.findall(title)}
    asked = [spelled.get(w, w) for w in words]
    share = dict(zip(words, (float(x) for x in word_share(asked)), strict=True))
    common = [min(share[w] for w in own) >= GENERIC_SHARE for _, own in parts]
    generic = [
        is_common and not _narrowed(text, own, topical, word_share)
        for (text, own), is_common in zip(parts, common, strict=True)
    ]
    if generic[0] and len(parts[0][0].split()) == 1:  # "AI", "Responses": a common word alone
        return f"“{parts[0][0]}” is in {GENERIC_SHARE:.0%} or more of the library's papers (too generic)"
    if all(generic):
        each = f"each in {GENERIC_SHARE:.0%} or more of the library's papers"
        return f"its words ({', '.join(words)}) are {each} (too generic)"
    for (text, _), is_generic in zip(parts[1:], generic[1:], strict=True):
        if is_generic:
            return f"its part “{text}” is common across the library (too generic)"
    return None


def _narrowed(text: str, own: set[str], topical: set[str], word_share: WordShare) -> bool:
    """Whether a part is a kind of what the topic names: its own words (no fewer than its
    topic words, none an adjective) qualify topic words, and the whole part is rarer than
    GENERIC_SHARE of the library ("Reasoning Models" beside "reasoning"; not "Different
    Agents", nor "Training Large Language Models")."""
    restated = content_words(text) & topical
    if not restated or len(own) < len(restated):
        return False
    spelled = [w for w in _WORD_TOKEN.findall(text) if content_words(w) & own]
    if any(word_classes(w) and word_classes(w) <= _MODIFIER_CLASSES for w in spelled):
        return False
    return float(word_share([text.lower()])[0]) < GENERIC_SHARE


def _boilerplate_problem(title: str, topical: set[str], spread: Spread | None) -> str | None:
    """Whether a part of the title is used alike in every field: the part spreads over the
    library's topics at least EVEN_SPREAD as evenly as papers drawn at random ("Future
    Research"), or, when too few papers hold it to tell, each of its words beyond the topic
    does ("Promising Approach")."""
    if spread is None:
        return None
    for text, own in _own_parts(title, topical):
        words = sorted({w.lower() for w in _WORD_TOKEN.findall(text) if content_words(w) & own})
        asked = [text.lower(), *(words if len(words) > 1 else [])]
        found = dict(zip(asked, spread(asked), strict=True))
        if _even(found[text.lower()]):
            return f"“{text}” occurs alike across the library's topics (boilerplate)"
        if found[text.lower()] is None and len(words) > 1 and all(_even(found[w]) for w in words):
            return f"each word of “{text}” occurs alike across the library's topics (boilerplate)"
    return None


def _even(value: float | None) -> bool:
    return value is not None and value >= EVEN_SPREAD


@dataclass(frozen=True, slots=True)
class _Part:
    """A part of a title as papers hold it: its words beyond the topic, and, for a part that
    qualifies topic words ("Learning Signals" under reinforcement learning), its words in
    order, which a paper must hold as a run ("signals" alone is not "learning signals")."""

    text: str
    own: frozenset[str]
    run: str | None


def _parts_held(title: str, topical: set[str]) -> list[_Part]:
    """The parts of `title` (`_own_parts`) as `_Part`s."""
    return [
        _Part(text, frozenset(own), _run(text) if content_words(text) - own else None)
        for text, own in _own_parts(title, topical)
    ]


def _run(text: str) -> str:
    """`text`'s words normalised and spaced, to find as a run in another (" learning signal "),
    with a bar for each punctuation break, which no run crosses."""
    pieces = (" ".join(normalize_word(w) for w in _WORD_TOKEN.findall(piece)) for piece in _RUN_BREAK.split(text))
    return " " + " | ".join(pieces) + " "


def _holds(text: tuple[set[str], str], part: _Part) -> bool:
    """Whether a text (its content words and its `_run`) holds the part."""
    words, run = text
    return part.own <= words and (part.run is None or part.run in run)


def _coverage_problem(
    title: str, topical: set[str], texts: Sequence[str], parts: Sequence[Sequence[str]]
) -> str | None:
    """Whether the title fails to name what its papers share: a part in fewer than
    MIN_PART_PAPERS texts, or the whole in under MIN_TITLE_SHARE of them or of the texts of
    one of `parts` (sub-themes: a title naming one of them only is not the section's)."""
    if not texts:
        return None
    title_parts = _parts_held(title, topical)
    held = [(content_words(text), _run(text)) for text in texts]
    needed = min(MIN_PART_PAPERS, len(texts))
    holding = [sum(_holds(text, part) for text in held) for part in title_parts]
    for part, count in zip(title_parts, holding, strict=True):
        if count < needed:
            return f"its part “{part.text}” occurs in {count} of the section's papers (at least {needed} needed)"
    named = sum(any(_holds(text, part) for part in title_parts) for text in held)
    if named < MIN_TITLE_SHARE * len(texts):
        return f"it names {named} of the section's {len(texts)} papers (at least {MIN_TITLE_SHARE:.0%} needed)"
    for index, part_texts in enumerate(parts, start=1):
        theme = [(content_words(text), _run(text)) for text in part_texts]
        named = sum(any(_holds(text, part) for part in title_parts) for text in theme)
        if named < MIN_TITLE_SHARE * len(theme):
            needed = f"(at least {MIN_TITLE_SHARE:.0%} needed)"
            return f"it names {named} of the {len(theme)} papers of its sub-theme {index} {needed}"
    return None


def named_papers(title: str, topic: str, texts: Sequence[str]) -> int:
    """How many of `texts` hold some part of `title` beyond the topic's words, as the
    coverage check counts them."""
    title_parts = _parts_held(title, topic_words(topic) | restated_topic_words(title, topic))
    held = [(content_words(text), _run(text)) for text in texts]
    return sum(any(_holds(text, part) for part in title_parts) for text in held)


def mined_titles(
    groups: Sequence[Sequence[str]],
    topic: str,
    *,
    background: Sequence[str] = (),
    taken: Sequence[str] = (),
    avoid_words: Sequence[str] = (),
    embed: Callable[[Sequence[str]], np.ndarray] | None = None,
    centres: np.ndarray | None = None,
    corpus_share: WordShare | None = None,
    spread: Spread | None = None,
    parts: Sequence[Sequence[Sequence[str]]] = (),
    usage: Sequence[str] | None = None,
) -> list[GroupTitle]:
    """A title for each group of texts from its distinctive phrases: the first candidate
    (`_title_candidates`: the best phrase no other title uses, joined by "and" to a later
    phrase sharing no word with it, "Reward Models and Preference Data", then the phrase
    alone, then the next phrases) that passes :func:`title_problem` against the other titles
    and `taken`. Groups whose best phrase scores highest choose first. Phrases made only of
    the topic's words or of `avoid_words` (e.g. the parent section's title) are not used.
    With `embed` and `centres` (one mean vector per group) phrases are reranked by closeness
    to their group (`rerank_by_similarity`); with `corpus_share` (e.g.
    `Library.phrase_shares`) phrases common in the whole collection sink
    (`distinctive_phrases`) and titles of only common words fail; with `spread` (e.g.
    `planner.phrase_spread.library_spread`) boilerplate parts fail. `parts` gives, per group,
    the texts of its sub-themes, each of which the title names when some candidate can.
    `usage` (default: every group's texts and `background`) shows how phrases are used. A
    group no candidate fits, not even as a plain noun phrase, gets title None."""
    shares = _memo(corpus_share) if corpus_share is not None else None
    spread = _memo(spread) if spread is not None else None
    if usage is None:
        usage = [text for group in groups for text in group] + list(background)
    miner = _GroupPhrases(topic, background, avoid_words, embed, centres, shares)
    phrases = miner.of(groups, usage)
    fits: list[_Fit | None] = [None] * len(groups)
    used_heads: list[set[str]] = []
    for index in _naming_order(phrases):
        others = [*taken, *(fit.title for fit in fits if fit)]
        themes = parts[index] if index < len(parts) else ()
        levels = _naming_levels(themes, shares, spread)
        fit = _first_fit(phrases[index], groups[index], topic, others, used_heads, levels, usage)
        if fit is not None:
            fits[index] = fit
            used_heads.append(_parts(fit.head))
    return [
        GroupTitle(fit.title, list(found), fit.covering, not fit.last_resort, fit.names_themes)
        if fit is not None
        else GroupTitle(None, list(found))
        for fit, found in zip(fits, phrases, strict=True)
    ]


@dataclass(frozen=True)
class _GroupPhrases:
    """How a group's title phrases are mined: c-TF-IDF against the other groups and
    `background`, without the topic's words or `avoid_words`, with `shares` sinking phrases
    common in the library, reranked by closeness to the group `centres` when `embed` is set."""

    topic: str
    background: Sequence[str]
    avoid_words: Sequence[str]
    embed: Callable[[Sequence[str]], np.ndarray] | None
    centres: np.ndarray | None
    shares: WordShare | None

    def of(self, groups: Sequence[Sequence[str]], usage: Sequence[str]) -> list[list[Phrase]]:
        """Each group's phrases, best first, modifiers completed with their nouns (`_completed`)."""
        exclude = topic_words(self.topic) | {w for text in self.avoid_words for w in content_words(text)}
        pool = PHRASES_PER_GROUP * (CANDIDATES_PER_PHRASE if self.embed is not None else 1)
        options = {"background": self.background, "exclude_words": exclude, "corpus_share": self.shares}
        phrases = distinctive_phrases(groups, pool, **options)
        bare = [i for i, found in enumerate(phrases) if not found]
        if bare:  # a group too small or too varied for a phrase in two papers: one-paper phrases
            single = distinctive_phrases(groups, pool, min_documents=1, **options)
            phrases = [single[i] if i in bare else found for i, found in enumerate(phrases)]
        if self.embed is not None and self.centres is not None:
            phrases = rerank_by_similarity(phrases, self.embed, self.centres, PHRASES_PER_GROUP)
        return [_completed(found, group, usage) for found, group in zip(phrases, groups, strict=True)]


@dataclass(frozen=True, slots=True)
class _Fit:
    """A group's chosen title, its head phrase, and the naming level that passed it: whether
    that level asked the title to name what the papers share, whether it was the last resort,
    and whether it asked for (or had no) sub-themes to name."""

    title: str
    head: Phrase
    covering: bool
    last_resort: bool
    names_themes: bool


def _naming_order(phrases: Sequence[Sequence[Phrase]]) -> list[int]:
    """Groups in the order they choose titles: best first phrase first, then by position."""
    return sorted(range(len(phrases)), key=lambda i: (-(phrases[i][0].score if phrases[i] else 0.0), i))


def _naming_levels(themes: Sequence[Sequence[str]], shares: WordShare | None, spread: Spread | None) -> list[dict]:
    """The `title_problem` options a title is tried against, strictest first: naming every
    sub-theme (when there are `themes`), naming the group, specific without naming it, no
    boilerplate, and last (rather than losing a section) any noun phrase of its phrases."""
    specific = {"word_share": shares, "spread": spread}
    levels = [{**specific, "parts": themes}] if themes else []
    levels += [specific, {**specific, "covering": False}, {"spread": spread, "covering": False}]
    return [*levels, {"covering": False}]


def _first_fit(
    phrases: Sequence[Phrase],
    texts: Sequence[str],
    topic: str,
    others: Sequence[str],
    used_heads: Sequence[set[str]],
    levels: Sequence[dict],
    usage: Sequence[str],
) -> _Fit | None:
    """The first candidate title of the strictest level any candidate passes, or None."""
    for position, level in enumerate(levels):
        check = {"usage": usage, **level}
        for title, head in _title_candidates(phrases, used_heads):
            if title_problem(title, topic, texts, phrases, others, **check) is None:
                covering = level.get("covering") is not False
                themes = not levels[0].get("parts") or position == 0
                return _Fit(title, head, covering, position == len(levels) - 1, themes)
    return None


def _completed(phrases: Sequence[Phrase], texts: Sequence[str], usage: Sequence[str]) -> list[Phrase]:
    """`phrases` with each one that is not a noun phrase by itself ("Multi-Agent", "Jailbreak")
    replaced by its completion with the noun its group's texts most often put after it
    ("Multi-Agent Systems"), when there is one, its score kept; phrases whose completion
    repeats an earlier phrase are dropped."""
    completed: list[Phrase] = []
    for phrase in phrases:
        if grammar_problem(readable(phrase.text), usage) is not None:
            found = completed_phrase(phrase.text.split(), texts)
            if found is not None:
                text, documents = found
                key = " ".join(normalize_word(w) for w in text.split())
                phrase = Phrase(key, text, phrase.score, documents)
        if all(phrase.key != other.key for other in completed):
            completed.append(phrase)
    return completed


def _memo(shares: Spread) -> Callable[[Sequence[str]], list[float | None]]:
    """`shares` (or spreads) asked once per phrase however often the naming passes ask."""
    known: dict[str, float | None] = {}

    def cached(phrases: Sequence[str]) -> list[float | None]:
        missing = [p for p in dict.fromkeys(phrases) if p not in known]
        if missing:
            known.update(zip(missing, (None if x is None else float(x) for x in shares(missing)), strict=True))
        return [known[p] for p in phrases]

    return cached


def _title_from(phrases: Sequence[Phrase], used_heads: Sequence[set[str]]) -> tuple[str, Phrase] | None:
    """The first of :func:`_title_candidates`, or None when there is none."""
    return next(iter(_title_candidates(phrases, used_heads)), None)


def _title_candidates(phrases: Sequence[Phrase], used_heads: Sequence[set[str]]) -> Iterator[tuple[str, Phrase]]:
    """(title, its head phrase) candidates from a group's phrases, best first, avoiding heads
    that other titles use (the same words, or words containing or contained in theirs). A
    single plain word ("potential", "tasks") names little: the first head is the best telling
    phrase among the first HEAD_CHOICES when there is one, and a plain word partners only a
    plain-word head. Each head is offered with its partners after "and" (later phrases
    sharing no word with it, telling ones first), then alone."""
    free = [p for p in phrases if not _clashes(p, used_heads)]
    if not free:
        return
    first = next((p for p in free[:HEAD_CHOICES] if _telling(p)), free[0])
    for head in [first, *(p for p in free if p is not first)]:
        others = [p for p in free if p is not head and not _parts(p) & _parts(head) and not _abbreviates(p, head)]
        telling = [p for p in others if _telling(p)]
        partners = telling if telling or _telling(head) else others
        for partner in partners:
            yield f"{readable(head.text)} and {readable(partner.text)}", head
        yield readable(head.text), head


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
