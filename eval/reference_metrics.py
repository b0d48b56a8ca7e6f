"""Judge-free reference metrics against a human survey's reference list.

- Reference precision and recall (as ReportBench computes them): a system reference
  matches a human one when both have the same arXiv id, or, when either lacks an id, when
  the system reference's normalised title occurs in the human entry's normalised text
  (or is equal to it). Precision = matched system references / system references;
  recall = matched human references / human references.
- SurveyForge's two coverages: the papers cited (reference coverage: the share of the
  human survey's references that the cited ones match, by the rule above, so that
  baselines citing titles only are covered too) and the papers retrieved for writing
  (input coverage; only our surveys record them, by id: the share of the human survey's
  arXiv-identified references among them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eval.references import MIN_TITLE_CHARS, normalize_title
from eval.survey_text import ReferenceItem, cited_references, listed_references
from writer.survey import Survey


def references_match(system: ReferenceItem, human: ReferenceItem) -> bool:
    """Same arXiv id, or (an id missing on either side) the system title inside the human entry."""
    if system.arxiv_id and human.arxiv_id:
        return system.arxiv_id == human.arxiv_id
    title = _matchable_title(system)
    return bool(title) and title in human.normalized


def _matchable_title(item: ReferenceItem) -> str:
    """The normalised title a system reference is matched by; empty when too short to be
    specific, or too long to be a title (a whole citation; its id must match instead)."""
    title = normalize_title(item.text)
    return title if MIN_TITLE_CHARS <= len(title) <= 300 else ""


@dataclass(frozen=True, slots=True)
class ReferenceScores:
    """Precision and recall of a reference list against the human one, with the counts."""

    precision: float | None
    recall: float | None
    matched_system: int
    matched_human: int
    system_total: int
    human_total: int


def reference_precision_recall(system: Sequence[ReferenceItem], human: Sequence[ReferenceItem]) -> ReferenceScores:
    """Precision and recall of `system` against `human` (None where a list is empty)."""
    human_ids = {item.arxiv_id: index for index, item in enumerate(human) if item.arxiv_id}
    human_texts = [item.normalized for item in human]
    matched_human: set[int] = set()
    matched_system = 0
    for item in system:
        hits = {human_ids[item.arxiv_id]} if item.arxiv_id in human_ids else set()
        title = _matchable_title(item)
        if title:
            hits |= {
                index
                for index, (other, text) in enumerate(zip(human, human_texts, strict=True))
                if not (item.arxiv_id and other.arxiv_id) and title in text
            }
        if hits:
            matched_system += 1
            matched_human |= hits
    return ReferenceScores(
        precision=matched_system / len(system) if system else None,
        recall=len(matched_human) / len(human) if human else None,
        matched_system=matched_system,
        matched_human=len(matched_human),
        system_total=len(system),
        human_total=len(human),
    )


def id_coverage(ids: Sequence[str], human: Sequence[ReferenceItem]) -> float | None:
    """Share of the human survey's arXiv-identified references among `ids` (None without any)."""
    human_ids = {item.arxiv_id for item in human if item.arxiv_id}
    if not human_ids:
        return None
    return len(human_ids & set(ids)) / len(human_ids)


def retrieved_ids(survey: Survey) -> list[str]:
    """Every paper our workflow retrieved for the survey: the broad candidates, each
    section's retrieval and the papers given to the writers (as the run records them)."""
    ids = list(survey.metadata.get("candidates", []))
    for section_ids in survey.metadata.get("section_retrieval", {}).values():
        ids.extend(section_ids)
    ids.extend(survey.papers)
    return list(dict.fromkeys(ids))


def reference_metrics(survey: Survey, human: Survey) -> dict[str, float | int | None]:
    """All reference metrics of `survey` against the human survey on its topic."""
    human_refs = listed_references(human)
    scores = reference_precision_recall(listed_references(survey), human_refs)
    retrieved = [] if survey.metadata.get("imported") else retrieved_ids(survey)
    return {
        "ref_precision": scores.precision,
        "ref_recall": scores.recall,
        "ref_matched": scores.matched_system,
        "human_refs": scores.human_total,
        "human_refs_with_id": sum(1 for item in human_refs if item.arxiv_id),
        "input_coverage": id_coverage(retrieved, human_refs) if retrieved else None,
        "reference_coverage": reference_precision_recall(cited_references(survey), human_refs).recall,
    }
