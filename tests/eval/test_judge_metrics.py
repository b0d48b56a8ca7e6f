"""Judge metrics with a scripted judge whose answers are known: exact fact score,
citation recall and precision, content quality; the cache; unparsable replies."""

from __future__ import annotations

import pytest

from eval.citation_quality import citation_quality
from eval.content_quality import content_quality
from eval.fact_score import fact_score
from eval.judge import Judge
from eval.prompts import CONTENT_CRITERIA, placeholders

# Evidence: paper A says "alpha", B says "beta", C says nothing useful.
PAPERS = [("2401.00001", "Paper A", "alpha"), ("2401.00002", "Paper B", "beta"), ("2401.00003", "Paper C", "gamma")]
SECTIONS = {
    "Body": (
        "Alpha and beta hold together [arXiv:2401.00001][arXiv:2401.00002]. "  # supported jointly; each alone half
        "Alpha holds in this case [arXiv:2401.00001][arXiv:2401.00003]. "  # A alone supports, C irrelevant
        "Delta holds in this case [arXiv:2401.00003]. "  # unsupported
        "A sentence without any citation."
    )
}


def fact_and_support_answers(kit):
    def answer(prompt: str) -> str:
        if prompt.startswith("Split the following sentence"):
            sentence = kit.field(prompt, "Sentence")
            words = [w for w in ("alpha", "beta", "delta", "sentence") if w in sentence.lower()]
            return kit.reply(facts=[f"{w} holds" for w in words])
        if prompt.startswith("Decide whether the evidence supports the fact"):
            word = kit.field(prompt, "Fact").split()[0]
            return kit.reply(supported=word in prompt.split("Evidence")[1].lower(), reason="scripted")
        if prompt.startswith("Decide whether the sources"):
            claim = kit.field(prompt, "Claim").lower()
            sources = prompt.split("Sources:")[1].lower()
            needed = [w for w in ("alpha", "beta", "delta") if w in claim]
            return kit.reply(supported=all(w in sources for w in needed))
        raise AssertionError(prompt[:80])

    return answer


@pytest.fixture
def survey(kit):
    return kit.our_survey(SECTIONS, [kit.paper(i, t, a) for i, t, a in PAPERS])


def test_fact_score_exact(kit, survey, tmp_path):
    llm = kit.ScriptedLLM(fact_and_support_answers(kit))
    result = fact_score(survey, Judge(llm, tmp_path))
    # Facts: s1 alpha+beta (both supported), s2 alpha (supported), s3 delta (unsupported),
    # s4 "sentence holds" (uncited). 3 supported of 5 facts; 3 of 4 cited facts.
    assert result.counts["facts"] == 5
    assert result.all_facts == pytest.approx(60.0)
    assert result.cited_facts == pytest.approx(75.0)
    assert [f["verdict"] for f in result.facts] == ["supported", "supported", "supported", "unsupported", "uncited"]
    assert result.facts[0]["citations"] == ["2401.00001", "2401.00002"]


def test_citation_recall_precision_exact(kit, survey, tmp_path):
    llm = kit.ScriptedLLM(fact_and_support_answers(kit))
    result = citation_quality(survey, Judge(llm, tmp_path))
    # Claims: s1 supported, s2 supported, s3 not: recall 2/3.
    # Citations: s1 A (alone no; without A, B alone lacks alpha -> relevant), s1 B (relevant likewise),
    # s2 A (alone yes), s2 C (alone no; without C, A supports -> irrelevant), s3 C (claim unsupported).
    assert result.recall == pytest.approx(2 / 3)
    assert result.precision == pytest.approx(3 / 5)
    assert result.cited_sentence_share == pytest.approx(3 / 4)
    assert result.claims[1]["citation_relevant"] == {"2401.00001": True, "2401.00003": False}


def test_second_run_makes_no_calls(kit, survey, tmp_path):
    llm = kit.ScriptedLLM(fact_and_support_answers(kit))
    first = fact_score(survey, Judge(llm, tmp_path))
    calls = llm.calls
    assert calls > 0
    again = Judge(llm, tmp_path)
    second = fact_score(survey, again)
    assert llm.calls == calls and again.calls == 0 and again.cache_hits > 0
    assert second.facts == first.facts
    # Another judge identity does not reuse the first judge's replies.
    other = kit.ScriptedLLM(fact_and_support_answers(kit), name="another-judge")
    fact_score(survey, Judge(other, tmp_path))
    assert other.calls == calls


def test_unparsable_reply_is_retried_then_recorded_never_scored(kit, survey, tmp_path):
    def answer(prompt: str) -> str:
        if prompt.startswith("Your previous reply"):
            return "still not json"
        if "Criterion: Depth" in prompt:
            return "I think it deserves a four"
        return kit.reply(score=4, reason="fine")

    llm = kit.ScriptedLLM(answer)
    result = content_quality(survey, Judge(llm, tmp_path, retries=1), "topic")
    assert result.scores == {"relevance": 4, "coverage": 4, "depth": None, "novelty": 4, "structure": 4}
    assert result.reasons["depth"].startswith("unparsable")
    assert result.content_quality is None
    assert llm.calls == 6  # five criteria, one retry


def test_content_quality_mean_of_four(kit, survey, tmp_path):
    scores = {"Relevance": 5, "Coverage": 4, "Depth": 3, "Novelty": 2, "Structure": 1}

    def answer(prompt: str) -> str:
        return kit.reply(score=scores[kit.field(prompt, "Criterion").split(" - ")[0]], reason="r")

    result = content_quality(survey, Judge(kit.ScriptedLLM(answer), tmp_path), "topic")
    assert result.content_quality == pytest.approx(3.5)
    assert result.scores["structure"] == 1


def test_every_rubric_has_five_anchors_and_prompts_fill():
    for definition, anchors in CONTENT_CRITERIA.values():
        assert definition and [a[:2] for a in anchors] == ["1:", "2:", "3:", "4:", "5:"]
    from eval import prompts

    assert placeholders(prompts.CONTENT_QUALITY_PROMPT) == {"topic", "criterion", "definition", "anchors", "survey"}
    assert placeholders(prompts.FACT_VERDICT_PROMPT) == {"fact", "evidence"}


def test_a_request_the_engine_rejects_is_unparsable_not_fatal_and_not_cached(kit, survey, tmp_path):
    from engine.errors import BackendResponseError

    class Flaky(kit.ScriptedLLM):
        def batch_chat(self, conversations, params, schema=None, grammar=None):
            if len(conversations) > 1:
                raise BackendResponseError("the server rejected the request (400)")
            return super().batch_chat(conversations, params, schema)

        def chat(self, messages, params, schema=None, grammar=None):
            if "Criterion: Depth" in messages[-1]["content"] or "Your previous reply" in messages[-1]["content"]:
                raise BackendResponseError("the server rejected the request (400)")
            return super().chat(messages, params, schema)

    judge = Judge(Flaky(lambda prompt: kit.reply(score=2, reason="r")), tmp_path)
    result = content_quality(survey, judge, "topic")
    assert result.scores == {"relevance": 2, "coverage": 2, "depth": None, "novelty": 2, "structure": 2}
    assert judge.errors == 2  # depth failed alone, and again on its retry
    again = Judge(kit.ScriptedLLM(lambda prompt: kit.reply(score=3, reason="r")), tmp_path)
    assert content_quality(survey, again, "topic").scores["depth"] == 3  # asked again, not read from cache
    assert again.calls == 1


def test_a_broken_constraint_stops_the_judge(kit, survey, tmp_path):
    """The local engine's batched JSON decoding once let a token past its grammar mask; the
    judge read that as unparsable. That bug is fixed (tests/engine/test_constrained.py), and a
    GrammarError is no longer swallowed: it is a bug to see, not a score to lose quietly."""
    from engine.constrained import GrammarError

    class Broken(kit.ScriptedLLM):
        def batch_chat(self, conversations, params, schema=None, grammar=None):
            raise GrammarError("token 1 is not allowed by the grammar at this point")

    judge = Judge(Broken(lambda prompt: kit.reply(score=2, reason="r")), tmp_path)
    with pytest.raises(GrammarError):
        content_quality(survey, judge, "topic")
