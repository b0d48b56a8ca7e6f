"""Title validation beyond grammar, on hand-made papers with exact verdicts: the topic
restated through its acronyms, generic words (with made-up library shares), titles that do
not name what their papers share, and the search for the first fitting candidate."""

from __future__ import annotations

from planner.titles import _narrowed, _title_candidates, mined_titles, restated_topic_words, title_problem
from retriever.phrases import Phrase, topic_words

REWARD_TEXTS = [
    "Reward models. Reward models score answers; preference data trains them.",
    "Reward models from preference data. We train reward models on preference data.",
    "Reward hacking. Policies exploit reward models and verifiable rewards.",
    "Verifiable rewards. Math answers give verifiable rewards.",
]
PHRASES = [Phrase("reward model", "reward models", 1.0, 3), Phrase("preference data", "preference data", 0.5, 2)]
# Made-up shares of a library's papers holding each word.
SHARES = {
    "reward": 0.05,
    "model": 0.86,
    "preference": 0.03,
    "data": 0.33,
    "experiments": 0.32,
    "extensive": 0.16,
    "ai": 0.16,
    "models": 0.86,
    "rewards": 0.05,
    "verifiable": 0.02,
    "strong": 0.12,
    "performance": 0.48,
}


def shares(words):
    return [SHARES.get(word, 0.0) for word in words]


def test_topic_acronyms_spelled_out_are_the_topic():
    assert restated_topic_words("Large Language Models", "LLM-based Multi-Agent") == {"large", "language", "model"}
    assert restated_topic_words("Fine-Tuning and LMs", "Safety in Large Language Models") == {"lms"}
    assert restated_topic_words("Reward Models", "LLM-based Multi-Agent") == set()
    assert title_problem("Large Language Models", "LLM-based Multi-Agent", ["Large language models act."], []) == (
        "it says nothing beyond the topic's own words"
    )
    assert title_problem("Reward Models and LLMs", "RL for Large Language Models", REWARD_TEXTS, PHRASES) == (
        "its part “LLMs” restates the topic"
    )
    texts = ["Aligning large language models with reward models.", "Reward models for aligning large language models."]
    assert title_problem("Aligning Large Language Models", "Safety in Large Language Models", texts, []) == (
        "its part “Aligning Large Language Models” mostly restates the topic"
    )


def test_generic_words_cannot_make_a_title():
    topic = "language model alignment"
    texts = [*REWARD_TEXTS, "Extensive experiments confirm strong performance of AI."] * 2
    phrases = [*PHRASES, Phrase("extensive experiment", "extensive experiments", 0.4, 2), Phrase("ai", "AI", 0.3, 2)]

    def problem(title):
        return title_problem(title, topic, texts, phrases, word_share=shares, covering=False)

    assert problem("Extensive Experiments") == (
        "its words (experiment, extensive) are each in 10% or more of the library's papers (too generic)"
    )
    assert problem("AI") == "“AI” is in 10% or more of the library's papers (too generic)"
    assert problem("Reward Models and Extensive Experiments") == (
        "its part “Extensive Experiments” is common across the library (too generic)"
    )
    assert problem("Reward Models and Preference Data") is None
    assert problem("AI and Reward Models") == "“AI” is in 10% or more of the library's papers (too generic)"


def test_a_part_narrowing_topic_words_is_judged_as_a_whole():
    topic = "reinforcement learning for large language models"
    texts = [
        "Reasoning models think longer. Large reasoning models and different models.",
        "Reasoning models with training large language models; different models disagree.",
        "Reasoning models. Training large language models for reasoning; different models.",
    ]
    phrases = [Phrase(key, key, 1.0, 3) for key in ("reasoning model", "different model", "training large")]
    library = {"reasoning": 0.29, "reasoning models": 0.03, "different": 0.4, "different models": 0.02}
    library |= {"training": 0.3, "training large language models": 0.004}

    def share(asked):
        return [library.get(a, 0.0) for a in asked]

    def problem(title):
        return title_problem(title, topic, texts, phrases, word_share=share, covering=False)

    # "models" is the topic's, but "reasoning models" is a kind of model, rarer than "reasoning"
    assert problem("Reasoning Models") is None
    assert problem("Different Models") == (  # an adjective only qualifies
        "its words (different) are each in 10% or more of the library's papers (too generic)"
    )
    assert problem("Training Large Language Models") == (
        "its part “Training Large Language Models” mostly restates the topic"
    )
    assert _narrowed("Training Large Language Models", {"training"}, topic_words(topic), share) is False


def test_a_title_names_what_its_papers_share():
    topic = "language model alignment"
    assert title_problem("Reward Models and Preference Data", topic, REWARD_TEXTS, PHRASES) is None
    assert title_problem("Reward Hacking", topic, REWARD_TEXTS, [*PHRASES, Phrase("reward hacking", "x", 1, 1)]) == (
        "its part “Reward Hacking” occurs in 1 of the section's papers (at least 2 needed)"
    )
    many = REWARD_TEXTS + ["Speech recognition in noise."] * 5
    assert title_problem("Preference Data", topic, many, PHRASES) == (
        "it names 2 of the section's 9 papers (at least 25% needed)"
    )
    parts = [REWARD_TEXTS[:2], REWARD_TEXTS[3:]]
    assert title_problem("Preference Data", topic, REWARD_TEXTS, PHRASES, parts=parts) == (
        "it names 0 of the 1 papers of its sub-theme 2 (at least 25% needed)"
    )
    assert title_problem("Reward Models and Verifiable Rewards", topic, REWARD_TEXTS, PHRASES, parts=parts) is None


def test_a_title_names_a_share_of_each_sub_theme_not_one_paper():
    topic = "language model alignment"
    speech = ["Speech recognition in noise.", "Speech recognition for children.", "Robust speech recognition."]
    texts = [*REWARD_TEXTS, *speech, "Reward models for speech recognition."]
    parts = [REWARD_TEXTS, [*speech, texts[-1]]]
    # one paper of four in the second sub-theme is a share of it; a title naming the first
    # sub-theme and one stray paper of a larger second is the first sub-theme's title
    assert title_problem("Reward Models", topic, texts, PHRASES, parts=parts) is None
    parts = [REWARD_TEXTS, [*speech, *speech, texts[-1]]]
    texts = [*REWARD_TEXTS, *speech, *speech, texts[-1]]
    assert title_problem("Reward Models", topic, texts, PHRASES, parts=parts) == (
        "it names 1 of the 7 papers of its sub-theme 2 (at least 25% needed)"
    )


def test_a_part_qualifying_topic_words_is_held_as_a_run():
    topic = "reinforcement learning for language models"
    texts = [
        "Learning signals. Dense learning signals guide the policy.",
        "Sparse learning signals slow learning.",
        "Reward signals. We study learning from sparse reward signals.",  # "learning" and "signals" apart
        "Transfer signals across tasks during learning.",
        "Curriculum learning. Signals of difficulty order the tasks.",
    ]
    phrases = [Phrase("learning signal", "learning signals", 1.0, 2)]
    assert title_problem("Learning Signals", topic, texts, phrases) is None  # 2 of 5 papers
    assert title_problem("Learning Signals", topic, [*texts, *texts[2:], texts[2]], phrases) == (
        "it names 2 of the section's 9 papers (at least 25% needed)"
    )


def test_candidates_come_best_first_and_the_first_fit_is_taken():
    def phrase(key, text, score):
        return Phrase(key, text, score, 3)

    ranked = [
        phrase("potential", "potential", 0.9),
        phrase("reward model", "reward models", 0.8),
        phrase("preference data", "preference data", 0.5),
    ]
    assert [title for title, _ in _title_candidates(ranked, [])] == [
        "Reward Models and Preference Data",  # the best telling head first: "potential" is one plain word
        "Reward Models",
        "Potential and Reward Models",
        "Potential and Preference Data",
        "Potential",
        "Preference Data and Reward Models",
        "Preference Data",
    ]
    groups = [
        [
            "Multi-agent debate with tool calling.",
            "Multi-agent planning uses tool calling.",
            "Multi-agent memory for tool calling.",
        ],
        ["Speech recognition in noise.", "Speech recognition for children.", "Robust speech recognition."],
    ]
    first, second = mined_titles(groups, "language model alignment")
    assert next(title for title, _ in _title_candidates(first.phrases, [])) == "Tool Calling and Multi-Agent"
    assert (first.title, second.title) == ("Tool Calling", "Speech Recognition")  # "Multi-Agent" modifies


def test_a_dangling_phrase_is_completed_before_titles_are_tried():
    groups = [
        ["Jailbreak attacks on chat models.", "New jailbreak attacks.", "Jailbreak prompts leak."],
        ["Speech recognition in noise.", "Speech recognition for children.", "Robust speech recognition."],
    ]
    first, second = mined_titles(groups, "language model alignment")
    assert (first.title, second.title) == ("Jailbreak Attacks", "Speech Recognition")
    assert [p.text for p in first.phrases][:1] == ["Jailbreak attacks"]  # mined: "Jailbreak", then completed


def test_a_group_of_only_adjectives_gets_no_ungrammatical_title():
    groups = [
        ["Robust and adversarial.", "Adversarial, robust, fast.", "It is adversarial."],
        ["Speech recognition in noise.", "Speech recognition for children.", "Robust speech recognition."],
    ]
    first, second = mined_titles(groups, "language model alignment")
    # no noun phrase names the first group: "Adversarial and Robust" is no title (the outline
    # joins such a group to its nearest section and says so)
    assert (first.title, second.title) == (None, "Speech Recognition")


# Made-up relative evenness over a library's topics (planner.phrase_spread); None: too few holders.
SPREADS = {
    "future research": 0.93,
    "future": 0.90,
    "research": 0.95,
    "reward": 0.45,
    "modeling": 0.85,
    "promising approach": None,
    "promising": 0.92,
    "approach": 0.98,
    "reward modeling": 0.40,
    "tool use": 0.46,
    "tool": 0.80,
    "use": 0.99,
    "memory": 0.70,
    "evidence": 0.75,
    "verbatim recall": None,
    "verbatim": 0.30,
    "recall": 0.80,
}


def test_boilerplate_parts_are_refused_by_their_spread_over_the_library():
    texts = [
        "Reward modeling is a promising approach. Future research on memory and evidence.",
        "Reward modeling, a promising approach; tool use; future research; memory; evidence.",
        "Verbatim recall of tool use and memory as evidence; reward modeling.",
    ]
    phrases = [
        Phrase(key, key, 1.0, 2)
        for key in ("reward modeling", "promising approach", "future research", "tool use", "memory", "evidence")
    ]
    phrases.append(Phrase("verbatim recall", "verbatim recall", 1.0, 1))

    def problem(title):
        spread = lambda asked: [SPREADS[a] for a in asked]  # noqa: E731
        return title_problem(title, "language models", texts, phrases, spread=spread, covering=False)

    assert problem("Future Research") == "“Future Research” occurs alike across the library's topics (boilerplate)"
    assert problem("Reward Modeling and Promising Approach") == (
        "each word of “Promising Approach” occurs alike across the library's topics (boilerplate)"
    )
    assert problem("Evidence") == "“Evidence” occurs alike across the library's topics (boilerplate)"
    assert problem("Memory") is None  # 0.70: gathers in some topics
    assert problem("Tool Use") is None  # judged as a phrase (0.46), though each word spreads evenly
    assert problem("Verbatim Recall") is None  # too few holders; "verbatim" gathers
    assert problem("Reward Modeling") is None


def test_a_title_found_only_by_the_last_resort_says_so():
    groups = [
        ["Speech recognition in noise.", "Speech recognition for children.", "Robust speech recognition."],
        ["Protein folding with diffusion.", "Protein folding at scale.", "Fast protein folding."],
    ]
    plain = mined_titles(groups, "language model alignment")
    assert [(t.title, t.names_papers, t.specific) for t in plain] == [
        ("Speech Recognition", True, True),
        ("Protein Folding", True, True),
    ]
    everywhere = mined_titles(groups, "language model alignment", spread=lambda asked: [0.9] * len(asked))
    assert [(t.title, t.names_papers, t.specific) for t in everywhere] == [
        ("Speech Recognition", False, False),  # every phrase boilerplate: a noun phrase all the same
        ("Protein Folding", False, False),
    ]
