"""Choosing what a survey says about a paper: its contribution sentence (for the body) and
its limitation or open-problem sentence (for the conclusion), each compressed, attributed
to the authors and ending with the paper's marker."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from retriever.types import Paper
from writer.citations import format_marker
from writer.grounded.abstracts import is_quotable, quotable_sentences, unusable_reason
from writer.grounded.attribution import ANONYMOUS_SUBJECT, attribute, author_phrase
from writer.grounded.compress import compress_sentence, strip_leading_discourse
from writer.grounded.coverage import SUPPORT_THRESHOLD, content_word_coverage, evidence_text
from writer.grounded.dangling import dangling_references, drop_dangling, foreign_pronouns

# A sentence built from an abstract keeps at least this share of its content words in the
# abstract (attribution and compression only remove words, so it is 1.0 unless a bug adds one).
MIN_FACT_COVERAGE = 0.9
# One strong cue of an open problem ("remains challenging") or two weak ones ("lack", "still").
MIN_LIMITATION_SCORE = 2

_SUBJECT = (
    r"\b(?:we|this (?:paper|work|study|article|letter|report|research|survey|review|thesis|chapter|tutorial)|"
    r"our (?:paper|work|study|research|analysis|evaluation|"
    r"(?:experimental |empirical )?(?:results|findings|experiments)))\s+"
    r"(?:\w+ly\s+|also\s+|further\s+|first\s+|then\s+)*"
)
# "Experimental results on X show that ...": the paper's findings without a "we".
_RESULTS = re.compile(
    r"^(?:extensive |comprehensive )?(?:experiments?|experimental results|empirical results|results|evaluations?|"
    r"analys[ie]s)\b[^.]{0,80}?\b(?:show|demonstrate|indicate|reveal|confirm|suggest)s?\b",
    re.IGNORECASE,
)
_PROPOSE = re.compile(
    _SUBJECT + r"(?:propose|introduce|present|develop|design|devise|formulate|build|construct|create|release|"
    r"contribute|offer|put forward|curate|collect|envision|review|survey)",
    re.IGNORECASE,
)
_STUDY = re.compile(
    _SUBJECT + r"(?:stud|investigat|explor|examin|analy[sz]|address|tackl|describ|establish|prov|deriv|provid|"
    r"extend|revisit|evaluat|benchmark|conduct|compar|leverag|train|adopt|characteri[sz]|quantif|identif|"
    r"formali[sz]|reformulat|frame|model|learn|use|employ|apply|argue)",
    re.IGNORECASE,
)
_FIND = re.compile(
    _SUBJECT + r"(?:show|demonstrat|find|found|observ|report|achiev|obtain|reveal|confirm|discover|highlight|indicat)",
    re.IGNORECASE,
)
_META = re.compile(
    r"\b(?:code|data|dataset|models?|weights|implementation)s?\b[^.]{0,40}\b(?:is|are|will be)\s+"
    r"(?:publicly\s+|freely\s+)?(?:available|released)|\bgithub\b|\bhuggingface\b|\bthis paper is organi[sz]ed\b|"
    r"\bwe (?:release|open-source)\b",
    re.IGNORECASE,
)
# "Experiments demonstrate the effectiveness of our approach": a result that names nothing.
_CONTENTLESS_RESULT = re.compile(
    r"\b(?:demonstrat|show|validat|confirm|verif|prov|highlight)\w*\s+(?:the\s+)?(?:effectiveness|superiority|"
    r"efficacy|efficiency|robustness|advantages?|benefits?|potential|value)\b(?:\s+and\s+\w+)?\s+of\s+"
    r"(?:our|the proposed|their|this|these|the|its)\b",
    re.IGNORECASE,
)
_PRIORITY_CLAIM = re.compile(r"\b(?:the first|first-ever|for the first time)\b", re.IGNORECASE)
# Cues of an open problem: strong ones alone make a sentence a candidate, weak ones in pairs.
_STRONG_LIMITATION = re.compile(
    r"\b(?:limitations?|remains? (?:an? |largely |still |highly |particularly |relatively )?(?:open|challeng|unclear|"
    r"unsolved|difficult|underexplored|understudied|unexplored|elusive|unknown|limited|scarce|an issue|a problem|"
    r"a bottleneck)|"
    r"open (?:problem|question|challenge)s?|future (?:work|research|direction)s?|yet to be|"
    r"not (?:yet )?(?:well|fully) understood|poorly understood|under-?explored|largely unexplored)",
    re.IGNORECASE,
)
_WEAK_LIMITATION = re.compile(
    r"\b(?:lack(?:s|ing)?|struggle[sd]?|fail(?:s|ed)? to|bottlenecks?|gaps?|still|hinders?|suffers?|"
    r"(?:has|have) not (?:yet )?been|costly|expensive)\b",
    re.IGNORECASE,
)
# "insights for future research", "to facilitate future work": a benefit claimed, not a problem stated.
_FUTURE_AS_BENEFIT = re.compile(
    r"\b(?:for|facilitate|support|inspire|guide|enable|foster|advance|benefit|inform)\s+(?:\w+\s+){0,2}future\b",
    re.IGNORECASE,
)
# A phrase that points back at the sentence before ("to overcome such limitations").
_ANAPHORIC_PHRASE = re.compile(
    r"\b(?:such|these|this|those)\s+(?:[a-z-]+\s+)?(?:limitations?|issues?|problems?|challenges?|gaps?|findings?|"
    r"observations?|insights?|shortcomings?|drawbacks?|questions?|abilit(?:y|ies)|ideas?|phenomen(?:on|a)|trends?|"
    r"concerns?|perspectives?|paradigms?)\b",
    re.IGNORECASE,
)
# A first word that points back to the sentence before ("These findings show"), which a
# quoted sentence cannot carry along.
_ANAPHORIC_START = re.compile(
    r"^(?:(?:this|these|those|such|that)\b"
    r"(?!\s+(?:paper|work|study|article|letter|report|research|survey|review|thesis|chapter|tutorial)\b)|"
    r"(?:it|they|its|their|both|the former|the latter|here)\b)",
    re.IGNORECASE,
)
_META_LIMITATION = re.compile(
    r"^(?:we|this (?:paper|survey|work|review))\s+(?:\w+\s+)?(?:discuss|outline|highlight|conclude|summari[sz]e|"
    r"point out|identify|suggest|propose|provide)\b[^.]*\b(?:future|directions|challenges|limitations|questions)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Fact:
    """One paper's sentence as the survey states it: `text` is the attributed, compressed
    form of `source` (the abstract's sentence) and ends with the paper's marker; `subject`
    is how it names the authors."""

    arxiv_id: str
    source: str
    text: str
    subject: str = ""

    @property
    def opens_with_subject(self) -> bool:
        """Whether `text` starts with how it names the authors (not with a fronted phrase)."""
        return bool(self.subject) and self.text.startswith(self.subject)

    @property
    def opens_with_name(self) -> bool:
        """Whether `text` starts with the authors' names (which keep their capitals after a connective)."""
        return bool(self.subject) and self.subject != ANONYMOUS_SUBJECT and self.text.startswith(self.subject)


@dataclass(frozen=True)
class Skip:
    """A paper the survey does not quote, and why (for the run's notes)."""

    arxiv_id: str
    reason: str


def contribution_score(sentence: str) -> int:
    """How clearly `sentence` states the paper's own contribution: 3 for "we propose /
    introduce / present", 2 for "we study / evaluate / address", 1 for "we show / find" or
    "experiments show", 0 otherwise and for a result that names nothing ("demonstrate the
    effectiveness of our method"); a claim of being first or a phrase pointing back ("such
    limitations") costs 1; code-release or layout sentences score -1."""
    if _META.search(sentence):
        return -1
    if _CONTENTLESS_RESULT.search(sentence):
        return 0
    score = 3 if _PROPOSE.search(sentence) else 2 if _STUDY.search(sentence) else 0
    if not score and (_FIND.search(sentence) or _RESULTS.match(strip_leading_discourse(sentence))):
        score = 1
    if score and _PRIORITY_CLAIM.search(sentence):
        score -= 1
    if score and (_ANAPHORIC_START.match(strip_leading_discourse(sentence)) or _ANAPHORIC_PHRASE.search(sentence)):
        score -= 1
    return score


def limitation_score(sentence: str) -> int:
    """How clearly `sentence` states an open problem or limitation: 2 per distinct strong cue
    ("remains challenging", "limitation", "future work"), 1 per distinct weak one ("lack",
    "fail to", "still"); 0 for a sentence that announces a contribution ("We propose X for
    future research") or only a discussion ("We discuss future directions"), and for one
    that starts by pointing back ("These results ...")."""
    if any(pattern.search(sentence) for pattern in (_META, _META_LIMITATION, _PROPOSE, _FUTURE_AS_BENEFIT)):
        return 0
    if _ANAPHORIC_START.match(strip_leading_discourse(sentence)):
        return 0
    strong = {match.group(0).lower() for match in _STRONG_LIMITATION.finditer(sentence)}
    weak = {match.group(0).lower() for match in _WEAK_LIMITATION.finditer(sentence)}
    score = 2 * len(strong) + len(weak)
    return max(score - 2, 0) if _ANAPHORIC_PHRASE.search(sentence) else score


def sentence_key(text: str) -> str:
    """A sentence's identity for duplicate checks: its letters and digits, lower-cased."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _extract(
    paper: Paper,
    score: Callable[[str], int],
    min_score: int,
    reporting_verb: str,
    exclude: Collection[str],
    what: str,
) -> Fact | Skip:
    reason = unusable_reason(paper)
    if reason is not None:
        return Skip(paper.arxiv_id, reason)
    sentences = quotable_sentences(paper)
    if not sentences:
        return Skip(paper.arxiv_id, "no sentence of its abstract can be quoted (markup, length or language)")
    ranked = sorted(enumerate(sentences), key=lambda pair: (-score(pair[1]), pair[0]))
    pointing_back = None  # the best fact whose demonstratives point at an unquoted sentence
    for _, sentence in ranked:
        if score(sentence) < min_score:
            break
        if sentence_key(sentence) in exclude:
            continue
        fact = _fact_from(paper, sentence, reporting_verb)
        if fact is None or sentence_key(fact.text) in exclude:
            continue
        if not dangling_references(fact.text):
            return fact
        pointing_back = pointing_back or fact
    return pointing_back or Skip(paper.arxiv_id, f"its abstract states no {what} that can be quoted")


def _fact_from(paper: Paper, sentence: str, reporting_verb: str) -> Fact | None:
    """The fact `sentence` gives, without the clause that holds a dangling demonstrative
    where that still makes a fact (:func:`drop_dangling`), else as compressed; None when
    neither is quotable and grounded, or when a "they/their" pointing at others would stay."""
    compressed = compress_sentence(sentence)
    if compressed is None:
        return None
    without_dangling = drop_dangling(compressed)
    if without_dangling is not None and without_dangling != compressed:
        fact = _stated_fact(paper, sentence, without_dangling, reporting_verb)
        if fact is not None:
            return fact
    if foreign_pronouns(compressed):  # stated after the authors' names, "their" would be theirs
        return None
    return _stated_fact(paper, sentence, compressed, reporting_verb)


def _stated_fact(paper: Paper, sentence: str, compressed: str, reporting_verb: str) -> Fact | None:
    stated = attribute(compressed, paper.authors, reporting_verb)
    if not is_quotable(stated):
        return None
    text = f"{stated.rstrip('.')} {format_marker(paper.arxiv_id)}."
    if content_word_coverage(text, [evidence_text(paper)]) < MIN_FACT_COVERAGE:
        return None
    # Short sentences where the authors' names weigh much: also supported by the abstract
    # alone, as an evaluation that sees only abstracts measures it.
    if content_word_coverage(text, [paper.abstract]) < SUPPORT_THRESHOLD:
        return None
    return Fact(arxiv_id=paper.arxiv_id, source=sentence, text=text, subject=author_phrase(paper.authors)[0])


def contribution_fact(paper: Paper, exclude: Collection[str] = ()) -> Fact | Skip:
    """The sentence a survey body states about `paper`: its best contribution sentence
    (highest :func:`contribution_score`, earliest on ties), or a Skip saying why there is
    none. Sentences whose :func:`sentence_key` (source or stated form) is in `exclude` are
    passed over, so that no sentence appears twice in a survey. A fact that still holds a
    demonstrative pointing at an unquoted sentence ("study this question") gives way to any
    other candidate and is stated only when none is left."""
    return _extract(paper, contribution_score, 1, "report", exclude, "contribution")


def limitation_fact(paper: Paper, exclude: Collection[str] = ()) -> Fact | Skip:
    """The sentence a conclusion states about `paper`'s open problems ("Smith et al. note
    that X remains challenging [arXiv:ID]."), or a Skip when its abstract names none."""
    return _extract(paper, limitation_score, MIN_LIMITATION_SCORE, "note", exclude, "limitation or open problem")
