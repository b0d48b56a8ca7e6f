"""Content quality: a judge scores the survey from 1 to 5 on Relevance, Coverage, Depth and
Novelty (MiniCPM4-Survey's four; their mean is the Content Quality figure) and on
Structure, at temperature 0, against the written anchors of eval/prompts.py (ours). The
judge's reasons are kept. A criterion whose reply cannot be parsed has no score, and
Content Quality is then not computed."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from eval.judge import Judge
from eval.outline import survey_headings
from eval.prompts import CONTENT_CRITERIA, CONTENT_QUALITY_CRITERIA, CONTENT_QUALITY_PROMPT, render
from eval.survey_text import ANY_MARKER, body_parts
from writer.survey import Survey


class ScoreReply(BaseModel):
    """One criterion's score and the reasons for it."""

    score: int = Field(ge=1, le=5)
    reason: str = Field("", max_length=600)


@dataclass(slots=True)
class ContentQuality:
    """Scores per criterion (None when unparsable), their reasons, and the mean of the four."""

    scores: dict[str, int | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def content_quality(self) -> float | None:
        """Mean of Relevance, Coverage, Depth and Novelty; None if any is missing."""
        values = [self.scores.get(name) for name in CONTENT_QUALITY_CRITERIA]
        if any(value is None for value in values):
            return None
        return sum(values) / len(values)  # type: ignore[arg-type]


def survey_for_judge(survey: Survey, max_words: int) -> str:
    """Title, outline and body (markers removed), cut to `max_words` words of body."""
    outline = "\n".join(f"- {heading}" for heading in survey_headings(survey))
    words: list[str] = []
    for title, text in body_parts(survey):
        words += [f"\n## {title}\n", *ANY_MARKER.sub(" ", text).split()]
    body = " ".join(words[:max_words])
    return f"# {survey.title}\n\nOutline:\n{outline}\n\nText:\n{body}"


def content_quality(survey: Survey, judge: Judge, topic: str, max_words: int = 3000) -> ContentQuality:
    """Score all five criteria."""
    text = survey_for_judge(survey, max_words)
    names = list(CONTENT_CRITERIA)
    prompts = [
        render(CONTENT_QUALITY_PROMPT, topic=topic, criterion=name.capitalize(), definition=CONTENT_CRITERIA[name][0],
               anchors="\n".join(CONTENT_CRITERIA[name][1]), survey=text)
        for name in names
    ]
    answers = judge.ask_many(prompts, ScoreReply, progress="content quality")
    result = ContentQuality()
    for name, answer in zip(names, answers, strict=True):
        result.scores[name] = answer.value.score if answer.value else None
        result.reasons[name] = answer.value.reason if answer.value else f"unparsable: {answer.replies[-1][:500]}"
    return result
