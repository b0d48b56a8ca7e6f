"""The outline a survey is written from, and the query plan, as pydantic models.

The models double as JSON schemas for constrained decoding (``llm.chat(..., schema=Outline)``),
so every field carries a description the model sees.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class QueryPlan(BaseModel):
    """Search queries that together cover a topic."""

    model_config = ConfigDict(extra="ignore")

    queries: list[str] = Field(description="short keyword search queries, each on one aspect of the topic")


class Subsection(BaseModel):
    """A part of a section."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(description="heading of the subsection")
    description: str = Field("", description="one or two sentences on what the subsection covers")


class OutlineSection(BaseModel):
    """One section of the survey, with the queries that find its papers."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(description="heading of the section")
    description: str = Field("", description="one or two sentences on what the section covers")
    queries: list[str] = Field(default_factory=list, description="two to four search queries for its papers")
    subsections: list[Subsection] = Field(default_factory=list, description="zero to four subsections")


class Outline(BaseModel):
    """A survey's title and sections (introduction and conclusion are written separately)."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(description="title of the survey")
    sections: list[OutlineSection] = Field(description="the body sections, in reading order")
