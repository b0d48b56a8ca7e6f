"""Checking each cited sentence against the abstracts of the papers it cites, with the LLM.

Unsupported sentences are replaced by the model's rewrite when the rewrite cites only
papers the original sentence cited, and dropped otherwise. All checks of a section go to
the model as one batch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, Field, ValidationError

from engine.types import LLM, Message, SamplingParams
from retriever.types import Paper
from writer.citations import MARKER, find_citations, format_marker
from writer.prompts import SUPPORT_PROMPT, SUPPORT_SYSTEM, render

# Sentence ends: ., ! or ? followed by space and a capital, keeping markers with their sentence.
_SENTENCE_END = re.compile(rf"(?<=[.!?])(?:\s*(?i:{MARKER.pattern}))*\s+(?=[A-Z#*\-])")


class SupportVerdict(BaseModel):
    """The model's judgement of one sentence."""

    supported: bool = Field(description="true when the abstracts support every claim of the sentence")
    rewrite: str = Field("", description="a supported rewrite keeping the markers, or empty")


@dataclass
class SupportResult:
    """The checked text and, per cited sentence, what happened to it."""

    text: str
    checks: list[dict] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph; citation markers after a full stop stay with the sentence before."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        end = match.end()
        pieces.append(paragraph[start:end].strip())
        start = end
    pieces.append(paragraph[start:].strip())
    return [piece for piece in pieces if piece]


def check_support(
    llm: LLM, text: str, papers: Mapping[str, Paper], params: SamplingParams, max_abstract_words: int = 200
) -> SupportResult:
    """Judge every sentence of `text` that cites papers; rewrite or drop unsupported ones."""
    # Line by line, so that headings and paragraph breaks survive rewriting.
    split = [[line] if line.lstrip().startswith("#") else split_sentences(line) for line in text.split("\n")]
    located: list[tuple[int, int, str, list[str]]] = []
    for line_index, sentences in enumerate(split):
        for s_index, sentence in enumerate(sentences):
            cited = [arxiv_id for arxiv_id in dict.fromkeys(find_citations(sentence)) if arxiv_id in papers]
            if cited and not sentence.lstrip().startswith("#"):
                located.append((line_index, s_index, sentence, cited))
    result = SupportResult(text=text)
    if not located:
        return result
    conversations: list[list[Message]] = []
    for _, _, sentence, cited in located:
        abstracts = "\n".join(
            f"{format_marker(i)} {papers[i].title}: {' '.join(papers[i].abstract.split()[:max_abstract_words])}"
            for i in cited
        )
        conversations.append(
            [
                {"role": "system", "content": SUPPORT_SYSTEM},
                {"role": "user", "content": render(SUPPORT_PROMPT, sentence=sentence, abstracts=abstracts)},
            ]
        )
    completions = llm.batch_chat(conversations, params, schema=SupportVerdict)
    for (line_index, s_index, sentence, cited), completion in zip(located, completions, strict=True):
        result.prompt_tokens += completion.prompt_tokens
        result.completion_tokens += completion.completion_tokens
        try:
            verdict = SupportVerdict.model_validate_json(completion.text)
        except ValidationError:
            result.checks.append({"sentence": sentence, "cited": cited, "verdict": "unreadable", "action": "kept"})
            continue
        if verdict.supported:
            result.checks.append({"sentence": sentence, "cited": cited, "verdict": "supported", "action": "kept"})
            continue
        rewrite = " ".join(verdict.rewrite.split())
        rewrite_ids = set(find_citations(rewrite))
        if rewrite and rewrite_ids and rewrite_ids <= set(cited):
            split[line_index][s_index] = rewrite
            action = "rewritten"
        else:
            split[line_index][s_index] = ""
            action = "dropped"
        result.checks.append(
            {"sentence": sentence, "cited": cited, "verdict": "unsupported", "action": action, "rewrite": rewrite}
        )
    lines = [" ".join(sentence for sentence in sentences if sentence) for sentences in split]
    result.text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return result
