"""Test doubles for the workflow: a scripted, deterministic LLM and a small in-memory
retriever over a slice of the real corpus. No network, no model weights."""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from engine.errors import BackendUnavailableError
from engine.types import Completion, SamplingParams
from retriever.types import Hit, Paper, SearchFilters

SAMPLE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "arxiv" / "arxiv_cs_CL_LG_AI_sample5k.jsonl.gz"
)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "is",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "we",
        "this",
        "that",
        "our",
    ]
)
INVALID_ID = "2501.99999"


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


class MemoryRetriever:
    """BM25 over titles and abstracts of a few hundred real papers; multi-query by RRF."""

    def __init__(self, papers: Sequence[Paper]) -> None:
        self.papers = list(papers)
        self.docs = [Counter(words(f"{p.title} {p.title} {p.abstract}")) for p in self.papers]
        self.lengths = [sum(doc.values()) for doc in self.docs]
        self.average = sum(self.lengths) / max(len(self.lengths), 1)
        frequency = Counter(term for doc in self.docs for term in doc)
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequency.items()}
        self.queries: list[str] = []

    def search(self, query: str, k: int = 20, filters: SearchFilters | None = None) -> list[Hit]:
        self.queries.append(query)
        terms = set(words(query))
        scored = []
        for paper, doc, length in zip(self.papers, self.docs, self.lengths, strict=True):
            score = sum(
                self.idf[t] * doc[t] * 2.2 / (doc[t] + 1.2 * (0.25 + 0.75 * length / self.average))
                for t in terms
                if t in doc
            )
            if score > 0 and (filters is None or filters.accepts(paper)):
                scored.append(Hit(paper, score, {"bm25": 0}))
        scored.sort(key=lambda hit: (-hit.score, hit.paper.arxiv_id))
        for rank, hit in enumerate(scored):
            hit.ranks = {"bm25": rank}
        return scored[:k]

    def search_many(self, queries: Sequence[str], k: int = 100, filters: SearchFilters | None = None) -> list[Hit]:
        fused: dict[str, Hit] = {}
        scores: Counter = Counter()
        for query in queries:
            for rank, hit in enumerate(self.search(query, k, filters)):
                scores[hit.paper.arxiv_id] += 1 / (60 + rank)
                fused.setdefault(hit.paper.arxiv_id, hit)
        ordered = sorted(scores, key=lambda i: (-scores[i], i))[:k]
        return [Hit(fused[i].paper, scores[i], {"rrf": r}) for r, i in enumerate(ordered)]

    def get(self, arxiv_ids: Sequence[str]) -> list[Paper]:
        by_id = {p.arxiv_id: p for p in self.papers}
        return [by_id[i] for i in arxiv_ids if i in by_id]


def load_slice(count: int) -> list[Paper]:
    if not SAMPLE.is_file():
        pytest.skip(f"real data not found at {SAMPLE}")
    papers = []
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as lines:
        for line in lines:
            papers.append(Paper.from_dict(json.loads(line)))
            if len(papers) >= count:
                break
    return papers


GOOD_OUTLINE = {
    "title": "A Survey of Reasoning in Large Language Models",
    "sections": [
        {
            "title": f"Section {name}",
            "description": f"How {name} is studied.",
            "queries": [f"language model {name}"],
            "subsections": [{"title": f"{name} methods", "description": "methods"}],
        }
        for name in ("reasoning", "reinforcement learning", "evaluation benchmarks", "agents")
    ],
}
IDS_IN_PROMPT = re.compile(r"^\[arXiv:([^\]]+)\]", re.MULTILINE)
SECTION_TITLE = re.compile(r'Write the section "([^"]+)"')


class ScriptedLLM:
    """Answers by prompt: JSON for planning, prose citing its given papers for sections
    (plus one citation to a paper it was not given, which the checker must remove).

    `outlines` are returned in turn for outline requests (the last one repeats).
    `fail_on_section_call` (1-based) raises a backend error on that request to write a
    section; `kill_on_section_call` kills the process (SIGKILL) instead: the hardest crash
    there is. `finished_log` (a path) gets one line per section answered.
    """

    name = "scripted"

    def __init__(
        self,
        outlines: Sequence[str] | None = None,
        fail_on_section_call: int | None = None,
        kill_on_section_call: int | None = None,
        finished_log: Path | None = None,
        context_window: int = 8192,
        section_text: Callable[[str, list[str]], str] | None = None,
    ) -> None:
        self.outlines = list(outlines or [json.dumps(GOOD_OUTLINE)])
        self.fail_on_section_call = fail_on_section_call
        self.kill_on_section_call = kill_on_section_call
        self.finished_log = finished_log
        self._context_window = context_window
        self.section_text = section_text or self.default_section_text
        self.calls: list[tuple[str, str]] = []
        self.grammars: list[str | None] = []

    @property
    def context_window(self) -> int:
        return self._context_window

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    @staticmethod
    def default_section_text(title: str, ids: list[str]) -> str:
        first, second = (ids + ids)[:2]
        return (
            f"## {title}\n\nWork on {title.lower()} has grown quickly [arXiv:{first}]. "
            f"Later studies extend it to new settings [arXiv:{second}][arXiv:{INVALID_ID}].\n\n"
            f"### Details\n\nOpen questions remain about {title.lower()} [3]."
        )

    def _answer(self, messages, schema, grammar) -> str:
        prompt = messages[-1]["content"]
        name = getattr(schema, "__name__", None)
        if isinstance(schema, dict):  # the planner's bounded schemas, or any schema sent to a server
            properties = schema.get("properties", {})
            name = next(
                (
                    n
                    for key, n in (("sections", "Outline"), ("queries", "QueryPlan"), ("supported", "SupportVerdict"))
                    if key in properties
                ),
                None,
            )
        if name == "QueryPlan":
            self.calls.append(("queries", ""))
            return json.dumps({"queries": ["language model reasoning", "reinforcement learning reasoning"]})
        if name == "Outline":
            self.calls.append(("outline", ""))
            return self.outlines.pop(0) if len(self.outlines) > 1 else self.outlines[0]
        if name == "SupportVerdict":
            self.calls.append(("support", ""))
            return json.dumps({"supported": "section agents" not in prompt.lower(), "rewrite": ""})
        title = SECTION_TITLE.search(prompt)
        if title:
            self.calls.append(("section", title.group(1)))
            self.grammars.append(grammar)
            requests = sum(1 for kind, _ in self.calls if kind == "section")
            if self.fail_on_section_call == requests:
                raise BackendUnavailableError("the server at http://127.0.0.1:8000/v1 stopped answering")
            if self.kill_on_section_call == requests:
                # A real call takes seconds; let the section that just finished save its
                # checkpoint write as it would have in that time, then die mid-request.
                time.sleep(0.5)
                os.kill(os.getpid(), signal.SIGKILL)
            if self.finished_log is not None:
                with open(self.finished_log, "a", encoding="utf-8") as log:
                    log.write(title.group(1) + "\n")
            return self.section_text(title.group(1), IDS_IN_PROMPT.findall(prompt))
        part = re.search(r"Write the (\w+) of this survey", prompt)
        self.calls.append(("frame", part.group(1) if part else "?"))
        return f"This {part.group(1) if part else 'part'} summarises the survey."

    def chat(self, messages, params: SamplingParams, schema=None) -> Completion:
        text = self._answer(messages, schema, None)
        return Completion(text, self.count_tokens(messages[-1]["content"]), self.count_tokens(text))

    def stream(self, messages, params: SamplingParams, schema=None, grammar=None):
        text = self._answer(messages, schema, grammar)
        yield from (text[i : i + 16] for i in range(0, len(text), 16))

    def batch_chat(self, conversations, params: SamplingParams, schema=None, grammar=None) -> list[Completion]:
        return [self.chat(messages, params, schema) for messages in conversations]


@pytest.fixture(scope="session")
def corpus_slice() -> list[Paper]:
    """The first 400 papers of the real 5,000-paper sample."""
    return load_slice(400)


@pytest.fixture()
def retriever(corpus_slice) -> MemoryRetriever:
    return MemoryRetriever(corpus_slice)


@pytest.fixture()
def settings(tmp_path):
    from app.settings import Settings

    # The scripted model writes abstractively: these tests exercise the model's path; the
    # grounded path has its own tests (tests/app/workflow/test_grounded_run.py).
    return Settings(
        data_dir=tmp_path / "data",
        generate={"sections": 4, "words_per_section": 120},
        writer={"mode": "abstractive"},
    )


@pytest.fixture()
def make_llm():
    """The ScriptedLLM class (conftest modules are not importable by name)."""
    return ScriptedLLM


@pytest.fixture()
def good_outline() -> dict:
    return json.loads(json.dumps(GOOD_OUTLINE))


@pytest.fixture()
def invalid_id() -> str:
    return INVALID_ID


@pytest.fixture()
def make_retriever():
    """The MemoryRetriever class."""
    return MemoryRetriever
