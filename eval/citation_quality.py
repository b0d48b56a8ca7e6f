"""Citation recall and precision with AutoSurvey's protocol (after ALCE), and the share of
sentences that carry a citation.

A claim is a body sentence with citations. Recall: the judge decides whether the cited
sources together support the claim; recall = supported claims / claims. Precision: a
citation is relevant when it alone supports its claim, or when the claim is supported by
all its sources and no longer by the others once the citation is removed; precision =
relevant citations / citations. A citation of an unsupported claim is not relevant.
Verdicts that could not be parsed leave their claim or citation out of the figures, and
are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from eval.fact_score import evidence_block
from eval.judge import Judge
from eval.prompts import CITATION_SUPPORT_PROMPT, render
from eval.sampling import evenly_spaced
from eval.survey_text import sentences
from writer.survey import Survey


class SupportReply(BaseModel):
    """Whether the sources support the claim."""

    supported: bool


@dataclass(slots=True)
class CitationQuality:
    """Recall, precision, the cited-sentence share, counts and per-claim records."""

    recall: float | None
    precision: float | None
    cited_sentence_share: float | None
    counts: dict[str, int] = field(default_factory=dict)
    claims: list[dict] = field(default_factory=list)


def citation_quality(
    survey: Survey, judge: Judge, max_claims: int | None = None, max_evidence_words: int = 200
) -> CitationQuality:
    """Judge (an even sample of `max_claims` of) the survey's cited sentences."""
    body = sentences(survey)
    claims = evenly_spaced([s for s in body if s.citations], max_claims)

    def prompt(sentence_text: str, keys: tuple[str, ...]) -> str:
        return render(CITATION_SUPPORT_PROMPT, claim=sentence_text,
                      sources=evidence_block(survey, keys, max_evidence_words) or "(no readable source)")

    joint = judge.ask_many([prompt(c.plain, c.citations) for c in claims], SupportReply, progress="citation recall")
    single_requests = [(ci, key) for ci, c in enumerate(claims) for key in c.citations]
    single = judge.ask_many([prompt(claims[ci].plain, (key,)) for ci, key in single_requests], SupportReply,
                            progress="citation precision")
    # Leave-one-out only where it can decide: the claim is supported jointly, has several
    # citations and the citation alone does not support it.
    loo_requests = [
        (ci, key)
        for (ci, key), alone in zip(single_requests, single, strict=True)
        if joint[ci].value is not None and joint[ci].value.supported and len(claims[ci].citations) > 1
        and alone.value is not None and not alone.value.supported
    ]
    loo = judge.ask_many(
        [prompt(claims[ci].plain, tuple(k for k in claims[ci].citations if k != key)) for ci, key in loo_requests],
        SupportReply,
        progress="citation leave-one-out",
    )
    loo_by = dict(zip(loo_requests, loo, strict=True))
    records = []
    relevant = judged_citations = unparsable_citations = 0
    for ci, claim in enumerate(claims):
        verdict = joint[ci].value
        record = {"sentence": claim.text, "citations": list(claim.citations),
                  "supported": None if verdict is None else verdict.supported, "citation_relevant": {}}
        if verdict is not None:
            for (cj, key), alone in zip(single_requests, single, strict=True):
                if cj != ci:
                    continue
                relevance = _relevance(verdict.supported, alone.value, loo_by.get((ci, key)))
                record["citation_relevant"][key] = relevance
                if relevance is None:
                    unparsable_citations += 1
                else:
                    judged_citations += 1
                    relevant += relevance
        records.append(record)
    judged_claims = [r for r in records if r["supported"] is not None]
    return CitationQuality(
        recall=sum(r["supported"] for r in judged_claims) / len(judged_claims) if judged_claims else None,
        precision=relevant / judged_citations if judged_citations else None,
        cited_sentence_share=sum(bool(s.citations) for s in body) / len(body) if body else None,
        counts={
            "claims": len(claims),
            "claims_unparsable": len(claims) - len(judged_claims),
            "citations": judged_citations,
            "citations_unparsable": unparsable_citations,
        },
        claims=records,
    )


def _relevance(claim_supported: bool, alone: SupportReply | None, without: object) -> bool | None:
    """AutoSurvey's rule for one citation; None when a verdict it needs is unparsable."""
    if not claim_supported:
        return False
    if alone is None:
        return None
    if alone.supported:
        return True
    if without is None:  # the only citation of its claim: alone decides
        return False
    value = getattr(without, "value", None)
    return None if value is None else not value.supported
