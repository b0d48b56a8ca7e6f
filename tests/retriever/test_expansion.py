"""Query expansion mined from the first hits, on small hand-made papers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from retriever.expansion import ExpansionSettings, expanded_search, mine_queries
from retriever.types import SearchFilters, VectorSource
from tests.retriever.fakes import VectorWordRetriever, WordRetriever, paper

TOPIC = "reinforcement learning for language models"
SEEDS = [
    paper(
        1, "Reward models in reinforcement learning for language models", "Reward models learn from preference data."
    ),
    paper(
        2,
        "Preference data for reward models",
        "Preference data trains reward models in reinforcement learning of language models.",
    ),
    paper(
        3,
        "Reward models and preference data",
        "Reinforcement learning of language models needs reward models and preference data.",
    ),
    paper(4, "Tool use agents trained with reinforcement learning", "Language models learn tool use as agents."),
    paper(5, "Reinforcement learning of tool use agents", "Agents built on language models improve tool use."),
    paper(6, "Tool use for agents", "Reinforcement learning teaches language models tool use as agents."),
]
ONLY_BY_EXPANSION = [
    paper(7, "Scaling preference data collection", "Reward models need large preference data."),
    paper(8, "Benchmarking tool use agents", "Agents with tool use are evaluated on web tasks."),
]
DISTRACTOR = paper(9, "Protein folding with diffusion", "Diffusion predicts protein structures.")
PAPERS = SEEDS + ONLY_BY_EXPANSION + [DISTRACTOR]
# the mechanics alone: contrast with the other group, no topic-word rules, no anchoring, no
# feedback, no query-by-paper
SETTINGS = ExpansionSettings(
    seed_papers=6,
    background_papers=10,
    groups=2,
    phrases_per_query=2,
    against_groups=True,
    avoid_topic_words=False,
    anchor_queries=False,
    feedback_papers=0,
    paper_queries=0,
)


def test_mined_queries_name_each_seed_group():
    retriever = VectorWordRetriever(PAPERS)
    queries, phrases = mine_queries(TOPIC, SEEDS, (), retriever.vectors([p.arxiv_id for p in SEEDS]), SETTINGS)
    assert queries == ["preference data Reward models", "Tool use agents"]  # equal scores: alphabetical
    assert [[p.key for p in group] for group in phrases] == [["preference data", "reward model"], ["tool use", "agent"]]


def test_without_vectors_the_seeds_are_one_group_against_the_background():
    queries, phrases = mine_queries(TOPIC, SEEDS, ONLY_BY_EXPANSION[:1], None, SETTINGS)
    assert len(phrases) == 1
    assert queries == ["Tool use agents", "models learn"]
    # with nothing to contrast against, the phrases most seeds share
    assert mine_queries(TOPIC, SEEDS, (), None, SETTINGS)[0] == ["preference data Reward models", "Tool use agents"]


def test_second_round_finds_papers_the_topic_alone_misses():
    retriever = VectorWordRetriever(PAPERS)
    assert isinstance(retriever, VectorSource)
    result = expanded_search(retriever, TOPIC, k=8, settings=SETTINGS)
    # reranked by the embeddings, the phrases closest to their group lead
    assert result.queries == [TOPIC, "Reward models preference data", "agents Tool use"]
    assert result.mined_queries == result.queries[1:] and result.extra_queries == []
    found = [p.arxiv_id for p in result.papers]
    assert "2501.00008" in found and "2501.00009" not in found
    first, second = result.rounds
    assert (first.name, first.queries, first.hits, first.new_papers) == ("topic", (TOPIC,), 7, 7)
    assert (second.name, second.hits, second.new_papers) == ("expanded", 8, 1)
    assert result.notes == [
        "VectorWordRetriever has no phrase statistics (PhraseStatistics): phrases were compared within the hits only"
    ]


def test_a_models_queries_are_merged_never_instead():
    retriever = VectorWordRetriever(PAPERS)
    result = expanded_search(
        retriever,
        TOPIC,
        k=9,
        extra_queries=["protein diffusion", " ", "Protein  diffusion", TOPIC.upper()],
        settings=SETTINGS,
    )
    assert result.extra_queries == ["protein diffusion"]
    assert result.queries == [TOPIC, "protein diffusion", "Reward models preference data", "agents Tool use"]
    assert "2501.00009" in [p.arxiv_id for p in result.papers]


def test_filters_reach_every_search_and_plain_retrievers_work():
    retriever = WordRetriever(PAPERS)
    assert not isinstance(retriever, VectorSource)
    only_2025 = SearchFilters(date_from=date(2025, 1, 1))
    result = expanded_search(retriever, TOPIC, k=5, filters=only_2025, settings=SETTINGS)
    assert [call[2] for call in retriever.calls] == [only_2025, only_2025]
    assert retriever.calls[0] == ((TOPIC,), 16, only_2025)  # seeds and background in one search
    assert result.mined_queries == ["Tool use agents", "models learn"]


def test_nothing_found_gives_no_hits_and_no_queries():
    result = expanded_search(WordRetriever([DISTRACTOR]), TOPIC, k=5)
    assert (result.hits, result.mined_queries, result.queries) == ([], [], [TOPIC])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="topic is empty"):
        expanded_search(WordRetriever(PAPERS), "  ", k=5)
    with pytest.raises(ValueError, match="k must be"):
        expanded_search(WordRetriever(PAPERS), TOPIC, k=0)
    with pytest.raises(ValueError, match="groups"):
        ExpansionSettings(groups=0)
    with pytest.raises(ValueError, match="paper_queries must be 0 or more"):
        ExpansionSettings(paper_queries=-1)
    with pytest.raises(ValueError, match="paper_query_weight must be above 0"):
        ExpansionSettings(paper_query_weight=0.0)
    with pytest.raises(ValueError, match="one row per paper"):
        mine_queries(TOPIC, SEEDS, (), VectorWordRetriever(PAPERS).vectors(["2501.00001"]), SETTINGS)


class CorpusRetriever(VectorWordRetriever):
    """Also a PhraseStatistics (shares from a fixed table) and a FeedbackSearch (recorded)."""

    def __init__(self, papers, shares):
        super().__init__(papers)
        self.shares = shares
        self.feedback_calls = []

    def phrase_shares(self, phrases):
        return [self.shares.get(p, 0.01) for p in phrases]

    def search_with_feedback(self, queries, k, filters, feedback_papers, paper_queries=0, paper_weight=1.0):
        self.feedback_calls.append((tuple(queries), feedback_papers, paper_queries, paper_weight))
        return self.search_many(queries, k, filters)


def test_the_defaults_anchor_queries_avoid_topic_words_and_search_by_paper_in_round_two():
    retriever = CorpusRetriever(PAPERS, {})
    settings = ExpansionSettings(seed_papers=6, background_papers=10, groups=2)
    result = expanded_search(retriever, "reward models for language models", k=8, settings=settings)
    assert result.mined_queries == ["reinforcement learning preference data", "Tool use Reinforcement learning"]
    assert result.queries[1:] == [f"reward models for language models {q}" for q in result.mined_queries]
    assert retriever.feedback_calls == [(tuple(result.queries), 0, 20, 2.0)]
    assert result.notes == []
    assert retriever.calls[0][0] == ("reward models for language models",)


def test_phrases_common_in_the_whole_collection_sink():
    quiet = CorpusRetriever(PAPERS, {})
    common_agents = CorpusRetriever(PAPERS, {"agent": 0.9, "tool use": 0.9})
    settings = replace(SETTINGS, against_groups=False)
    plain = expanded_search(quiet, TOPIC, k=8, settings=settings)
    contrasted = expanded_search(common_agents, TOPIC, k=8, settings=settings)
    assert plain.mined_queries == ["Reward models preference data", "agents Tool use"]
    # "agents" and "tool use" alone are everywhere in this collection; together they are not
    assert contrasted.mined_queries == ["Reward models preference data", "Tool use agents"]
    assert [p.key for p in contrasted.phrases[1]] == ["tool use agent"]


def test_feedback_settings_reach_the_feedback_search_and_their_absence_is_noted():
    retriever = CorpusRetriever(PAPERS, {})
    settings = replace(SETTINGS, feedback_papers=5, paper_queries=3, paper_query_weight=1.5)
    result = expanded_search(retriever, TOPIC, k=8, settings=settings)
    assert retriever.feedback_calls == [(tuple(result.queries), 5, 3, 1.5)]
    # neither asked for: round 2 is a plain multi-query search
    off = CorpusRetriever(PAPERS, {})
    expanded_search(off, TOPIC, k=8, settings=SETTINGS)
    assert off.feedback_calls == []
    # asked for from a retriever without feedback search: searched without, and said so
    plain = expanded_search(VectorWordRetriever(PAPERS), TOPIC, k=8, settings=replace(SETTINGS, paper_queries=3))
    assert plain.notes[-1] == (
        "VectorWordRetriever offers no feedback search (FeedbackSearch): the second round ran without "
        "query-by-paper and pseudo-relevance feedback"
    )
