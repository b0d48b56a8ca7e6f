"""The support proxy: exact scores on hand-built pairs and surveys, and its ROC AUC on a
fixed small DeepScholar sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.support_proxy import SupportPair, calibrate, deepscholar_pairs, plain_latex, support_proxy


def test_calibration_exact_on_separable_pairs(kit):
    pairs = [
        SupportPair("LoRA trains low-rank adapters.", ("LoRA trains low-rank adapters for transformers.",), 1),
        SupportPair("Diffusion models denoise images.", ("Diffusion models denoise images step by step.",), 1),
        SupportPair("LoRA trains low-rank adapters.", ("Graph networks pass messages.",), 0),
        SupportPair("Diffusion models denoise images.", ("Tokenizers split text.",), 0),
    ]
    result = calibrate(pairs, kit.WordEmbedder())
    assert result["lexical"]["auc"] == 1.0 and result["embedding"]["auc"] == 1.0
    assert result["lexical"]["threshold"] == 1.0  # positives cover every content word
    assert (result["lexical"]["positives"], result["lexical"]["negatives"]) == (2, 2)


def test_calibration_needs_both_labels():
    with pytest.raises(ValueError, match="both"):
        calibrate([SupportPair("a b c", ("a b c",), 1)], None)


def test_survey_support_proxy_exact(kit):
    survey = kit.our_survey(
        {"S": "Alpha beta gamma delta [arXiv:2401.00001]. Nothing cited in this sentence. "
              "Omega psi chi phi [arXiv:2401.00002]. Unknown abstract here [arXiv:2401.00003]."},
        [kit.paper("2401.00001", "T", "alpha beta gamma delta"), kit.paper("2401.00002", "U", "omega psi"),
         kit.paper("2401.00003", "V", "")],
    )
    result = support_proxy(survey, {"lexical": 0.75, "embedding": 0.85}, kit.WordEmbedder())
    assert result["support_sentences"] == 2  # the paper without abstract is left out
    assert result["support_lexical"] == pytest.approx((1.0 + 0.5) / 2)
    assert result["support_lexical_pass"] == 0.5
    assert result["support_embedding_pass"] == 0.5


def test_plain_latex():
    expected = "Graph models use message passing."
    assert plain_latex(r"Graph models~\citep{a, b} use \textbf{message} passing.") == expected


def test_deepscholar_auc_on_a_fixed_sample(shared_data: Path):
    pairs = deepscholar_pairs(shared_data / "deepscholar", seed=0, limit=40)
    assert len(pairs) == 80 and sum(p.label for p in pairs) == 40
    result = calibrate(pairs, None)["lexical"]
    # Real related-work sentences share far more content words with what they cite.
    assert result["auc"] >= 0.85
    assert 0.0 < result["threshold"] < 1.0
