"""Fact score, as MiniCPM4-Survey defines it: atomic facts are extracted from the survey's
body sentences, each fact carries its sentence's citations, and a judge decides whether
the cited papers' titles and abstracts support it.

    fact score (all facts)   = 100 x supported facts / facts
    fact score (cited facts) = 100 x supported cited facts / cited facts

A fact from a sentence without citations, or whose citations lead to nothing a judge can
read, counts as unsupported among all facts. Facts whose extraction or verdict could not be
parsed are left out of both figures and counted. Every fact and verdict is returned for
inspection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, Field

from eval.judge import Judge
from eval.prompts import FACT_EXTRACTION_PROMPT, FACT_VERDICT_PROMPT, render
from eval.sampling import evenly_spaced
from eval.survey_text import Sentence, evidence, sentences
from writer.survey import Survey

MAX_FACTS_PER_SENTENCE = 8


class FactList(BaseModel):
    """The atomic facts of one sentence."""

    facts: list[Annotated[str, Field(max_length=300)]] = Field(
        max_length=MAX_FACTS_PER_SENTENCE, description="atomic facts, each one short claim"
    )


class FactVerdict(BaseModel):
    """Whether the evidence supports one fact."""

    supported: bool
    reason: str = Field("", max_length=300)


@dataclass(slots=True)
class FactScore:
    """The two scores, their counts, and every fact with its verdict."""

    all_facts: float | None
    cited_facts: float | None
    counts: dict[str, int] = field(default_factory=dict)
    facts: list[dict] = field(default_factory=list)


def evidence_block(survey: Survey, keys: tuple[str, ...], max_words: int) -> str:
    """The cited papers' titles and abstracts, each cut to `max_words`, one per line."""
    lines = []
    for key in keys:
        text = evidence(survey, key)
        if text:
            lines.append(f"- {' '.join(text.split()[:max_words])}")
    return "\n".join(lines)


def fact_score(
    survey: Survey, judge: Judge, max_sentences: int | None = None, max_evidence_words: int = 200
) -> FactScore:
    """Extract and judge the facts of (an even sample of `max_sentences` of) the body sentences."""
    chosen: list[Sentence] = evenly_spaced(sentences(survey), max_sentences)
    extractions = judge.ask_many(
        [render(FACT_EXTRACTION_PROMPT, sentence=s.plain) for s in chosen], FactList, progress="fact extraction"
    )
    facts: list[dict] = []
    unparsable_sentences = 0
    for sentence, answer in zip(chosen, extractions, strict=True):
        if answer.value is None:
            unparsable_sentences += 1
            continue
        for text in [" ".join(f.split()) for f in answer.value.facts if f.strip()][:MAX_FACTS_PER_SENTENCE]:
            block = evidence_block(survey, sentence.citations, max_evidence_words)
            facts.append(
                {"section": sentence.section, "sentence": sentence.text, "fact": text,
                 "citations": list(sentence.citations), "evidence": block}
            )
    to_judge = [fact for fact in facts if fact["evidence"]]
    verdicts = judge.ask_many(
        [render(FACT_VERDICT_PROMPT, fact=f["fact"], evidence=f["evidence"]) for f in to_judge],
        FactVerdict,
        progress="fact verdicts",
    )
    for fact, answer in zip(to_judge, verdicts, strict=True):
        if answer.value is None:
            fact["verdict"], fact["reason"] = "unparsable", answer.replies[-1]
        else:
            fact["verdict"] = "supported" if answer.value.supported else "unsupported"
            fact["reason"] = answer.value.reason
    for fact in facts:
        if "verdict" not in fact:
            fact["verdict"] = "no_evidence" if fact["citations"] else "uncited"
    return _scores(facts, len(chosen), unparsable_sentences)


def _scores(facts: list[dict], sentences_judged: int, unparsable_sentences: int) -> FactScore:
    scored = [f for f in facts if f["verdict"] != "unparsable"]
    cited = [f for f in scored if f["citations"]]
    supported = sum(f["verdict"] == "supported" for f in scored)
    counts = {
        "sentences": sentences_judged,
        "sentences_unparsable": unparsable_sentences,
        "facts": len(facts),
        "facts_cited": sum(bool(f["citations"]) for f in facts),
        "supported": supported,
        "unsupported": sum(f["verdict"] == "unsupported" for f in facts),
        "uncited": sum(f["verdict"] == "uncited" for f in facts),
        "no_evidence": sum(f["verdict"] == "no_evidence" for f in facts),
        "unparsable": len(facts) - len(scored),
    }
    return FactScore(
        all_facts=100 * supported / len(scored) if scored else None,
        cited_facts=100 * supported / len(cited) if cited else None,
        counts=counts,
        facts=facts,
    )
