"""How many papers' BibTeX title, author field or LaTeX-escaped title break the TeX rules of
tests/writer/tex_rules.py (balanced braces, known commands only, specials escaped outside math),
over a corpus (default: the 46,670-paper arXiv file of ../shared/data). The last line printed
is one JSON object.

    python bench/export_tex.py [--corpus PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grounded_writer import SHARED_DATA, provenance  # noqa: E402  bench/ is the script's own folder

from tests.writer.tex_rules import tex_violations  # noqa: E402
from writer.export import bibtex_authors, latex_escape, tex_from_arxiv  # noqa: E402

CORPUS = SHARED_DATA / "arxiv" / "arxiv_cs_CL_LG_AI_2025-03_2026-07.jsonl.gz"


def paper_violations(paper: dict) -> set[str]:
    """The kinds of rule broken by one paper's exported title and authors."""
    title = "{" + tex_from_arxiv(paper["title"]) + "}"
    return (
        set(tex_violations(title))
        | set(tex_violations(bibtex_authors(paper["authors"])))
        | set(tex_violations(latex_escape(paper["title"])))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    started, counted, papers = time.perf_counter(), Counter(), 0
    with gzip.open(args.corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            papers += 1
            kinds = paper_violations(json.loads(line))
            counted.update(kinds)
            counted["papers_violating"] += bool(kinds)
    print(json.dumps({"papers": papers, **counted, **provenance(started, args.corpus)}))


if __name__ == "__main__":
    main()
