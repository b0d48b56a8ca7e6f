"""Logging through the standard library; the CLI decides the level, library code only logs."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

from app.workflow import OUR_PACKAGES


def configure_logging(verbose: int, default_level: str = "WARNING") -> None:
    """Route cpmsurvey's loggers to stderr, so that stdout carries only a command's output
    (`search --json`). ``verbose`` counts ``-v`` flags: 1 is INFO, 2 DEBUG."""
    level = {0: getattr(logging, default_level), 1: logging.INFO}.get(verbose, logging.DEBUG)
    # rich's default console writes to stdout
    handler = RichHandler(console=Console(stderr=True), show_path=verbose >= 2, rich_tracebacks=False, markup=False)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s", handlers=[handler], force=True)
    for name in sorted(OUR_PACKAGES):
        logging.getLogger(name).setLevel(level)
