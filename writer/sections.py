"""Writing one section with its papers in context."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from engine.citation_marker import OPEN, SCHEME, format_marker
from engine.types import LLM, Message, SamplingParams
from retriever.types import Paper
from writer.citations import MARKER
from writer.context import PaperContext, fit_papers
from writer.prompts import SECTION_PROMPT, SUBSECTIONS_LINE, WRITER_SYSTEM, render

log = logging.getLogger(__name__)

# Tokens kept free for the chat template's special tokens and tokenizer disagreement.
TEMPLATE_MARGIN_TOKENS = 64
TOKENS_PER_WORD = 1.6
_PREAMBLE = re.compile(r"^\s*(sure|certainly|here is|here's|below is)\b.*:\s*$", re.IGNORECASE)
_TRAILING_REFERENCES = re.compile(r"\n#+\s*(references|bibliography)\b.*\Z", re.IGNORECASE | re.DOTALL)
# A marker the token budget cut before its closing bracket: "... [arXiv:2505.139"
_UNCLOSED_MARKER = re.compile(rf"\s*{re.escape(OPEN)}\s*{SCHEME}\b[^\[\]]*\Z", re.IGNORECASE)
# Where the last finished sentence ends: terminal punctuation, closing quotes or brackets,
# then any markers that follow it ("... as shown. [arXiv:2503.11851]").
_SENTENCE_END = re.compile(rf"[.!?][\"'”’)\]]*(?:\s*{MARKER.pattern})*(?=\s|\Z)", re.IGNORECASE)


@dataclass
class SectionRequest:
    """What one section should be about."""

    topic: str
    survey_title: str
    title: str
    description: str
    words: int
    subsections: list[str] = field(default_factory=list)


@dataclass
class SectionDraft:
    """A written section before citation checking, with the papers it was given."""

    text: str
    given: list[Paper]
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    abstract_words: int | None
    notes: list[str] = field(default_factory=list)


def max_new_tokens_for(words: int) -> int:
    """Generation budget for a section of about `words` words."""
    return int(words * TOKENS_PER_WORD) + 64


def reached_budget(tokens: int, max_new_tokens: int) -> bool:
    """Whether a streamed answer of `tokens` tokens (counted again from its text, which can
    differ from the generated count by a few) was stopped by its budget."""
    return tokens >= max_new_tokens - max(2, max_new_tokens // 50)


def build_section_messages(
    llm: LLM, request: SectionRequest, papers: Sequence[Paper], max_new_tokens: int
) -> tuple[list[Message], PaperContext]:
    """The conversation that writes `request`, holding as many of `papers` (best first) as
    the model's context window leaves room for after the instructions and the answer."""
    subsections = render(SUBSECTIONS_LINE, subsections="; ".join(request.subsections)) if request.subsections else ""
    example = format_marker(papers[0].arxiv_id if papers else "2503.11851")

    def prompt_with(block: str) -> str:
        return render(
            SECTION_PROMPT,
            topic=request.topic,
            survey_title=request.survey_title,
            papers=block,
            section_title=request.title,
            section_description=request.description or request.title,
            subsections=subsections,
            words=request.words,
            example_marker=example,
        )

    skeleton_tokens = llm.count_tokens(WRITER_SYSTEM) + llm.count_tokens(prompt_with(""))
    budget = llm.context_window - max_new_tokens - skeleton_tokens - TEMPLATE_MARGIN_TOKENS
    context = fit_papers(papers, max(budget, 0), llm.count_tokens)
    messages: list[Message] = [
        {"role": "system", "content": WRITER_SYSTEM},
        {"role": "user", "content": prompt_with(context.block)},
    ]
    return messages, context


def clean_section_text(text: str, title: str, truncated: bool = False) -> str:
    """Model output as section body: no repeated title heading, no chatty preamble
    ("Here is the introduction:"), no reference list, no unclosed citation marker; and when
    the token budget cut the answer (`truncated`), no unfinished last sentence."""
    lines = text.strip().splitlines()
    while lines and (not lines[0].strip() or _is_title_line(lines[0], title) or _PREAMBLE.match(lines[0])):
        lines.pop(0)
    body = _UNCLOSED_MARKER.sub("", _TRAILING_REFERENCES.sub("", "\n".join(lines))).strip()
    return drop_unfinished_sentence(body) if truncated else body


def drop_unfinished_sentence(text: str) -> str:
    """`text` without a last sentence that the token budget left unfinished, back to the
    previous finished one. An unfinished sentence that cites a paper is kept (a citation is
    worth more than a tidy ending), and so is a text without any finished sentence."""
    ends = list(_SENTENCE_END.finditer(text))
    if not ends or ends[-1].end() == len(text):
        return text
    tail = text[ends[-1].end() :]
    return text if MARKER.search(tail) else text[: ends[-1].end()].rstrip()


def _is_title_line(line: str, title: str) -> bool:
    stripped = line.strip().lstrip("#").strip().strip("*").strip()
    return line.lstrip().startswith("#") or stripped.lower() == title.lower()


def write_section(
    llm: LLM,
    request: SectionRequest,
    papers: Sequence[Paper],
    params: SamplingParams,
    grammar_for: Callable[[list[str]], str] | None = None,
    on_text: Callable[[str], None] | None = None,
) -> SectionDraft:
    """Write one section citing only the papers that fit in its prompt.

    `grammar_for(allowed_ids)` (when given) returns a grammar under which a citation marker
    can only hold those ids; `on_text` receives text pieces as they are generated. An empty
    answer is retried once with another seed, then returned empty with a note.
    """
    params = dataclasses.replace(params, max_new_tokens=max_new_tokens_for(request.words))
    messages, context = build_section_messages(llm, request, papers, params.max_new_tokens)
    allowed = [paper.arxiv_id for paper in context.papers]
    grammar = grammar_for(allowed) if grammar_for and allowed else None
    prompt_tokens = sum(llm.count_tokens(message["content"]) for message in messages)
    notes = []
    if len(context.papers) < len(papers):
        notes.append(
            f"section {request.title!r}: {len(context.papers)} of {len(papers)} papers fit the context window "
            f"of {llm.context_window} tokens"
        )
    started = time.perf_counter()
    completion_tokens = 0
    text = ""
    for attempt in range(2):
        pieces = []
        for piece in llm.stream(messages, params, grammar=grammar):
            pieces.append(piece)
            if on_text is not None:
                on_text(piece)
        raw = "".join(pieces)
        tokens = llm.count_tokens(raw) if raw else 0
        completion_tokens += tokens
        text = clean_section_text(raw, request.title, truncated=reached_budget(tokens, params.max_new_tokens))
        if text:
            break
        log.info("section %r: empty answer on attempt %d", request.title, attempt + 1)
        params = dataclasses.replace(params, seed=(params.seed or 0) + 1)
    if not text:
        notes.append(f"section {request.title!r}: the model returned no text twice")
    return SectionDraft(
        text=text,
        given=list(context.papers),
        prompt_tokens=prompt_tokens * (attempt + 1),
        completion_tokens=completion_tokens,
        seconds=time.perf_counter() - started,
        abstract_words=context.abstract_words,
        notes=notes,
    )


def write_sections_batch(
    llm: LLM,
    requests: Sequence[SectionRequest],
    papers: Sequence[Sequence[Paper]],
    params: SamplingParams,
    grammar_for: Callable[[list[str]], str] | None = None,
) -> list[SectionDraft]:
    """Write several sections in one `batch_chat` call (several sequences decode together,
    which pays on the local engine).

    One grammar serves the whole batch, so it admits the ids of every section's papers; the
    citation check afterwards removes a citation to another section's paper. An empty answer
    is returned empty with a note (no retry).
    """
    longest = max(request.words for request in requests)
    params = dataclasses.replace(params, max_new_tokens=max_new_tokens_for(longest))
    built = [build_section_messages(llm, r, p, params.max_new_tokens) for r, p in zip(requests, papers, strict=True)]
    allowed = list(dict.fromkeys(paper.arxiv_id for _, context in built for paper in context.papers))
    grammar = grammar_for(allowed) if grammar_for and allowed else None
    started = time.perf_counter()
    completions = llm.batch_chat([messages for messages, _ in built], params, grammar=grammar)
    seconds = time.perf_counter() - started
    drafts = []
    for request, (_, context), completion, given in zip(requests, built, completions, papers, strict=True):
        text = clean_section_text(completion.text, request.title, truncated=completion.finish_reason == "length")
        notes = [] if text else [f"section {request.title!r}: the model returned no text"]
        if len(context.papers) < len(given):
            notes.append(
                f"section {request.title!r}: {len(context.papers)} of {len(given)} papers fit the context window "
                f"of {llm.context_window} tokens"
            )
        drafts.append(
            SectionDraft(
                text=text,
                given=list(context.papers),
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                seconds=seconds,
                abstract_words=context.abstract_words,
                notes=notes,
            )
        )
    return drafts
