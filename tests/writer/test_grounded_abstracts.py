"""Abstracts as quotable sentences: splitting, markup, language and the garbage kept out."""

from __future__ import annotations

from retriever.types import Paper
from writer.grounded.abstracts import (
    is_english,
    is_quotable,
    latex_to_plain,
    plain_text,
    quotable_sentences,
    split_sentences,
    unusable_reason,
)


def test_split_keeps_abbreviations_decimals_and_references_inside_sentences():
    text = (
        "We follow Smith et al. (2020) and use models (e.g. BERT, i.e. an encoder) with 95.3% accuracy. "
        "Results in Fig. 2 and Eq. 4 hold vs. baselines! Is it robust? Yes, on approx. 5 tasks."
    )
    assert split_sentences(text) == [
        "We follow Smith et al. (2020) and use models (e.g. BERT, i.e. an encoder) with 95.3% accuracy.",
        "Results in Fig. 2 and Eq. 4 hold vs. baselines!",
        "Is it robust?",
        "Yes, on approx. 5 tasks.",
    ]


def test_split_of_empty_text_is_empty():
    assert split_sentences("") == [] and split_sentences("   ") == []


def test_latex_becomes_plain_text_and_bare_percent_is_a_percent_sign():
    text = r"We train a $k$-means model with $\sim$10\% error and 5% more \emph{data} in $O(n \log n)$ time."
    assert latex_to_plain(text) == "We train a k-means model with ∼10% error and 5% more data in O(n log n) time."


def test_a_macro_of_the_authors_own_is_never_rendered_as_nothing():
    # 2601.16394: "\\model" rendered as nothing made "demonstrate that achieves"
    text = r"Extensive evaluations demonstrate that \model achieves new state-of-the-art performance."
    assert latex_to_plain(text) == text
    assert not is_quotable(latex_to_plain(text))
    assert latex_to_plain(r"We propose \textbf{\model} to segment.") == r"We propose \textbf{\model} to segment."
    assert latex_to_plain(r"We use {\bf bold} text and \textbf{EBD} for \emph{points}.") == (
        "We use bold text and EBD for points."
    )


def test_text_without_latex_is_left_alone():
    assert latex_to_plain("Accuracy rose by 5% (from 80% to 85%).") == "Accuracy rose by 5% (from 80% to 85%)."


def test_plain_text_removes_html_and_collapses_whitespace():
    assert plain_text("A <b>bold</b>\n  claim &amp; more.") == "A bold claim & more."
    assert plain_text("kernels called ``moment kernels,'' here") == "kernels called “moment kernels,” here"
    assert plain_text("Moreover,they use 10,000 GPUs.") == "Moreover, they use 10,000 GPUs."


def test_english_and_other_languages():
    assert is_english("We propose a method for the classification of images with transformers.")
    assert is_english("Experimental results demonstrate significant improvements.")
    assert not is_english("Nous proposons une nouvelle méthode pour la classification des images.")
    assert not is_english("Wir stellen ein neues Verfahren für die Klassifikation von Bildern vor.")
    assert not is_english("Este artículo presenta un nuevo modelo de lenguaje para la traducción.")
    assert not is_english("本文提出了一种新的图像分类方法，并在多个数据集上进行了验证。")
    assert not is_english("Makalah ini mengusulkan metode baru untuk klasifikasi gambar.", 0.05)


def test_quotable_sentences_are_finished_plain_and_of_ordinary_length():
    assert is_quotable("We propose a method that adapts models to new domains.")
    assert not is_quotable("We propose it.")  # too short to say anything
    assert not is_quotable("Can models adapt to new domains without any labels at all?")
    assert not is_quotable("Code is at https://github.com/x/y and works well for everyone.")
    assert not is_quotable(r"We minimise \mathcal{L} over the whole training set of examples.")
    assert not is_quotable("We introduce , a system designed to address this scaling problem.")  # a macro vanished
    assert not is_quotable("The loss is | x - y | ^ 2 summed = over all the training pairs.")


def paper(abstract: str) -> Paper:
    return Paper("2501.00001", "T", abstract, ("Ann Smith",))


def test_unusable_abstracts_say_why():
    assert unusable_reason(paper("")) == "its abstract is empty"
    assert unusable_reason(paper("  \n ")) == "its abstract is empty"
    assert unusable_reason(paper("This paper has been withdrawn by the authors.")) == "it has been withdrawn"
    french = "Nous proposons une nouvelle méthode pour la classification des images. Elle est rapide et précise."
    assert unusable_reason(paper(french)) == "its abstract is not in English"
    assert unusable_reason(paper("We study how models that were withdrawn from service age.")) is None


def test_quotable_sentences_skip_markup_and_keep_rendered_latex():
    abstract = (
        r"We propose \textsc{Fast}, a $k$-means variant that runs in $O(n)$ time. "
        r"The objective is $\min_\theta \sum_i \|x_i - \mu\|^2 + \lambda \Omega(\theta)$ over data. "
        "Code: https://github.com/a/b. Short one."
    )
    assert quotable_sentences(paper(abstract)) == ["We propose Fast, a k-means variant that runs in O(n) time."]


def test_abstract_with_a_translation_keeps_its_english_sentences():
    abstract = (
        "We propose a method for ranking passages with sparse vectors. It runs on one CPU core. "
        "我们提出了一种使用稀疏向量对段落进行排序的方法，它可以在一个处理器核心上运行，并且在多个数据集上取得了很好的效果。"
        "该方法简单高效，易于部署，适用于各种检索场景和应用。"
    )
    assert unusable_reason(paper(abstract)) is None
    assert quotable_sentences(paper(abstract)) == [
        "We propose a method for ranking passages with sparse vectors.",
        "It runs on one CPU core.",
    ]


def test_one_sentence_abstract_is_quoted_when_it_is_a_real_sentence():
    abstract = "We introduce a new class of clustered Moore automata and describe some applications."
    assert quotable_sentences(paper(abstract)) == [abstract]
    assert quotable_sentences(paper("Withdrawn.")) == []


def test_arxiv_category_names_do_not_end_a_sentence():
    text = "Papers are listed under cs.AI (35 papers), stat.ML and cs.MA (13). The next sentence starts here."
    assert split_sentences(text) == [
        "Papers are listed under cs.AI (35 papers), stat.ML and cs.MA (13).",
        "The next sentence starts here.",
    ]


def test_a_sentence_opening_with_an_acronym_is_split_off():
    # after "1)" and "2)" sentencex leaves the acronym's sentence joined to the one before
    text = (
        "1) Retrieval Collapse: retrieval fails. 2) Instability: training suffers. "
        "We propose PRISMA, a framework. PRISMA's strength lies in planning. We use TSPO. TSPO introduces FOLR. "
        "We compare it with e.g. BERT and GPT. It scores 90%. We propose a Judge (MR. Judge) for images. "
        "Evaluated on 20 designs, Dr. RTL improves timing."
    )
    assert split_sentences(text) == [
        "1) Retrieval Collapse: retrieval fails.",
        "2) Instability: training suffers.",
        "We propose PRISMA, a framework.",
        "PRISMA's strength lies in planning.",
        "We use TSPO.",
        "TSPO introduces FOLR.",
        "We compare it with e.g. BERT and GPT.",
        "It scores 90%.",
        "We propose a Judge (MR. Judge) for images.",
        "Evaluated on 20 designs, Dr. RTL improves timing.",
    ]
