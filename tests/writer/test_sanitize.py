"""Model text sanitized before export: arXiv mentions of papers not retrieved removed and
reported in every form (not only bracketed markers), HTML removed, no raw HTML in Markdown."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retriever.types import Paper
from writer import Survey, SurveySection
from writer.sanitize import ARXIV_BARE, ARXIV_PREFIXED, ARXIV_URL, markdown_safe, sanitize_survey, sanitize_text

KNOWN = Paper("2503.00001", "Known <b>paper</b>", "abs", ("Ada <i>Lovelace</i>",), ("cs.CL",), date(2025, 3, 1))
ALLOWED = {KNOWN.arxiv_id}


@pytest.mark.parametrize(
    "mention",
    [
        "arXiv:9999.99999",
        "arxiv: 9999.99999v2",
        "https://arxiv.org/abs/9999.99999",
        "http://www.arxiv.org/pdf/9999.99999v1.pdf",
        "arxiv.org/abs/hep-th/9901001",
        "2401.12345",
        "cs/0112017",
        "[arXiv:9999.99999]",
    ],
)
def test_an_arxiv_mention_of_a_paper_not_retrieved_is_removed_and_reported(mention):
    result = sanitize_text(f"As shown in {mention}, models improve [arXiv:2503.00001].", ALLOWED)
    assert result.text == "As shown in, models improve [arXiv:2503.00001]."
    assert len(result.removed) == 1


def test_mentions_of_retrieved_papers_and_other_numbers_stay():
    text = (
        "See arXiv:2503.00001 and https://arxiv.org/abs/2503.00001v2 [arXiv:2503.00001]. "
        "Accuracy rose 1234.5678 points in 2025.01 and version 3.14159; p < 0.05."
    )
    result = sanitize_text(text, ALLOWED)
    assert result.text == text and result.removed == []


def test_a_markdown_link_to_an_unretrieved_paper_keeps_its_text():
    text = "Read [this work](https://arxiv.org/abs/9999.99999) and [that](https://example.org)."
    result = sanitize_text(text, ALLOWED)
    assert result.text == "Read this work and [that](https://example.org)."
    assert result.removed == ["link to arXiv:9999.99999, which is not a retrieved paper"]


def test_html_is_removed_with_the_content_of_scripts():
    text = 'Fine <script>alert("x")</script>text <b>bold</b><!-- hidden --> <img src=x onerror=alert(1)> end.'
    result = sanitize_text(text, ALLOWED)
    assert result.text == "Fine text bold end."
    assert len(result.removed) == 5  # the comment, the script with its content, <b>, </b>, <img>
    assert result.removed == [
        "HTML element <!-->",
        "HTML element <script>",
        "HTML element <b>",
        "HTML element </b>",
        "HTML element <img>",
    ]


def test_images_and_script_links_are_removed():
    result = sanitize_text("A ![pixel](https://evil.example/t.png) and [click](javascript:alert(1)).", ALLOWED)
    assert "evil" not in result.text and "javascript" not in result.text
    assert len(result.removed) == 2


def test_pieces_joined_by_a_removal_are_removed_too():
    assert sanitize_text("arX<b></b>iv:9999.99999 here", ALLOWED).text == " here"
    assert sanitize_text("<scr<b>ipt>alert(1)</script>", ALLOWED).text == "alert(1)"  # text, no element


def test_the_markdown_export_holds_no_raw_html_nor_unretrieved_ids():
    section = SurveySection(
        "Methods <script>x</script>",
        "Claim [arXiv:2503.00001]. Injected arXiv:9999.99999 and https://arxiv.org/abs/9999.99999 "
        "<script>steal()</script> and x<y.",
        papers=["2503.00001"],
    )
    survey = Survey(
        "Title <iframe src=x></iframe>",
        "Abstract cites arXiv:9999.99999.",
        "Intro <div onclick=x>hi</div>.",
        [section],
        "End.",
        {KNOWN.arxiv_id: KNOWN},
    )
    markdown = survey.to_markdown()
    assert not re.search(r"<[A-Za-z/!?]", markdown), markdown
    assert "9999.99999" not in markdown and "9999.99999" not in survey.to_latex()
    assert "[[1]](https://arxiv.org/abs/2503.00001)" in markdown
    assert "x&lt;y" in markdown and "Ada &lt;i>Lovelace&lt;/i>" in markdown
    _, notes = sanitize_survey(survey)
    assert any(note.startswith("abstract: removed arXiv:9999.99999") for note in notes)
    assert sum("9999.99999" in note for note in notes) == 3


def test_markdown_safe_escapes_only_possible_tag_openings():
    assert markdown_safe("a < b, x<y, </p>, <!x>, 3<4") == "a < b, x&lt;y, &lt;/p>, &lt;!x>, 3<4"


_texts = st.lists(
    st.sampled_from(
        ["arXiv:", "9999.99999", "2412.99999", "2503.00001", "[", "]", "<", ">", "script", "b", "/", " ", "https://arxiv.org/abs/",
         "(", ")", "!", "x", "iv", "arX", "-->", "<!--", "cs/0112017", "."]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_texts)
def test_sanitizing_is_idempotent_and_leaves_no_unretrieved_id(text):
    once = sanitize_text(text, ALLOWED)
    assert sanitize_text(once.text, ALLOWED).text == once.text
    for pattern in (ARXIV_URL, ARXIV_PREFIXED, ARXIV_BARE):
        assert all(match.group("id") in ALLOWED for match in pattern.finditer(once.text)), once.text
    assert not re.search(r"<[A-Za-z/!?]", markdown_safe(once.text))
