"""Grounded sections and frame on hand-made papers, with the exact text expected."""

from __future__ import annotations

from retriever.types import Paper
from tests.writer.grounded_papers import ADAPTERS, DISTILLATION, EMPTY, FORMULA, FRENCH, PROMPTS, PRUNING
from writer.citations import check_citations, find_citations
from writer.frame import Frame
from writer.grounded.choose import Fact, Skip
from writer.grounded.frame import category_counts, month_span, write_grounded_frame
from writer.grounded.section import (
    CONNECTIVES,
    SubTheme,
    connect,
    opening_line,
    render_section,
    write_grounded_section,
    write_grounded_sections,
    year_span,
)
from writer.grounded.written import WrittenSection, strip_connective, without_repeats
from writer.sections import SectionDraft

ADAPTERS_SENTENCE = (
    "Houlsby et al. propose bottleneck adapters that train 3% of the parameters [arXiv:2501.00001]."
)
PROMPTS_SENTENCE = (
    "Lester and Al-Rfou introduce prompt tuning, which learns soft prompts for a frozen language model by "
    "backpropagation [arXiv:2501.00002]."
)
PRUNING_SENTENCE = "Sun studies magnitude pruning of large language models at scale [arXiv:2501.00003]."
DISTILLATION_SENTENCE = (
    "One study shows that distilled students keep most of the teacher's accuracy on reading comprehension "
    "[arXiv:2501.00004]."
)


def test_opening_line_states_theme_count_years_and_groups():
    assert opening_line("Efficient Tuning", [ADAPTERS], []) == (
        "This section covers 1 paper on Efficient Tuning, published in 2024."
    )
    assert opening_line("Efficient Tuning", [ADAPTERS, PRUNING], ["Adapters", "", "Pruning"]) == (
        "This section covers 2 papers on Efficient Tuning, published between 2024 and 2025, "
        "in 2 groups: “Adapters” and “Pruning”."
    )
    undated = Paper("2501.00009", "U", "x")
    assert opening_line("X", [undated], ["Only one"]) == "This section covers 1 paper on X."
    assert year_span([None]) == ""


def test_connectives_rotate_and_keep_names_capitalised():
    named = Fact("1", "s", "Lee proposes X [arXiv:2501.00001].", subject="Lee")
    anonymous = Fact("1", "s", "One study proposes X [arXiv:2501.00001].", subject="One study")
    assert connect(named, 0) == "In a related direction, Lee proposes X [arXiv:2501.00001]."
    assert connect(anonymous, 1) == "Also, one study proposes X [arXiv:2501.00001]."
    assert connect(named, len(CONNECTIVES)) == connect(named, 0)


def test_section_in_one_group_exact_text():
    draft = write_grounded_section("Efficient Tuning", [ADAPTERS, PROMPTS, PRUNING, DISTILLATION])
    assert draft.text == (
        "This section covers 4 papers on Efficient Tuning, published between 2024 and 2025.\n\n"
        f"{ADAPTERS_SENTENCE} In a related direction, {PROMPTS_SENTENCE} Also, {PRUNING_SENTENCE} "
        f"In addition, one{DISTILLATION_SENTENCE[3:]}"
    )
    assert isinstance(draft, SectionDraft) and draft.given == [ADAPTERS, PROMPTS, PRUNING, DISTILLATION]
    assert draft.notes == [] and draft.skipped == []
    assert [fact.arxiv_id for fact in draft.facts] == ["2501.00001", "2501.00002", "2501.00003", "2501.00004"]


def test_section_with_sub_themes_exact_text():
    subthemes = [
        SubTheme("Parameter-efficient methods", ["2501.00002", "2501.00001"]),
        SubTheme("Compression", ["2501.00003"]),
    ]
    papers = [ADAPTERS, PROMPTS, PRUNING, DISTILLATION]
    draft = write_grounded_section("Efficient Tuning", papers, subthemes, connective_offset=1)
    assert draft.text == (
        "This section covers 4 papers on Efficient Tuning, published between 2024 and 2025, "
        "in 2 groups: “Parameter-efficient methods” (2 papers, 2024-2025) and “Compression” (1 paper, 2025).\n\n"
        f"{DISTILLATION_SENTENCE}\n\n"
        "### Parameter-efficient methods\n\n"
        f"{PROMPTS_SENTENCE} Also, {ADAPTERS_SENTENCE}\n\n"
        "### Compression\n\n"
        f"{PRUNING_SENTENCE}"
    )


def test_bad_abstracts_are_skipped_with_notes_never_quoted():
    draft = write_grounded_section("Mixed", [EMPTY, FRENCH, FORMULA, PRUNING])
    assert draft.text == f"This section covers 1 paper on Mixed, published in 2025.\n\n{PRUNING_SENTENCE}"
    assert draft.skipped == [
        Skip("2501.00005", "its abstract is empty"),
        Skip("2501.00006", "its abstract is not in English"),
        Skip("2501.00007", "no sentence of its abstract can be quoted (markup, length or language)"),
    ]
    assert draft.notes == [
        "section 'Mixed': not quoting arXiv:2501.00005: its abstract is empty",
        "section 'Mixed': not quoting arXiv:2501.00006: its abstract is not in English",
        "section 'Mixed': not quoting arXiv:2501.00007: no sentence of its abstract can be quoted "
        "(markup, length or language)",
    ]


def test_section_without_any_quotable_paper_is_empty_with_a_note():
    draft = write_grounded_section("Nothing", [EMPTY, FRENCH])
    assert draft.text == "" and draft.facts == []
    assert draft.notes[-1] == "section 'Nothing': none of its 2 papers has a quotable contribution sentence"


def test_citation_check_keeps_every_marker():
    draft = write_grounded_section("Efficient Tuning", [ADAPTERS, PROMPTS, PRUNING, DISTILLATION])
    checked = check_citations(draft.text, [paper.arxiv_id for paper in draft.given])
    assert checked.text == draft.text and checked.removed == []
    assert checked.cited == ["2501.00001", "2501.00002", "2501.00003", "2501.00004"]


def test_no_sentence_repeats_across_sections():
    first, second = write_grounded_sections(
        [("One", [ADAPTERS, PRUNING], []), ("Two", [ADAPTERS, PROMPTS], [])]
    )
    assert first.text.count(ADAPTERS_SENTENCE) == 1 and ADAPTERS_SENTENCE not in second.text
    # The adapters paper has no second contribution sentence, so the second section skips it.
    assert second.skipped == [Skip("2501.00001", "its abstract states no contribution that can be quoted")]
    assert second.connective_offset == 2


def test_render_section_breaks_long_groups_into_paragraphs():
    facts = [Fact(str(i), "s", f"Lee proposes X{i} [arXiv:2501.0000{i}].", subject="Lee") for i in range(7)]
    text = render_section("Open.", [("", facts)])
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 3 and paragraphs[1].count("[arXiv:") == 5
    assert paragraphs[2] == (
        "Further, Lee proposes X5 [arXiv:2501.00005]. Separately, Lee proposes X6 [arXiv:2501.00006]."
    )


def test_frame_exact_text():
    sections = write_grounded_sections(
        [
            ("Parameter-Efficient Tuning", [ADAPTERS, PROMPTS], []),
            ("Compression", [PRUNING, DISTILLATION], []),
        ]
    )
    frame = write_grounded_frame("efficient adaptation of language models", sections)
    assert isinstance(frame, Frame)
    scope = (
        "This survey reviews 4 papers on efficient adaptation of language models, published from March 2024 to "
        "June 2025 and listed mainly under cs.CL (3 papers), cs.LG (2) and cs.AI (1)."
    )
    method = (
        "Every statement about a paper restates a sentence of that paper's abstract, names its authors and ends "
        "with its citation; the words that connect them state no facts."
    )
    assert frame.abstract == (
        f"{scope} It is organised in 2 sections: “Parameter-Efficient Tuning” and “Compression”. {method} "
        "The conclusion gathers 2 open problems that the papers state themselves."
    )
    # The introduction states the scope and the method in other words: no sentence repeats.
    assert frame.introduction == (
        "The 4 papers reviewed here on efficient adaptation of language models appeared from March 2024 to "
        "June 2025; most are listed under cs.CL, cs.LG and cs.AI. Each section groups related papers under "
        "sub-themes and restates, for each paper, one sentence of its own abstract, attributed to its authors "
        "and followed by its citation; the connecting words add no claims.\n\n"
        "Section 2, Parameter-Efficient Tuning, covers 2 papers published between 2024 and 2025. "
        "Section 3, Compression, covers 2 papers published in 2025."
    )
    assert frame.conclusion == (
        "This survey reviewed 4 papers on efficient adaptation of language models under 2 themes: "
        "“Parameter-Efficient Tuning” and “Compression”.\n\n"
        "The papers name open problems of their own. "
        "Houlsby et al. note that scaling adapters to many tasks remains an open problem [arXiv:2501.00001]. "
        "In a related direction, Sun notes that why pruning fails on reasoning tasks is not well understood "
        "[arXiv:2501.00003]."
    )
    assert frame.notes == []
    assert find_citations(frame.abstract + frame.introduction) == []


def test_frame_without_open_problems_or_papers_says_so():
    sections = write_grounded_sections([("Prompts", [PROMPTS], [])])
    frame = write_grounded_frame("prompting", sections)
    assert frame.conclusion == "This survey reviewed 1 paper on prompting under 1 theme: “Prompts”."
    assert frame.notes == ["conclusion: no cited paper's abstract states an open problem that can be quoted"]
    empty = write_grounded_frame("nothing", write_grounded_sections([("None", [EMPTY], [])]))
    assert (empty.abstract, empty.introduction, empty.conclusion) == ("", "", "")


def test_scope_helpers():
    assert month_span([None]) == "" and month_span([PRUNING.published]) == "in June 2025"
    assert category_counts([ADAPTERS, PROMPTS, DISTILLATION], top=2) == [("cs.CL", 3), ("cs.AI", 1)]


def test_frame_from_stored_text_equals_frame_from_drafts():
    drafts = write_grounded_sections(
        [
            ("Parameter-Efficient Tuning", [ADAPTERS, PROMPTS], [SubTheme("Adapters", ["2501.00001"])]),
            ("Compression", [PRUNING, DISTILLATION], []),
        ]
    )
    stored = [WrittenSection(draft.title, draft.text, list(draft.given)) for draft in drafts]
    assert write_grounded_frame("tuning", stored) == write_grounded_frame("tuning", drafts)
    assert stored[0].groups == ["Adapters"]
    assert [paper.arxiv_id for paper in stored[0].cited] == ["2501.00002", "2501.00001"]


def test_open_problem_does_not_restate_the_body_sentence():
    paper = Paper(
        "2501.00010",
        "Length",
        "We find that transformers still fail to generalize beyond their training lengths. "
        "Length generalization remains an open problem for recurrent models as well.",
        authors=("Ada Ruiz",),
    )
    drafts = write_grounded_sections([("Length", [paper], [])])
    assert drafts[0].facts[0].text == (
        "Ruiz finds that transformers still fail to generalize beyond their training lengths [arXiv:2501.00010]."
    )
    conclusion = write_grounded_frame("length", drafts).conclusion
    assert conclusion.endswith(
        "Ruiz notes that length generalization remains an open problem for recurrent models as well "
        "[arXiv:2501.00010]."
    )


def test_sections_written_apart_lose_repeated_sentences():
    first = write_grounded_section("One", [ADAPTERS, PRUNING])
    second = write_grounded_section("Two", [PROMPTS, ADAPTERS], [SubTheme("Adapters only", ["2501.00001"])])
    sections = [WrittenSection.from_draft(first), WrittenSection.from_draft(second)]
    cleaned, removed = without_repeats(sections)
    assert cleaned[0] == sections[0] and removed == [ADAPTERS_SENTENCE]
    assert cleaned[1].text == f"This section covers 1 paper on Two, published in 2025.\n\n{PROMPTS_SENTENCE}"
    assert without_repeats(cleaned) == (cleaned, [])
    assert strip_connective("Also, one study shows X.") == "One study shows X."


def test_a_paper_given_twice_is_quoted_once():
    draft = write_grounded_section("Twice", [ADAPTERS, ADAPTERS, PRUNING])
    assert [fact.arxiv_id for fact in draft.facts] == ["2501.00001", "2501.00003"] and draft.skipped == []
