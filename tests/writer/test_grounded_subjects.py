"""A fronted phrase is dropped only when what remains has its own subject: real abstract
sentences (the 5,000-paper sample) whose compression once cut the subject, and ones whose
fronted phrase still goes."""

from __future__ import annotations

from datetime import date

import pytest

from retriever.types import Paper
from writer.grounded.choose import Skip, limitation_fact
from writer.grounded.compress import compress_sentence, leaves_clause, strip_leading_discourse

# 2510.27630 (Fu et al.): the gerund phrase is the subject of "remains"; its comma lies inside it.
APOLLO = Paper(
    "2510.27630",
    "Apollo",
    "Large Language Model (LLM) agents have recently shown strong potential in domains such as automated "
    "coding, deep research, and graphical user interface manipulation. However, training them to succeed on "
    "long-horizon, domain-specialized tasks remains challenging. Current methods primarily fall into two "
    "categories. We introduce Apollo, a sampling framework that integrates asynchronous human guidance with "
    "action-level data filtering.",
    authors=("Dayuan Fu", "Yunze Wu"),
    published=date(2025, 10, 31),
)


@pytest.mark.parametrize(
    "sentence",
    [
        # 2510.27630: was "Domain-specialized tasks remains challenging."
        "However, training them to succeed on long-horizon, domain-specialized tasks remains challenging.",
        # 2505.08622: was "Often requiring extensive trial and error."
        "However, crafting effective textual prompts to guide these models remains challenging, often requiring "
        "extensive trial and error.",
        # 2511.08512: was "And accurately inferring a human learner's knowledge state is a key step ..."
        "Modeling the progression of such expertize in humans remains challenging, and accurately inferring a "
        "human learner's knowledge state is a key step toward understanding visual learning.",
        # 2606.03678: was "Confining generation to known priors and overlooking underexplored patterns."
        "Existing methods usually manage this trade-off with handcrafted heuristics, confining generation to "
        "known priors and overlooking underexplored patterns.",
        # 2509.18113: was "Which depends on fixed prompt templates, our study introduces ..."
        "Unlike prior methods such as SPoT, which depends on fixed prompt templates, our study introduces a "
        "unified multi-task learning framework with dynamic prompt scheduling mechanism.",
        # 2601.15133: was "Object detection, and segmentation, the recognition of visual relationships ..."
        "Despite tremendous improvements in tasks such as image classification, object detection, and "
        "segmentation, the recognition of visual relationships remains a challenging task.",
        # 2503.17116: was "To other datasets, CASTLE 2024 does not contain ..."
        "In contrast to other datasets, CASTLE 2024 does not contain any partial censoring.",
        # 2508.18953: was "High computational complexity of training and inference, costly fine-tuning, ..."
        "Among them are hallucination effects, high computational complexity of training and inference, costly "
        "fine-tuning, and catastrophic forgetting issues.",
        # 2509.26048: was "It also exposes agents to a complex search environment ..."
        "Augmenting LLMs with external search tools helps alleviate these issues, but it also exposes agents to a "
        "complex search environment.",
        # 2603.20750: was "Over time, lead to stable group-level differences."
        "Repeated peer communication and belief updates can gradually change these views and, over time, lead to "
        "stable group-level differences.",
        # 2506.20103: was "Physically implausible trajectories, unnatural object deformations, and local blurring ..."
        "Synthesized content often exhibits visual artifacts such as temporally inconsistent motion, physically "
        "implausible trajectories, unnatural object deformations, and local blurring.",
    ],
)
def test_a_fronted_phrase_holding_the_subject_or_its_comma_stays(sentence):
    assert strip_leading_discourse(sentence).lower() == sentence.lower().removeprefix("however, ")


def test_first_as_the_subject_is_not_a_connective():
    # 2606.00203: was "Is the generation of a formal query ..."
    sentence = "First is the generation of a formal query that suffers from brittleness."
    assert strip_leading_discourse(sentence) == sentence


@pytest.mark.parametrize(
    ("sentence", "stripped"),
    [
        ("Addressing this gap, we introduce the Cascaded Interactive Reasoning Network (CIRN).", "We introduce"),
        ("Recognizing its importance, this paper presents a systematic survey of Multimodal RAG.", "This paper"),
        ("Despite its importance, developing effective SLU systems remains challenging.", "Developing effective"),
        ("Despite these efforts, gains in retrieval and downstream tasks remain limited.", "Gains in retrieval"),
        ("However, existing approaches still fail to address the issue.", "Existing approaches"),
        ("Moreover, these models are costly.", "These models"),
        # 2512.21837, 2511.02360: a participle before its preposition, a purpose holding a clause
        ("Based on this graph, relevant knowledge is retrieved and integrated.", "Relevant knowledge"),
        ("To ensure these latent thoughts remain grounded, we train the model.", "We train"),
        # 2510.21175: a clause before ", and", not a list
        ("In such contexts, static zero-shot capabilities are insufficient, and there is a need for X.", "Static"),
    ],
)
def test_a_fronted_phrase_before_a_clause_with_its_own_subject_goes(sentence, stripped):
    assert strip_leading_discourse(sentence).startswith(stripped)


def test_leaves_clause_reads_the_rest_of_the_sentence():
    assert leaves_clause("Building on this", "we propose X.")
    assert not leaves_clause("Training them on long-horizon", "domain-specialized tasks remains hard.")
    assert not leaves_clause("To train them on long", "complex tasks is costly.")
    assert not leaves_clause("Using these tools", "however, is costly.")
    assert not leaves_clause("Unlike X", "which needs Y, Z works.")
    assert leaves_clause("However", "as models grow, costs rise.", connective=True)
    assert not leaves_clause("First", "is the generation of a query.", connective=True)


def test_the_apollo_open_problem_is_never_stated_without_its_subject():
    assert compress_sentence(APOLLO.abstract.split(". ")[1] + ".").startswith("Training them to succeed")
    # "them" has no referent in the sentence, so the writer states no open problem for it rather
    # than "Fu and Wu note that domain-specialized tasks remains challenging".
    assert isinstance(limitation_fact(APOLLO), Skip)
