"""Prompts of the judges. Module constants with ``{named}`` placeholders, filled only
through :func:`render`.

The rubric anchors of the content-quality criteria are OURS: written for cpmsurvey after
the four criteria MiniCPM4-Survey reports (Relevance, Coverage, Depth, Novelty) and a
fifth for Structure. They are not the published rubric of any paper, so scores are
comparable to published numbers only in kind, and only with a comparable judge.
"""

from __future__ import annotations

from engine.templates import placeholders as placeholders
from engine.templates import render as render

JUDGE_SYSTEM = (
    "You are a careful, strict reviewer of scientific literature surveys. You answer with the JSON "
    "object asked for and nothing else."
)

# Asked on a retry after a reply that could not be read.
FORMAT_REMINDER = "Your previous reply could not be read. Reply again with only the JSON object, as specified."

FACT_EXTRACTION_PROMPT = """Split the following sentence from a survey into atomic facts: short, self-contained
statements that each make exactly one checkable claim. Resolve pronouns; leave out opinions and
connectives; keep names, numbers and methods as written. A sentence that claims nothing yields an
empty list.

Sentence: {sentence}

Reply with JSON: {{"facts": ["...", "..."]}}"""

FACT_VERDICT_PROMPT = """Decide whether the evidence supports the fact. Supported means the evidence states
the fact or directly implies it; a fact that goes beyond the evidence, or that the evidence does not
mention, is not supported.

Fact: {fact}

Evidence (titles and abstracts of the cited papers):
{evidence}

Reply with JSON: {{"supported": true or false, "reason": "one sentence"}}"""

CITATION_SUPPORT_PROMPT = """Decide whether the sources, taken together, support the claim. Supported means
every part of the claim is stated in or directly implied by the sources.

Claim: {claim}

Sources:
{sources}

Reply with JSON: {{"supported": true or false}}"""

CONTENT_QUALITY_PROMPT = """Rate the survey below on one criterion, from 1 to 5, using the anchors.

Topic: {topic}
Criterion: {criterion} - {definition}
Anchors:
{anchors}

Survey (outline, then the text, shortened to fit):
{survey}

Reply with JSON: {{"score": an integer from 1 to 5, "reason": "two or three sentences"}}"""

# criterion -> (definition, anchors 1..5). Ours; see the module docstring.
CONTENT_CRITERIA: dict[str, tuple[str, tuple[str, str, str, str, str]]] = {
    "relevance": (
        "how closely the content stays on the topic",
        (
            "1: mostly off topic or generic text that could belong to any survey",
            "2: on topic in places, with long digressions",
            "3: on topic overall, with some loosely related passages",
            "4: on topic throughout, with only minor digressions",
            "5: every section serves the topic directly",
        ),
    ),
    "coverage": (
        "how much of the field's important work, methods and directions the survey covers",
        (
            "1: covers one narrow aspect or almost nothing concrete",
            "2: misses several central lines of work",
            "3: covers the main lines of work but misses notable ones",
            "4: covers the central and most secondary lines of work",
            "5: comprehensive: central, secondary and recent work, datasets and open problems",
        ),
    ),
    "depth": (
        "how far the survey explains, compares and analyses instead of listing",
        (
            "1: lists names or restates abstracts without explanation",
            "2: short descriptions, no comparison",
            "3: explains methods, compares some of them",
            "4: explains and compares methods, names trade-offs and limitations",
            "5: insightful analysis: mechanisms, trade-offs, evidence and why results differ",
        ),
    ),
    "novelty": (
        "how far the survey organises the field in a new way or offers original perspectives",
        (
            "1: no organising view; a sequence of summaries",
            "2: a conventional grouping with no perspective of its own",
            "3: a sensible taxonomy and some synthesis across papers",
            "4: a clear taxonomy and several original connections or open questions",
            "5: a new, well-argued view of the field that a researcher would learn from",
        ),
    ),
    "structure": (
        "how well the survey is organised: outline, order, transitions, no repetition",
        (
            "1: no discernible order; sections repeat or contradict each other",
            "2: a rough order with much repetition or misplaced material",
            "3: a sensible outline with some repetition or abrupt transitions",
            "4: a clear outline, logical order, little repetition",
            "5: a clear, balanced outline whose sections build on each other",
        ),
    ),
}
# MiniCPM4-Survey's Content Quality is the mean of these four.
CONTENT_QUALITY_CRITERIA = ("relevance", "coverage", "depth", "novelty")
