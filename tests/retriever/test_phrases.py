"""Phrase mining on small hand-made texts, with exact expected output."""

from __future__ import annotations

import numpy as np
import pytest

from retriever.phrases import (
    content_words,
    distinctive_phrases,
    normalize_word,
    rerank_by_similarity,
    text_phrases,
    topic_words,
)

REWARD = [
    "Reward models for preference data",
    "Training reward models on preference data",
    "Reward models overfit",
]
TOOLS = [
    "Tool use in web agents",
    "Agents learn tool use",
    "Web agents with tool use",
]


def test_phrases_run_between_stop_words_and_punctuation():
    assert text_phrases("We train reward models, and the policy (PPO).") == {
        "train": "train",
        "train reward": "train reward",
        "train reward model": "train reward models",
        "reward": "reward",
        "reward model": "reward models",
        "model": "models",
        "policy": "policy",
        "ppo": "PPO",
    }


def test_hyphenated_words_digits_and_math_stay_whole_or_out():
    found = text_phrases("Chain-of-thought prompting of GPT-4o beats $O(n^2)$ baselines by 3 points")
    assert set(found) == {
        "chain-of-thought",
        "chain-of-thought prompting",
        "prompting",
        "gpt-4o",
        "gpt-4o beat",
        "beat",
        "baseline",
        "point",
    }


def test_abbreviations_of_running_text_are_no_words():
    assert set(text_phrases("Agents, e.g. web agents, i.e. tools et al. vs. baselines")) == {
        "agent",
        "web",
        "web agent",
        "tool",
        "baseline",
    }


def test_plurals_fold_but_short_and_latin_words_do_not():
    assert [normalize_word(w) for w in ("models", "LLMs", "class", "corpus", "analysis", "gas", "dynamics")] == [
        "model",
        "llm",
        "class",
        "corpus",
        "analysis",
        "gas",
        "dynamics",
    ]
    assert content_words("The models of the agents") == {"model", "agent"}


def test_each_group_gets_its_own_concentrated_phrases():
    reward, tools = distinctive_phrases([REWARD, TOOLS], 2)
    assert [(p.key, p.text, p.documents) for p in reward] == [
        ("reward model", "Reward models", 3),
        ("preference data", "preference data", 2),
    ]
    assert [(p.key, p.documents) for p in tools] == [("tool use", 3), ("agent", 3)]
    assert reward[0].score == pytest.approx(np.log(2))  # in every text of one group of two equal groups


def test_shorter_phrases_give_way_to_longer_ones_nearly_as_common():
    group = ["group relative policy optimization works", "group relative policy optimization again", "other"]
    [[best]] = distinctive_phrases([group], 1, background=["policy gradients"])
    assert best.key == "group relative policy optimization"


def test_topic_words_and_rare_phrases_are_left_out():
    reward, _ = distinctive_phrases([REWARD, TOOLS], 5, exclude_words=["reward", "models"], min_documents=2)
    assert [p.key for p in reward] == ["preference data"]
    reward, _ = distinctive_phrases([REWARD, TOOLS], 5, min_documents=3)
    assert [p.key for p in reward] == ["reward model"]


def test_a_lone_group_scores_by_share():
    [[first, second]] = distinctive_phrases([REWARD], 2)
    assert (first.key, first.score, second.key) == ("reward model", 1.0, "preference data")


def test_background_counts_against_but_returns_nothing():
    (reward,) = distinctive_phrases([REWARD], 2, background=["reward models everywhere"] * 6)
    assert [p.key for p in reward] == ["preference data"]  # reward models are common in the background


def test_rerank_keeps_phrases_close_to_the_group():
    reward, tools = distinctive_phrases([REWARD, TOOLS], 3)
    axes = {"Reward models": [1, 0], "preference data": [0.6, 0.8], "overfit": [0, 1]}

    def embed(texts):
        return np.array([axes.get(t, [0.0, 1.0]) for t in texts], dtype=np.float32)

    ranked = rerank_by_similarity([reward, tools], embed, np.array([[1.0, 0.0], [1.0, 0.0]]), keep=2)
    assert [p.text for p in ranked[0]] == ["Reward models", "preference data"]
    assert ranked[1] == []  # every tool phrase is orthogonal to its anchor here
    with pytest.raises(ValueError, match="anchor"):
        rerank_by_similarity([reward], embed, np.zeros((2, 2)), keep=1)


def test_topic_words_hold_the_acronyms_of_its_runs():
    assert topic_words("Reinforcement Learning for Large Language Models") == {
        "reinforcement",
        "learning",
        "large",
        "language",
        "model",
        "rl",
        "ll",
        "lm",
        "llm",
    }


def test_avoided_words_remove_every_phrase_holding_them():
    reward, _ = distinctive_phrases([REWARD, TOOLS], 5, avoid_words=["models"])
    assert [p.key for p in reward] == ["reward", "preference data"]  # "reward model" holds "model"


def test_a_collection_share_counts_against_a_phrase():
    shares = {"reward model": 0.9}
    reward, _ = distinctive_phrases([REWARD, TOOLS], 2, corpus_share=lambda keys: [shares.get(k, 0.0) for k in keys])
    # reward models are in 90% of the collection: barely more common in their group
    assert [p.key for p in reward] == ["preference data", "reward model"]
    assert reward[1].score == pytest.approx(np.log(1 / 0.9))
    alone, _ = distinctive_phrases(
        [REWARD, TOOLS], 2, corpus_share=lambda keys: [0.01] * len(keys), against_groups=False
    )
    assert alone[0].score == pytest.approx(np.log(100))  # in every text of its group, 1% of the collection


def test_topic_words_split_hyphenated_words():
    assert {"retrieval", "augmented", "rag", "llm"} <= topic_words(
        "Retrieval-Augmented Generation for Large Language Models"
    )
