"""Section writing sized to the context window, output cleaning, support checks."""

from __future__ import annotations

import json

from engine.types import Completion, SamplingParams
from retriever.types import Paper
from writer import SectionRequest, check_support, write_section
from writer.context import fit_papers
from writer.sections import clean_section_text

PAPERS = [Paper(f"2503.{i:05d}", f"Paper {i}", " ".join(["word"] * 200)) for i in range(1, 21)]


def count_words(text: str) -> int:
    return len(text.split())


def test_everything_fits_in_a_large_window():
    context = fit_papers(PAPERS, 100_000, count_words)
    assert context.papers == PAPERS and context.abstract_words is None


def test_abstracts_shrink_before_papers_are_dropped():
    context = fit_papers(PAPERS, 20 * 60, count_words)
    assert context.papers == PAPERS and context.abstract_words == 50
    tight = fit_papers(PAPERS, 200, count_words)
    assert tight.abstract_words == 25 and 0 < len(tight.papers) < len(PAPERS)
    assert tight.papers == PAPERS[: len(tight.papers)] and tight.tokens <= 200


class Writer:
    name = "writer"

    def __init__(self, context_window: int, answers: list[str]) -> None:
        self.context_window = context_window
        self.answers = answers
        self.prompts: list[str] = []
        self.grammars: list[str | None] = []

    def count_tokens(self, text):
        return count_words(text)

    def stream(self, messages, params, schema=None, grammar=None):
        self.prompts.append(messages[-1]["content"])
        self.grammars.append(grammar)
        yield self.answers.pop(0)


def test_small_context_window_limits_the_papers_given_and_says_so():
    llm = Writer(context_window=800, answers=["Text [arXiv:2503.00001]."])
    draft = write_section(
        llm, SectionRequest("t", "S", "Sec", "d", 100), PAPERS, SamplingParams(), grammar_for=lambda ids: ",".join(ids)
    )
    assert 0 < len(draft.given) < len(PAPERS)
    assert llm.grammars == [",".join(p.arxiv_id for p in draft.given)]
    assert f"[arXiv:{PAPERS[len(draft.given)].arxiv_id}]" not in llm.prompts[0]
    assert any("fit the context window" in note for note in draft.notes)


def test_an_empty_answer_is_retried_once():
    llm = Writer(context_window=100_000, answers=["  ", "## Sec\n\nReal text."])
    draft = write_section(llm, SectionRequest("t", "S", "Sec", "d", 100), PAPERS[:2], SamplingParams(seed=1))
    assert draft.text == "Real text." and len(llm.prompts) == 2 and not draft.notes


def test_clean_section_text_drops_title_and_reference_list():
    raw = "# Sec\n**Sec**\n\nBody [arXiv:2503.00001].\n\n### Part\nMore.\n\n## References\n1. x"
    assert clean_section_text(raw, "Sec") == "Body [arXiv:2503.00001].\n\n### Part\nMore."


class Judge:
    name = "judge"
    context_window = 4096

    def __init__(self, verdicts):
        self.verdicts = verdicts
        self.batches = []

    def batch_chat(self, conversations, params, schema=None, grammar=None):
        self.batches.append(len(conversations))
        return [Completion(json.dumps(self.verdicts.pop(0)), 5, 5) for _ in conversations]


def test_support_check_keeps_rewrites_and_drops_in_one_batch():
    papers = {p.arxiv_id: p for p in PAPERS[:3]}
    text = (
        "### Part\nFirst claim [arXiv:2503.00001]. Second claim [arXiv:2503.00002]. No citation here.\n\n"
        "Third claim [arXiv:2503.00003]."
    )
    judge = Judge(
        [
            {"supported": True, "rewrite": ""},
            {"supported": False, "rewrite": "Softer claim [arXiv:2503.00002]."},
            {"supported": False, "rewrite": "Claim citing another [arXiv:2503.00001]."},
        ]
    )
    result = check_support(judge, text, papers, SamplingParams())
    assert judge.batches == [3]
    assert [c["action"] for c in result.checks] == ["kept", "rewritten", "dropped"]
    assert result.text == "### Part\nFirst claim [arXiv:2503.00001]. Softer claim [arXiv:2503.00002]. No citation here."


def test_clean_section_text_drops_a_chatty_preamble():
    assert clean_section_text("Here is the introduction to the survey:\nReal text.", "introduction") == "Real text."


def test_an_unclosed_marker_is_always_dropped():
    cut = "First [arXiv:2503.00001].\n\nThe complete document: [arXiv:2505.1398"
    assert clean_section_text(cut, "Sec") == "First [arXiv:2503.00001].\n\nThe complete document:"


def test_an_answer_cut_by_the_budget_ends_at_its_last_finished_sentence():
    cut = "One [arXiv:2503.00001]. Two ends. [arXiv:2503.00002] Three is cut mid"
    assert clean_section_text(cut, "Sec", truncated=True) == "One [arXiv:2503.00001]. Two ends. [arXiv:2503.00002]"
    # not cut by the budget: the model chose to end there (a list, a heading), so it stays
    assert clean_section_text(cut, "Sec") == cut
    # an unfinished sentence that cites is kept; so is a text with no finished sentence
    citing = "One. Two cites [arXiv:2503.00002] and is cut"
    assert clean_section_text(citing, "Sec", truncated=True) == citing
    assert clean_section_text("no sentence ends here", "Sec", truncated=True) == "no sentence ends here"
    assert clean_section_text('Quoted "end." Then cut', "Sec", truncated=True) == 'Quoted "end."'


def test_write_section_trims_only_answers_that_reach_the_budget():
    request = SectionRequest("t", "S", "Sec", "d", 10)  # a budget of 80 tokens (words here)
    long_cut = " ".join(["word"] * 40) + ". " + " ".join(["more"] * 40)
    short = "Short [arXiv:2503.00001]. and a fragment"
    llm = Writer(context_window=100_000, answers=[long_cut, short])
    assert write_section(llm, request, PAPERS[:2], SamplingParams()).text.endswith("word.")
    assert write_section(llm, request, PAPERS[:2], SamplingParams()).text == short
