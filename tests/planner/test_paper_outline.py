"""The outline from the papers: clustering, naming, ordering and too few papers, on small
hand-made papers with fake deterministic vectors and exact expected outlines."""

from __future__ import annotations

import json

import numpy as np
import pytest

from planner.clusters import order_groups, section_groups, subgroups
from planner.errors import PlanningError
from planner.paper_outline import outline_from_papers, outline_from_retriever
from planner.titles import mined_titles, readable, title_problem
from retriever.phrases import distinctive_phrases
from tests.retriever.fakes import VectorWordRetriever, paper

TOPIC = "language model alignment"
PROCESS = [  # reward models, sub-theme: process rewards for step verification
    ("Process reward models for step verification", "Process reward models score each step of a solution."),
    ("Step verification with process reward models", "We train process reward models on step labels."),
    ("Scaling process reward models", "Process reward models improve step verification in search."),
]
HACKING = [  # reward models, sub-theme: reward hacking
    ("Reward hacking under reward models", "Policies exploit reward models, a failure called reward hacking."),
    ("Measuring reward hacking", "Reward hacking grows as policies optimise reward models longer."),
    ("Mitigating reward hacking with ensembles", "Ensembles of reward models reduce reward hacking."),
]
TOOLS = [
    ("Tool calling agents", "Agents call external tools such as web search."),
    ("Agents that learn tool calling", "Tool calling lets agents use web search and code."),
    ("Benchmarks for tool calling agents", "We evaluate agents on tool calling with web search."),
    ("Multi-step tool calling", "Agents chain tool calling over many turns."),
    ("Safer tool calling agents", "Agents refuse unsafe tool calling requests."),
    ("Tool calling in small models", "Small agents learn tool calling from traces."),
]
MATH = [
    ("Chain-of-thought for math word problems", "Chain-of-thought prompting solves math word problems."),
    ("Math word problems with verifiers", "Verifiers rank chain-of-thought answers to math word problems."),
    ("Longer chain-of-thought for math", "Longer chain-of-thought helps hard math word problems."),
    ("Math word problems in many languages", "Chain-of-thought transfers across languages on math word problems."),
    ("Distilling chain-of-thought", "Small models learn chain-of-thought for math word problems."),
    ("Chain-of-thought errors in math", "We classify chain-of-thought errors on math word problems."),
]


def make_candidates():
    """Papers in retrieval order (the groups interleaved) and vectors: one axis per group,
    a sub-axis per reward sub-theme, a small per-paper offset."""
    groups = [("reward", PROCESS + HACKING), ("tools", TOOLS), ("math", MATH)]
    papers, vectors = [], []
    for position in range(6):
        for axis, (_, members) in enumerate(groups):
            title, abstract = members[position]
            number = len(papers) + 1
            papers.append(paper(number, title, abstract, year=2025 if axis < 2 else 2026))
            vector = np.zeros(16)
            vector[axis] = 1.0
            if axis == 0:
                vector[3 if position < 3 else 4] = 0.4
            vector[5 + position] = 0.05
            vectors.append(vector)
    return papers, np.array(vectors, dtype=np.float32)


TOPIC_VECTOR = np.array([1.0, 0.2, 0.5] + [0.0] * 13, dtype=np.float32)  # reward, then math, then tools


def test_sections_follow_the_groups_named_ordered_and_with_their_papers():
    papers, vectors = make_candidates()
    result = outline_from_papers(TOPIC, papers, vectors, TOPIC_VECTOR, sections=3)
    assert result.source == "papers" and result.notes == []
    outline = result.outline
    assert outline.title == "A Survey of language model alignment"
    assert [s.title for s in outline.sections] == [
        "Reward Models and Step Verification",
        "Math Word Problems and Chain-of-Thought",
        "Tool Calling and Web Search",
    ]
    ids = [p.arxiv_id for p in papers]
    assert outline.sections[0].papers == ids[0::3]
    assert outline.sections[1].papers == ids[2::3]
    assert outline.sections[2].papers == ids[1::3]
    assert outline.sections[2].description == "6 papers (2025) on tool calling, agents and web search."
    assert outline.sections[1].description.startswith("6 papers (2026) on ")


def test_subsections_come_from_sub_clusters_and_carry_their_papers():
    papers, vectors = make_candidates()
    outline = outline_from_papers(TOPIC, papers, vectors, TOPIC_VECTOR, sections=3).outline
    reward = outline.sections[0]
    assert [(s.title, s.papers) for s in reward.subsections] == [
        ("Process Reward Models", reward.papers[:3]),
        ("Reward Hacking", reward.papers[3:]),
    ]
    assert outline.sections[2].subsections == []  # the tools group has no sub-structure to split on


def test_too_few_papers_give_fewer_sections_and_say_so():
    papers, vectors = make_candidates()
    keep = [0, 3, 6, 9, 12, 1, 4, 7]  # five reward papers and three tools papers
    result = outline_from_papers(TOPIC, [papers[i] for i in keep], vectors[keep], TOPIC_VECTOR, sections=4)
    assert len(result.outline.sections) == 1
    assert result.outline.sections[0].papers == [papers[i].arxiv_id for i in keep]
    assert result.notes == [
        "the search found 8 papers on 'language model alignment'; 4 sections need at least 20 "
        "(5 each), so the survey has 1 section"
    ]


def test_no_papers_and_mismatched_vectors_are_refused():
    papers, vectors = make_candidates()
    with pytest.raises(PlanningError, match="no papers were found"):
        outline_from_papers(TOPIC, [], np.zeros((0, 16)), TOPIC_VECTOR, sections=3)
    with pytest.raises(ValueError, match="one row per paper"):
        outline_from_papers(TOPIC, papers, vectors[:3], TOPIC_VECTOR, sections=3)


def test_from_a_vector_source():
    papers, _ = make_candidates()
    result = outline_from_retriever(TOPIC, VectorWordRetriever(papers), papers, sections=3)
    titles = [s.title for s in result.outline.sections]
    assert len(titles) == 3 and len(set(titles)) == 3
    assert sorted(len(s.papers) for s in result.outline.sections) == [6, 6, 6]


def test_small_groups_are_dissolved_and_the_largest_split():
    # rows 0-9 on axis 0 in two halves (sub-axes 3 and 4), rows 10-15 on axis 1, a pair of outliers on axis 2
    axes = [(0, 3)] * 5 + [(0, 4)] * 5 + [(1, 5)] * 6 + [(2, 6)] * 2
    vectors = np.zeros((18, 8), np.float32)
    for row, (axis, sub) in enumerate(axes):
        vectors[row, axis], vectors[row, sub] = 1.0, 0.5 + 0.01 * row
    vectors[16:, 1] = 0.3  # the outliers lean toward the axis-1 group
    assert section_groups(vectors, 3, min_papers=5) == [list(range(5)), list(range(5, 10)), list(range(10, 18))]


def test_groups_and_subgroups_of_the_candidates():
    _, vectors = make_candidates()
    groups = section_groups(vectors, 3, min_papers=5)
    assert groups == [list(range(0, 18, 3)), list(range(1, 18, 3)), list(range(2, 18, 3))]
    assert section_groups(vectors, 3, min_papers=7) == [list(range(18))]  # 18 // 7 = 2 groups at most
    assert subgroups(vectors, list(range(0, 18, 3)), 2, min_papers=3) == [[0, 3, 6], [9, 12, 15]]
    assert subgroups(vectors, list(range(0, 18, 3)), 2, min_papers=4) == []


def test_order_is_closeness_to_the_topic_then_date():
    papers, vectors = make_candidates()
    groups = [list(range(1, 18, 3)), list(range(2, 18, 3)), list(range(0, 18, 3))]
    ordered = order_groups(groups, vectors, TOPIC_VECTOR, papers)
    assert [g.rows[0] for g in ordered] == [0, 2, 1]
    flat = order_groups(groups, vectors, np.zeros(16, np.float32) + 1e-3 * (np.arange(16) == 9), papers)
    assert [g.median_date.year for g in flat][:2] == [2025, 2025]  # equally close: oldest first


def test_readable_headings():
    assert readable("chain-of-thought prompting") == "Chain-of-Thought Prompting"
    assert readable("LLMs for GPT-4o tool use") == "LLMs For GPT-4o Tool Use"
    assert readable("state-of-the-art") == "State-of-the-Art"


def test_mined_titles_are_distinct_and_grounded():
    texts = [[t + ". " + a for t, a in PROCESS + HACKING], [t + ". " + a for t, a in TOOLS]]
    first, second = mined_titles(texts, TOPIC)
    assert (first.title, second.title) == ("Reward Models and Step Verification", "Tool Calling and Web Search")
    repeat = mined_titles(texts, TOPIC, taken=["Reward Models and Step Verification"])
    assert repeat[0].title != "Reward Models and Step Verification"


def test_the_validator_rejects_filler_generic_invented_and_repeated_titles():
    texts = [t + ". " + a for t, a in TOOLS]
    phrases = distinctive_phrases([texts, [t + ". " + a for t, a in MATH]], 8)[0]
    assert title_problem("Tool Calling Agents", TOPIC, texts, phrases) is None
    assert title_problem("", TOPIC, texts, phrases) == "it is blank"
    assert title_problem("Section 2", TOPIC, texts, phrases) == "it is template filler, not a title"
    assert title_problem("Language Model Alignment", TOPIC, texts, phrases) == (
        "it says nothing beyond the topic's own words"
    )
    assert title_problem("Quantum Gravity Agents", TOPIC, texts, phrases) == (
        "most of its words (gravity, quantum) do not occur in the section's papers"
    )
    assert title_problem("Small Models", TOPIC, texts, phrases) == (
        "none of its words is distinctive of the section's papers (too generic)"
    )
    assert title_problem("tool calling  agents", TOPIC, texts, phrases, others=["Tool Calling Agents"]) == (
        "it repeats the title 'Tool Calling Agents'"
    )
    assert title_problem("x" * 81, TOPIC, texts, phrases) == "it is 81 characters long (at most 80)"


class TitleReplies:
    """An LLM that answers every chat with one fixed text and records the prompts."""

    name = "titles"
    context_window = 4096

    def __init__(self, text: str) -> None:
        self.text = text
        self.prompts: list[str] = []

    def count_tokens(self, text):
        return len(text) // 4 + 1

    def chat(self, messages, params, schema=None):
        from engine.types import Completion

        self.prompts.append(messages[-1]["content"])
        assert schema["properties"]["titles"]["minItems"] == 3
        return Completion(self.text, 10, 5)


def test_model_titles_are_kept_only_where_they_pass_the_validation():
    from engine.types import SamplingParams
    from planner.model_titles import model_title_proposer

    papers, vectors = make_candidates()
    titles = ["Process Reward Models and Reward Hacking", "Methods and Architectures", "Tool Calling Agents"]
    answer = json.dumps({"titles": titles})
    llm = TitleReplies(answer)
    propose = model_title_proposer(llm, SamplingParams())
    result = outline_from_papers(TOPIC, papers, vectors, TOPIC_VECTOR, sections=3, propose_titles=propose)
    assert [s.title for s in result.outline.sections] == [
        "Process Reward Models and Reward Hacking",
        "Math Word Problems and Chain-of-Thought",
        "Tool Calling Agents",
    ]
    assert result.source == "papers+model"
    assert result.notes == [
        "the model's title 'Methods and Architectures' was not used (most of its words (architecture, method) "
        "do not occur in the section's papers); kept 'Math Word Problems and Chain-of-Thought'"
    ]
    assert "Process reward models for step verification" in llm.prompts[0]


def test_unusable_model_titles_keep_the_mined_ones():
    from engine.types import SamplingParams
    from planner.model_titles import model_title_proposer

    papers, vectors = make_candidates()
    propose = model_title_proposer(TitleReplies("no JSON here"), SamplingParams())
    result = outline_from_papers(TOPIC, papers, vectors, TOPIC_VECTOR, sections=3, propose_titles=propose)
    assert result.source == "papers" and result.notes == []
    assert result.outline.sections[0].title == "Reward Models and Step Verification"


def test_a_retriever_without_vectors_is_refused_clearly():
    from tests.retriever.fakes import WordRetriever

    papers, _ = make_candidates()
    with pytest.raises(TypeError, match="VectorSource"):
        outline_from_retriever(TOPIC, WordRetriever(papers), papers, sections=3)


def test_a_title_never_pairs_a_phrase_with_its_acronym():
    groups = [
        ["Reinforcement learning with RL rewards", "RL and reinforcement learning again", "reinforcement learning RL"],
        ["Speech recognition", "speech recognition systems", "robust speech recognition"],
    ]
    first, _ = mined_titles(groups, "machine learning")
    assert [p.key for p in first.phrases] == ["reinforcement learning", "rl"]
    assert first.title == "Reinforcement Learning"  # not "Reinforcement Learning and RL"


def test_heads_prefer_telling_phrases_and_skip_acronym_partners():
    from planner.titles import _title_from
    from retriever.phrases import Phrase

    def phrase(key, text):
        return Phrase(key, text, 1.0, 3)

    ranked = [
        phrase("potential", "potential"),
        phrase("generative reward", "generative reward"),
        phrase("rlvr", "RLVR"),
    ]
    assert _title_from(ranked, [])[0] == "Generative Reward and RLVR"
    verifiable = [phrase("verifiable reward", "Verifiable Rewards"), phrase("rlvr", "RLVR"), phrase("grpo", "GRPO")]
    assert _title_from(verifiable, [])[0] == "Verifiable Rewards and GRPO"  # not "... and RLVR"
    assert _title_from(verifiable, [{"verifiable", "reward"}])[0] == "RLVR and GRPO"


def test_a_catch_all_section_is_named_by_its_sub_themes():
    from planner.clusters import PaperGroup
    from planner.paper_outline import _Candidates, _named_by_themes
    from planner.titles import GroupTitle
    from retriever.store import paper_text

    papers, vectors = make_candidates()
    texts = [paper_text(p.title, p.abstract) for p in papers]
    candidates = _Candidates(TOPIC, papers, texts, vectors, TOPIC_VECTOR, None, None)
    rows = [i for i in range(len(papers)) if i % 3 == 0]  # the reward papers
    parts = [rows[:3], rows[3:]]  # process rewards, reward hacking
    fallback = GroupTitle("Policies", [], names_papers=False)  # as a fallback names them: not at all
    title, themes = _named_by_themes(candidates, PaperGroup(tuple(rows), 1.0, None), fallback, parts, [])
    assert title.title == "Process Reward Models and Reward Hacking"
    assert [t.title for t in themes] == ["Process Reward Models and Step Verification", "Reward Hacking"]
    # the first parts taken by another section: the sub-themes' first parts, all of them
    group = PaperGroup(tuple(rows), 1.0, None)
    taken = ["Process Reward Models and Reward Hacking"]
    title, themes = _named_by_themes(candidates, group, fallback, parts, taken)
    assert title.title == "Process Reward Models, Step Verification and Reward Hacking"
    # when neither fits (both taken), the fallback stays, without sub-theme titles
    taken.append(title.title)
    assert _named_by_themes(candidates, group, fallback, parts, taken) == (fallback, [])


def test_sub_themes_named_only_by_a_last_resort_are_left_unheaded():
    from planner.paper_outline import _Candidates, _subsections
    from retriever.store import paper_text

    papers, vectors = make_candidates()
    texts = [paper_text(p.title, p.abstract) for p in papers]
    rows = [i for i in range(len(papers)) if i % 3 == 0]  # the reward papers
    parts = [rows[:3], rows[3:]]
    plain = _Candidates(TOPIC, papers, texts, vectors, TOPIC_VECTOR, None, None)
    titles = [s.title for s in _subsections(plain, parts, "Reward Models")]
    assert titles == ["Process Reward Models and Step Verification", "Reward Hacking"]
    everywhere = _Candidates(TOPIC, papers, texts, vectors, TOPIC_VECTOR, None, None, lambda a: [0.9] * len(a))
    assert _subsections(everywhere, parts, "Reward Models") == []


def test_a_section_named_by_a_corner_takes_its_sub_themes_broader_title():
    from planner.clusters import PaperGroup
    from planner.paper_outline import _Candidates, _themed
    from planner.titles import GroupTitle
    from retriever.store import paper_text

    papers, vectors = make_candidates()
    texts = [paper_text(p.title, p.abstract) for p in papers]
    candidates = _Candidates(TOPIC, papers, texts, vectors, TOPIC_VECTOR, None, None)
    rows = [i for i in range(len(papers)) if i % 3 == 0]  # the reward papers
    group, parts = PaperGroup(tuple(rows), 1.0, None), [rows[:3], rows[3:]]
    corner = GroupTitle("Step Verification", [])  # fits, but names the process-reward papers only (3 of 6)
    title, themes = _themed(candidates, group, corner, parts, [])
    assert title.title == "Process Reward Models and Reward Hacking"  # names all 6
    assert [t.title for t in themes] == ["Process Reward Models and Step Verification", "Reward Hacking"]
    whole = GroupTitle("Reward Models", [])  # names all 6 already: kept, its sub-themes named apart
    assert _themed(candidates, group, whole, parts, []) == (whole, [])
    assert _themed(candidates, group, corner, [], []) == (corner, [])  # no sub-themes
