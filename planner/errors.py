"""Errors planning raises; each says what was wrong with which input and what to do."""


class PlanningError(ValueError):
    """Planning could not proceed (for example an unusable topic)."""


class TopicError(PlanningError):
    """The topic is empty or too long to plan a survey from."""
