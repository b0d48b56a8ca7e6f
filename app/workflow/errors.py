"""The run API's errors, and the one rule that tells an error meant for the user from a bug."""

from __future__ import annotations

# Errors raised by our own packages carry messages written for the user; anything else is
# a bug and keeps its traceback.
OUR_PACKAGES = frozenset({"app", "planner", "retriever", "writer", "engine", "kernels", "eval"})


def is_user_error(error: BaseException) -> bool:
    """Whether `error` comes from one of our packages, so its message is written for the user."""
    return type(error).__module__.split(".")[0] in OUR_PACKAGES


class WorkflowError(RuntimeError):
    """A run could not be started, resumed or finished; the message says what to do."""


class RunNotFoundError(WorkflowError):
    """No run with the given id exists in the checkpoint database."""


class RunFailedError(WorkflowError):
    """A run stopped on an error; its finished work is saved and it can be resumed."""


class OutlineEditError(WorkflowError):
    """An edited outline does not validate."""


class EmptyRetrievalError(LookupError):
    """No paper in the library matched the topic."""
