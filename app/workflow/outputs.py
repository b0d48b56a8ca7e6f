"""Writing a survey's files into its run folder, each atomically (temp file, then rename),
so a crash never leaves a half-written survey where a finished one was; the temporary files
a killed write left are removed by the next one. The model's text is sanitized first
(writer.sanitize): what was removed is recorded in the survey's metadata."""

from __future__ import annotations

import time
from pathlib import Path

from retriever.atomic_write import write_atomically
from retriever.write_lock import remove_stale
from writer.sanitize import sanitize_survey
from writer.survey import Survey

# survey.json goes last: its presence marks a finished run (the batch runner relies on it).
OUTPUT_FILES = ("survey.md", "survey.bib", "survey.tex", "survey.json")
# Where an interface puts an outline for a human to edit (the run API deletes it with the run).
OUTLINE_REVIEW_FILE = "outline.review.json"


def write_outputs(survey: Survey, folder: str | Path, stage_started: float | None = None) -> Path:
    """Write survey.md, survey.bib, survey.tex and survey.json into `folder`; returns it.

    The texts written are sanitized; each removal is a note in ``metadata["sanitized"]``
    and among ``metadata["warnings"]`` (of `survey` too, whose metadata is shared). With
    `stage_started` (a ``time.perf_counter()`` value), the seconds spent assembling up to
    the JSON are recorded in ``metadata["timings_s"]["assemble"]``.
    """
    folder = Path(folder)
    remove_stale_temporaries(folder)
    survey, notes = sanitize_survey(survey)
    if notes:
        survey.metadata["sanitized"] = notes
        survey.metadata["warnings"] = [*survey.metadata.get("warnings", []), *notes]
    rendered = {"survey.md": survey.to_markdown(), "survey.bib": survey.to_bibtex(), "survey.tex": survey.to_latex()}
    if stage_started is not None:
        survey.metadata.setdefault("timings_s", {})["assemble"] = round(time.perf_counter() - stage_started, 3)
    rendered["survey.json"] = survey.to_json()
    for name in OUTPUT_FILES:
        write_atomically(folder / name, rendered[name])
    return folder


def remove_stale_temporaries(folder: Path) -> None:
    """Remove what output writes a kill interrupted left (`.survey.bib.*.tmp`, folders of
    retriever.atomic_write or files of older versions); a run's files are written by one
    process at a time, so none is in use."""
    remove_stale(folder, [f".{name}.*.tmp" for name in OUTPUT_FILES])


def is_finished(folder: str | Path) -> bool:
    """Whether `folder` holds a finished survey."""
    return (Path(folder) / "survey.json").is_file()
