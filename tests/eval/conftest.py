"""A scripted judge (answers decided by the prompt's text) and small hand-built surveys."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from types import SimpleNamespace

import numpy as np
import pytest

from engine.types import Completion, Message, SamplingParams
from retriever.types import Paper
from writer.survey import Survey, SurveySection


class ScriptedLLM:
    """An engine.LLM whose reply to a conversation is `answer(last user message)`."""

    context_window = 8192

    def __init__(self, answer: Callable[[str], str], name: str = "scripted-judge") -> None:
        self.name = name
        self.answer = answer
        self.calls = 0
        self.prompts: list[str] = []

    def chat(self, messages: Sequence[Message], params: SamplingParams, schema=None, grammar=None) -> Completion:
        self.calls += 1
        prompt = messages[-1]["content"] if messages[-1]["role"] == "user" else ""
        self.prompts.append(prompt)
        return Completion(text=self.answer(prompt), prompt_tokens=10, completion_tokens=5)

    def stream(self, messages, params, schema=None, grammar=None):
        yield self.chat(messages, params, schema).text

    def batch_chat(self, conversations, params, schema=None, grammar=None) -> list[Completion]:
        return [self.chat(messages, params, schema) for messages in conversations]

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def field(prompt: str, name: str) -> str:
    """The text after 'Name:' on its line in a judge prompt."""
    match = re.search(rf"^{name}: (.*)$", prompt, re.MULTILINE)
    return match.group(1) if match else ""


def reply(**values) -> str:
    return json.dumps(values)


class WordEmbedder:
    """Deterministic bag-of-words vectors (hashing), unit length: same words, cosine 1."""

    name = "word-hash"
    dimension = 64
    backend = "test"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                vectors[row, sum(map(ord, word)) % self.dimension] += 1
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.clip(norms, 1e-9, None)


def paper(arxiv_id: str, title: str, abstract: str = "") -> Paper:
    return Paper(arxiv_id=arxiv_id, title=title, abstract=abstract)


def our_survey(
    sections: dict[str, str], papers: Sequence[Paper], introduction: str = "", conclusion: str = ""
) -> Survey:
    """One of our surveys with the given section texts (markers [arXiv:ID])."""
    return Survey(
        title="A survey",
        abstract="",
        introduction=introduction,
        sections=[SurveySection(title=title, text=text) for title, text in sections.items()],
        conclusion=conclusion,
        papers={p.arxiv_id: p for p in papers},
    )


@pytest.fixture
def kit() -> SimpleNamespace:
    """The helpers above (conftest modules are not importable by name)."""
    return SimpleNamespace(
        ScriptedLLM=ScriptedLLM, field=field, reply=reply, WordEmbedder=WordEmbedder, paper=paper,
        our_survey=our_survey,
    )
