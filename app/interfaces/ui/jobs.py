"""Background jobs of the UI: survey runs and library ingests in threads of the server process.

A job belongs to the process, not to a browser session: closing the tab leaves it running,
and any later page view finds it by its key (a run id, or "ingest") in the one
:class:`JobRegistry`. Each job keeps what it reported (progress events or messages) so a
view opened late shows the whole story.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from app.workflow import is_user_error

log = logging.getLogger(__name__)

JobState = Literal["running", "done", "failed"]


def user_message(error: BaseException) -> str:
    """What to show a person for `error`: our own errors' messages (written for the user) as
    they are; anything else, a bug, as one line pointing at the server log."""
    if is_user_error(error):
        return str(error)
    return f"unexpected error ({type(error).__name__}: {error}); the server log has the details"


@dataclass
class Job:
    """One piece of background work and everything it reported so far.

    `work(report)` runs in a thread; `report` records one item (an event, a message) with
    its arrival time. `result` is what `work` returned; `error` the message of what stopped it.
    """

    key: str
    title: str
    work: Callable[[Callable[[Any], None]], Any]
    state: JobState = "running"
    result: Any = None
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    _items: list[tuple[float, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _done: threading.Event = field(default_factory=threading.Event)

    def report(self, item: Any) -> None:
        """Record one progress item (thread-safe; called from the worker)."""
        with self._lock:
            self._items.append((time.time(), item))

    def items(self) -> list[Any]:
        """Everything reported so far, oldest first."""
        with self._lock:
            return [item for _, item in self._items]

    def first_report_at(self) -> float | None:
        """When the first item arrived (epoch seconds), or None."""
        with self._lock:
            return self._items[0][0] if self._items else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends; False when `timeout` passed first."""
        return self._done.wait(timeout)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def _run(self) -> None:
        try:
            self.result = self.work(self.report)
            self.state = "done"
        except Exception as error:
            if not is_user_error(error):
                log.exception("background job %s failed", self.key)
            self.error = user_message(error)
            self.state = "failed"
        finally:
            self.finished_at = time.time()
            self._done.set()


class JobBusyError(RuntimeError):
    """A job with the same key is still running."""


class JobRegistry:
    """The jobs of this server process, by key. One instance serves every browser session."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, key: str, title: str, work: Callable[[Callable[[Any], None]], Any]) -> Job:
        """Run `work` in a new daemon thread as job `key`; raises :class:`JobBusyError` while
        an earlier job of that key runs. A finished job of the same key is replaced."""
        with self._lock:
            current = self._jobs.get(key)
            if current is not None and current.running:
                raise JobBusyError(f"{title!r} is already running; wait for it to finish")
            job = Job(key=key, title=title, work=work)
            self._jobs[key] = job
        threading.Thread(target=job._run, name=f"cpmsurvey-job-{key}", daemon=True).start()
        return job

    def get(self, key: str) -> Job | None:
        """The latest job of `key`, running or ended, or None."""
        with self._lock:
            return self._jobs.get(key)

    def running(self, prefix: str = "") -> list[Job]:
        """Jobs still running whose key starts with `prefix`, oldest first."""
        with self._lock:
            jobs = [job for key, job in self._jobs.items() if key.startswith(prefix) and job.running]
        return sorted(jobs, key=lambda job: job.created_at)

    def forget(self, key: str) -> None:
        """Drop an ended job (a deleted run); a running one is kept."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job.running:
                del self._jobs[key]
