"""Stated facts whose clause lost its subject when a leading phrase was stripped.

The grounded writer states a sentence without "we" as "Fu et al. note that X" (open problems)
or "Smith et al. report that X". When compression drops a fronted phrase that was really the
subject, or a phrase whose comma was inside it, X no longer has a subject: "note that
domain-specialized tasks remains challenging" (the source: "However, training them to succeed on
long-horizon, domain-specialized tasks remains challenging."). For each paper of the
5,000-paper sample, its contribution and open-problem facts (as bench/grounded_pronouns.py
states them) are checked; X counts when it

- opens with a word that continues a phrase rather than starting a clause: "and", "or", "but",
  "which", "who", "whereas", "than", "thereby", "thus" (`continuation`);
- opens with a finite verb, its subject gone: "is", "remains", "can" ... (`verb_first`);
- opens with a participle (optionally after "often"/"also"; not an adjective such as
  "existing") and has no finite verb outside a "whether" clause nor a pronoun subject: "often
  requiring extensive trial and error", "asking whether an action succeeds, rather than ..."
  (`participle`);
- opens with a noun phrase whose plural last noun precedes a verb needing a singular subject:
  "domain-specialized tasks remains" (`disagreement`; not after a gerund or a wh-word);
- opens with a list continued by ", and" with no finite verb before: "object detection, and
  segmentation, the ..." (`list`).

The detector is lexical and its own (word lists here, lemminflect for plurals), not the
writer's rule. It misses a singular noun left before its verb ("zero-shot manner remains
challenging", from "leveraging such models in a Plug & Play, zero-shot manner") and a
subordinate clause left without its main one ("as the few datasets available are ..."), so a
diff of two dumps is read as well. `--count FILE` counts a facts file written by any writer version
(`bench/grounded_pronouns.py --dump FILE`).

    .venv/bin/python bench/grounded_subjects.py [--count facts.json]

Prints the flagged facts, then one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

from grounded_pronouns import stated_facts  # bench/ is the script's own folder
from grounded_writer import SAMPLE, load, provenance
from lemminflect import getAllLemmas

from writer.grounded.compress import is_plural_noun

_STATED_CLAUSE = re.compile(r"\b(?:notes?|reports?) that (.+?)(?: \[arXiv:[^\]]+\])?\.$")
_WORD = re.compile(r"[A-Za-z][\w'-]*")
_CONTINUATIONS = frozenset(
    {"and", "or", "nor", "but", "which", "who", "whom", "whose", "whereas", "than", "thereby", "thus"}
)
_AUXILIARIES = frozenset(
    {
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "does",
        "do",
        "did",
        "remains",
        "remain",
        "can",
        "could",
        "may",
        "might",
        "must",
        "should",
        "will",
        "would",
    }
)
_SINGULAR = frozenset(
    {"is", "was", "has", "does", "remains", "seems", "appears", "becomes", "requires", "involves", "poses", "lacks"}
)
_WH_WORDS = frozenset({"whether", "that", "which", "if", "when", "how", "what", "where", "why", "who"})
_DETERMINERS = frozenset({"the", "a", "an", "this", "these", "those", "our", "their", "its", "we", "they", "it"})
_FUNCTION = frozenset(
    {
        "of",
        "in",
        "on",
        "for",
        "to",
        "with",
        "by",
        "from",
        "at",
        "as",
        "and",
        "or",
        "than",
        "that",
        "which",
        "via",
        "over",
        "under",
        "into",
        "against",
        "across",
        "between",
        "among",
        "within",
        "without",
        "about",
        "through",
        "during",
        "beyond",
        "toward",
        "towards",
        "per",
        "like",
        "upon",
        "including",
    }
)


def stated_clause(text: str) -> str | None:
    """The clause a fact states after "note(s)/report(s) that", or None for other facts."""
    match = _STATED_CLAUSE.search(text)
    return match.group(1) if match else None


def _participle(word: str) -> bool:
    """An "-ing" verb form that is no adjective ("asking", "training"; not "existing")."""
    readings = getAllLemmas(word.lower())
    return word.lower().endswith("ing") and "VERB" in readings and "ADJ" not in readings


def _finite(word: str) -> bool:
    """An auxiliary, or an "-s"/"-ed" form that can only be a verb ("suffers", "requires")."""
    lowered = word.lower()
    readings = getAllLemmas(lowered)
    return lowered in _AUXILIARIES or (
        set(readings) == {"VERB"} and lowered.endswith(("s", "ed")) and lowered not in readings["VERB"]
    )


def lost_subject(clause: str) -> str | None:
    """Why `clause` reads as having lost its subject (a category above), or None."""
    words = _WORD.findall(clause)
    if not words:
        return None
    first = words[0].lower()
    if first in _CONTINUATIONS:
        return "continuation"
    if first in _AUXILIARIES:
        return "verb_first"
    opening = words[1:] if first in {"often", "also", "thus"} and len(words) > 1 else words
    own_words = _WORD.findall(re.sub(r"\bwhether\b[^,;:]*", "", clause))
    after_pronoun = any(word.lower() in {"we", "they", "it"} for word in own_words[:-1])  # "..., they design"
    if _participle(opening[0]) and not after_pronoun and not any(_finite(word) for word in own_words):
        return "participle"
    subject_words = words[1:] if first.endswith("ly") else words
    if first not in _WH_WORDS and not _participle(subject_words[0]):
        for index, word in enumerate(words[:8]):
            if word.lower() in _SINGULAR:
                if index > 0 and is_plural_noun(words[index - 1]):
                    return "disagreement"
                break
            if word.lower() in _FUNCTION:
                break
    listed = re.match(r"^([^,;:]{1,60}),\s+(?:and|or)\s", clause)
    if listed and first not in _DETERMINERS and not any(_finite(word) for word in _WORD.findall(listed.group(1))):
        return "list"
    return None


def main() -> None:
    """Count, print the flagged facts, and print the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=Path, help="count the facts of this JSON file instead of writing them")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.count:
        facts = json.loads(args.count.read_text(encoding="utf-8"))
    else:
        facts, _ = stated_facts(load(SAMPLE))
    by_reason, checked = Counter(), 0
    for fact in facts:
        clause = stated_clause(fact["text"])
        if clause is None:
            continue
        checked += 1
        reason = lost_subject(clause)
        if reason:
            by_reason[reason] += 1
            print(f"{reason}\t{fact['id']}\t{fact['kind']}\t{fact['text'][:200]}")
    figures = {
        "facts": len(facts),
        "stated_clauses_checked": checked,
        "lost_subject": sum(by_reason.values()),
        "by_reason": dict(sorted(by_reason.items())),
        **provenance(started, args.count),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
