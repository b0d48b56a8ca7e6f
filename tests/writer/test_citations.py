"""Citation markers: found, kept when given, removed and reported otherwise, never remapped."""

from __future__ import annotations

from writer.citations import check_citations, find_citations, strip_citations


def test_find_citations_reads_single_and_grouped_markers():
    text = "A [arXiv:2503.00001]. B [arXiv:2503.00002; arXiv:2503.00003v2] and C [arxiv: cs/0112017]."
    assert find_citations(text) == ["2503.00001", "2503.00002", "2503.00003", "cs/0112017"]


def test_unknown_ids_are_removed_and_reported_not_remapped():
    text = "Claim [arXiv:2503.00001][arXiv:2503.00009]. Other [arXiv:2503.0001]. Numeric [4]."
    checked = check_citations(text, ["2503.00001", "2503.00002"])
    assert checked.text == "Claim [arXiv:2503.00001]. Other. Numeric."
    assert checked.cited == ["2503.00001"]
    # 2503.0001 looks like 2503.00001 but is not it: removed, not corrected.
    assert checked.removed == ["[arXiv:2503.00009]", "[arXiv:2503.0001]", "[4]"]


def test_grouped_marker_keeps_only_allowed_ids_as_single_markers():
    checked = check_citations("X [arXiv:2503.00001; arXiv:9999.99999; arXiv:2503.00002].", ["2503.00001", "2503.00002"])
    assert checked.text == "X [arXiv:2503.00001][arXiv:2503.00002]."
    assert checked.removed == ["[arXiv:9999.99999]"]


def test_versioned_marker_resolves_to_the_versionless_id():
    checked = check_citations("Y [arXiv:2503.00001v3].", ["2503.00001"])
    assert checked.text == "Y [arXiv:2503.00001]." and not checked.removed


def test_text_without_problems_is_unchanged():
    text = "Keep  this spacing [arXiv:2503.00001] ."
    assert check_citations(text, ["2503.00001"]).text == text


def test_strip_citations():
    assert strip_citations("A [arXiv:2503.00001], B [2].") == "A, B."
