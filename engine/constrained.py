"""Grammar-constrained decoding on xgrammar: JSON schemas, EBNF grammars, citation prose.

The local engine's decode loop drives one :class:`GrammarConstraint` per constrained
sequence (the ``engine.types.TokenConstraint`` hook): ``mask_logits`` before sampling,
``accept`` with the sampled token, and it stops the sequence once ``is_finished``.

xgrammar (the library vLLM and SGLang use) compiles a grammar against the tokenizer's
vocabulary once, precomputing which tokens every grammar position accepts; a matcher then
fills a bitmask of the allowed next tokens per step in microseconds for the grammars here.
A grammar's shape matters a great deal: an ambiguous free-text rule such as
``(text | citation)*`` with ``text ::= [^[]+`` makes the parser track every way of
splitting the prose and took ~200 ms per token over SmolLM2's 49K vocabulary, while the
unambiguous ``prose (citation prose)*`` that :func:`citation_grammar` writes takes ~0.03 ms
(bench/constrained_mask.py measures it).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from typing import Any

import torch
import xgrammar as xgr
from pydantic import BaseModel

from engine.citation_marker import CLOSE, OPEN, PREFIX, SEPARATOR
from engine.errors import EngineError
from engine.types import Schema

log = logging.getLogger(__name__)

# arXiv identifiers as the retriever stores them: new style "2401.12345" (optionally with a
# version), old style "hep-th/9901001". Anything else cannot be cited, and must not be able
# to break out of an EBNF string literal.
_ARXIV_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-/]*")
# One JSON string character without escapes: any Unicode scalar value but the control
# characters, '"' and '\'. Literal characters, not \u escapes: xgrammar's regex reader
# has no escape for code points past U+FFFF.
_STRING_CHARACTER = "[ !#-\\[\\]-\ud7ff\ue000-\U0010ffff]"
# xgrammar 0.2.9 fills exact token masks for counted repetitions of up to 130 items and
# over-approximates beyond: inside a `{0,600}` string its mask let through tokens such as
# ' \n' and ' ",' that its matcher then refused (a GrammarError in the middle of decoding).
# Longer counts are written as chunks of at most this many (tests compare mask and matcher).
_REPEAT_CHUNK = 100


class GrammarError(EngineError, ValueError):
    """A schema or grammar could not be compiled, or a token broke the grammar."""


class GrammarConstraint:
    """One sequence's grammar state: which tokens may come next (engine.types.TokenConstraint).

    The bitmask of allowed tokens is computed once per step, lazily, and shared by
    ``mask_logits`` and ``is_finished``.
    """

    def __init__(self, compiled: xgr.CompiledGrammar, vocab_size: int, stop_only_bitmask: torch.Tensor) -> None:
        self._matcher = xgr.GrammarMatcher(compiled)
        self._vocab_size = vocab_size
        self._bitmask = xgr.allocate_token_bitmask(1, vocab_size)  # [1, ceil(vocab/32)] int32, on CPU
        self._stop_only = stop_only_bitmask
        self._bitmask_is_current = False
        self._device_bitmask: torch.Tensor | None = None

    def _current_bitmask(self) -> torch.Tensor:
        if not self._bitmask_is_current:
            self._matcher.fill_next_token_bitmask(self._bitmask)
            self._bitmask_is_current = True
            self._device_bitmask = None
        return self._bitmask

    def allowed_token_bitmask(self) -> torch.Tensor:
        """The packed bitmask of tokens allowed next: [ceil(vocab/32)] int32, bit j of word
        i set when token 32*i + j is allowed. A copy; for tests and diagnostics."""
        return self._current_bitmask()[0].clone()

    def mask_logits(self, logits: torch.Tensor) -> None:
        """Set the logits of tokens the grammar forbids next to -inf, in place.

        logits: [vocab] float32 (bf16 and fp16 work too) on any device; vocab is the
        model's logits width.
        """
        if logits.dim() != 1 or logits.shape[0] != self._vocab_size:
            raise GrammarError(
                f"mask_logits expects logits of shape [{self._vocab_size}], got {list(logits.shape)}; "
                "pass one sequence's logits (the constraint was built for the model's vocab size)"
            )
        bitmask = self._current_bitmask()
        if logits.device.type == "cpu":
            # xgrammar's C++ loop; "auto" was measured 10-20x slower on CPU tensors.
            xgr.apply_token_bitmask_inplace(logits.unsqueeze(0), bitmask, vocab_size=self._vocab_size, backend="cpu")
            return
        if self._device_bitmask is None:
            self._device_bitmask = bitmask.to(logits.device, non_blocking=True)
        xgr.apply_token_bitmask_inplace(logits.unsqueeze(0), self._device_bitmask, vocab_size=self._vocab_size)

    def accept(self, token_id: int) -> None:
        """Advance by one generated token. A token the mask forbade raises GrammarError."""
        if not self._matcher.accept_token(int(token_id)):
            raise GrammarError(
                f"token {token_id} is not allowed by the grammar at this point; "
                "call mask_logits on the logits before sampling"
            )
        self._bitmask_is_current = False

    def accept_text(self, text: str) -> None:
        """Advance by a piece of text (a forced prefix); raises GrammarError if it does not fit."""
        if not self._matcher.accept_string(text):
            raise GrammarError(f"text {text[:60]!r} does not fit the grammar at this point")
        self._bitmask_is_current = False

    def allowed_tokens_by_trial(self, token_ids: Iterable[int]) -> list[int]:
        """The plain reference for the bitmask: the tokens among `token_ids` that the
        matcher accepts, found by accepting each one and rolling it back. Slow (one parser
        step per token); for tests."""
        allowed = []
        for token_id in token_ids:
            if self._matcher.accept_token(int(token_id)):
                allowed.append(int(token_id))
                self._matcher.rollback(1)
        return allowed

    def is_finished(self) -> bool:
        """True once the output is complete: a stop token was accepted, or only a stop
        token may follow."""
        if self._matcher.is_terminated():
            return True
        return bool(torch.equal(self._current_bitmask()[0], self._stop_only))

    def is_complete(self) -> bool:
        """True when the text so far is a whole sentence of the grammar (a stop token may
        follow), even if it could also go on."""
        return self._matcher.is_completed()


class ConstraintFactory:
    """Compiles schemas and grammars for one tokenizer and hands out fresh constraints.

    tokenizer: a transformers tokenizer (the checkpoint's). vocab_size: the model's logits
    width, which may exceed the tokenizer's vocabulary (padded lm_head rows are never
    allowed). stop_token_ids: the tokens that end a sequence; default the tokenizer's EOS.
    Compiled grammars are cached by their text, so a schema used for every section
    compiles once. Thread-safe.
    """

    def __init__(
        self,
        tokenizer: Any,
        vocab_size: int,
        *,
        stop_token_ids: Iterable[int] | None = None,
        max_threads: int | None = None,
    ) -> None:
        stops = None if stop_token_ids is None else sorted({int(t) for t in stop_token_ids})
        self.vocab_size = int(vocab_size)
        self.tokenizer_info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=self.vocab_size, stop_token_ids=stops
        )
        threads = max_threads or min(8, os.cpu_count() or 1)
        self._compiler = xgr.GrammarCompiler(self.tokenizer_info, max_threads=threads, cache_enabled=True)
        self.stop_token_ids: list[int] = list(self.tokenizer_info.stop_token_ids)
        if not self.stop_token_ids:
            raise GrammarError("the tokenizer has no end-of-sequence token; pass stop_token_ids to ConstraintFactory")
        self._stop_only = _bitmask_of(self.stop_token_ids, self.vocab_size)

    def for_schema(self, schema: Schema) -> GrammarConstraint:
        """A constraint whose output is compact JSON that validates against `schema` (a
        pydantic model class or a JSON-schema dict). Whitespace between tokens is not
        free: small models otherwise fill the output with newlines."""
        schema_text = _schema_text(schema)
        try:
            compiled = self._compiler.compile_json_schema(schema_text, any_whitespace=False)
        except Exception as error:  # xgrammar raises RuntimeError/ValueError with its own text
            raise GrammarError(f"cannot compile the JSON schema {schema_text[:120]}...: {error}") from None
        return GrammarConstraint(compiled, self.vocab_size, self._stop_only)

    def for_grammar(self, ebnf: str) -> GrammarConstraint:
        """A constraint for an EBNF grammar in xgrammar's dialect (GBNF-like; the start
        rule is ``root``)."""
        try:
            compiled = self._compiler.compile_grammar(ebnf)
        except Exception as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise GrammarError(f"cannot compile the grammar: {first_line}") from None
        return GrammarConstraint(compiled, self.vocab_size, self._stop_only)


def citation_grammar(allowed_ids: list[str], cite_every_paragraph: bool = False) -> str:
    """EBNF for prose whose citation markers can only name `allowed_ids`.

    A marker is ``[arXiv:ID]`` or ``[arXiv:ID1; arXiv:ID2]`` (engine.citation_marker). Square brackets appear
    nowhere else (prose may not contain ``[`` or ``]``), so an unknown or malformed
    citation cannot be written at all. The rule is written without ambiguity between
    prose and markers, which keeps xgrammar's per-token mask computation in microseconds.

    cite_every_paragraph: every paragraph (every line of text) must hold a marker before its
    newline, and the text can end only after one, so a model cannot write uncited paragraphs:
    small models left free to cite often cite nothing. Ignored when there is no id to cite.

    Raises ValueError for an id that is not an arXiv identifier.
    """
    ids: list[str] = []
    for raw in allowed_ids:
        arxiv_id = raw.strip()
        if arxiv_id.lower().startswith(PREFIX.lower()):
            arxiv_id = arxiv_id[len(PREFIX) :]
        if not _ARXIV_ID.fullmatch(arxiv_id):
            raise ValueError(f"cannot cite {raw!r}: not an arXiv identifier such as 2401.12345 or hep-th/9901001")
        if arxiv_id not in ids:
            ids.append(arxiv_id)
    if not ids:
        return "root ::= prose\n" + r"prose ::= [^\[\]]*" + "\n"
    marker = [f"citation ::= {json.dumps(OPEN)} cited ({json.dumps(SEPARATOR)} cited)* {json.dumps(CLOSE)}"]
    marker.append(f"cited ::= {json.dumps(PREFIX)} (" + " | ".join(json.dumps(i) for i in ids) + ")")
    if not cite_every_paragraph:
        return "\n".join(["root ::= prose (citation prose)*", r"prose ::= [^\[\]]*", *marker]) + "\n"
    # A paragraph is a line: the writer's models put one paragraph on a line, often with single
    # newlines between them, so a blank-line rule would let a whole section pass uncited.
    rules = [
        "root ::= paragraph (breaks paragraph)* breaks?",
        'breaks ::= "\\n"+',
        "paragraph ::= text (citation text)+",
        r"text ::= [^\[\]\n]*",
        *marker,
    ]
    return "\n".join(rules) + "\n"


def _schema_text(schema: Schema) -> str:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        schema = schema.model_json_schema()
    if not isinstance(schema, dict):
        raise GrammarError(f"a schema is a pydantic model class or a JSON-schema dict, got {type(schema).__name__}")
    return json.dumps(_with_safe_string_lengths(schema), ensure_ascii=False)


def _with_safe_string_lengths(node: Any) -> Any:
    """A copy of the schema in which length-limited strings carry an equivalent pattern.

    xgrammar 0.2.9 turns ``minLength``/``maxLength`` into a character rule that admits
    control characters (U+0000-U+001F), which JSON forbids unescaped, and UTF-8 byte
    sequences that are not characters (surrogates, overlong forms), which decode to
    several U+FFFD and break the length. A pattern listing the valid characters other than
    the quote and the backslash compiles to a correct rule (tests cover both). Such
    strings cannot hold escapes; long free text keeps xgrammar's own string rule.
    """
    if isinstance(node, list):
        return [_with_safe_string_lengths(item) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: _with_safe_string_lengths(value) for key, value in node.items()}
    bounded = "minLength" in copy or "maxLength" in copy
    if copy.get("type") == "string" and bounded and not {"pattern", "format", "enum", "const"} & copy.keys():
        low = int(copy.pop("minLength", 0))
        high = copy.pop("maxLength", None)
        copy["pattern"] = "^" + counted_repetition(_STRING_CHARACTER, low, None if high is None else int(high)) + "$"
    return copy


def counted_repetition(item: str, low: int, high: int | None) -> str:
    """A regex for `low` to `high` (None: no limit) repetitions of the regex atom `item`, the
    same language as ``item{low,high}`` but with no count above _REPEAT_CHUNK, so that
    xgrammar's token masks stay exact; and without ambiguity (one way to parse each text),
    which keeps the per-token mask fast."""
    if low < 0 or (high is not None and high < low):
        raise GrammarError(f"cannot repeat between {low} and {high} times: a length range needs 0 <= min <= max")
    chunks, rest = divmod(low, _REPEAT_CHUNK)
    exact = (f"(?:{item}{{{_REPEAT_CHUNK}}}){{{chunks}}}" if chunks else "") + (f"{item}{{{rest}}}" if rest else "")
    if high is None:
        return exact + f"{item}*"
    # At most n more: fewer than a chunk, or one whole chunk followed by at most n - chunk more.
    # Built from the innermost group outwards: n may be large.
    chunks, rest = divmod(high - low, _REPEAT_CHUNK)
    optional = f"{item}{{0,{rest}}}" if rest else ""
    for _ in range(chunks):
        optional = f"(?:{item}{{0,{_REPEAT_CHUNK - 1}}}|{item}{{{_REPEAT_CHUNK}}}{optional})"
    return exact + optional


def _bitmask_of(token_ids: list[int], vocab_size: int) -> torch.Tensor:
    """Packed int32 bitmask with exactly `token_ids` set: [ceil(vocab/32)]."""
    words = [0] * ((vocab_size + 31) // 32)
    for token_id in token_ids:
        words[token_id // 32] |= 1 << (token_id % 32)
    # Bit 31 set means a negative int32; reinterpret the unsigned words.
    signed = [w - (1 << 32) if w >= 1 << 31 else w for w in words]
    return torch.tensor(signed, dtype=torch.int32)
