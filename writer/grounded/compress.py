"""Shortening an abstract sentence into a survey sentence without adding a word: leading
discourse ("In this paper,", "To address this,") and parentheticals dropped, promotional
adjectives removed, and a trailing clause cut where the sentence runs long."""

from __future__ import annotations

import re

from lemminflect import getAllLemmas

from writer.grounded.coverage import FUNCTION_WORDS

# Words a survey sentence may run to before a trailing clause is cut.
MAX_FACT_WORDS = 40
# Shortest head left when a trailing clause is cut; a shorter one says too little.
MIN_HEAD_WORDS = 10

_LEADING_DISCOURSE = re.compile(
    r"^(?:(?:in|within) (?:this|the present|our) (?:paper|work|study|article|letter|report|note|manuscript|"
    r"position paper|thesis|chapter|survey)|for (?:example|instance)|here|to this end|to that end|specifically|"
    r"in particular|concretely|"
    r"therefore|thus|hence|however|moreover|furthermore|additionally|in addition(?! to\b)|finally|first(?:ly)?|"
    r"second(?:ly)?|third(?:ly)?|lastly|consequently|accordingly|overall|in summary|in short|to summari[sz]e|"
    r"in contrast(?! to\b)|instead(?! of\b)|yet|but|notably|(?:most )?importantly|crucially|as a result|"
    r"subsequently|then|next|ultimately|concurrently|at the same time|not only that|in response(?! to\b)|"
    r"afterwards|recently|more recently|currently|nowadays|meanwhile|alternatively|empirically|experimentally|"
    r"nevertheless|nonetheless|surprisingly|interestingly|remarkably|unfortunately|intriguingly|"
    r"(?:leveraging|using|exploiting|given|following|based on|with|from) (?:this|these|that|those|such)(?: \w+)?(?=,)|"
    r"(?:motivated|inspired) by (?:this|these|that|those)(?:[^,.;:]{0,60}(?=,))?|"
    r"building (?:on|upon) (?:this|these)(?:[^,.;:]{0,60}(?=,))?|"
    r"towards? (?:this|that) (?:goal|end)|to \w+ (?:this|these|that|those)(?: \w+)?(?=,)|"
    r"to (?:address|tackle|overcome|solve|bridge|close|fill|mitigate|alleviate|remedy|fix|resolve|handle|meet) "
    r"(?:this|these|that|those|the|such|both)\b[^,]{0,80}(?=,))\s*,?\s+",
    re.IGNORECASE,
)
# A fronted phrase (up to its comma) that points back at a sentence the survey does not quote
# ("To study and address this,", "Along this line,", "Unlike these methods,"): it opens with
# a preposition, "to" or a participle and holds a word that refers back.
_ANAPHORIC_FRONT = re.compile(
    r"^((?:to|in|on|for|with|by|from|along|under|unlike|like|beyond|despite|given|following|"
    r"building|based|inspired|motivated|guided|driven|towards?|as|through|within|upon|among|after|"
    r"against|at|via|\w+ing|\w+ed)\b[^,;:]{0,80}?\b(?:this|these|those|such(?!\s+as\b)|it|its|them|their|above|"
    r"aforementioned|former|latter)\b[^,;:]{0,40}),\s+(?=\S)",
    re.IGNORECASE,
)
MAX_FRONT_WORDS = 14
# Words that open no clause of its own: after them the comma was inside the fronted phrase or
# the phrase was the clause ("Unlike X, which ..."; "Modeling Y remains hard, and ...").
_NO_CLAUSE_START = frozenset(
    {
        "and",
        "or",
        "nor",
        "but",
        "yet",
        "which",
        "who",
        "whom",
        "whose",
        "where",
        "as",
        "because",
        "since",
        "while",
        "whereas",
        "although",
        "though",
        "if",
        "that",
        "than",
        "rather",
        "often",
        "thus",
        "thereby",
    }
)
# What a clause may open with after a fronted gerund, which could itself be the subject: a
# pronoun or a determiner ("Addressing this gap, we ..."), or a name ("..., ProX achieves").
_EXPLICIT_SUBJECTS = frozenset(
    {
        "we",
        "they",
        "it",
        "he",
        "she",
        "one",
        "this",
        "these",
        "those",
        "the",
        "a",
        "an",
        "our",
        "their",
        "its",
        "each",
        "every",
        "both",
        "all",
        "some",
        "many",
        "most",
        "several",
        "such",
        "no",
        "any",
    }
)
# Words after which a finite verb belongs to a clause inside a fronted phrase ("To see how
# this is done,"), not to the phrase itself ("Among them are X,").
_SUBORDINATORS = frozenset(
    {"how", "what", "that", "which", "whether", "when", "where", "why", "who", "as", "if", "while", "because", "since"}
)
# Words a phrase cannot end on: the comma after them is inside the sentence's clause.
_PHRASE_INSIDE = frozenset(
    {"and", "or", "but", "nor", "the", "a", "an", "of", "to", "for", "with", "by", "from", "in", "on", "at", "than"}
)
_PREPOSITIONS = frozenset(
    {"by", "on", "upon", "with", "from", "to", "in", "at", "for", "through", "via", "against", "as", "into", "under"}
)
# "-ing" words that are prepositions or pronouns, never a gerund subject.
_NOT_GERUNDS = frozenset(
    {
        "during",
        "following",
        "including",
        "regarding",
        "concerning",
        "according",
        "notwithstanding",
        "excluding",
        "pending",
        "nothing",
        "something",
        "everything",
        "anything",
    }
)
# Finite verbs a clause cannot open with (its subject would be missing), and those of them
# that need a singular subject.
_SINGULAR_VERBS = frozenset(
    {
        "is",
        "was",
        "has",
        "does",
        "remains",
        "seems",
        "appears",
        "becomes",
        "requires",
        "involves",
        "poses",
        "lacks",
        "presents",
        "represents",
        "constitutes",
    }
)
_FINITE_VERBS = _SINGULAR_VERBS | {
    "are",
    "were",
    "have",
    "had",
    "do",
    "did",
    "remain",
    "can",
    "could",
    "may",
    "might",
    "must",
    "should",
    "will",
    "would",
}
# "long-horizon, domain-specialized tasks": a list of modifiers or items ended by "and"/"or"
# (a clause before ", and" has a finite verb).
_LIST_CONTINUATION = re.compile(r"^([^,;:]{1,60}),\s+(?:and|or)\s", re.IGNORECASE)
_FRONT_WORD = re.compile(r"[A-Za-z][\w'-]*")
# A parenthetical that explains or cites; one bare token such as "(LoRA)" names a method and stays.
_PARENTHETICAL = re.compile(r"\s*\((?=[^()]*[\s,;:])[^()]*\)|\s*\[[^\[\]]*\]")
_PROMOTIONAL = re.compile(
    r"\b(a|an)\s+(?:novel|new|simple yet effective|simple but effective|innovative|groundbreaking)\s+(?:and\s+)?",
    re.IGNORECASE,
)
# Where a trailing clause may be cut, most preferred first: relative and participial
# clauses, then means ("by", "through"), then the last item of a list.
_CLAUSE_BOUNDARIES = (
    re.compile(
        r",\s+(?:which|where|while|whereas|thereby|thus|enabling|allowing|leveraging|using|achieving|"
        r"resulting|making|yielding|providing|offering|demonstrating|showing|highlighting|paving|"
        r"including|such as|as well as|particularly|especially)\b"
    ),
    re.compile(r"\s+(?:by|through|via|based on|in order to)\s+"),
    re.compile(r";\s+|,\s+and\s+|,\s+"),
)
# The authors as the subject, with its verb ("we propose", "this paper studies"): a cut must
# come after it, or the head is only a fronted phrase ("To overcome X for agents").
_OWN_SUBJECT = re.compile(
    r"\b(?:we|this (?:paper|work|study|article))\s+(?:\w+ly\s+|also\s+|further\s+)*\w+", re.IGNORECASE
)
# A numbered list inside a sentence: "three modules: (1) a planner, (2) ..." or "(i) ...".
_ENUMERATION = re.compile(r"[:,;]?\s*\((?:1|i|a)\)\s")
# A participle alone after the head's last comma, whose complement the cut removed.
_LONE_PARTICIPLE = re.compile(r",\s+\w+(?:ed|en|ing)$")
# Words a cut-off head may not end with.
_DANGLING = frozenset(FUNCTION_WORDS | {"including", "namely", "such"})
# Letters whose spoken name starts with a vowel sound: "an LLM", "an RL agent".
_VOWEL_SOUND_LETTERS = set("AEFHILMNORSX")
_CONSONANT_SOUND_PREFIXES = ("uni", "use", "usu", "uti", "eu", "one", "once", "ubiq")


def strip_leading_discourse(sentence: str) -> str:
    """`sentence` without its leading connectives and framing ("In this paper, we" -> "we")
    and fronted phrases that point back ("To study and address this, we" -> "we"), its first
    letter raised."""
    previous = None
    while previous != sentence:
        previous = sentence
        discourse = _LEADING_DISCOURSE.match(sentence)
        if discourse and leaves_clause(discourse.group(0), sentence[discourse.end() :], connective=True):
            sentence = sentence[discourse.end() :]
        front = anaphoric_front(sentence)
        if front is not None:
            rest = sentence[len(front) :].lstrip(" ,")
            if leaves_clause(front, rest):
                sentence = rest
    return sentence[:1].upper() + sentence[1:]


def leaves_clause(front: str, rest: str, connective: bool = False) -> bool:
    """Whether dropping the fronted phrase `front` leaves `rest` a clause with its own subject:
    not a verb without its subject ("First is X" -> "is X"), after a gerund or participle, which
    may be the subject itself ("Training them ...", "Synthesized content ..."), an explicit
    subject ("Addressing this gap, we ..."). Unless `front` is a connective ("However,"), also
    not a front that is a clause itself ("Among them are X,") or ends mid-phrase ("... and,"),
    nor a rest that continues it ("which ...", "and ...", "object detection, and segmentation,
    the ...") or puts a plural before a singular verb ("tasks remains" after "Training them on
    long-horizon,")."""
    raw_words = _FRONT_WORD.findall(rest)
    rest = _LEADING_DISCOURSE.sub("", rest, count=1)
    words = _FRONT_WORD.findall(rest)
    if not words or words[0].lower() in _FINITE_VERBS or _keeps_verbal_subject(front, rest):
        return False
    if connective:
        return True
    if raw_words[0].lower() in _NO_CLAUSE_START or _is_clause(front):
        return False
    listed = _LIST_CONTINUATION.match(rest)
    if listed and words[0].lower() not in _EXPLICIT_SUBJECTS and not _has_finite_verb(listed.group(1)):
        return False
    return not _subject_disagrees(words)


def _is_clause(front: str) -> bool:
    """Whether `front` is no phrase: it holds a finite verb of its own ("Among them are X") or
    ends on a function word ("Y can change these views and")."""
    words = [word.lower() for word in _FRONT_WORD.findall(front)]
    if not words or words[-1] in _PHRASE_INSIDE:
        return True
    if words[0] == "to":  # a purpose may hold a clause: "To ensure these thoughts remain grounded"
        return False
    for word in words:
        if word in _SUBORDINATORS:
            return False
        if word in _FINITE_VERBS:
            return True
    return False


def _keeps_verbal_subject(front: str, rest: str) -> bool:
    """Whether `front` opens with a gerund or participle ("Training them ...", "leveraging
    these", "Synthesized content ...") and `rest` opens with no explicit subject, so that the
    phrase may be the subject of its verb."""
    words = _FRONT_WORD.findall(front)
    if not words:
        return False
    # "Based on this, ...", "Guided by X, ...": a participle before its preposition is no subject.
    modifier = _is_participle(words[0]) and (len(words) == 1 or words[1].lower() not in _PREPOSITIONS)
    if not (_is_gerund(words[0]) or modifier):
        return False
    opening = _FRONT_WORD.match(rest.lstrip())
    if opening is None:
        return True
    subject = opening.group(0)
    return subject.lower() not in _EXPLICIT_SUBJECTS and not subject[:1].isupper()


def _has_finite_verb(text: str) -> bool:
    """Whether `text` holds a verb of :data:`_FINITE_VERBS` ("capabilities are insufficient"):
    a clause, not items of a list."""
    return any(word.lower() in _FINITE_VERBS for word in _FRONT_WORD.findall(text))


def _is_gerund(word: str) -> bool:
    """Whether `word` can be a gerund ("training", "leveraging"; not "during", "nothing")."""
    lowered = word.lower()
    return lowered.endswith("ing") and lowered not in _NOT_GERUNDS and "VERB" in getAllLemmas(lowered)


def _is_participle(word: str) -> bool:
    """Whether `word` can be a past participle ("Synthesized", "Guided"; not "need", "red")."""
    lowered = word.lower()
    return lowered.endswith("ed") and "VERB" in getAllLemmas(lowered) and lowered not in {"need", "seed", "speed"}


def _subject_disagrees(words: list[str]) -> bool:
    """Whether a clause's opening noun phrase ends in a plural noun right before a verb that
    needs a singular subject ("domain-specialized tasks remains"): its real subject was cut.
    A gerund opening the phrase is its subject ("developing SLU systems remains hard")."""
    if _is_gerund(words[0]):
        return False
    for index, word in enumerate(words[:8]):
        if word.lower() in _SINGULAR_VERBS:
            return index > 0 and is_plural_noun(words[index - 1])
        if word.lower() in FUNCTION_WORDS:
            return False
    return False


def is_plural_noun(word: str) -> bool:
    """Whether `word` is a plural noun: "tasks", "LLMs"; not "process", "analysis", "data"."""
    if re.fullmatch(r"[A-Z][A-Za-z0-9-]*[A-Z0-9]s", word):
        return True
    lowered = word.lower()
    nouns = getAllLemmas(lowered).get("NOUN", ())
    return lowered.endswith("s") and bool(nouns) and lowered not in nouns


def anaphoric_front(sentence: str) -> str | None:
    """The fronted phrase of `sentence` that points back at an unquoted sentence ("To study
    and address this"), or None."""
    front = _ANAPHORIC_FRONT.match(sentence)
    return front.group(1) if front and len(front.group(1).split()) <= MAX_FRONT_WORDS else None


def drop_parentheticals(sentence: str) -> str:
    """`sentence` without explanatory parentheses and brackets; "(LoRA)" stays."""
    previous = None
    while previous != sentence:
        previous = sentence
        sentence = _PARENTHETICAL.sub("", sentence)
    return re.sub(r"\s+([,.;:])", r"\1", sentence)


def indefinite_article(word: str) -> str:
    """ "a" or "an" before `word`, by sound: "an LLM", "a unified", "an open"."""
    if word[:1].isupper() and (len(word) > 1 and word[:2].isupper()):
        return "an" if word[0] in _VOWEL_SOUND_LETTERS else "a"
    lowered = word.lower()
    if lowered.startswith(_CONSONANT_SOUND_PREFIXES):
        return "a"
    return "an" if lowered[:1] in "aeiou" else "a"


def drop_promotion(sentence: str) -> str:
    """`sentence` without "novel", "new" or "simple yet effective" after "a"/"an", the article
    then agreeing with the next word ("a novel efficient method" -> "an efficient method")."""

    def replace(match: re.Match[str]) -> str:
        following = sentence[match.end() :].split(maxsplit=1)
        article = indefinite_article(following[0]) if following else match.group(1)
        if match.group(1)[0].isupper():
            article = article.capitalize()
        return article + " "

    return _PROMOTIONAL.sub(replace, sentence)


def cut_trailing_clause(sentence: str, max_words: int = MAX_FACT_WORDS) -> str | None:
    """`sentence` (ending in a full stop) cut at a clause boundary to at most `max_words`
    words, or unchanged when short enough; None when no boundary after the authors' own
    subject and verb ("we propose") leaves a head of :data:`MIN_HEAD_WORDS` to `max_words`
    words."""
    if len(sentence.split()) <= max_words:
        return sentence
    subject = _OWN_SUBJECT.search(sentence)
    main_clause = subject.end() if subject else 0  # never cut inside a phrase fronted before "we"
    for boundary in _CLAUSE_BOUNDARIES:
        cuts = [
            m.start()
            for m in boundary.finditer(sentence)
            if m.start() > main_clause and len(sentence[: m.start()].split()) >= MIN_HEAD_WORDS
        ]
        fitting = [cut for cut in cuts if len(sentence[:cut].split()) <= max_words and is_whole_head(sentence[:cut])]
        if fitting:
            return _end_head(sentence[: fitting[-1]])
    return None


def is_whole_head(head: str) -> bool:
    """Whether a cut-off head can stand as a sentence: not a lone participle after its last
    comma ("..., guided" before "by X"), and no "not only" without its "but"."""
    head = head.rstrip(" ,;:")
    if _LONE_PARTICIPLE.search(head):
        return False
    lowered = head.lower()
    return "not only" not in lowered or " but " in lowered[lowered.index("not only") :]


def _end_head(head: str) -> str:
    """A cut-off head as a sentence: no dangling "that", "to", "and" or "the" at its end."""
    words = head.rstrip(" ,;:").split()
    while words and words[-1].lower() in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(" ,;:") + "."


def cut_enumeration(sentence: str) -> str:
    """`sentence` cut before a numbered list it announces ("three parts: (1) ...")."""
    match = _ENUMERATION.search(sentence)
    return _end_head(sentence[: match.start()]) if match else sentence


def compress_sentence(sentence: str, max_words: int = MAX_FACT_WORDS) -> str | None:
    """The survey form of one abstract sentence: leading discourse, parentheticals and
    promotional adjectives dropped, cut to `max_words` at a clause boundary; None when it
    cannot be cut that short."""
    sentence = " ".join(sentence.split()).rstrip()
    sentence = re.sub(r"[.!]+$", ".", sentence)
    if not sentence.endswith("."):
        sentence += "."
    sentence = drop_promotion(drop_parentheticals(cut_enumeration(strip_leading_discourse(sentence))))
    return cut_trailing_clause(sentence, max_words)
