"""Checking a topic before any work is spent on it."""

from __future__ import annotations

from planner.errors import TopicError

MAX_TOPIC_CHARS = 300
MAX_TOPIC_WORDS = 40


def validate_topic(topic: str) -> str:
    """The topic with its whitespace normalised; raises :class:`TopicError` when it is empty
    or longer than a title (a pasted paragraph makes poor search queries)."""
    normalized = " ".join((topic or "").split())
    if not normalized:
        raise TopicError("the topic is empty; give a short description, e.g. 'retrieval-augmented generation'")
    words = len(normalized.split())
    if len(normalized) > MAX_TOPIC_CHARS or words > MAX_TOPIC_WORDS:
        raise TopicError(
            f"the topic is {len(normalized)} characters and {words} words; give a title-length topic "
            f"(at most {MAX_TOPIC_CHARS} characters and {MAX_TOPIC_WORDS} words), starting {normalized[:60]!r}"
        )
    return normalized
