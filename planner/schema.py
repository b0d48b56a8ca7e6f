"""The outline a survey is written from, and the query plan, as pydantic models.

The models double as JSON schemas for constrained decoding (``llm.chat(..., schema=Outline)``),
so every field carries a description the model sees.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Bounds for constrained decoding: a small model under a bare schema can write an endless
# list or string until its token budget runs out, which leaves truncated, invalid JSON.
# With these bounds every output the grammar admits fits `outline_token_budget`. The field
# descriptions below and the outline prompt state the same bounds.
TITLE_CHARS = 80
DESCRIPTION_CHARS = 120
QUERY_CHARS = 50
MAX_SECTION_QUERIES = 2
MAX_SUBSECTIONS = 2


class QueryPlan(BaseModel):
    """Search queries that together cover a topic."""

    model_config = ConfigDict(extra="ignore")

    queries: list[str] = Field(description="short keyword search queries, each on one aspect of the topic")


class Subsection(BaseModel):
    """A part of a section."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(description="heading of the subsection")
    description: str = Field("", description="one or two sentences on what the subsection covers")
    papers: list[str] = Field(
        default_factory=list, description="arXiv ids of the papers the subsection covers, when planned from papers"
    )


class OutlineSection(BaseModel):
    """One section of the survey, with the queries that find its papers."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(description="heading of the section")
    description: str = Field("", description="one or two sentences on what the section covers")
    queries: list[str] = Field(
        default_factory=list, description=f"one to {MAX_SECTION_QUERIES} search queries for its papers"
    )
    subsections: list[Subsection] = Field(default_factory=list, description=f"zero to {MAX_SUBSECTIONS} subsections")
    papers: list[str] = Field(
        default_factory=list,
        description="arXiv ids of the papers the section covers (its subsections' and its own), when planned "
        "from papers",
    )


class Outline(BaseModel):
    """A survey's title and sections (introduction and conclusion are written separately)."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(description="title of the survey")
    sections: list[OutlineSection] = Field(description="the body sections, in reading order")


# Tokenizers spend about one token per 2.5 characters on JSON-heavy text; keep a margin.
CHARS_PER_TOKEN = 2.0
JSON_OVERHEAD_CHARS = 40


def outline_token_budget(sections: int) -> int:
    """max_new_tokens under which an outline of `sections` sections can never be truncated."""
    subsection = TITLE_CHARS + JSON_OVERHEAD_CHARS
    section = (
        TITLE_CHARS + DESCRIPTION_CHARS + MAX_SECTION_QUERIES * (QUERY_CHARS + 4) + MAX_SUBSECTIONS * subsection
    ) + 2 * JSON_OVERHEAD_CHARS
    return int((TITLE_CHARS + JSON_OVERHEAD_CHARS + sections * section) / CHARS_PER_TOKEN) + 16


def _text(max_length: int, description: str) -> dict:
    return {"type": "string", "minLength": 3, "maxLength": max_length, "description": description}


def _object(properties: dict) -> dict:
    # Every field required, so that the model writes each one, in this order.
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def query_plan_schema(count: int) -> dict:
    """JSON schema of a :class:`QueryPlan` of one to `count` bounded queries."""
    query = _text(QUERY_CHARS, "a short keyword search query")
    return _object({"queries": {"type": "array", "items": query, "minItems": 1, "maxItems": count}})


def outline_schema(sections: int) -> dict:
    """JSON schema of an :class:`Outline` with exactly `sections` sections and bounded fields."""
    # Subsections are asked for by title only: the writer needs no more, and every character
    # the model must write costs time on a small CPU model.
    subsection = _object({"title": _text(TITLE_CHARS, "heading of the subsection")})
    section = _object(
        {
            "title": _text(TITLE_CHARS, "heading of the section"),
            "description": _text(DESCRIPTION_CHARS, "what the section covers"),
            "queries": {
                "type": "array",
                "items": _text(QUERY_CHARS, "a short keyword search query"),
                "minItems": 1,
                "maxItems": MAX_SECTION_QUERIES,
            },
            "subsections": {"type": "array", "items": subsection, "minItems": 0, "maxItems": MAX_SUBSECTIONS},
        }
    )
    return _object(
        {
            "title": _text(TITLE_CHARS, "title of the survey"),
            "sections": {"type": "array", "items": section, "minItems": sections, "maxItems": sections},
        }
    )
