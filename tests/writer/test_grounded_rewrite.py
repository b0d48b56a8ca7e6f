"""The optional model rewrite: kept only when it stays grounded, with a scripted model."""

from __future__ import annotations

import re

import pytest

import writer.grounded.prompts as grounded_prompts
from engine.types import Completion, SamplingParams
from retriever.types import Paper
from tests.writer.grounded_papers import ADAPTERS, PROMPTS, PRUNING
from writer.grounded.choose import contribution_fact, sentence_key
from writer.grounded.prompts import placeholders, render
from writer.grounded.rewrite import REWRITE_MIN_COVERAGE, judge_rewrite, polish_section, polish_sections
from writer.grounded.section import write_grounded_section, write_grounded_sections

ADAPTERS_FACT = contribution_fact(ADAPTERS)
NOT_PLAIN = "not one plain sentence of ordinary length"


class ScriptedRewriter:
    """Answers each rewrite request with the answer whose key (a word) is in the sentence,
    or echoes the sentence."""

    name = "scripted-rewriter"
    context_window = 4096

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def batch_chat(self, conversations, params, schema=None, grammar=None):
        completions = []
        for messages in conversations:
            prompt = messages[-1]["content"]
            self.prompts.append(prompt)
            sentence = re.search(r"Sentence: (.*)", prompt).group(1)
            text = next((answer for word, answer in self.answers.items() if word in sentence), sentence)
            completions.append(Completion(text=text, prompt_tokens=10, completion_tokens=5))
        return completions


def test_every_prompt_renders_with_exactly_its_placeholders():
    for name, template in vars(grounded_prompts).items():
        if name.isupper() and isinstance(template, str):
            values = {key: f"<{key}>" for key in placeholders(template)}
            assert not re.search(r"\{[a-z_]+\}", render(template, **values)), name


def test_faithful_rewrite_is_kept():
    answer = "Houlsby et al. propose bottleneck adapters, training 3% of the parameters [arXiv:2501.00001]."
    check = judge_rewrite(ADAPTERS_FACT, answer, ADAPTERS)
    assert check.kept and check.rewrite == answer and check.coverage == 1.0


def test_invented_claim_is_refused_and_the_extracted_sentence_stays():
    answer = "Houlsby et al. propose adapters that beat GPT-4 on every benchmark [arXiv:2501.00001]."
    check = judge_rewrite(ADAPTERS_FACT, answer, ADAPTERS)
    # Of houlsbi, adapt, beat, gpt, 4, everi, benchmark only houlsbi, adapt and everi are known.
    assert not check.kept and check.coverage == pytest.approx(3 / 7)
    assert check.reason == f"content words covered 0.43 < {REWRITE_MIN_COVERAGE}"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty answer"),
        (
            "Houlsby et al. propose adapters [arXiv:2501.00002] that train 3% of the parameters [arXiv:2501.00001].",
            "cites something other than [arXiv:2501.00001]",
        ),
        (
            "Houlsby et al. propose adapters that train 3% of the parameters [arXiv:2501.00002].",
            "cites something other than [arXiv:2501.00001]",
        ),
        (
            "Houlsby et al. propose adapters [3] that train 3% of the parameters [arXiv:2501.00001].",
            "cites something other than [arXiv:2501.00001]",
        ),
        ("Adapters train few parameters. They are cheap [arXiv:2501.00001].", NOT_PLAIN),
        (
            "Bottleneck adapters that train 3% of the parameters are proposed [arXiv:2501.00001].",
            "does not open with the authors' names",
        ),
        ("Houlsby et al. propose $\\alpha$ adapters for the parameters [arXiv:2501.00001].", NOT_PLAIN),
        (
            "Houlsby et al. proposes bottleneck adapters that train 3% of the parameters [arXiv:2501.00001].",
            "its verb does not agree with the authors",
        ),
        (
            "Houlsby et al. propose bottleneck adapters that train 3% of the parameters in these tasks "
            "[arXiv:2501.00001].",
            "points back at a sentence the survey does not quote",
        ),
        (
            "Houlsby et al. propose bottleneck adapters that train 3% of the parameters, adapters that train 3% of "
            "the parameters, again and again [arXiv:2501.00001].",
            "much longer than the extracted sentence",
        ),
    ],
)
def test_rewrites_that_break_the_rules_are_refused(answer, reason):
    check = judge_rewrite(ADAPTERS_FACT, answer, ADAPTERS)
    assert not check.kept and check.reason == reason


def test_the_marker_is_put_back_by_the_code():
    check = judge_rewrite(ADAPTERS_FACT, "Houlsby et al. propose bottleneck adapters training few parameters", ADAPTERS)
    assert check.kept
    assert check.rewrite == "Houlsby et al. propose bottleneck adapters training few parameters [arXiv:2501.00001]."
    short = judge_rewrite(ADAPTERS_FACT, "Houlsby et al. propose bottleneck adapters", ADAPTERS)
    assert short.reason == "content words covered by the abstract alone 0.67 < 0.8"  # the name weighs 1 of 3


def test_the_model_sees_the_sentence_without_its_marker():
    llm = ScriptedRewriter({})
    polish_section(llm, write_grounded_section("Efficient Tuning", [ADAPTERS]), SamplingParams())
    assert llm.prompts[0].endswith(
        "Sentence: Houlsby et al. propose bottleneck adapters that train 3% of the parameters."
    )
    assert '"Houlsby et al."' in llm.prompts[0] and "[arXiv:" not in llm.prompts[0]


def test_chatty_answer_is_cleaned_before_judging():
    sentence = "Houlsby et al. propose bottleneck adapters that train 3% of the parameters [arXiv:2501.00001]"
    check = judge_rewrite(ADAPTERS_FACT, f'Here is the rewritten sentence:\n"{sentence}"', ADAPTERS)
    assert check.kept and check.rewrite == sentence + "."


def test_polish_section_keeps_good_rewrites_only_and_rerenders():
    draft = write_grounded_section("Efficient Tuning", [ADAPTERS, PROMPTS, PRUNING])
    llm = ScriptedRewriter(
        {
            "Houlsby": "Houlsby et al. propose bottleneck adapters, training 3% of the parameters.",
            "Lester": "Lester and Al-Rfou show prompt tuning beats GPT-4 everywhere.",
        }
    )
    polished = polish_section(llm, draft, SamplingParams())
    assert polished.text == draft.text.replace(
        "Houlsby et al. propose bottleneck adapters that train 3% of the parameters",
        "Houlsby et al. propose bottleneck adapters, training 3% of the parameters",
    )
    assert [check["kept"] for check in polished.rewrites] == [True, False, True]
    assert polished.notes == ["section 'Efficient Tuning': kept 2 of 3 model rewrites (1 unchanged)"]
    assert (polished.prompt_tokens, polished.completion_tokens) == (30, 15)
    assert len(llm.prompts) == 3


def test_rewrite_that_duplicates_another_sentence_is_refused():
    draft = write_grounded_section("Efficient Tuning", [ADAPTERS, PRUNING])
    elsewhere = "Sun studies magnitude pruning of language models at scale [arXiv:2501.00003]."
    llm = ScriptedRewriter({"Sun": elsewhere})  # the adapters sentence is echoed: kept as it is
    polished = polish_section(llm, draft, SamplingParams(), taken={sentence_key(elsewhere)})
    assert [check["reason"] for check in polished.rewrites] == ["unchanged", "duplicates another sentence"]
    assert polished.text == draft.text


def test_polish_sections_keeps_rewrites_from_repeating_another_section():
    paper = Paper(
        "2501.00020",
        "Two claims",
        "We propose sparse adapters for multilingual translation models. "
        "We show that sparse adapters match full fine-tuning on GLUE benchmarks.",
        authors=("Ana Ruiz", "Bo Li", "Cy Wu"),
    )
    first, second = write_grounded_sections([("One", [paper], []), ("Two", [paper], [])])
    assert first.facts[0].text != second.facts[0].text
    llm = ScriptedRewriter({"GLUE": first.facts[0].text})
    polished = polish_sections(llm, [first, second], SamplingParams())
    assert polished[1].rewrites[0]["reason"] == "duplicates another sentence"
    assert polished[1].text == second.text and polished[0].rewrites[0]["reason"] == "unchanged"
