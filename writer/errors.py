"""Errors the writer raises; each says what failed and what to do."""


class WriterError(RuntimeError):
    """Writing could not proceed."""


class SurveyFormatError(WriterError, ValueError):
    """A survey JSON file is not one this version can read."""
