"""Titles as noun phrases: hand-made good and bad titles (the weak ones of the grounded
surveys among them) with the exact verdicts, and the lexicon and usage evidence behind them."""

from __future__ import annotations

import pytest

from planner.title_grammar import grammar_problem, is_name, modifier_use, title_parts, word_classes

# Hand-made abstracts in which "multi-agent", "end-to-end" and "high-level" modify nouns, and
# "agents", "memory" and "fine-tuning" stand as nouns.
TEXTS = [
    "We build multi-agent systems for debate. Agents remember past turns.",
    "Multi-agent debate improves answers, and agents learn high-level plans.",
    "A multi-agent framework with end-to-end training of agents and their memory.",
    "High-level goals guide the agents. End-to-end models beat pipelines.",
    "Fine-tuning is costly, so we study end-to-end learning. The cost of fine-tuning grows with memory.",
    "Our high-level planner is time-consuming.",
]


def test_word_classes_come_from_the_lexicon_and_a_hyphenated_word_from_its_last_part():
    assert word_classes("improves") == {"VERB"}
    assert word_classes("significantly") == {"ADV"}
    assert word_classes("adversarial") == {"ADJ"}
    assert word_classes("agents") == {"NOUN"}
    assert word_classes("fine-grained") == {"VERB"}  # from "grained"
    assert word_classes("GRPO") == frozenset()


def test_names_and_parts():
    assert [is_name(w) for w in ("GRPO", "LLMs", "GPT-4o", "GraphRAG", "Fine-Grained", "Agents")] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    assert title_parts("Reward Models and  Preference Data") == [["Reward", "Models"], ["Preference", "Data"]]
    assert title_parts("Tools, Memory & Planning") == [["Tools"], ["Memory"], ["Planning"]]


def test_modifier_use_counts_uses_before_a_noun_or_after_a_copula():
    assert modifier_use(["Multi-Agent"], TEXTS) == (1.0, 3)
    assert modifier_use(["agents"], TEXTS) == (0.0, 3)  # "agents and their" is not counted
    assert modifier_use(["High-Level"], TEXTS) == (1.0, 3)  # plans, goals, "is time-consuming" aside
    assert modifier_use(["time-consuming"], TEXTS) == (1.0, 1)  # after "is": an adjective
    assert modifier_use(["fine-tuning"], TEXTS) == (0.0, 2)
    assert modifier_use(["quantum"], TEXTS) == (0.0, 0)


@pytest.mark.parametrize(
    ("title", "verdict"),
    [
        # the weak titles of the grounded surveys
        ("Text Generation and Significantly Improves", "it is not a noun phrase: “Significantly” is an adverb"),
        (
            "Reward Models and Fine-Grained",
            "it ends a phrase with “Fine-Grained”, which describes a noun rather than naming one",
        ),
        ("Agents and High-Level", "“High-Level” is a compound modifier (the papers use it alone in 0 of 3 uses)"),
        ("Workflows and End-to-End", "“End-to-End” is a compound modifier (the papers use it alone in 0 of 3 uses)"),
        ("Multi-Agent", "“Multi-Agent” is a compound modifier (the papers use it alone in 0 of 3 uses)"),
        (
            "Prompts and Adversarial",
            "it ends a phrase with “Adversarial”, which describes a noun rather than naming one",
        ),
        ("Enhance Reasoning", "it is not a noun phrase: “Enhance” is a verb"),
        ("Instantiate", "it is not a noun phrase: “Instantiate” is a verb"),
        ("Memory of", "a part of it begins or ends with “of”"),
        # fit noun phrases
        ("Reward Models and Preference Data", None),
        ("Multi-Agent Debate", None),
        ("Agents and Memory", None),
        ("Fine-Tuning", None),
        ("Chain-of-Thought Prompting", None),
        ("Aligned Models", None),
        ("Reasoning Models and Verifiable Rewards", None),
        ("GPT-4o Agents and GRPO", None),
    ],
)
def test_verdicts_on_hand_made_titles(title, verdict):
    assert grammar_problem(title, TEXTS) == verdict


def test_a_head_the_papers_put_before_nouns_is_a_modifier_without_its_noun():
    texts = ["Process reward models score steps.", "We train process reward models.", "Process reward models help."]
    assert grammar_problem("Process Rewards", texts) == (
        "the papers use “Process Rewards” before a noun or as a predicate (100% of 3 uses): a modifier, not a noun"
    )
    assert grammar_problem("Process Reward Models", texts) is None


def test_a_modifier_is_completed_with_the_noun_the_papers_put_after_it():
    from planner.title_grammar import completed_phrase

    assert completed_phrase(["Multi-Agent"], TEXTS) is None  # systems, debate, framework: one text each
    texts = ["Multi-agent systems debate.", "We study multi-agent systems.", "A multi-agent system plans."]
    assert completed_phrase(["Multi-Agent"], texts) == ("Multi-Agent systems", 3)
    assert completed_phrase(["Multi-Agent"], texts, min_texts=4) is None
    assert completed_phrase(["Jailbreak"], ["Jailbreak attacks work.", "New jailbreak attacks.", "A jailbreak."]) == (
        "Jailbreak attacks",
        2,
    )


def test_a_verb_after_a_phrase_neither_completes_nor_counts_as_its_noun():
    from planner.title_grammar import completed_phrase

    texts = [
        "Our findings highlight critical gaps.",
        "These findings highlight the risks.",
        "The question that matters.",
    ]
    assert completed_phrase(["Findings"], texts) is None  # "highlight" after a plural: a verb
    assert modifier_use(["findings"], texts) == (0.0, 2)
    assert completed_phrase(["Question"], [*texts, "A question that helps."]) is None  # "that" is no noun


def test_a_plural_then_a_verb_is_a_clause_not_a_title():
    assert grammar_problem("Safety Benchmarks and Findings Highlight") == (
        "it reads as a clause: “Findings Highlight” is a subject and its verb"
    )
    assert grammar_problem("Reward Models Training") is None
    assert grammar_problem("LLMs Agents") is None
    assert grammar_problem("Language Models Benchmarks") is None


def test_an_adjective_the_papers_use_as_a_predicate_is_no_title():
    texts = [
        "Manual labelling is expensive and time-consuming.",
        "Harmful requests, such as toxic, offensive, and hateful ones.",
        "Content that may be offensive or harmful.",
        "Human review is genuinely time-consuming for annotators.",
        "Offensive language detection.",
    ]
    assert modifier_use(["offensive"], texts) == (1.0, 3)  # after "toxic,", after "be" (before "or"), before a noun
    assert grammar_problem("Offensive", texts) == (
        "the papers use “Offensive” before a noun or as a predicate (100% of 3 uses): a modifier, not a noun"
    )
    assert grammar_problem("Time-Consuming", texts) == (
        "“Time-Consuming” is a compound modifier (the papers use it alone in 0 of 2 uses)"
    )
    # a noun coordinated with nouns stays a noun: "models, data, and evaluation"
    nouns = ["We compare models, data, and evaluation.", "We study the evaluation of agents.", "Evaluation is hard."]
    assert modifier_use(["evaluation"], nouns) == (0.0, 3)
    assert grammar_problem("Evaluation", nouns) is None
