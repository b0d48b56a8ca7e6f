"""Cleaner grounded prose on hand-made sentences and papers, with the exact text expected:
words run together are never quoted, fronted phrases that point back are dropped, and each
sub-theme opens with a cited sentence saying which papers share its heading's phrases."""

from __future__ import annotations

from datetime import date

from retriever.types import Paper
from writer.grounded.abstracts import is_quotable
from writer.grounded.choose import Fact, contribution_fact
from writer.grounded.compress import compress_sentence, strip_leading_discourse
from writer.grounded.coverage import content_word_coverage
from writer.grounded.glued import glued_split, glued_words
from writer.grounded.section import SubTheme, opening_line, render_section, write_grounded_section
from writer.grounded.shared import heading_phrases, phrase_holders, shared_phrase_sentence
from writer.grounded.written import WrittenSection, without_repeats


def paper(number: int, abstract: str, authors=("Ann Lee", "Bo Chen", "Cy Park"), year=2025) -> Paper:
    return Paper(f"2502.0000{number}", f"Paper {number}", abstract, authors=authors, published=date(year, 1, 2))


ORM = paper(1, "We propose an outcome reward model for math. Reward models score whole answers.")
PRM = paper(2, "We introduce process reward models that score each step. Outcome reward is sparse.", year=2024)
HACK = paper(3, "We study reward hacking in long training runs.", authors=("Dee Roy",))
GLUED = paper(
    4,
    "We propose a novelunderstanding of reward hacking. "
    "We show that reward models overfit to long answers on three math benchmarks and two coding suites.",
    authors=("Eve Kim", "Fay Wu"),
)


def test_glued_words_are_found_and_compounds_left_alone():
    assert glued_split("novelunderstanding") == ("novel", "understanding")
    assert glued_split("demonstratethe") == ("demonstrate", "the")
    assert glued_split("andproblems") == ("and", "problems")
    for word in ("pretraining", "layerwise", "explainability", "understanding", "Novelunderstanding", "tokenizer"):
        assert glued_split(word) is None, word
    assert glued_words("We demonstratethe value of pretraining and a novelunderstanding.") == [
        "demonstratethe",
        "novelunderstanding",
    ]


def test_a_sentence_with_glued_words_is_not_quoted_and_the_next_one_is():
    assert not is_quotable("We propose a novelunderstanding of reward hacking.")
    assert is_quotable("We propose a novel understanding of reward hacking.")
    fact = contribution_fact(GLUED)
    assert fact.text == (
        "Kim and Wu show that reward models overfit to long answers on three math benchmarks and two coding "
        "suites [arXiv:2502.00004]."
    )


def test_fronted_phrases_pointing_back_are_dropped():
    assert strip_leading_discourse("To study and address this, we introduce PolyFact.") == "We introduce PolyFact."
    assert strip_leading_discourse("Along this line, we propose EKSFT.") == "We propose EKSFT."
    assert strip_leading_discourse("Unlike these methods, our approach learns Y.") == "Our approach learns Y."
    assert strip_leading_discourse("Building on this insight, we design a planner.") == "We design a planner."
    # fronted phrases that stand on their own stay, and so does a main clause before a comma
    assert (
        strip_leading_discourse("Using PolyFact, we compare CPT and SFT.") == "Using PolyFact, we compare CPT and SFT."
    )
    assert (
        strip_leading_discourse("Given that LLMs are costly, we propose Z.")
        == "Given that LLMs are costly, we propose Z."
    )
    assert strip_leading_discourse("This paper proposes X, which is fast.") == "This paper proposes X, which is fast."


def test_a_long_purpose_clause_is_kept_whole_not_cut_mid_phrase():
    sentence = (
        "To overcome the sparse reward challenge in reinforcement learning (RL) for agents based on large "
        "language models (LLMs), we propose MISE, an RL paradigm."
    )
    assert compress_sentence(sentence) == (
        "To overcome the sparse reward challenge in reinforcement learning (RL) for agents based on large language "
        "models (LLMs), we propose MISE, an RL paradigm."
    )


def test_heading_phrases_and_their_holders():
    assert heading_phrases("Outcome Reward and GPT-4o Agents") == ["outcome reward", "GPT-4o agents"]
    assert heading_phrases("Tools, Memory & Planning") == ["tools", "memory", "planning"]
    assert phrase_holders("outcome reward", [ORM, PRM, HACK]) == [ORM, PRM]
    assert phrase_holders("reward models", [ORM, PRM, HACK]) == [ORM, PRM]  # "reward model" counts too
    assert phrase_holders("chain of thought", [ORM]) == []  # not one run of words


def test_shared_phrase_sentence_cites_exactly_the_papers_holding_each_phrase():
    papers = [ORM, PRM, HACK]
    assert shared_phrase_sentence("Outcome Reward and Reward Hacking", papers) == (
        "Some of the studies below mention outcome reward [arXiv:2502.00001; arXiv:2502.00002]."
    )
    assert shared_phrase_sentence("Reward Models and Outcome Reward", [ORM, PRM]) == (
        "All of the studies below mention reward models [arXiv:2502.00001; arXiv:2502.00002]; "
        "all also mention outcome reward [arXiv:2502.00001; arXiv:2502.00002]."
    )
    assert shared_phrase_sentence("Reward Hacking", papers) is None  # one paper only
    sentence = shared_phrase_sentence("Outcome Reward", papers)
    assert content_word_coverage(sentence, [ORM.abstract, PRM.abstract]) == 1.0


def test_opening_line_gives_each_group_its_count_and_years():
    assert opening_line("Rewards", [ORM, PRM, HACK], ["Outcome Reward", "Hacking"], [[ORM, PRM], [HACK]]) == (
        "This section covers 3 papers on Rewards, published between 2024 and 2025, in 2 groups: "
        "“Outcome Reward” (2 papers, 2024-2025) and “Hacking” (1 paper, 2025)."
    )


def test_a_sub_theme_opens_with_its_shared_phrase_and_the_papers_holding_it_come_first():
    themes = [SubTheme("Outcome Reward", [HACK.arxiv_id, ORM.arxiv_id, PRM.arxiv_id])]
    draft = write_grounded_section("Rewards", [ORM, PRM, HACK], themes)
    assert draft.text == (
        "This section covers 3 papers on Rewards, published between 2024 and 2025.\n\n"
        "### Outcome Reward\n\n"
        "Some of the studies below mention outcome reward [arXiv:2502.00001; arXiv:2502.00002]. "
        "Lee et al. propose an outcome reward model for math [arXiv:2502.00001]. "
        "In a related direction, Lee et al. introduce process reward models that score each step "
        "[arXiv:2502.00002]. Also, Roy studies reward hacking in long training runs [arXiv:2502.00003]."
    )
    assert draft.openers == ["Some of the studies below mention outcome reward [arXiv:2502.00001; arXiv:2502.00002]."]


def test_a_section_without_sub_themes_opens_with_its_own_title_phrases():
    draft = write_grounded_section("Reward Models", [HACK, ORM, PRM])
    assert draft.text == (
        "This section covers 3 papers on Reward Models, published between 2024 and 2025.\n\n"
        "Some of the studies below mention reward models [arXiv:2502.00001; arXiv:2502.00002]. "
        "Lee et al. propose an outcome reward model for math [arXiv:2502.00001]. "
        "In a related direction, Lee et al. introduce process reward models that score each step "
        "[arXiv:2502.00002]. Also, Roy studies reward hacking in long training runs [arXiv:2502.00003]."
    )


def test_a_fact_with_its_own_fronted_phrase_takes_no_connective():
    named = Fact("1", "s", "Lee proposes X [arXiv:2502.00001].", subject="Lee")
    fronted = Fact("2", "s", "Using Y, Kim tests Z [arXiv:2502.00002].", subject="Kim")
    assert render_section("Open.", [("", [named, fronted, named])]) == (
        "Open.\n\nLee proposes X [arXiv:2502.00001]. Using Y, Kim tests Z [arXiv:2502.00002]. "
        "In a related direction, Lee proposes X [arXiv:2502.00001]."
    )


def test_written_sections_read_group_papers_back_and_restate_the_opening_with_them():
    themes = [SubTheme("Outcome Reward", [ORM.arxiv_id, PRM.arxiv_id]), SubTheme("Hacking", [HACK.arxiv_id])]
    draft = write_grounded_section("Rewards", [ORM, PRM, HACK], themes)
    section = WrittenSection.from_draft(draft)
    assert section.group_papers == [[ORM, PRM], [HACK]]
    other = WrittenSection(
        "Other", "Opening.\n\nRoy studies reward hacking in long training runs [arXiv:2502.00003].", [HACK]
    )
    cleaned, removed = without_repeats([other, section])
    assert removed == ["Roy studies reward hacking in long training runs [arXiv:2502.00003]."]
    assert cleaned[1].text.split("\n\n")[0] == (
        "This section covers 2 papers on Rewards, published between 2024 and 2025."
    )


def test_a_long_sentence_is_never_cut_inside_the_phrase_fronted_before_we():
    sentence = (
        "To overcome the sparse reward challenge in reinforcement learning (RL) for agents based on large "
        "language models (LLMs), we propose Mutual Information Self-Evaluation (MISE), an RL paradigm that "
        "utilizes hindsight generative self-evaluation as dense reward signals while simultaneously calibrating "
        "them against the environmental feedbacks."
    )
    assert compress_sentence(sentence) == (
        "To overcome the sparse reward challenge in reinforcement learning (RL) for agents based on large "
        "language models (LLMs), we propose Mutual Information Self-Evaluation (MISE)."
    )


def test_a_long_fronted_purpose_clause_keeps_the_authors_as_subject():
    from writer.grounded.attribution import attribute

    sentence = (
        "To investigate and evaluate the safety impact of MLLMs responses on human behavior in daily life, "
        "we introduce SaLAD, a multimodal safety benchmark."
    )
    assert attribute(sentence, ["Ann Lee", "Bo Chen", "Cy Park"]) == (
        "To investigate and evaluate the safety impact of MLLMs responses on human behavior in daily life, "
        "Lee et al. introduce SaLAD, a multimodal safety benchmark."
    )
    recognizing = strip_leading_discourse("Recognizing its importance, this paper presents a survey of RAG.")
    assert attribute(recognizing, ["Ann Lee"]) == "Lee presents a survey of RAG."


def test_anaphoric_front_names_the_phrase_that_points_back():
    from writer.grounded.compress import anaphoric_front

    assert anaphoric_front("To study and address this, von Rad et al. introduce PolyFact.") == (
        "To study and address this"
    )
    assert anaphoric_front("Along this line, Liu et al. propose EKSFT.") == "Along this line"
    assert anaphoric_front("Using PolyFact, Lee et al. compare CPT and SFT.") is None
