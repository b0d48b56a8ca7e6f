"""The one schema of a corpus record, checked by pydantic before a paper reaches the store.

A record is a JSON object: `id` (or `arxiv_id`), `title`, `abstract`, `authors`,
`categories`, `date` (or `published`); other keys are ignored. The rules, in the words the
ingest report uses:

- `id` is text holding an arXiv id (`2503.11851`, `cs/0112017`; a version suffix or an
  arxiv.org URL is reduced to the id). A JSON number is rejected, never converted: a
  number drops digits (`2503.11850` reads back as `2503.1185`), so no text rebuilt from it
  can be trusted to name the right paper. A missing or null id is rejected.
- `title` is non-empty text; `abstract` is text or absent. Runs of whitespace become one space.
- `authors` is a list of names (text). One text is split on commas and " and " (the arXiv
  listing form "A, B and C"). Numbers, nulls or objects among them reject the record.
- `categories` is a list of category names (text). One text is split on spaces and commas.
- `date` is "YYYY-MM-DD" text (a longer ISO timestamp is cut to its date), empty or null.
  A number is rejected (neither a year nor a Unix time is a date we can trust).

Each rejection and each split is counted by reason in the ingest report.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from retriever.types import Paper, normalize_arxiv_id

# Reasons a record is rejected, as the report prints them. They never include the value, so
# that lines with the same fault count under one reason.
NO_ID = "no id (the field is missing or null)"
ID_NUMBER = 'the id is a number; write arXiv ids as text, e.g. "2503.11851"'
ID_NOT_TEXT = "the id is not text"
ID_NOT_ARXIV = "the id is not an arXiv id (expected e.g. 2503.11851 or cs/0112017)"
NO_TITLE = "no title"
TITLE_NOT_TEXT = "the title is not text"
ABSTRACT_NOT_TEXT = "the abstract is not text"
AUTHORS_NOT_NAMES = "the authors are not a list of names (text)"
CATEGORIES_NOT_NAMES = "the categories are not a list of category names (text)"
DATE_NUMBER = 'the date is a number; write it as text, "YYYY-MM-DD"'
DATE_NOT_DATE = 'the date is not a "YYYY-MM-DD" date'
NOT_JSON = "not valid JSON"
NOT_OBJECT = "not a JSON object"
NOT_UTF8 = "not UTF-8 text"

# Values changed by a stated rule (the record is kept).
AUTHORS_SPLIT = 'authors given as one text: split on commas and " and "'
CATEGORIES_SPLIT = "categories given as one text: split on spaces and commas"

_AUTHOR_SEPARATORS = re.compile(r",|\s+and\s+")
_CATEGORY_SEPARATORS = re.compile(r"[\s,]+")


def split_author_list(text: str) -> tuple[str, ...]:
    """Names from one text in the arXiv listing form "A. Smith, B. Jones and C. Doe"."""
    return tuple(name.strip() for name in _AUTHOR_SEPARATORS.split(text) if name.strip())


def _reject(reason: str) -> PydanticCustomError:
    return PydanticCustomError("corpus_record", reason)


def _note(info: ValidationInfo, what: str) -> None:
    if isinstance(info.context, dict):
        info.context.setdefault("coerced", []).append(what)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _names(value: Any, reason: str) -> tuple[str, ...]:
    """A tuple of stripped non-empty texts from a list of texts (else `reason`)."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise _reject(reason)
    return tuple(item.strip() for item in value if item.strip())


class CorpusRecord(BaseModel):
    """One paper of a JSONL corpus, validated by the rules in this module's docstring."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    arxiv_id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published: date | None = None

    @model_validator(mode="before")
    @classmethod
    def _accepted_keys(cls, record: Any) -> Any:
        """`id` or `arxiv_id`, `date` or `published` (the first that is not null)."""
        if not isinstance(record, dict):
            raise _reject(NOT_OBJECT)
        arxiv_id = record.get("id") if record.get("id") is not None else record.get("arxiv_id")
        if arxiv_id is None:
            raise _reject(NO_ID)
        published = record.get("date") if record.get("date") is not None else record.get("published")
        return {
            "arxiv_id": arxiv_id,
            "title": record.get("title"),
            "abstract": record.get("abstract"),
            "authors": record.get("authors"),
            "categories": record.get("categories"),
            "published": published,
        }

    @field_validator("arxiv_id", mode="before")
    @classmethod
    def _arxiv_id(cls, value: Any) -> str:
        if _is_number(value):
            raise _reject(ID_NUMBER)
        if not isinstance(value, str):
            raise _reject(ID_NOT_TEXT)
        try:
            return normalize_arxiv_id(value)
        except ValueError:
            raise _reject(ID_NOT_ARXIV) from None

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, value: Any) -> str:
        if value is None:
            raise _reject(NO_TITLE)
        if not isinstance(value, str):
            raise _reject(TITLE_NOT_TEXT)
        title = " ".join(value.split())
        if not title:
            raise _reject(NO_TITLE)
        return title

    @field_validator("abstract", mode="before")
    @classmethod
    def _abstract(cls, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise _reject(ABSTRACT_NOT_TEXT)
        return " ".join(value.split())

    @field_validator("authors", mode="before")
    @classmethod
    def _authors(cls, value: Any, info: ValidationInfo) -> tuple[str, ...]:
        if isinstance(value, str):
            _note(info, AUTHORS_SPLIT)
            return split_author_list(value)
        return _names(value, AUTHORS_NOT_NAMES)

    @field_validator("categories", mode="before")
    @classmethod
    def _categories(cls, value: Any, info: ValidationInfo) -> tuple[str, ...]:
        if isinstance(value, str):
            _note(info, CATEGORIES_SPLIT)
            return tuple(part for part in _CATEGORY_SEPARATORS.split(value) if part)
        return _names(value, CATEGORIES_NOT_NAMES)

    @field_validator("published", mode="before")
    @classmethod
    def _published(cls, value: Any) -> date | None:
        if value is None or value == "":
            return None
        if _is_number(value):
            raise _reject(DATE_NUMBER)
        if not isinstance(value, str):
            raise _reject(DATE_NOT_DATE)
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise _reject(DATE_NOT_DATE) from None

    def to_paper(self) -> Paper:
        """The validated record as a Paper."""
        return Paper(
            arxiv_id=self.arxiv_id,
            title=self.title,
            abstract=self.abstract,
            authors=self.authors,
            categories=self.categories,
            published=self.published,
        )


class RecordRejected(ValueError):
    """A record broke a rule of the schema: `reason` (plain words, shared by every record with
    the same fault) and `detail` (which value, for the line-by-line list)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}{f' ({detail})' if detail else ''}")
        self.reason = reason
        self.detail = detail


def validate_record(record: Any, coerced: list[str] | None = None) -> Paper:
    """The Paper of one corpus record, or RecordRejected naming the first rule it breaks.

    The rules applied to keep the record (see the module docstring) are appended to `coerced`."""
    context: dict[str, list[str]] = {"coerced": []}
    try:
        paper = CorpusRecord.model_validate(record, context=context).to_paper()
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"]))
        reason = first["msg"] if first["type"] == "corpus_record" else f"{where}: {first['msg']}"
        raise RecordRejected(reason, f"got {first.get('input')!r:.80}") from None
    if coerced is not None:
        coerced.extend(context["coerced"])
    return paper
