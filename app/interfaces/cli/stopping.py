"""Ctrl-C and SIGTERM end a long command at once, leaving only what a resume continues.

Everything a run, an ingest or an index update writes is durable the moment it is written
(SQLite transactions, checkpoints written before the next step starts, files replaced by
rename), so stopping the process outright loses at most the work in flight, exactly as a
kill -9 does. Unwinding instead would wait for every section being written in a worker
thread (tens of seconds on a slow model) and run the workflow library's exit path, which
is where an interrupted run used to be recorded as finished without its output.

The signal is noticed by a watcher thread through `signal.set_wakeup_fd`, which the
interpreter writes from its C-level handler: the stop comes even while the main thread is
inside a long call into C (a model step, an embedding batch).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
SHOW_CURSOR = "\x1b[?25h"


def stop_promptly_on_signals(farewell: Callable[[int], str]) -> None:
    """From now on, SIGINT or SIGTERM prints `farewell(signal number)` to stderr and ends the
    process (exit 130 or 143). Call it from the main thread of a command that only writes
    durably (see the module docstring)."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)

    def watch() -> None:
        number = os.read(read_end, 1)[0]
        try:
            if sys.stderr.isatty():
                sys.stderr.write(SHOW_CURSOR)  # a progress display hid it; nothing will restore it
            sys.stderr.write(f"\n{farewell(number)}\n")
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            os._exit(EXIT_CODES.get(number, 128 + number))

    threading.Thread(target=watch, name="stop-on-signal", daemon=True).start()
    for number in EXIT_CODES:
        # the Python-level handler does nothing: the watcher stops the process
        signal.signal(number, lambda *_: None)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
