"""How the grounded writer names real papers' authors ("Smith et al."), over the whole corpus.

For every paper of the 46,670-paper arXiv corpus: the phrase writer.grounded.attribution
names its authors by, and why it differs from the plain last word of the first author's name:
the name is read family first ("Yu Xinmiao" -> "Yu"; by its own words or by the paper's other
names), or nameparser keeps more or other words ("Abdullah Al Mamun" -> "Al Mamun", "Di Wu"
-> "Wu"). Prints a sample of each kind, then the counts and the time per paper.

    .venv/bin/python bench/grounded_names.py [--corpus PATH] [--examples 10]

Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from grounded_writer import SHARED_DATA, _cpu_model  # bench/ is the script's own folder

from retriever.names import family_first, name_order
from writer.grounded.attribution import author_phrase

CORPUS = SHARED_DATA / "arxiv" / "arxiv_cs_CL_LG_AI_2025-03_2026-07.jsonl.gz"


def first_author_reading(authors: list[str], phrase: str) -> str:
    """Why `phrase` names the first author other than by the last word of their name:
    "family first, own words", "family first, paper", "nameparser", or "last word"."""
    people = [" ".join(author.split()) for author in authors if author.strip() and author != ":"]
    if not people:
        return "last word"
    if family_first(people)[0]:
        return "family first, own words" if name_order(people[0]) else "family first, paper"
    named = phrase.removesuffix(" et al.").split(" and ")[0]
    return "last word" if named == people[0].split()[-1] else "nameparser"


def main() -> None:
    """Name every paper's authors, print examples of each reading, and the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--examples", type=int, default=10)
    args = parser.parse_args()
    with gzip.open(args.corpus, "rt", encoding="utf-8") as lines:
        lists = [json.loads(line)["authors"] for line in lines]
    started = time.perf_counter()
    phrases = [author_phrase(authors)[0] for authors in lists]
    seconds = time.perf_counter() - started
    readings, shown = Counter(), Counter()
    for authors, phrase in zip(lists, phrases, strict=True):
        reading = first_author_reading(authors, phrase)
        readings[reading] += 1
        if reading != "last word" and shown[reading] < args.examples:
            shown[reading] += 1
            print(f"{reading}: {authors[:2]} -> {phrase}")
    figures = {
        "papers": len(lists),
        "first_author_readings": dict(readings.most_common()),
        "ms_per_paper": round(1000 * seconds / len(lists), 3),
        "corpus": args.corpus.name,
        "machine": _cpu_model(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
