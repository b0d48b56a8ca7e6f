"""Naming a sentence's source: "We propose X" becomes "Smith et al. propose X", "This paper
studies X" becomes "Smith and Lee study X", with the verb agreeing with one author or many."""

from __future__ import annotations

import re
from collections.abc import Sequence

from retriever.names import family_first, group_author, surname

# The subject a paper without authors gets ("One study proposes X").
ANONYMOUS_SUBJECT = "One study"
_MODALS = {"can", "could", "will", "would", "may", "might", "must", "shall", "should", "cannot"}
_ADVERBS = r"(?:(?:first|\w+ly)\s+)"
# "We also / then / further propose": adverbs that point at the abstract's previous sentence,
# dropped with it ("Smith et al. propose").
_SEQUENCE_ADVERBS = (
    r"(?:(?:also|then|further|next|finally|additionally|subsequently|now|thus|therefore|hence|here|instead|"
    r"again|still)\s+)*"
)
# "We", "In turn we", or a paper/work subject ("This paper", "The present study"), at the start.
_WE_SUBJECT = re.compile(rf"^We\s+{_SEQUENCE_ADVERBS}({_ADVERBS}*)(\w+)\b")
_PAPER_SUBJECT = re.compile(
    r"^(?:This|The present|Our|The current) (?:paper|work|study|article|letter|report|note|manuscript|research|"
    r"survey|review|thesis|chapter|tutorial)\s+"
    rf"{_SEQUENCE_ADVERBS}({_ADVERBS}*)(\w+)\b"
)
_OUR_SUBJECT = re.compile(r"^Our\s+")
# "Using a new data set, we evaluate X": the subject after a fronted phrase of at most this many words.
MAX_FRONTED_WORDS = 15
# A fronted phrase opening with "to", a preposition or a participle ("To overcome X for Y,")
# is an adverbial however long; it may run to this many words.
MAX_ADVERBIAL_WORDS = 30
_ADVERBIAL_START = re.compile(r"^(?:to|for|in|on|with|by|from|under|across|through|\w+ing|\w+ed)$")
_FRONTED_WE = re.compile(rf",\s+we\s+{_SEQUENCE_ADVERBS}({_ADVERBS}*)(\w+)\b")
_LATER_PRONOUNS = {"we": "they", "We": "They", "our": "their", "Our": "Their", "us": "them", "ours": "theirs",
                   "ourselves": "themselves"}
_LATER_PRONOUN = re.compile(r"\b(we|We|our|Our|us|ours|ourselves)\b")
# A first word that is an ordinary word rather than a name, so it may be lower-cased after "report that".
_ORDINARY_CAPITALISED = re.compile(r"^(?:A|[A-Z][a-z]+(?:-[a-z]+)*),?$")
# Verbs that a "we" sentence coordinates ("We propose X and evaluate it") and that are
# rarely nouns, so that "and <verb>" can agree with a singular author too.
_COORDINATED_VERBS = (
    "evaluate|show|demonstrate|analyze|analyse|investigate|explore|examine|identify|introduce|propose|develop|"
    "compare|discuss|outline|achieve|conduct|construct|find|derive|prove|obtain|observe|reveal|provide|leverage|"
    "apply|employ|validate|verify|assess|quantify|highlight|argue|suggest|establish|extend|release|curate|collect"
)
_COORDINATED_VERB = re.compile(rf"\b(and|then|but)\s+({_COORDINATED_VERBS})\b")
# The word after a subject, past adverbs ("Smith et al. also propose").
_VERB_AFTER_SUBJECT = re.compile(r"\s+(?:(?:\w+ly|also|first|then|further)\s+)*([a-z]+)\b")
_IRREGULAR_PAST = {
    "found", "built", "made", "led", "took", "gave", "ran", "wrote", "drew", "began", "sought", "brought",
    "thought", "taught", "held", "kept", "won", "saw", "chose", "put", "set", "cut", "read", "shed", "met", "spent",
}
_IRREGULAR_SINGULAR = {"are": "is", "have": "has", "do": "does", "were": "was", "go": "goes"}
_IRREGULAR_PLURAL = {value: key for key, value in _IRREGULAR_SINGULAR.items()} | {"focuses": "focus", "biases": "bias"}


def author_phrase(authors: Sequence[str]) -> tuple[str, bool]:
    """How a survey names a paper's authors, and whether the phrase is plural: "Smith" (one),
    "Smith and Lee" (two), "Smith et al." (more), "One study" (none); a group author named
    first ("Qwen Team", or "NVIDIA" followed by ":" and the members) by its whole name; a
    family name written first ("Yu Xinmiao", retriever.names.family_first) as "Yu"."""
    listed = [" ".join(author.split()) for author in authors if author.strip()]
    if listed and (group_author(listed[0]) or (len(listed) > 1 and listed[1] == ":")):
        return listed[0], False
    people = [author for author in listed if author != ":"]
    orders = family_first(people)
    names = [surname(author, first) for author, first in zip(people[:2], orders[:2], strict=True)]
    if not names:
        return ANONYMOUS_SUBJECT, False
    if len(people) == 1:
        return names[0], False
    if len(people) == 2:
        return f"{names[0]} and {names[1]}", True
    return f"{names[0]} et al.", True


def singular_verb(verb: str) -> str:
    """Third person singular of a present-tense plural verb: propose -> proposes, study ->
    studies, address -> addresses; past forms and modals unchanged."""
    lowered = verb.lower()
    if lowered in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[lowered]
    if lowered in _MODALS or lowered.endswith("ed") or lowered in {"is", "was", "has", "does"}:
        return verb
    if re.search(r"[^aeiou]y$", lowered):
        return verb[:-1] + "ies"
    if re.search(r"(s|sh|ch|x|z|o)$", lowered):
        return verb + "es"
    return verb + "s"


def plural_verb(verb: str) -> str:
    """Present-tense plural of a third person singular verb: proposes -> propose, studies ->
    study, addresses -> address; anything else unchanged."""
    lowered = verb.lower()
    if lowered in _IRREGULAR_PLURAL:
        return _IRREGULAR_PLURAL[lowered]
    if lowered.endswith(("ss", "us", "is")):
        return verb
    if lowered.endswith("ies") and len(lowered) > 4:
        return verb[:-3] + "y"
    if re.search(r"(ss|sh|ch|x|z|o)es$", lowered):
        return verb[:-2]
    if lowered.endswith("s") and not lowered.endswith("ss"):
        return verb[:-1]
    return verb


def agreeing_verb(verb: str, plural: bool) -> str:
    """`verb` (present tense, either form, as the abstract wrote it) agreeing with a plural or
    a singular subject: "introduces" -> "introduce" for "Gu et al.", "propose" -> "proposes"
    for "Smith"; past forms and modals unchanged."""
    base = plural_verb(verb)
    return base if plural else singular_verb(base)


def agreement_error(text: str, subject: str, plural: bool) -> bool:
    """Whether the verb right after `subject` in `text` disagrees with it: "Gu et al.
    introduces" or "Smith and Lee proposes" (plural subject, singular verb), "Li propose"
    (one author, base form); a possessive ("Li's method") or a past form is no error."""
    start = text.find(subject + " ")
    if start < 0:
        return False
    following = _VERB_AFTER_SUBJECT.match(text, start + len(subject))
    if following is None:
        return False
    verb = following.group(1)
    if plural:
        return verb.endswith("s") and plural_verb(verb) != verb
    return verb not in _IRREGULAR_PAST and singular_verb(verb) != verb and plural_verb(verb) == verb


def _is_fronted_phrase(text: str) -> bool:
    """Whether `text`, before ", we VERB", is a short opening phrase ("Using a new corpus")
    rather than a clause of its own ("X remains hard; in particular", where "we" means
    everyone)."""
    words = text.lower().split()
    limit = MAX_ADVERBIAL_WORDS if words and _ADVERBIAL_START.match(words[0]) else MAX_FRONTED_WORDS
    return len(words) <= limit and ";" not in text and "we" not in words


def _possessive(phrase: str) -> str:
    return f"{phrase}'" if phrase.endswith("s") and not phrase.endswith("et al.") else f"{phrase}'s"


def _later_pronouns(text: str) -> str:
    return _LATER_PRONOUN.sub(lambda match: _LATER_PRONOUNS[match.group(1)], text)


def lower_first_word(sentence: str) -> str:
    """`sentence` with its first word lower-cased when it is an ordinary capitalised word
    ("Experiments show" -> "experiments show"); names, acronyms ("LoRA", "GPT-4") and
    title-case phrases ("Large Language Models") stay."""
    words = sentence.split(" ", 2)
    title_case_phrase = len(words) > 1 and words[1][:1].isupper()
    if _ORDINARY_CAPITALISED.match(words[0]) and not title_case_phrase:
        return sentence[:1].lower() + sentence[1:]
    return sentence


def attribute(sentence: str, authors: Sequence[str], reporting_verb: str = "report") -> str:
    """`sentence` restated with its authors as the subject.

    "We propose X" -> "Smith et al. propose X" (one author: "Smith proposes X");
    "This paper studies X" -> "Smith and Lee study X"; "Our method improves X" ->
    "Smith et al.'s method improves X"; "Using Y, we test X" -> "Using Y, Smith et al. test
    X"; any other sentence -> "Smith et al. report that ...".
    Later "we", "our", "us" become "they", "their", "them".
    """
    phrase, plural = author_phrase(authors)
    we = _WE_SUBJECT.match(sentence)
    paper = _PAPER_SUBJECT.match(sentence)
    if we:
        adverbs, verb = we.group(1), agreeing_verb(we.group(2), plural)
        rest = sentence[we.end() :]
        if not plural:
            rest = _COORDINATED_VERB.sub(lambda match: f"{match.group(1)} {singular_verb(match.group(2))}", rest)
        head = f"{phrase} {adverbs}{verb}"
    elif paper:
        adverbs, verb = paper.group(1), agreeing_verb(paper.group(2), plural)
        head, rest = f"{phrase} {adverbs}{verb}", sentence[paper.end() :]
    elif (fronted := _FRONTED_WE.search(sentence)) and _is_fronted_phrase(sentence[: fronted.start()]):
        adverbs, verb = fronted.group(1), agreeing_verb(fronted.group(2), plural)
        fronted_phrase = _later_pronouns(sentence[: fronted.start()])
        head, rest = f"{fronted_phrase}, {phrase} {adverbs}{verb}", sentence[fronted.end() :]
    elif _OUR_SUBJECT.match(sentence):
        head, rest = _possessive(phrase), " " + sentence[_OUR_SUBJECT.match(sentence).end() :]
    else:
        verb = reporting_verb if plural else singular_verb(reporting_verb)
        head, rest = f"{phrase} {verb} that", " " + lower_first_word(sentence)
    return head + _later_pronouns(rest)
