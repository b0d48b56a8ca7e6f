"""Sentence choice, compression and subject rewriting on small hand-made abstracts, with
the exact sentences expected."""

from __future__ import annotations

import pytest

from retriever.names import surname
from retriever.types import Paper
from writer.grounded.attribution import attribute, author_phrase, plural_verb, singular_verb
from writer.grounded.choose import (
    Fact,
    Skip,
    contribution_fact,
    contribution_score,
    limitation_fact,
    limitation_score,
    sentence_key,
)
from writer.grounded.compress import (
    compress_sentence,
    cut_trailing_clause,
    drop_parentheticals,
    drop_promotion,
    indefinite_article,
    strip_leading_discourse,
)

LORA = Paper(
    "2106.09685",
    "LoRA: Low-Rank Adaptation of Large Language Models",
    "Fine-tuning large language models is expensive. "
    "Adapting every parameter remains a challenge for deployment at scale. "
    "In this paper, we propose Low-Rank Adaptation (LoRA), a novel method that freezes the pretrained weights "
    "(see Section 3) and injects trainable rank decomposition matrices into each layer. "
    "We show that LoRA matches full fine-tuning on GLUE with 10,000 times fewer trainable parameters. "
    "Code is available at our repository.",
    authors=("Edward J. Hu", "Yelong Shen", "Phillip Wallis"),
)


def test_contribution_scores_rank_cue_phrases():
    assert contribution_score("In this paper, we propose LoRA.") == 3
    assert contribution_score("This work studies adapters in depth.") == 2
    assert contribution_score("We show that LoRA matches full fine-tuning.") == 1
    assert contribution_score("Fine-tuning large language models is expensive.") == 0
    assert contribution_score("We propose the first method for sparse retrieval.") == 2
    assert contribution_score("We propose a fix for this problem.") == 2  # points back at the sentence before
    assert contribution_score("We conduct a study of this geometric perspective.") == 1
    assert contribution_score("These results show that we propose well.") == 2
    assert contribution_score("Our code is publicly available for everyone.") == -1
    assert contribution_score("This survey reviews retrieval methods and their datasets.") == 3
    assert contribution_score("Extensive experiments on GLUE show that adapters match fine-tuning.") == 1
    assert contribution_score("Our experimental results reveal that watermarks hurt accuracy.") == 1
    assert contribution_score("Experiments demonstrate the effectiveness and superiority of our approach.") == 0


def test_contribution_sentence_is_the_strongest_cue_compressed_and_attributed():
    fact = contribution_fact(LORA)
    assert fact == Fact(
        arxiv_id="2106.09685",
        source=(
            "In this paper, we propose Low-Rank Adaptation (LoRA), a novel method that freezes the pretrained "
            "weights (see Section 3) and injects trainable rank decomposition matrices into each layer."
        ),
        text=(
            "Hu et al. propose Low-Rank Adaptation (LoRA), a method that freezes the pretrained weights and "
            "injects trainable rank decomposition matrices into each layer [arXiv:2106.09685]."
        ),
        subject="Hu et al.",
    )


def test_excluded_sentence_gives_way_to_the_next_best():
    first = contribution_fact(LORA)
    second = contribution_fact(LORA, exclude={sentence_key(first.source)})
    assert second.text == (
        "Hu et al. show that LoRA matches full fine-tuning on GLUE with 10,000 times fewer trainable parameters "
        "[arXiv:2106.09685]."
    )
    third = contribution_fact(LORA, exclude={sentence_key(first.source), sentence_key(second.source)})
    assert third == Skip("2106.09685", "its abstract states no contribution that can be quoted")


def test_limitation_sentence_is_noted_with_the_authors():
    assert limitation_score("Adapting every parameter remains a challenge for deployment at scale.") == 2
    assert limitation_score("We discuss limitations and future directions.") == 0
    assert limitation_score("We release data to facilitate future research on this topic.") == 0
    assert limitation_score("These methods still lack robustness.") == 0
    assert limitation_score("Existing models lack this ability, which remains an open problem.") == 1
    assert limitation_fact(LORA).text == (
        "Hu et al. note that adapting every parameter remains a challenge for deployment at scale [arXiv:2106.09685]."
    )


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        (("Edward J. Hu", "Yelong Shen", "Phillip Wallis"), "Hu et al. propose X and evaluate it on our data."),
        (("Edward J. Hu", "Yelong Shen"), "Hu and Shen propose X and evaluate it on our data."),
        (("Edward J. Hu",), "Hu proposes X and evaluates it on our data."),
        ((), "One study proposes X and evaluates it on our data."),
    ],
)
def test_we_becomes_the_authors_with_agreeing_verbs(authors, expected):
    assert attribute("We propose X and evaluate it on our data.", authors) == expected.replace("our", "their")


@pytest.mark.parametrize(
    ("sentence", "authors", "expected"),
    [
        ("This paper studies adapters.", ("A Lee", "B Kim"), "Lee and Kim study adapters."),
        ("This paper studies adapters.", ("A Lee",), "Lee studies adapters."),
        ("This survey reviews adapters.", ("A Lee", "B Kim"), "Lee and Kim review adapters."),
        (
            "Our experimental results reveal that X fails.",
            ("A Lee", "B Kim", "C Wu"),
            "Lee et al.'s experimental results reveal that X fails.",
        ),
        ("We also address the gap.", ("A Lee",), "Lee addresses the gap."),
        ("We then further introduce X.", ("A Lee", "B Kim"), "Lee and Kim introduce X."),
        ("We empirically show that X holds.", ("A Lee", "B Kim", "C Wu"), "Lee et al. empirically show that X holds."),
        ("We proposed X in 2020.", ("A Lee",), "Lee proposed X in 2020."),
        ("We can solve X.", ("A Lee",), "Lee can solve X."),
        ("We are the first to solve X.", ("A Lee",), "Lee is the first to solve X."),
        ("Our method improves recall.", ("A Lee", "B Kim", "C Wu"), "Lee et al.'s method improves recall."),
        ("Our method improves recall.", ("A Jones",), "Jones' method improves recall."),
        ("Using a new corpus, we evaluate X.", ("A Lee",), "Using a new corpus, Lee evaluates X."),
        (
            "Exploration remains a challenge; in particular, we still lack practical schemes.",
            ("A Lee", "B Kim"),
            "Lee and Kim report that exploration remains a challenge; in particular, they still lack practical "
            "schemes.",
        ),
        (
            "Experiments show that X helps us.",
            ("A Lee", "B Kim"),
            "Lee and Kim report that experiments show that X helps them.",
        ),
        ("LoRA reduces memory.", ("A Lee",), "Lee reports that LoRA reduces memory."),
        ("Large Language Models fail.", ("A Lee",), "Lee reports that Large Language Models fail."),
        ("We propose X.", ("Qwen Team",), "Qwen Team proposes X."),
        ("We propose X.", ("NVIDIA", ":", "A Lee", "B Kim"), "NVIDIA proposes X."),
    ],
)
def test_subject_rewrite_forms(sentence, authors, expected):
    assert attribute(sentence, authors) == expected


def test_surnames_and_author_phrases():
    assert surname("Ludwig van Beethoven") == "van Beethoven"
    assert surname("Smith, John") == "Smith"
    assert surname("Martin Luther King Jr.") == "King"
    assert surname("Hidam Kumarjit Singh") == "Singh"
    assert author_phrase(["Jutika Borah", "Hidam Kumarjit Singh"]) == ("Borah and Singh", True)
    assert author_phrase([" "]) == ("One study", False)


def test_verb_agreement():
    assert [singular_verb(v) for v in ("propose", "study", "address", "have", "are", "do", "can", "used", "play")] == [
        "proposes", "studies", "addresses", "has", "is", "does", "can", "used", "plays"
    ]
    assert [plural_verb(v) for v in ("proposes", "studies", "addresses", "has", "is", "focuses", "used")] == [
        "propose", "study", "address", "have", "are", "focus", "used"
    ]


def test_leading_discourse_is_dropped():
    assert strip_leading_discourse("In this paper, we propose X.") == "We propose X."
    assert strip_leading_discourse("To address this issue, we propose X.") == "We propose X."
    assert strip_leading_discourse("However, to this end, we propose X.") == "We propose X."
    assert strip_leading_discourse("To study this, we inject errors.") == "We inject errors."
    assert strip_leading_discourse("Here we show X.") == "We show X."
    assert strip_leading_discourse("Subsequently, we show X.") == "We show X."
    assert strip_leading_discourse("Nevertheless, we find X.") == "We find X."
    assert strip_leading_discourse("Leveraging this finding, we build X.") == "We build X."
    assert strip_leading_discourse("Transformers dominate.") == "Transformers dominate."


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        # real openers that pointed back or cut a phrase in two (5k sample: 2508.01222, 2509.03736,
        # 2505.21670, 2505.04628, 2503.13862, 2506.05209, 2505.20164)
        ("In response, we introduce WebDS.", "We introduce WebDS."),
        ("Most importantly, we find that X fails.", "We find that X fails."),
        ("Ultimately, we introduce X.", "We introduce X."),
        ("Concurrently, we propose X.", "We propose X."),
        ("At the same time, its implications are poorly understood.", "Its implications are poorly understood."),
        ("Not only that, we use LIME.", "We use LIME."),
        ("Instead of relying on Euclidean space, we design X.", "Instead of relying on Euclidean space, we design X."),
        ("In addition to the corpus, we release the code.", "In addition to the corpus, we release the code."),
        ("In response to this gap, we build X.", "We build X."),
        ("Inspired by this cognitive strategy, we introduce VAT.", "We introduce VAT."),
        ("Building on these insights into agents, we propose X.", "We propose X."),
    ],
)
def test_leading_discourse_goes_whole_or_not_at_all(sentence, expected):
    assert strip_leading_discourse(sentence) == expected


def test_parentheticals_and_promotion_are_dropped():
    assert drop_parentheticals("We propose LoRA (Hu et al., 2021), a method (see Sec. 3) [12].") == (
        "We propose LoRA, a method."
    )
    assert drop_parentheticals("We propose Low-Rank Adaptation (LoRA) for (large) models.") == (
        "We propose Low-Rank Adaptation (LoRA) for (large) models."
    )
    promoted = "We propose a novel efficient method and a new LLM."
    assert drop_promotion(promoted) == "We propose an efficient method and an LLM."
    assert drop_promotion("A simple yet effective unified model works.") == "A unified model works."
    assert [indefinite_article(w) for w in ("LLM", "GPU", "open", "unified", "one-shot", "RL", "model")] == [
        "an", "a", "an", "a", "a", "an", "a"
    ]


def test_long_sentence_is_cut_at_the_best_clause_boundary():
    head = "We propose a retrieval method for long documents that indexes passages with learned sparse vectors"
    long = head + ", which allows fast search over millions of passages on one CPU while keeping recall high."
    assert cut_trailing_clause(long, max_words=20) == head + "."
    assert cut_trailing_clause("Short sentence stays as it is.", max_words=20) == "Short sentence stays as it is."
    unbreakable = " ".join(["word"] * 30) + "."
    assert cut_trailing_clause(unbreakable, max_words=20) is None


def test_compress_cuts_enumerations_and_normalises_the_end():
    assert compress_sentence("In this work, we propose X, a model with three parts: (1) a planner, (2) a writer!") == (
        "We propose X, a model with three parts."
    )


def test_short_sentence_dominated_by_names_is_not_quoted():
    # As stated it reads "Lester and Al-Rfou introduce prompt tuning for frozen models": the
    # abstract alone covers 4 of its 6 content words, under the support threshold.
    paper = Paper("2501.00002", "P", "We introduce prompt tuning for frozen models.", authors=("B Lester", "R Al-Rfou"))
    assert contribution_fact(paper) == Skip("2501.00002", "its abstract states no contribution that can be quoted")
    abstract = "We introduce prompt tuning for frozen language models of many sizes."
    longer = Paper("2501.00002", "P", abstract, authors=("B Lester",))
    assert contribution_fact(longer).text == (
        "Lester introduces prompt tuning for frozen language models of many sizes [arXiv:2501.00002]."
    )


def test_cut_head_does_not_end_on_a_dangling_word():
    sentence = "We introduce AttnRank, a two-stage framework that (i) estimates preferences, and (ii) reorders them."
    assert compress_sentence(sentence) == "We introduce AttnRank, a two-stage framework."
