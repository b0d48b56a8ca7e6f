"""Pronouns of others stated as the authors' own, in the facts the grounded writer quotes.

For each paper of the 5,000-paper sample, the writer's contribution fact and open-problem fact
(writer.grounded.choose) are taken as a survey would state them ("Shin et al. demonstrate its
effectiveness ..."). A fact counts when its source sentence, compressed, holds a pronoun
without a referent in it (writer.grounded.dangling.foreign_pronouns: "they/them/their",
"its", "it") and the stated text still holds that pronoun: after the authors' names it reads
as theirs. Counted by pronoun, with the facts and skips in all.

`--dump FILE` writes the facts (id, kind, source, text) as JSON; `--count FILE` counts the
facts of such a file, written by any version of the writer, with this version's detector, so
that the facts an older writer stated can be measured by the newer rule.

    .venv/bin/python bench/grounded_pronouns.py [--dump facts.json] [--count facts.json]

Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

from grounded_writer import SAMPLE, load, provenance  # bench/ is the script's own folder

from retriever.types import Paper
from writer.grounded.choose import Fact, contribution_fact, limitation_fact
from writer.grounded.compress import compress_sentence
from writer.grounded.dangling import foreign_pronouns


def stated_facts(papers: list[Paper]) -> tuple[list[dict], int]:
    """The contribution and open-problem facts of `papers` as dicts, and how many were skipped."""
    facts, skipped = [], 0
    for paper in papers:
        for kind, fact in (("contribution", contribution_fact(paper)), ("limitation", limitation_fact(paper))):
            if isinstance(fact, Fact):
                facts.append({"id": paper.arxiv_id, "kind": kind, "source": fact.source, "text": fact.text})
            else:
                skipped += 1
    return facts, skipped


def foreign_stated(fact: dict) -> list[str]:
    """The pronouns without a referent in `fact`'s compressed source that its text still states."""
    compressed = compress_sentence(fact["source"]) or fact["source"]
    return [
        pronoun.lower()
        for pronoun in foreign_pronouns(compressed)
        if re.search(rf"\b{re.escape(pronoun)}\b", fact["text"], re.IGNORECASE)
    ]


def count(facts: list[dict]) -> dict:
    """Facts stating a foreign pronoun, by pronoun, with examples."""
    by_pronoun, examples = Counter(), []
    for fact in facts:
        found = set(foreign_stated(fact))
        for pronoun in found:
            by_pronoun[pronoun] += 1
        if found:
            examples.append(f"{fact['id']}: {fact['text'][:160]}")
    return {
        "facts_with_foreign_pronoun": sum(1 for fact in facts if foreign_stated(fact)),
        "by_pronoun": dict(sorted(by_pronoun.items())),
        "examples": examples,
    }


def main() -> None:
    """Count, print examples, and print the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", type=Path, help="write the stated facts to this JSON file")
    parser.add_argument("--count", type=Path, help="count the facts of this JSON file instead of writing them")
    args = parser.parse_args()
    started = time.perf_counter()
    skipped = None
    if args.count:
        facts = json.loads(args.count.read_text(encoding="utf-8"))
    else:
        facts, skipped = stated_facts(load(SAMPLE))
        if args.dump:
            args.dump.write_text(json.dumps(facts, ensure_ascii=False, indent=0), encoding="utf-8")
    counted = count(facts)
    for example in counted.pop("examples"):
        print(example)
    figures = {
        "facts": len(facts),
        "skipped": skipped,
        **counted,
        **provenance(started, args.count),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
