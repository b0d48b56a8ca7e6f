"""An optional fluency rewrite of a grounded section's sentences by any model, kept only
where it stays grounded: one sentence, its paper's marker at the end and nothing else cited,
its content words covered by the paper's abstract above a threshold, no markup, not much
longer, and no duplicate. Otherwise the extracted sentence stays."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Sequence

from engine.types import LLM, Message, SamplingParams
from retriever.types import Paper
from writer.citations import MARKER, NUMERIC_CITATION, find_citations, format_marker
from writer.grounded.abstracts import is_quotable, split_sentences
from writer.grounded.attribution import agreement_error, author_phrase
from writer.grounded.choose import Fact, sentence_key
from writer.grounded.coverage import SUPPORT_THRESHOLD, content_word_coverage, evidence_text
from writer.grounded.dangling import dangling_references
from writer.grounded.prompts import POLISH_PROMPT, POLISH_SYSTEM, render
from writer.grounded.section import GroundedDraft, render_section
from writer.sections import clean_section_text, max_new_tokens_for

# A rewrite is kept only when at least this share of its content words is in the paper's
# abstract, title or author names (see writer.grounded.coverage.evidence_text).
REWRITE_MIN_COVERAGE = 0.9
# A rewrite may be at most this many times as long (in words) as the extracted sentence.
MAX_REWRITE_GROWTH = 1.3
_CLOSING_MARKER = re.compile(rf"\s*{MARKER.pattern}\s*\.?\s*$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class RewriteCheck:
    """What happened to one sentence's rewrite: `kept` (`reason` "unchanged" when the model
    gave the sentence back as it was), or the `reason` it was refused."""

    arxiv_id: str
    extracted: str
    rewrite: str
    coverage: float
    kept: bool
    reason: str = ""


def _without_marker(text: str) -> str:
    return _CLOSING_MARKER.sub("", text).rstrip(" .") + "."


def _clean_answer(answer: str) -> str:
    text = clean_section_text(answer, "")
    first = next((line for line in text.splitlines() if line.strip()), "")
    return " ".join(first.strip().strip("\"'“”").split())


def judge_rewrite(
    fact: Fact, answer: str, paper: Paper, taken: Collection[str] = (), min_coverage: float = REWRITE_MIN_COVERAGE
) -> RewriteCheck:
    """Whether the model's `answer` may replace `fact`'s sentence, and the sentence as kept.

    The model is shown the sentence without its marker and the marker is put back here, so
    the kept sentence always ends with ``[arXiv:ID].``; an answer that cites anything else
    (another paper, a numbered reference) is refused. A fact that opens with its authors'
    names keeps them first (the connectives before it rely on that), with a verb that agrees
    with them, and gains no demonstrative pointing at an unquoted sentence. `taken` holds the
    sentence keys used elsewhere."""
    rewrite = _clean_answer(answer)

    def refuse(reason: str, coverage: float = 0.0) -> RewriteCheck:
        return RewriteCheck(fact.arxiv_id, fact.text, rewrite, coverage, False, reason)

    if not rewrite:
        return refuse("empty answer")
    closing = _CLOSING_MARKER.search(rewrite)
    # The paper's own marker at the end (the model copied it) is tolerated and put back below.
    if closing and find_citations(closing.group(0)) == [fact.arxiv_id]:
        rewrite = rewrite[: closing.start()]
    if MARKER.search(rewrite) or NUMERIC_CITATION.search(rewrite):
        return refuse(f"cites something other than {format_marker(fact.arxiv_id)}")
    body = rewrite.rstrip(" .") + "."
    if not is_quotable(body) or len(split_sentences(body)) != 1:
        return refuse("not one plain sentence of ordinary length")
    if len(body.split()) > MAX_REWRITE_GROWTH * len(_without_marker(fact.text).split()):
        return refuse("much longer than the extracted sentence")
    kept_text = f"{body[:-1]} {format_marker(fact.arxiv_id)}."
    coverage = content_word_coverage(kept_text, [evidence_text(paper)])
    if coverage < min_coverage:
        return refuse(f"content words covered {coverage:.2f} < {min_coverage}", coverage)
    by_abstract = content_word_coverage(kept_text, [paper.abstract])
    if by_abstract < SUPPORT_THRESHOLD:
        return refuse(f"content words covered by the abstract alone {by_abstract:.2f} < {SUPPORT_THRESHOLD}", coverage)
    if fact.opens_with_name and not rewrite.startswith(fact.subject.split(" ")[0]):
        return refuse("does not open with the authors' names", coverage)
    if agreement_error(body, fact.subject, author_phrase(paper.authors)[1]):
        return refuse("its verb does not agree with the authors", coverage)
    if len(dangling_references(body)) > len(dangling_references(_without_marker(fact.text))):
        return refuse("points back at a sentence the survey does not quote", coverage)
    if sentence_key(kept_text) in taken:
        return refuse("duplicates another sentence", coverage)
    unchanged = sentence_key(kept_text) == sentence_key(fact.text)
    return RewriteCheck(fact.arxiv_id, fact.text, kept_text, coverage, True, "unchanged" if unchanged else "")


def polish_facts(
    llm: LLM,
    facts: Sequence[Fact],
    papers: dict[str, Paper],
    params: SamplingParams,
    taken: Collection[str] = (),
    min_coverage: float = REWRITE_MIN_COVERAGE,
) -> tuple[list[Fact], list[RewriteCheck], int, int]:
    """Ask `llm` (one batch) to rewrite each fact; return the facts with accepted rewrites,
    the check of each, and the prompt and completion tokens spent."""
    if not facts:
        return [], [], 0, 0
    conversations: list[list[Message]] = [
        [
            {"role": "system", "content": POLISH_SYSTEM},
            {
                "role": "user",
                "content": render(POLISH_PROMPT, subject=fact.subject, sentence=_without_marker(fact.text)),
            },
        ]
        for fact in facts
    ]
    longest = max(len(fact.text.split()) for fact in facts)
    sampling = dataclasses.replace(params, max_new_tokens=max_new_tokens_for(int(longest * MAX_REWRITE_GROWTH) + 8))
    completions = llm.batch_chat(conversations, sampling)
    used = set(taken) | {sentence_key(fact.text) for fact in facts}
    polished: list[Fact] = []
    checks: list[RewriteCheck] = []
    for fact, completion in zip(facts, completions, strict=True):
        others = used - {sentence_key(fact.text)}
        check = judge_rewrite(fact, completion.text, papers[fact.arxiv_id], others, min_coverage)
        checks.append(check)
        if check.kept:
            used.add(sentence_key(check.rewrite))
            fact = dataclasses.replace(fact, text=check.rewrite)
        polished.append(fact)
    prompt_tokens = sum(completion.prompt_tokens for completion in completions)
    completion_tokens = sum(completion.completion_tokens for completion in completions)
    return polished, checks, prompt_tokens, completion_tokens


def polish_section(
    llm: LLM,
    draft: GroundedDraft,
    params: SamplingParams,
    taken: Collection[str] = (),
    min_coverage: float = REWRITE_MIN_COVERAGE,
) -> GroundedDraft:
    """`draft` with each fact sentence replaced by `llm`'s fluency rewrite where
    :func:`judge_rewrite` accepts it, re-rendered; the checks go to ``draft.rewrites`` and a
    count to its notes. `taken` holds sentence keys of other sections."""
    papers = {paper.arxiv_id: paper for paper in draft.given}
    polished, checks, prompt_tokens, completion_tokens = polish_facts(
        llm, draft.facts, papers, params, taken, min_coverage
    )
    replacements = iter(polished)
    groups = [(title, [next(replacements) for _ in facts]) for title, facts in draft.groups]
    kept = sum(check.kept for check in checks)
    unchanged = sum(check.kept and check.reason == "unchanged" for check in checks)
    notes = [*draft.notes]
    if checks:
        notes.append(f"section {draft.title!r}: kept {kept} of {len(checks)} model rewrites ({unchanged} unchanged)")
    return dataclasses.replace(
        draft,
        text=render_section(draft.opening, groups, draft.connective_offset, draft.openers) if groups else draft.text,
        groups=groups,
        prompt_tokens=draft.prompt_tokens + prompt_tokens,
        completion_tokens=draft.completion_tokens + completion_tokens,
        notes=notes,
        rewrites=[*draft.rewrites, *(dataclasses.asdict(check) for check in checks)],
    )


def polish_sections(
    llm: LLM, drafts: Sequence[GroundedDraft], params: SamplingParams, min_coverage: float = REWRITE_MIN_COVERAGE
) -> list[GroundedDraft]:
    """:func:`polish_section` for each of a survey's drafts in turn, each rewrite also kept
    from repeating a sentence of any other section."""
    polished: list[GroundedDraft] = []
    for index, draft in enumerate(drafts):
        others = [*polished, *drafts[index + 1 :]]
        taken = {sentence_key(fact.text) for other in others for fact in other.facts}
        polished.append(polish_section(llm, draft, params, taken, min_coverage))
    return polished
