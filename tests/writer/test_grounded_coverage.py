"""The content-word coverage proxy: what counts as a content word, and how much of a
sentence its cited abstracts account for."""

from __future__ import annotations

from datetime import date

import pytest

from retriever.types import Paper
from writer.grounded.coverage import content_word_coverage, content_words, evidence_text

ABSTRACT = (
    "We propose LoRA, a low-rank adaptation method for fine-tuning large language models. "
    "LoRA reduces the number of trainable parameters by 10,000 times and matches full fine-tuning "
    "on GLUE with 95.3% accuracy."
)


def test_content_words_drop_markers_stopwords_and_stem():
    words = content_words("We propose LoRA-style large-scale fine-tuning, reaching 95.3% [arXiv:2101.00001] [3].")
    assert words == ["lora", "style", "larg", "scale", "fine", "tune", "reach", "95.3"]


def test_connectives_and_attribution_verbs_are_not_content():
    assert content_words("In a related direction, they also propose; similarly, further work shows, e.g. this") == []


def test_sentence_without_content_words_is_fully_covered():
    assert content_word_coverage("We also show this [arXiv:2101.00001].", []) == 1.0


def test_extracted_sentence_with_changed_inflection_is_fully_covered():
    sentence = "Hu et al. propose LoRA, which reduces trainable parameters 10,000 times [arXiv:2106.09685]."
    assert content_word_coverage(sentence, [ABSTRACT, "Hu; Shen"]) == 1.0


def test_invented_claim_is_rejected_below_the_threshold():
    invented = "LoRA outperforms reinforcement learning agents on Atari games by a wide margin [arXiv:2106.09685]."
    coverage = content_word_coverage(invented, [ABSTRACT])
    # lora, outperform, reinforc, learn, agent, atari, game, wide, margin: only "lora" is known.
    assert coverage == pytest.approx(1 / 9)


def test_no_abstract_covers_nothing():
    assert content_word_coverage("LoRA adapts models.", []) == 0.0


def test_coverage_counts_distinct_words_across_several_abstracts():
    sentence = "Adapters and prompts both tune models."
    assert content_word_coverage(sentence, ["Adapters tune models.", "Prompts work."]) == 1.0
    assert content_word_coverage(sentence, ["Adapters tune models."]) == pytest.approx(3 / 4)


def test_evidence_text_holds_abstract_title_and_authors():
    paper = Paper("2106.09685", "LoRA", "We adapt.", authors=("Edward Hu", "Yelong Shen"), published=date(2021, 6, 17))
    assert evidence_text(paper) == "We adapt.\nLoRA\nEdward Hu; Yelong Shen"
    assert content_word_coverage("Hu et al. adapt LoRA [arXiv:2106.09685].", [evidence_text(paper)]) == 1.0


def test_discourse_words_in_any_inflection_are_not_content():
    assert content_words("Adapters were proposed, presented and reported in studies.") == ["adapt"]
