"""Section writing, citation checking, assembly and exporters, as plain functions."""

from writer.citations import CitationCheck, check_citations, find_citations, format_marker, strip_citations
from writer.errors import SurveyFormatError, WriterError
from writer.frame import Frame, write_frame
from writer.sections import SectionDraft, SectionRequest, write_section, write_sections_batch
from writer.support import SupportResult, check_support
from writer.survey import Survey, SurveySection

__all__ = [
    "CitationCheck",
    "Frame",
    "SectionDraft",
    "SectionRequest",
    "SupportResult",
    "Survey",
    "SurveyFormatError",
    "SurveySection",
    "WriterError",
    "check_citations",
    "check_support",
    "find_citations",
    "format_marker",
    "strip_citations",
    "write_frame",
    "write_section",
    "write_sections_batch",
]
