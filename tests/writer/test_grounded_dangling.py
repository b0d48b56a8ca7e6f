"""Demonstratives pointing at an abstract's earlier sentence, and verbs agreeing with the
authors, on hand-made sentences with the exact output expected."""

from __future__ import annotations

import pytest

from retriever.types import Paper
from writer.grounded.attribution import agreeing_verb, agreement_error, attribute, plural_verb
from writer.grounded.choose import Skip, contribution_fact
from writer.grounded.compress import compress_sentence, cut_trailing_clause, is_whole_head
from writer.grounded.dangling import dangling_references, drop_dangling, foreign_pronouns

THREE = ("Zhouhong Gu", "Xiaoxuan Zhu", "Yin Cai")


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("We introduce X, a framework addressing these challenges through three core innovations.",
         ["these challenges"]),
        ("We propose X, an approach that bridges these paradigms by combining A with B.", ["these paradigms"]),
        ("We study this question empirically using data from Moltbook.", ["this question"]),
        ("We explore how LLMs detect such critical errors.", ["such critical errors"]),
        ("We shed light on this question by isolating this variable.", ["this question", "this variable"]),
        ("We identify a failure mode in the aforementioned setting.", ["the aforementioned setting"]),
        # the sentence names the noun itself, or a relative clause defines it: not dangling
        ("We study multi-agent systems and show that these systems fail.", []),
        ("We ask the question of scale and show that this question is open.", []),
        ("We develop these systems that are reshaping social interaction.", []),
        ("We propose X, a method that reformulates problem solving.", []),
        ("We compare methods such as LoRA and adapters.", []),
        ("This paper proposes this method for agents.", []),
        ("We find that these are rare.", ["these"]),
        ("The mechanisms underlying this contrast remain unclear.", ["this contrast"]),
    ],
)
def test_dangling_references(sentence, expected):
    assert dangling_references(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        # a participle or relative clause after an appositive noun phrase
        ("We introduces AgentGroupChat-V2, a framework addressing these challenges through three core innovations.",
         "We introduces AgentGroupChat-V2, a framework."),
        ("We propose the Council Mode, a consensus framework that addresses these limitations by dispatching "
         "queries to several LLMs.", "We propose the Council Mode, a consensus framework."),
        ("We propose Share-GRPO, an RL approach that tackle these issues by exploring diverse trajectories.",
         "We propose Share-GRPO, an RL approach."),
        # a clause after a comma; the means of the verb
        ("We release a large benchmark of agent tasks, extending these ideas to tools.",
         "We release a large benchmark of agent tasks."),
        ("We improve recall on long documents by leveraging these insights.",
         "We improve recall on long documents."),
        # a modifier that can go alone
        ("We identify a systematic failure mode in this setting: harmful requests as MCQs bypass refusal.",
         "We identify a systematic failure mode: harmful requests as MCQs bypass refusal."),
        # a leading subordinate clause
        ("While this is shown in English, refusal behavior matters for any language, but is poorly understood.",
         "Refusal behavior matters for any language, but is poorly understood."),
        # the authors' own clause after a colon
        ("We shed light on this question by isolating this variable: we train the same model on ten datasets.",
         "We train the same model on ten datasets."),
        # nothing dangling: unchanged
        ("We propose X, a framework for agents.", "We propose X, a framework for agents."),
    ],
)
def test_drop_dangling_keeps_a_whole_sentence(sentence, expected):
    assert drop_dangling(sentence) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "We study this question empirically using data from Moltbook.",  # the reference is the verb's object
        "We examine how these systems are designed to tackle causality.",  # no clause boundary before it
        "We explore how LLMs detect such critical errors, evaluating models across sizes.",
        "We improve it by leveraging these insights.",  # the head would be too short to say anything
        "Such methods fail on long inputs.",
    ],
)
def test_drop_dangling_gives_up_rather_than_break_the_sentence(sentence):
    assert drop_dangling(sentence) is None


def test_contribution_prefers_a_sentence_that_points_at_nothing_unquoted():
    paper = Paper(
        "2602.20059",
        "Interaction Theater",
        "Whether LLM agents truly interact at scale is unclear. "
        "We study this question empirically using data from Moltbook, an agent-only social platform. "
        "We find that most agent replies ignore the post they answer and repeat generic praise of its author.",
        authors=("Sarath Shekkizhar", "Adam Earle"),
    )
    assert contribution_fact(paper).text == (
        "Shekkizhar and Earle find that most agent replies ignore the post they answer and repeat generic praise "
        "of its author [arXiv:2602.20059]."
    )


def test_contribution_drops_the_dangling_clause_when_the_rest_is_a_fact():
    paper = Paper(
        "2604.02923",
        "Council Mode",
        "Single LLMs hallucinate and carry biases. "
        "We propose the Council Mode, a multi-agent consensus framework that addresses these limitations by "
        "dispatching queries to multiple heterogeneous frontier LLMs in parallel.",
        authors=("Shuai Wu", "B Lee", "C Kim"),
    )
    assert contribution_fact(paper).text == (
        "Wu et al. propose the Council Mode, a multi-agent consensus framework [arXiv:2604.02923]."
    )


def test_contribution_keeps_a_dangling_sentence_when_nothing_else_is_left():
    paper = Paper(
        "2605.13725",
        "ScioMind",
        "Opinion dynamics models and LLM agents each explain part of social behaviour. "
        "We study this question with simulations of ten thousand agents on social platforms.",
        authors=("Yitian Yang",),
    )
    assert contribution_fact(paper).text == (
        "Yang studies this question with simulations of ten thousand agents on social platforms [arXiv:2605.13725]."
    )


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        (THREE, "Gu et al. introduce AgentGroupChat-V2 for agents."),
        (THREE[:2], "Gu and Zhu introduce AgentGroupChat-V2 for agents."),
        (THREE[:1], "Gu introduces AgentGroupChat-V2 for agents."),
    ],
)
def test_a_misinflected_we_verb_agrees_with_the_authors(authors, expected):
    assert attribute("We introduces AgentGroupChat-V2 for agents.", authors) == expected
    assert attribute("Using Y, we introduces AgentGroupChat-V2 for agents.", authors) == "Using Y, " + expected
    assert attribute("This paper introduce AgentGroupChat-V2 for agents.", authors) == expected


def test_adverbs_that_point_back_are_not_taken_for_the_verb():
    assert attribute("We thus propose X.", THREE[:1]) == "Gu proposes X."
    assert attribute("We therefore study X.", THREE) == "Gu et al. study X."


def test_agreeing_verb_for_either_number():
    verbs = ("introduces", "introduce", "addresses", "focuses", "studies", "discuss", "is", "has", "proposed", "can")
    assert [agreeing_verb(v, True) for v in verbs] == [
        "introduce", "introduce", "address", "focus", "study", "discuss", "are", "have", "proposed", "can"
    ]
    assert [agreeing_verb(v, False) for v in verbs] == [
        "introduces", "introduces", "addresses", "focuses", "studies", "discusses", "is", "has", "proposed", "can"
    ]
    assert [plural_verb(v) for v in ("thus", "discuss", "analysis")] == ["thus", "discuss", "analysis"]


@pytest.mark.parametrize(
    ("text", "subject", "plural", "expected"),
    [
        ("Separately, Gu et al. introduces X.", "Gu et al.", True, True),
        ("Gu et al. introduce X.", "Gu et al.", True, False),
        ("Smith and Lee also proposes X.", "Smith and Lee", True, True),
        ("Gu et al. has X.", "Gu et al.", True, True),
        ("Gu et al. focus on X.", "Gu et al.", True, False),
        ("Li propose X.", "Li", False, True),
        ("Li proposes X.", "Li", False, False),
        ("Li proposed X.", "Li", False, False),
        ("Li found X.", "Li", False, False),
        ("Li can solve X.", "Li", False, False),
        ("Li's method solves X.", "Li", False, False),
        ("Nothing names them.", "Li", False, False),
    ],
)
def test_agreement_error(text, subject, plural, expected):
    assert agreement_error(text, subject, plural) is expected


def test_for_example_is_leading_discourse():
    assert compress_sentence("For example, we show that X halves the cost of RAG pipelines.") == (
        "We show that X halves the cost of RAG pipelines."
    )


def test_a_cut_never_leaves_a_lone_participle_or_a_half_not_only():
    assert not is_whole_head("X, a hybrid architecture that integrates knowledge and evidence, guided")
    assert not is_whole_head("a framework that encourages models not only to generate correct answers")
    assert is_whole_head("a framework that encourages models not only to answer but also to abstain")
    assert is_whole_head("We propose X, a framework for agents")
    sentence = (
        "We propose RLAAR, a framework that encourages models not only to generate correct answers, but also "
        "to judge the solvability of questions in the multi-turn conversation setting of many hard tasks."
    )
    assert cut_trailing_clause(sentence, max_words=20) is None
    long = (
        "We evaluate three RAG variants, Standard RAG, DA-RAG, and P-RAG, a hybrid architecture that integrates "
        "parametric knowledge and retrieved evidence, guided by Chain-of-Thought prompting and LoRA fine-tuning."
    )
    assert compress_sentence(long, max_words=25) == (
        "We evaluate three RAG variants, Standard RAG, DA-RAG, and P-RAG, a hybrid architecture that integrates "
        "parametric knowledge and retrieved evidence."
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("We provide a unified view, demonstrating that their reliance on static weights fails.", ["their"]),
        ("We find that they fail on long inputs.", ["they"]),
        # a plural before the pronoun may be its referent: kept
        ("We train LLMs to check their own steps.", []),
        ("We find that most agent replies ignore the post they answer.", []),
        ("We collect data and release them.", []),
        # singular nouns in -s are no plural
        ("We study the process by which their analysis fails.", ["their"]),
        # the authors' reports and the verb right before are no referent (2504.07745)
        ("Experimental results reveal that our approach improves their ability to capture details.", ["their"]),
        ("Our analysis shows their limitations.", ["their"]),
        (
            "We propose an ensemble approach that integrates a general-purpose YOLOv8 model with a specialized "
            "thermal model, using a sophisticated bounding box fusion algorithm to combine their predictions.",
            [],
        ),
        ("Despite DeepSeek-R1 and OpenAI o1 being among the most powerful models, their reasoning lags.", []),
        # "its" with nothing before it that names one thing (2503.19123, 2507.21242, 2605.02551)
        ("We demonstrate its effectiveness in language modeling with 1B student model.", ["its"]),
        ("We evaluate its performance against traditional machine learning models.", ["its"]),
        ("We study its convergence behavior, proving that it converges for acyclic QBAFs.", ["its"]),
        ("Its reliance on labels limits adoption.", ["Its"]),
        ("We propose X and evaluate its performance on 33 datasets.", []),
        ("While ICL shows strong empirical performance, its internal mechanisms are not understood.", []),
        ("We introduce a framework that improves its robustness.", []),
        # its referent follows the phrase (2506.13674)
        ("By overcoming its inherent limitations, Prefix-Tuning can remain competitive.", []),
        # "it" as the object of the authors' verb (2508.21788); an expletive "it" is nobody's
        ("We apply it to SwissAI's FineWeb-2 corpus.", ["it"]),
        ("We carefully apply it to two algorithms.", ["it"]),
        ("It remains unclear whether LLMs reason.", []),
        ("We propose X and use it to curate a benchmark.", []),
    ],
)
def test_foreign_pronouns(source, expected):
    assert foreign_pronouns(source) == expected


def test_a_foreign_its_leaves_no_whole_sentence_and_an_its_with_a_referent_stays():
    assert drop_dangling("We study its convergence behavior, proving that it converges.") is None
    assert drop_dangling("We work with its authors on ten tasks of the benchmark.") is None
    kept = "We release a compact toolkit for agents, and we apply it to two tasks."
    assert drop_dangling(kept) == kept


def test_a_foreign_their_goes_with_its_clause():
    assert drop_dangling(
        "We provide a unified view of weighting, demonstrating that their reliance on static weights fails."
    ) == "We provide a unified view of weighting."


def test_a_foreign_them_that_cannot_go_is_never_stated_as_the_authors():
    # "Zhou et al. propose to retrain them" would point at nothing the reader has seen: the
    # paper goes unquoted (a Skip the section reports) rather than say that.
    paper = Paper(
        "2601.00001",
        "Reward models",
        "Existing reward models are brittle under distribution shift. "
        "We propose to retrain them with adversarial prompts for math and code. "
        "The resulting RobustRM reward model stays accurate on math and code under shift.",
        authors=("Ann Zhou", "Bo Li", "Cy Wu"),
    )
    assert contribution_fact(paper) == Skip("2601.00001", "its abstract states no contribution that can be quoted")
