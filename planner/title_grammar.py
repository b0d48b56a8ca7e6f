"""Whether a heading is an English noun phrase: "Reward Models and Preference Data", not
"Text Generation and Significantly Improves" (a verb phrase) or "Agents and High-Level" (a
modifier missing its noun).

Two kinds of evidence, neither downloaded at run time:

- a word's possible parts of speech from lemminflect's lexicon, which ships inside the
  package (NLTK's and spaCy's taggers need a model downloaded first): a word that can only
  be an adverb ("significantly") or a finite verb ("improves", "enhance") has no place in a
  heading, and a part of a heading must end in a word that can name something (a noun, a
  gerund such as "Reasoning", or a name or acronym), not in an adjective ("Adversarial") or
  a participle ("Fine-Grained");
- how the papers themselves use the phrase: a part of a heading that the papers nearly
  always put before a noun ("multi-agent systems", "end-to-end training") is a modifier
  whose noun is missing, whatever the lexicon says of its last word (it knows "end" and
  "agent" as nouns, and knows no hyphenated word).

Public: `MODIFIER_SHARE`, `MIN_USES`, `title_parts`, `is_name`, `word_classes`, `modifier_use`,
`completed_phrase`, `grammar_problem`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from lemminflect import getAllLemmas, getInflection

from retriever.phrases import content_words, normalize_word

# A part of a heading used before a noun in at least this share of its uses in the papers,
# over at least MIN_USES uses, is taken for a modifier missing its noun.
MODIFIER_SHARE = 0.7
MIN_USES = 2
# A hyphenated head ("Multi-Agent", "End-to-End") is nearly always a compound modifier in
# abstracts; it stands as a head only when the papers use it alone at least this often.
HYPHEN_MIN_USES = 3
HYPHEN_MODIFIER_SHARE = 0.5
NOMINAL = frozenset({"NOUN", "PROPN"})
# Verb forms that may modify a noun ("Aligned Models", "Reasoning Models"); the others
# (3rd person "improves", base "enhance") make a heading a clause.
_PARTICIPLE_TAGS = ("VBG", "VBN", "VBD")
_JOINERS = re.compile(r"\s+(?:and|&)\s+|,\s+", re.IGNORECASE)
_COORDINATORS = frozenset({"and", "or"})
_VERB_ENDINGS = ("ize", "ise", "ify", "ate")
# Words that open a verb's object or clause: "highlight" before them is a verb, not a noun.
_OBJECT_STARTS = frozenset({"the", "a", "an", "that", "how", "our", "their", "its", "this", "these", "whether"})
# Nouns on scikit-learn's stop list, which otherwise holds closed-class words ("that", "which").
_STOP_LISTED_NOUNS = frozenset({"system", "interest", "part", "name", "detail", "amount"})
# Before a bare phrase these make it a predicate adjective ("is time-consuming").
_COPULAS = frozenset({"is", "are", "was", "were", "be", "been", "being", "remain", "remains", "become", "becomes"})
_DEGREE_WORDS = frozenset({"very", "too", "so", "more", "less", "most", "least", "quite"})
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-.'][A-Za-z0-9]+)*|[^\sA-Za-z0-9]")
# Words that may stand inside a heading but not at either end of one of its parts.
_INNER_WORDS = frozenset(
    {"of", "for", "in", "on", "with", "to", "from", "by", "via", "under", "over", "across", "as", "the", "a", "an"}
)


def title_parts(title: str) -> list[list[str]]:
    """The noun phrases a heading joins with "and", "&" or commas, each as its words."""
    return [part.split() for part in _JOINERS.split(" ".join(title.split()))]


def is_name(word: str) -> bool:
    """Whether `word` is a name or an acronym rather than a dictionary word: capitals past
    a part of it or digits ("GRPO", "LLMs", "GPT-4o", "GraphRAG"; not "Fine-Grained")."""
    return any(c.isupper() or c.isdigit() for part in word.split("-") for c in part[1:]) or any(
        c.isdigit() for c in word
    )


@lru_cache(maxsize=16384)
def word_classes(word: str) -> frozenset[str]:
    """The parts of speech lemminflect's lexicon knows for `word` (universal tags: NOUN, VERB,
    ADJ, ADV, ...), lower-cased; for a hyphenated word it does not know, those of its last
    part ("fine-grained": those of "grained"). Empty when unknown."""
    lower = word.lower()
    classes = frozenset(getAllLemmas(lower))
    if not classes and "-" in lower:
        classes = frozenset(getAllLemmas(lower.rsplit("-", 1)[1]))
    return classes


@lru_cache(maxsize=16384)
def _participle(word: str) -> bool:
    """Whether `word` (known only as a verb) is a participle or past form of its verb."""
    lower = word.lower().rsplit("-", 1)[-1]
    for lemma in getAllLemmas(lower).get("VERB", ()):
        if any(lower in getInflection(lemma, tag=tag) for tag in _PARTICIPLE_TAGS):
            return True
    return False


def _verb_only(word: str) -> bool:
    classes = word_classes(word)
    return bool(classes) and "VERB" in classes and not classes & (NOMINAL | {"ADJ"})


def _word_problem(word: str) -> str | None:
    """What keeps `word` out of a noun phrase (an adverb, a finite verb), or None. A word the
    lexicon does not know is judged by its ending: "-ly" an adverb, "-ize", "-ise", "-ify",
    "-ate" a verb ("instantiate")."""
    if is_name(word):
        return None
    classes = word_classes(word)
    if not classes and "-" not in word:
        if word.lower().endswith("ly"):
            return f"“{word}” is an adverb"
        if word.lower().endswith(_VERB_ENDINGS):
            return f"“{word}” is a verb"
    if classes and classes <= {"ADV"}:
        return f"“{word}” is an adverb"
    if _verb_only(word) and not _participle(word):
        return f"“{word}” is a verb"
    return None


def _head_problem(word: str) -> str | None:
    """What keeps `word` from ending a noun phrase (it only modifies a noun), or None."""
    if is_name(word) or word.lower().endswith("ing"):
        return None
    classes = word_classes(word)
    if classes and not classes & NOMINAL:
        return f"it ends a phrase with “{word}”, which describes a noun rather than naming one"
    return None


def _clause_problem(part: Sequence[str]) -> str | None:
    """Whether a part reads as subject and verb: a plural noun, then a word that can be a
    verb in its base form ("Findings Highlight", "Models Show"); gerunds ("Models Training"),
    plurals ("Models Benchmarks") and names aside."""
    if len(part) < 2 or is_name(part[-2]) or part[-1].lower().endswith("ing"):
        return None
    if _plural(part[-2]) and not _plural(part[-1]) and "VERB" in word_classes(part[-1]):
        return f"it reads as a clause: “{part[-2]} {part[-1]}” is a subject and its verb"
    return None


@lru_cache(maxsize=64)
def _token_index(texts: tuple[str, ...]) -> tuple[list[list[str]], dict[str, list[tuple[int, int]]]]:
    """The texts as normalised tokens (words and single punctuation marks), and where each
    word occurs (text, position)."""
    tokens = [[normalize_word(t) for t in _TOKEN.findall(text)] for text in texts]
    where: dict[str, list[tuple[int, int]]] = {}
    for row, words in enumerate(tokens):
        for position, word in enumerate(words):
            where.setdefault(word, []).append((row, position))
    return tokens, where


def _continues_phrase(token: str, next_token: str = "", plural: bool = False) -> bool:
    """Whether a token after a phrase makes the phrase its modifier: a content word that can
    be a noun, an adjective ("end-to-end trainable"), a gerund ("multi-hop reasoning") or a
    name, not a verb ("reward models improve", "findings highlight the ...", or any word that
    can be a verb after a `plural` phrase: "findings highlight") or an adverb."""
    if len(token) < 2 or not any(c.isalpha() for c in token) or next_token in _OBJECT_STARTS:
        return False
    classes = word_classes(token)
    if plural and "VERB" in classes:
        return False
    if classes & NOMINAL and (content_words(token) or token in _STOP_LISTED_NOUNS):
        return True
    return bool(content_words(token)) and (not classes or "ADJ" in classes or token.endswith("ing"))


def _before_predicate(token: str) -> bool:
    """Whether a token before a phrase makes it a predicate: a copula ("is time-consuming") or
    an adverb ("very", "prohibitively time-consuming"), which a noun phrase cannot follow."""
    classes = word_classes(token)
    return token in _COPULAS or token in _DEGREE_WORDS or (bool(classes) and classes <= {"ADV"})


def _adjectival(text: Sequence[str], start: int) -> bool:
    """Whether the phrase at `start` of a tokenised text is used as an adjective: after a
    copula or an adverb, or coordinated with an adjective before it ("expensive and
    time-consuming", "toxic, offensive"): conjuncts share their part of speech."""
    if start == 0:
        return False
    if _before_predicate(text[start - 1]):
        return True
    if text[start - 1] not in _COORDINATORS | {","} or start < 2:
        return False
    classes = word_classes(text[start - 2])
    return "ADJ" in classes and "VERB" not in classes


@lru_cache(maxsize=64)
def _spellings(texts: tuple[str, ...]) -> list[list[str]]:
    """The texts' tokens as written, aligned with `_token_index`'s normalised ones."""
    return [_TOKEN.findall(text) for text in texts]


def completed_phrase(words: Sequence[str], texts: Sequence[str], min_texts: int = 2) -> tuple[str, int] | None:
    """The phrase `words` with the noun the texts most often put right after it, as written
    ("multi-agent" -> "multi-agent systems"), and how many texts hold that; None when no
    noun follows it in at least `min_texts` texts. A modifier found without its noun is
    completed this way rather than dropped."""
    tokens, where = _token_index(tuple(texts))
    written = _spellings(tuple(texts))
    key = [normalize_word(w) for w in words]
    holders: dict[str, set[int]] = {}
    spelled: dict[str, Counter] = {}
    for row, start in where.get(key[0], ()) if key else ():
        after = start + len(key)
        if tokens[row][start:after] != key or after >= len(tokens[row]):
            continue
        following = tokens[row][after]
        next_token = tokens[row][after + 1] if after + 1 < len(tokens[row]) else ""
        verb = next_token in _OBJECT_STARTS or (_plural(written[row][after - 1]) and "VERB" in word_classes(following))
        if verb or not _noun_like(following, written[row][after]):
            continue
        holders.setdefault(following, set()).add(row)
        spelled.setdefault(following, Counter())[written[row][after]] += 1
    if not holders:
        return None
    best = min(holders, key=lambda word: (-len(holders[word]), word))
    if len(holders[best]) < min_texts:
        return None
    spelling = min(spelled[best], key=lambda s: (-spelled[best][s], s))
    return " ".join([*words, spelling]), len(holders[best])


def _plural(written: str) -> bool:
    """Whether a word as written is a plural its normalised form drops the 's' of."""
    return written.lower() != normalize_word(written)


def _noun_like(token: str, written: str) -> bool:
    """Whether a token can end a noun phrase: a noun, a name, or a word the lexicon does not
    know; not a stop word."""
    if len(token) < 2 or not any(c.isalpha() for c in token):
        return False
    if is_name(written):
        return True
    if not content_words(token) and token not in _STOP_LISTED_NOUNS:  # "that": a noun to the lexicon
        return False
    classes = word_classes(token)
    return bool(classes & NOMINAL) or not classes


def modifier_use(words: Sequence[str], texts: Sequence[str]) -> tuple[float, int]:
    """(share, uses): how many times the phrase `words` occurs in `texts` (case and plural
    's' ignored; not counting uses before "and" or "or", which could go either way), and the
    share of those where a noun or gerund follows it directly, i.e. where the phrase
    modifies a noun ("multi-agent" in "multi-agent systems"), or where it is used as an
    adjective (`_adjectival`: "is time-consuming", "very costly", "expensive and
    time-consuming"; these count before "and" too: "may be offensive or harmful")."""
    tokens, where = _token_index(tuple(texts))
    key = [normalize_word(w) for w in words]
    if not key:
        return 0.0, 0
    uses = modifying = 0
    for row, start in where.get(key[0], ()):
        text = tokens[row]
        after = start + len(key)
        if text[start:after] != key:
            continue
        predicate = _adjectival(text, start)
        if not predicate and after < len(text) and text[after] in _COORDINATORS:
            continue  # "open-source and proprietary models" says nothing either way
        uses += 1
        following = text[after + 1] if after + 1 < len(text) else ""
        plural = _plural(_spellings(tuple(texts))[row][after - 1])
        modifying += predicate or (after < len(text) and _continues_phrase(text[after], following, plural))
    return (modifying / uses if uses else 0.0), uses


def grammar_problem(title: str, texts: Sequence[str] = ()) -> str | None:
    """What keeps `title` from being a noun phrase (or noun phrases joined by "and"), or
    None: an adverb or finite verb in it, a part that begins or ends with a joining word or
    ends with a word that only describes, or a part the papers' `texts` use before a noun in
    at least MODIFIER_SHARE of at least MIN_USES uses (a hyphenated head, "Multi-Agent", needs
    HYPHEN_MIN_USES uses and under HYPHEN_MODIFIER_SHARE of them as a modifier)."""
    for part in title_parts(title):
        if not part:
            return "it has an empty part around “and”"
        for edge in (part[0], part[-1]):
            if edge.lower() in _INNER_WORDS:
                return f"a part of it begins or ends with “{edge}”"
        for word in part:
            problem = _word_problem(word)
            if problem is not None:
                return f"it is not a noun phrase: {problem}"
        problem = _head_problem(part[-1]) or _clause_problem(part)
        if problem is not None:
            return problem
        problem = _usage_problem(part, texts)
        if problem is not None:
            return problem
    return None


def _usage_problem(part: Sequence[str], texts: Sequence[str]) -> str | None:
    """Whether the papers use the phrase `part` as a modifier rather than a noun phrase. A
    hyphenated head is taken for a compound modifier unless the papers use it alone often
    enough: MIN_USES uses under MODIFIER_SHARE for a gerund or an "of" compound
    ("Fine-Tuning", "Chain-of-Thought"), HYPHEN_MIN_USES under HYPHEN_MODIFIER_SHARE for the
    rest ("Multi-Agent", "End-to-End")."""
    share, uses = modifier_use(part, texts)
    phrase, head = " ".join(part), part[-1].lower()
    if "-" in head and not is_name(part[-1]):
        nominal = head.endswith("ing") or "of" in head.split("-")
        needed, limit = (MIN_USES, MODIFIER_SHARE) if nominal else (HYPHEN_MIN_USES, HYPHEN_MODIFIER_SHARE)
        if uses < needed or share >= limit:
            alone = uses - round(share * uses)
            return f"“{phrase}” is a compound modifier (the papers use it alone in {alone} of {uses} uses)"
        return None
    if uses >= MIN_USES and share >= MODIFIER_SHARE:
        used = f"({round(100 * share)}% of {uses} uses)"
        return f"the papers use “{phrase}” before a noun or as a predicate {used}: a modifier, not a noun"
    return None
