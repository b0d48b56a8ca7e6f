"""Demonstratives whose referent was in an earlier sentence of the abstract, not in the survey:
"X, a framework addressing these challenges", "bridges these paradigms", "this question".

A quoted sentence cannot carry its abstract's previous sentence along, so such a phrase points
at nothing the reader has seen. :func:`dangling_references` finds them; :func:`drop_dangling`
removes the trailing clause or the "in this setting" phrase that holds them when what remains
is still a whole sentence. :func:`foreign_pronouns` finds the same for "they/their": the
authors say "we", so "their" in their sentence is someone else's.
"""

from __future__ import annotations

import re

from lemminflect import getAllLemmas

from writer.grounded.coverage import FUNCTION_WORDS, _stem

# Nouns that, after "this", name something the previous sentence stated ("this
# question"); "this paper", "this method" usually mean the authors' own and stay.
_BACK_NOUNS = (
    "problem|problems|issue|issues|challenge|challenges|limitation|limitations|gap|gaps|question|questions|"
    "paradigm|paradigms|setting|settings|variable|phenomenon|phenomena|trend|trends|concern|concerns|"
    "shortcoming|shortcomings|drawback|drawbacks|bottleneck|bottlenecks|observation|observations|"
    "finding|findings|insight|insights|assumption|assumptions|difficulty|difficulties|need|needs|"
    "obstacle|obstacles|barrier|barriers|tension|dilemma|trade-off|tradeoff|discrepancy|discrepancies|"
    "regard|context|scenario|scenarios|case|cases|direction|directions|line|contrast|distinction|difference|"
    "differences|effect|behavior|behaviour|variables"
)
# "this is", "these have": the demonstrative alone as the subject of a verb.
_BARE_VERBS = (
    r"is|are|was|were|has|have|had|can|could|may|might|will|would|leads?|makes?|allows?|enables?|requires?|"
    r"means|results?|remains?|poses?|raises?|limits?|hinders?|motivates?|suggests?|calls?"
)
# "this" or "these" alone before a verb; "these/those/such" before up to three words (the
# last of them the noun); "this" before at most one modifier and a back-pointing noun; "the
# above/aforementioned" before a noun.
_DEMONSTRATIVE = re.compile(
    rf"\b(?:(this|these)(?=\s+(?:{_BARE_VERBS})\b)|"
    r"(?:these|those|such)\s+(?!as\b|that\b)((?:[A-Za-z][\w-]*\s+){0,2}[A-Za-z][\w-]*)|"
    rf"this\s+((?:[a-z][\w-]*\s+)?(?:{_BACK_NOUNS}))|"
    r"(?:the\s+)?(?:above|aforementioned|above-mentioned)\s+((?:[a-z][\w-]*\s+)?[a-z][\w-]*))\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][\w-]*")
# A relative clause right after the phrase restricts it ("these systems that reshape X"),
# so the phrase is defined where it stands.
_RESTRICTED = re.compile(r"^\s*(?:that|which|who|whose|where)\b", re.IGNORECASE)
# "in this setting", "under such conditions": a modifier that can go without breaking the sentence.
_DANGLING_ADVERBIAL = re.compile(
    r",?\s+(?:in|under|for|within)\s+(?:this|these|such)\s+(?:settings?|contexts?|cases?|scenarios?|regards?|"
    r"conditions?|circumstances?|domains?|areas?|fields?|spaces?)\b(?=\s*[,.;:]|\s+\w)",
    re.IGNORECASE,
)
# Where a trailing part may be dropped: a clause after a comma ("X, which ...", "X, enabling
# ..."), the means of a verb ("by doing", "through"), a participle or relative clause after an
# appositive noun phrase (", a framework addressing ...", ", an approach that tackles ...").
_CLAUSE_START = re.compile(
    r",\s+(?:which|where|while|whereas|thereby|thus|\w+ing)\b|"
    r",?\s+(?:by|through|via)\s+(?=\w+ing\b)|"
    r"(?<=[\w)])\s+(?:that|which|who|\w+ing)\b"
)
# "We shed light on this question: we train X": a clause of the authors' own after a colon or
# semicolon, which may stand for the whole sentence.
_RESTATEMENT = re.compile(r"[:;]\s+(?=we\s+\w+)", re.IGNORECASE)
# "While this is shown in English, X holds": a leading subordinate clause, which may go.
_LEADING_SUBORDINATE = re.compile(
    r"^(?:while|although|though|whereas|since|because|as|if|when|despite|given)\b[^,;:]{0,120},\s+(?=\w)",
    re.IGNORECASE,
)
_APPOSITIVE = re.compile(r",\s+(?:a|an|the)\s+[^,;:()]*$", re.IGNORECASE)
_OWN_SUBJECT = re.compile(r"\b(?:we|this (?:paper|work|study|article))\s+(?:\w+ly\s+|also\s+)*\w+", re.IGNORECASE)
# A head shorter than this many words says too little to stand alone.
MIN_KEPT_WORDS = 5
_TRAILING_FUNCTION = FUNCTION_WORDS | {"including", "namely"}


def dangling_references(sentence: str) -> list[str]:
    """The demonstrative phrases of `sentence` whose nouns it has not itself named before
    ("addressing these challenges" -> ["these challenges"]); "these systems" after "multi-agent
    systems", and "these systems that reshape X", are not dangling."""
    found = []
    for match in _DEMONSTRATIVE.finditer(sentence):
        if match.group(1):  # "this is ...": nothing in the sentence can be its referent
            found.append(match.group(1))
            continue
        words = _phrase_words(match.group(2) or match.group(3) or match.group(4))
        if not words:
            continue
        phrase = match.group(0)[: match.group(0).find(words[-1]) + len(words[-1])]
        if _RESTRICTED.match(sentence[match.start() + len(phrase) :]):
            continue
        earlier = {_stem(word.lower()) for word in _WORD.findall(sentence[: match.start()])}
        if not any(_stem(word.lower()) in earlier for word in words):
            found.append(phrase)
    return found


# "they", "them", "their" in an abstract's own sentence point at others (its authors say "we").
_THIRD_PLURAL = re.compile(r"\b(?:they|them|their|theirs)\b", re.IGNORECASE)
# A word that can be the plural they refer to: "models", "LLMs", "data" ("process", "analysis",
# "focus", "its" are not). Verbs in -s pass too, which only makes the check keep more.
_PLURAL_WORD = re.compile(r"\b[A-Za-z][\w-]+[^\Wsui]s\b|\b(?:data|people|criteria|phenomena)\b", re.IGNORECASE)
# The authors' own reports, which "they/their" never means ("Experimental results reveal that
# our approach improves their ability").
_REPORT_NOUNS = frozenset(
    {"results", "experiments", "findings", "evaluations", "analyses", "observations", "simulations", "comparisons"}
)
_ITS = re.compile(r"\b(?:its|it)\b", re.IGNORECASE)
_WORD_SPAN = re.compile(r"[A-Za-z][\w'-]*")
_WE = re.compile(r"\bwe\b", re.IGNORECASE)
_DETERMINERS = frozenset({"the", "a", "an", "this", "our", "their"})
_INNER_CAPITAL_OR_DIGIT = re.compile(r".[A-Z0-9]")


def foreign_pronouns(source: str) -> list[str]:
    """The third-person pronouns of an abstract's own sentence `source` whose referent is not in
    it: stated after the authors' names ("Zhou et al. show that their reliance on ...", "Shin
    et al. demonstrate its effectiveness") they would read as the authors' own. In sentence order.

    - "they/them/their" with no plural before them, not counting the authors' reports
      ("results", "findings") nor a word right before the pronoun ("shows their");
    - "its" with no word before it that can name one thing (a singular noun, a name, an
      acronym), not counting the authors' verb, and not opening a phrase whose referent follows
      it ("By overcoming its limits, Prefix-Tuning ...");
    - "it" right after the authors' verb with no such word before ("We apply it to X").

    ("We show that their reliance fails." -> ["their"]; "We train LLMs to check their steps."
    -> []; "We evaluate its performance." -> ["its"].)"""
    authors_verbs = _authors_verbs(source)
    found = [
        (match.start(), match.group(0))
        for match in _THIRD_PLURAL.finditer(source)
        if not any(_plural_referent(word.group(0)) for word in _words_apart(source, match.start(), authors_verbs))
    ]
    for match in _ITS.finditer(source):
        words = _words_before(source, match.start(), set())
        if any(_singular_referent(word.group(0)) for word in words if word.start() not in authors_verbs):
            continue
        if match.group(0).lower() == "its" and not _cataphoric(source, match.end()):
            found.append((match.start(), match.group(0)))
        elif words and words[-1].start() in authors_verbs and not source[words[-1].end() : match.start()].strip():
            found.append((match.start(), match.group(0)))  # "We apply it": "it" the object of the authors' verb
    return [pronoun for _, pronoun in sorted(found)]


def _authors_verbs(source: str) -> set[int]:
    """Where the verbs the authors say they do start ("we evaluate", "We also study"): actions,
    not referents. Adverbs between are passed over ("also", "further", "carefully"), not "apply"."""
    starts = set()
    for we in _WE.finditer(source):
        for word in _WORD_SPAN.finditer(source, we.end()):
            readings = getAllLemmas(word.group(0).lower())
            if word.group(0).lower() not in {"also", "further", "then", "first"} and (
                "ADV" not in readings or "VERB" in readings
            ):
                starts.add(word.start())
                break
    return starts


def _words_before(source: str, end: int, skipped: set[int]) -> list[re.Match]:
    """The words of `source` before `end`, less those starting at `skipped` offsets."""
    return [word for word in _WORD_SPAN.finditer(source, 0, end) if word.start() not in skipped]


def _words_apart(source: str, end: int, skipped: set[int]) -> list[re.Match]:
    """:func:`_words_before`, less the word right before `end` with nothing between: in "shows
    their" or "improves them" it is the verb whose object the pronoun is, not its referent."""
    words = _words_before(source, end, skipped)
    if words and not source[words[-1].end() : end].strip():
        words.pop()
    return words


def _plural_referent(word: str) -> bool:
    """Whether `word` may be the plural a "they/their" refers to (:data:`_PLURAL_WORD`)."""
    return bool(_PLURAL_WORD.fullmatch(word)) and word.lower() not in _REPORT_NOUNS


def _singular_referent(word: str) -> bool:
    """Whether `word` may name the one thing an "its" refers to: a name or acronym ("DPO",
    "GPT-4", "English"), a word lemminflect does not know, or a singular or mass noun
    ("framework", "performance"); not a function word, a verb or an adjective."""
    lowered = word.lower()
    if lowered in FUNCTION_WORDS:
        return False
    if _INNER_CAPITAL_OR_DIGIT.search(word):
        return True
    readings = getAllLemmas(lowered)
    return not readings or lowered in {lemma.lower() for lemma in readings.get("NOUN", ())}


def _cataphoric(source: str, end: int) -> bool:
    """Whether the pronoun ending at `end` sits in a phrase closed by a comma and followed by a
    word that can be its referent ("By overcoming its limits, Prefix-Tuning remains ...")."""
    comma = source.find(",", end)
    if comma < 0:
        return False
    after = [word.group(0) for word in _WORD_SPAN.finditer(source, comma + 1)][:3]
    after = [word for word in after if word.lower() not in _DETERMINERS][:1]
    participle = bool(after) and after[0].islower() and after[0].endswith("ing")  # ", proving that ..."
    return bool(after) and not participle and _singular_referent(after[0])


def _pointing_back(sentence: str) -> list[str]:
    """What in an abstract's own sentence points at an earlier one: dangling demonstratives
    and foreign third-person pronouns."""
    return dangling_references(sentence) + foreign_pronouns(sentence)


def _phrase_words(phrase: str) -> list[str]:
    """The words of a demonstrative's phrase up to its first function word ("key edges for" ->
    ["key", "edges"]); empty when the demonstrative stands alone ("these are")."""
    words = []
    for word in phrase.split():
        if word.lower() in FUNCTION_WORDS:
            break
        words.append(word)
    return words


def drop_dangling(sentence: str) -> str | None:
    """`sentence` (ending in a full stop) without the part that holds its dangling
    demonstratives: an "in this setting" modifier removed, a leading "while ..." clause
    dropped, the authors' own clause after a colon kept alone ("We study this question: we
    train X." -> "We train X."), or the trailing clause that holds the first one cut ("We
    introduce X, a framework addressing these challenges." -> "We introduce X, a framework.");
    the sentence unchanged when it has none; None when no cut leaves a whole sentence free of
    them. A "they/their" whose referent is not in the sentence (:func:`foreign_pronouns`)
    counts as one."""
    if not _pointing_back(sentence):
        return sentence
    sentence = _DANGLING_ADVERBIAL.sub("", sentence)
    references = _pointing_back(sentence)
    if not references:
        return sentence
    first = _position(sentence, references[0])
    subordinate = _LEADING_SUBORDINATE.match(sentence)
    if subordinate and subordinate.end() > first:
        rest = sentence[subordinate.end() :]
        rest = rest[:1].upper() + rest[1:]
        if not _pointing_back(rest) and len(rest.split()) >= MIN_KEPT_WORDS:
            return rest
    restated = _RESTATEMENT.search(sentence, first)
    if restated:
        rest = sentence[restated.end() :]
        rest = rest[:1].upper() + rest[1:]
        if not _pointing_back(rest) and len(rest.split()) >= MIN_KEPT_WORDS:
            return rest
    subject = _OWN_SUBJECT.search(sentence)
    floor = subject.end() if subject and subject.start() < first else 0
    for cut in sorted((m.start() for m in _CLAUSE_START.finditer(sentence, 0, first)), reverse=True):
        if cut <= floor or not _is_clause_cut(sentence, cut):
            continue
        head = _as_sentence(sentence[:cut])
        if len(head.split()) >= MIN_KEPT_WORDS and not _pointing_back(head):
            return head
    return None


def _position(sentence: str, reference: str) -> int:
    """Where `reference` starts in `sentence` as a whole word ("it", not the "it" of "with")."""
    word = re.search(rf"(?<!\w){re.escape(reference)}(?!\w)", sentence)
    return word.start() if word else sentence.find(reference)


def _is_clause_cut(sentence: str, cut: int) -> bool:
    """Whether the boundary at `cut` starts a clause that may go: after a comma or before "by",
    any; otherwise only a relative or participle clause after an appositive noun phrase."""
    rest = sentence[cut:].lstrip()
    if sentence[cut] == "," or rest.split(maxsplit=1)[0].lower() in {"by", "through", "via"}:
        return True
    return bool(_APPOSITIVE.search(sentence[:cut]))


def _as_sentence(head: str) -> str:
    """A kept head as a sentence: no trailing function word or punctuation, one full stop."""
    words = head.rstrip(" ,;:").split()
    while words and words[-1].lower() in _TRAILING_FUNCTION:
        words.pop()
    return " ".join(words).rstrip(" ,;:") + "."
