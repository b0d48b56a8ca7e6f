"""Grounded writing: sections, abstract, introduction and conclusion built from the retrieved
papers' own abstract sentences, each attributed and cited, so that a small model cannot add
facts. A model may only rephrase, under a coverage gate (rewrite.py)."""

from writer.grounded.choose import Fact, Skip, contribution_fact, limitation_fact, sentence_key
from writer.grounded.coverage import SUPPORT_THRESHOLD, content_word_coverage, content_words, evidence_text
from writer.grounded.frame import write_grounded_frame
from writer.grounded.rewrite import REWRITE_MIN_COVERAGE, RewriteCheck, judge_rewrite, polish_section, polish_sections
from writer.grounded.section import GroundedDraft, SubTheme, write_grounded_section, write_grounded_sections
from writer.grounded.written import WrittenSection, without_repeats

__all__ = [
    "REWRITE_MIN_COVERAGE",
    "SUPPORT_THRESHOLD",
    "Fact",
    "GroundedDraft",
    "RewriteCheck",
    "Skip",
    "SubTheme",
    "WrittenSection",
    "content_word_coverage",
    "content_words",
    "contribution_fact",
    "evidence_text",
    "judge_rewrite",
    "limitation_fact",
    "polish_section",
    "polish_sections",
    "sentence_key",
    "without_repeats",
    "write_grounded_frame",
    "write_grounded_section",
    "write_grounded_sections",
]
