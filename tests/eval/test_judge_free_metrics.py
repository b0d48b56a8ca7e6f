"""Judge-free metrics on small hand-built surveys, with exact expected numbers."""

from __future__ import annotations

import pytest

from eval.markdown_import import import_markdown
from eval.outline import outline_headings, outline_similarity, survey_headings
from eval.reference_metrics import reference_metrics, reference_precision_recall
from eval.sampling import evenly_spaced
from eval.structure import structure_stats
from eval.survey_text import ReferenceItem

HUMAN = """# Human survey

## Intro

Text [1]. More [2]. Even more [3]. Last [4].

## References

[1] A. Author. Attention is all you need. arXiv:1706.03762, 2017.
[2] B. Author. "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows," ICCV 2021.
[3] C. Author. Deep residual learning for image recognition. CVPR 2016.
[4] D. Author. An Image is Worth 16x16 Words. arXiv:2010.11929, 2020.
"""


def test_reference_precision_recall_by_id_and_title(kit):
    human = import_markdown(HUMAN, "HumanSurvey", "t")
    ours = kit.our_survey(
        {"A": "Attention is studied [arXiv:1706.03762]. Unknown work exists [arXiv:2401.00001]."},
        [kit.paper("1706.03762", "Attention is all you need"), kit.paper("2401.00001", "Something else entirely new")],
    )
    # Titles only, no ids: Swin matches entry 2 by title, the made-up one matches nothing.
    baseline = import_markdown(
        "# B\n\n## S\n\nAlpha is cited here [1]. Beta is cited here [2]. Gamma is cited here [3].\n\n"
        "## References\n\n[1] Swin Transformer  Hierarchical Vision "
        "Transformer using Shifted Windows\n[2] Deep Residual Learning for Image Recognition\n[3] A survey of nothing "
        "at all really\n", "AutoSurvey", "t")
    assert reference_metrics(ours, human) == {
        "ref_precision": 0.5, "ref_recall": 0.25, "ref_matched": 1, "human_refs": 4, "human_refs_with_id": 2,
        "input_coverage": 0.5, "reference_coverage": 0.25,
    }
    scores = reference_metrics(baseline, human)
    assert scores["ref_precision"] == pytest.approx(2 / 3)
    assert scores["ref_recall"] == 0.5
    assert scores["input_coverage"] is None and scores["reference_coverage"] == 0.5  # cited titles matched


def test_ids_on_both_sides_decide_alone():
    system = [ReferenceItem("2010.11929", "Attention is all you need")]  # right title, wrong id
    human = [ReferenceItem("1706.03762", "Attention is all you need. arXiv:1706.03762")]
    scores = reference_precision_recall(system, human)
    assert (scores.precision, scores.recall) == (0.0, 0.0)


def test_structure_stats(kit):
    survey = kit.our_survey(
        {"Methods": "One claim here [arXiv:2401.00001][arXiv:2401.00002]. No citation in this one.\n\n"
                    "### Sub\n\nAnother cited sentence [arXiv:2401.00001]."},
        [kit.paper("2401.00001", "P one"), kit.paper("2401.00002", "P two")],
        introduction="An introduction without any citation.",
    )
    survey.sections[0].subsections = ["Sub"]
    stats = structure_stats(survey)
    assert stats == {
        "sections": 2, "subsections": 1, "words": 16, "sentences": 4, "citations": 3, "cited_references": 2,
        "listed_references": 2, "citation_density": pytest.approx(1000 * 3 / 16), "cited_sentence_share": 0.5,
    }


def test_outline_similarity_exact_with_word_vectors(kit):
    embedder = kit.WordEmbedder()
    same = outline_similarity(["Attention models", "Training data"], ["Attention models", "Training data"], embedder)
    assert same["outline_similarity"] == pytest.approx(1.0)
    assert same["outline_cosine"] == pytest.approx(1.0)
    # One of two human headings found, the other shares no word: recall 0.5, precision 1.0.
    half = outline_similarity(["Attention models"], ["Attention models", "zzz qqq"], embedder)
    cross = float(embedder.encode(["Attention models"])[0] @ embedder.encode(["zzz qqq"])[0])
    assert half["outline_similarity"] == pytest.approx(((1.0 + cross) / 2 + 1.0) / 2)
    assert outline_similarity([], ["A"], embedder)["outline_similarity"] is None


def test_headings_lose_numbering(kit):
    assert outline_headings("1 Introduction\n    2.1 Modality encoder\n\n") == ["Introduction", "Modality encoder"]
    survey = kit.our_survey({"2 Methods": "x"}, [], introduction="i", conclusion="c")
    survey.sections[0].subsections = ["2.1 Attention"]
    assert survey_headings(survey) == ["Introduction", "Methods", "Attention", "Conclusion"]


def test_evenly_spaced():
    assert evenly_spaced(list(range(10)), 3) == [0, 4, 9]
    assert evenly_spaced([1, 2], 5) == [1, 2]
    assert evenly_spaced([1, 2], None) == [1, 2]
    assert evenly_spaced([1, 2, 3], 0) == []


def test_input_coverage_counts_the_recorded_retrieval(kit):
    human = import_markdown(HUMAN, "HumanSurvey", "t")
    ours = kit.our_survey({"A": "Attention is studied [arXiv:1706.03762]."}, [kit.paper("1706.03762", "Attention")])
    ours.metadata = {"candidates": ["2010.11929", "2401.00009"], "section_retrieval": {"A": ["1706.03762"]}}
    scores = reference_metrics(ours, human)
    assert scores["input_coverage"] == 1.0  # both arXiv-identified human references were retrieved
    assert scores["reference_coverage"] == 0.25  # one of four human references cited
