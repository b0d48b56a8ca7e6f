"""The support proxy: how close a cited sentence is to the abstracts it cites, without a
judge. Two scores per sentence: lexical content-word coverage (writer/grounded's one
definition) and the best embedding cosine between the sentence and a cited abstract.

Calibrated on DeepScholar (../shared/data/deepscholar): human related-work sentences with
the abstracts they cite are positives, the same sentences with as many other papers'
abstracts are negatives. The calibration reports each score's ROC AUC and the threshold
that maximises Youden's J (true-positive rate minus false-positive rate), which the
per-survey figures then use.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.survey_text import evidence, has_abstract, sentences
from retriever.embeddings import Embedder
from writer.grounded.coverage import content_word_coverage
from writer.survey import Survey

_CITE = re.compile(r"\\cite[tp]?\*?(?:\[[^\]]*\])*\{([^}]*)\}")
_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+\*?(?:\{([^{}]*)\})?")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\\])")


@dataclass(frozen=True, slots=True)
class SupportPair:
    """A sentence, the abstracts it is paired with, and whether it really cites them."""

    sentence: str
    abstracts: tuple[str, ...]
    label: int


def plain_latex(text: str) -> str:
    """LaTeX prose as plain text: citations dropped, commands replaced by their argument."""
    text = _CITE.sub(" ", text).replace("~", " ")
    text = _LATEX_COMMAND.sub(lambda m: m.group(1) or " ", text)
    return " ".join(text.replace("{", " ").replace("}", " ").split())


def deepscholar_pairs(root: Path, seed: int = 0, limit: int | None = None) -> list[SupportPair]:
    """Positive and negative pairs from DeepScholar: every related-work sentence whose
    citations all have an abstract, once with them and once with as many abstracts drawn
    (seeded) from other papers' citations. `limit` keeps the first positives only."""
    try:
        with open(root / "citations.csv", encoding="utf-8") as handle:
            citations = list(csv.DictReader(handle))
        with open(root / "papers_with_related_works.csv", encoding="utf-8") as handle:
            papers = list(csv.DictReader(handle))
    except OSError as error:
        raise FileNotFoundError(f"DeepScholar data not readable under {root}: {error}") from None
    abstracts = {
        (row["parent_paper_arxiv_id"], row["citation_shorthand"]): " ".join(row["cited_paper_abstract"].split())
        for row in citations
        if row["cited_paper_abstract"].strip()
    }
    rng = random.Random(seed)
    pairs: list[SupportPair] = []
    for paper in papers:
        others = [text for (parent, _), text in abstracts.items() if parent != paper["arxiv_id"]]
        for raw in _SENTENCE_SPLIT.split(paper["clean_latex_related_works"]):
            keys = [key.strip() for match in _CITE.finditer(raw) for key in match.group(1).split(",") if key.strip()]
            if not keys or not all((paper["arxiv_id"], key) in abstracts for key in keys):
                continue
            sentence = plain_latex(raw)
            if len(sentence.split()) < 5:
                continue
            cited = tuple(abstracts[(paper["arxiv_id"], key)] for key in dict.fromkeys(keys))
            pairs.append(SupportPair(sentence, cited, 1))
            pairs.append(SupportPair(sentence, tuple(rng.sample(others, len(cited))), 0))
            if limit is not None and len(pairs) >= 2 * limit:
                return pairs
    return pairs


def embedding_support(sentence_vectors: np.ndarray, abstract_vectors: Sequence[np.ndarray]) -> np.ndarray:
    """Per sentence, the best cosine with one of its abstracts ([n] from unit vectors)."""
    return np.array([float((vectors @ vector).max()) for vector, vectors in zip(sentence_vectors, abstract_vectors,
                                                                              strict=True)])


def score_pairs(pairs: Sequence[SupportPair], embedder: Embedder | None) -> dict[str, np.ndarray]:
    """Lexical (and, with an embedder, embedding) scores of every pair."""
    scores = {"lexical": np.array([content_word_coverage(p.sentence, p.abstracts) for p in pairs])}
    if embedder is not None:
        texts = sorted({text for pair in pairs for text in (pair.sentence, *pair.abstracts)})
        index = {text: row for row, text in enumerate(texts)}
        vectors = embedder.encode(texts)
        sentence_vectors = vectors[[index[p.sentence] for p in pairs]]
        abstract_vectors = [vectors[[index[a] for a in p.abstracts]] for p in pairs]
        scores["embedding"] = embedding_support(sentence_vectors, abstract_vectors)
    return scores


def calibrate(pairs: Sequence[SupportPair], embedder: Embedder | None) -> dict[str, dict[str, float]]:
    """ROC AUC and Youden threshold of each score on labelled pairs."""
    from sklearn.metrics import roc_auc_score, roc_curve

    labels = np.array([pair.label for pair in pairs])
    if labels.min() == labels.max():
        raise ValueError("calibration needs both positive and negative pairs")
    result = {}
    for name, values in score_pairs(pairs, embedder).items():
        fpr, tpr, thresholds = roc_curve(labels, values)
        best = int(np.argmax(tpr - fpr))
        result[name] = {
            "auc": float(roc_auc_score(labels, values)),
            "threshold": float(min(thresholds[best], 1.0)),
            "tpr": float(tpr[best]),
            "fpr": float(fpr[best]),
            "positives": int(labels.sum()),
            "negatives": int(len(labels) - labels.sum()),
        }
    return result


def support_proxy(
    survey: Survey, thresholds: dict[str, float], embedder: Embedder | None = None
) -> dict[str, float | int | None]:
    """Over the survey's cited sentences whose every citation has an abstract: the mean of
    each score and the share at or above its calibrated threshold (None without one)."""
    checked = [s for s in sentences(survey) if s.citations and all(has_abstract(survey, k) for k in s.citations)]
    result: dict[str, float | int | None] = {"support_sentences": len(checked)}
    if not checked:
        return result | {f"support_{name}": None for name in ("lexical", "lexical_pass", "embedding", "embedding_pass")}
    pairs = [SupportPair(s.plain, tuple(evidence(survey, k) or "" for k in s.citations), 1) for s in checked]
    for name, values in score_pairs(pairs, embedder).items():
        result[f"support_{name}"] = float(values.mean())
        threshold = thresholds.get(name)
        result[f"support_{name}_pass"] = None if threshold is None else float((values >= threshold).mean())
    return result
