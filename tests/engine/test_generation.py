"""Generation: batching, determinism, stopping, the constraint hook and sampling filters."""

from __future__ import annotations

import pytest
import torch

from engine.errors import ContextWindowExceededError
from engine.generate import BatchGeneration
from engine.sampling import logits_to_probs, next_tokens
from engine.text_stream import TextStream
from engine.types import SamplingParams

from .conftest import EOS_ID

CONVERSATIONS = [
    [{"role": "user", "content": "hi"}],
    [{"role": "system", "content": "You write surveys."}, {"role": "user", "content": "Summarise attention."}],
    [{"role": "user", "content": "A much longer question about sparse attention over long contexts?"}],
]


def run(engine, prompts, params, chunk=512, constraints=None):
    generation = BatchGeneration(
        engine.model,
        engine.tokenizer,
        engine.loaded.eos_token_ids,
        prompts,
        params,
        [params.max_new_tokens] * len(prompts),
        constraints=constraints,
        prefill_chunk=chunk,
        pad_token_id=engine.tokenizer.pad_token_id,
    )
    pieces = [[] for _ in prompts]
    for row, piece in generation:
        pieces[row].append(piece)
    return generation.results, pieces


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(max_new_tokens=12),
        SamplingParams(max_new_tokens=12, temperature=0.9, top_k=40, top_p=0.95, min_p=0.02, seed=7),
        SamplingParams(max_new_tokens=12, temperature=0.7, repetition_penalty=1.3, seed=3),
    ],
)
def test_batched_generation_equals_one_at_a_time(tiny_engine, params):
    prompts = [tiny_engine.tokenizer.chat_prompt(c) for c in CONVERSATIONS]
    assert len({len(p) for p in prompts}) == 3  # different lengths: padding is exercised
    batched, _ = run(tiny_engine, prompts, params, chunk=16)
    for prompt, result in zip(prompts, batched, strict=True):
        alone, _ = run(tiny_engine, [prompt], params)
        assert result.token_ids == alone[0].token_ids


def test_greedy_is_deterministic_and_streams_the_final_text(tiny_engine):
    params = SamplingParams(max_new_tokens=16)
    first = tiny_engine.chat(CONVERSATIONS[1], params)
    second = tiny_engine.chat(CONVERSATIONS[1], params)
    assert (first.text, first.completion_tokens) == (second.text, second.completion_tokens)
    assert "".join(tiny_engine.stream(CONVERSATIONS[1], params)) == first.text
    assert first.finish_reason == "length" and first.completion_tokens == 16


def test_seed_changes_samples_and_repeats_them(tiny_engine):
    def sample(seed):
        return tiny_engine.chat(CONVERSATIONS[0], SamplingParams(max_new_tokens=12, temperature=1.0, seed=seed)).text

    assert sample(1) == sample(1)
    assert len({sample(s) for s in (1, 2, 3)}) > 1


def test_stop_string_cuts_text(tiny_engine):
    params = SamplingParams(max_new_tokens=20)
    full = tiny_engine.chat(CONVERSATIONS[0], params).text
    stop = full[5:7]
    cut = full[: full.find(stop)]
    result = tiny_engine.chat(CONVERSATIONS[0], SamplingParams(max_new_tokens=20, stop=[stop]))
    assert (result.text, result.finish_reason) == (cut, "stop")
    assert "".join(tiny_engine.stream(CONVERSATIONS[0], SamplingParams(max_new_tokens=20, stop=[stop]))) == cut


class ForcedTokens:
    """A TokenConstraint that allows exactly one token sequence, then finishes."""

    def __init__(self, tokens):
        self.tokens, self.accepted = list(tokens), []

    def mask_logits(self, logits):
        allowed = self.tokens[len(self.accepted)]
        keep = logits[allowed].clone()
        logits.fill_(float("-inf"))
        logits[allowed] = keep

    def accept(self, token_id):
        assert token_id == self.tokens[len(self.accepted)]
        self.accepted.append(token_id)

    def is_finished(self):
        return len(self.accepted) == len(self.tokens)


def test_constraint_hook_masks_accepts_and_finishes(tiny_engine):
    prompts = [tiny_engine.tokenizer.chat_prompt(c) for c in CONVERSATIONS[:2]]
    forced = tiny_engine.tokenizer.encode('{"a": 1}')
    constraints = [ForcedTokens(forced), None]
    params = SamplingParams(max_new_tokens=30, temperature=1.0, seed=0)
    results, _ = run(tiny_engine, prompts, params, constraints=constraints)
    assert results[0].token_ids == forced and results[0].text == '{"a": 1}'
    assert results[0].finish_reason == "stop"
    assert len(results[1].token_ids) == 30  # the unconstrained row ran to its budget


def test_eos_ends_a_row(tiny_engine):
    prompt = tiny_engine.tokenizer.chat_prompt(CONVERSATIONS[0])
    results, _ = run(tiny_engine, [prompt], SamplingParams(max_new_tokens=10), constraints=[ForcedTokens([65, EOS_ID])])
    assert results[0].token_ids == [65] and results[0].finish_reason == "stop"


def test_prompt_longer_than_context_window(tiny_engine):
    long = [{"role": "user", "content": "x" * (tiny_engine.context_window + 5)}]
    with pytest.raises(ContextWindowExceededError, match="context window of 512"):
        tiny_engine.chat(long, SamplingParams(max_new_tokens=4))


def test_reply_is_cut_at_the_context_window(tiny_engine):
    prompt_len = len(tiny_engine.tokenizer.chat_prompt(CONVERSATIONS[0]))
    filler = [{"role": "user", "content": "y" * (tiny_engine.context_window - prompt_len - 3 + 2)}]
    result = tiny_engine.chat(filler, SamplingParams(max_new_tokens=50))
    assert result.prompt_tokens + result.completion_tokens == tiny_engine.context_window
    assert result.finish_reason == "length"


def test_count_tokens(tiny_engine):
    assert tiny_engine.count_tokens("héllo") == len("héllo".encode())


def reference_filter(logits, params):
    """Plain per-row reference for temperature, top-k, top-p, min-p."""
    out = []
    for row in logits:
        probs = torch.softmax(row / params.temperature, -1)
        order = sorted(range(len(row)), key=lambda i: -probs[i].item())
        keep = set(order[: params.top_k] if params.top_k else order)
        mass, nucleus = 0.0, set()
        for i in order:
            if mass >= params.top_p:
                break
            nucleus.add(i)
            mass += torch.softmax(
                torch.where(torch.tensor([j in keep for j in range(len(row))]), row, -torch.inf) / params.temperature,
                -1,
            )[i].item()
        keep &= nucleus
        masked = torch.tensor([row[i].item() if i in keep else -float("inf") for i in range(len(row))])
        p = torch.softmax(masked / params.temperature, -1)
        p = torch.where(p < p.max() * params.min_p, 0.0, p)
        out.append(p / p.sum())
    return torch.stack(out)


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=0.8, top_k=5),
        SamplingParams(temperature=1.2, top_p=0.6),
        SamplingParams(temperature=0.5, min_p=0.2),
        SamplingParams(temperature=1.0, top_k=8, top_p=0.8, min_p=0.05),
    ],
)
def test_filters_match_plain_reference(params):
    logits = torch.randn(3, 20, generator=torch.Generator().manual_seed(4)) * 2
    torch.testing.assert_close(logits_to_probs(logits, params), reference_filter(logits, params), rtol=1e-5, atol=1e-6)


def test_repetition_penalty_changes_greedy_choice():
    logits = torch.tensor([[2.0, 1.9, -1.0]])
    seen = torch.tensor([[True, False, False]])
    assert next_tokens(logits, SamplingParams(), seen, [None]).item() == 0
    assert next_tokens(logits, SamplingParams(repetition_penalty=1.2), seen, [None]).item() == 1


def test_seeded_sampling_follows_the_distribution():
    probs = torch.tensor([[0.7, 0.2, 0.1]])
    logits = probs.log()
    generator = torch.Generator().manual_seed(0)
    params = SamplingParams(temperature=1.0)
    draws = [next_tokens(logits, params, torch.zeros(1, 3, dtype=torch.bool), [generator]).item() for _ in range(2000)]
    counts = torch.bincount(torch.tensor(draws), minlength=3) / 2000
    torch.testing.assert_close(counts, probs[0], atol=0.04, rtol=0)


class CharTokenizer:
    def decode(self, ids):
        return "".join(chr(i) for i in ids)


def test_text_stream_holds_back_possible_stop_prefixes():
    stream = TextStream(CharTokenizer(), ["END"])
    pieces = [stream.add(ord(c)) for c in "abcENxyEND tail"[:11]]
    assert "".join(pieces) + stream.finish() == "abcENxy"
    assert pieces[3:5] == ["", ""]  # "E", "EN" might begin END
    assert stream.stopped


def test_schema_through_local_engine_gives_one_valid_constraint_per_row(tiny_engine):
    """The engine builds a fresh constraint per sequence; even a random model's output then validates."""
    from pydantic import BaseModel, Field

    class Item(BaseModel):
        name: str = Field(max_length=8)
        count: int

    params = SamplingParams(max_new_tokens=80, temperature=0.8, seed=1)
    results = tiny_engine.batch_chat(CONVERSATIONS[:2], params, schema=Item)
    for result in results:
        assert result.finish_reason == "stop"
        Item.model_validate_json(result.text)
    with pytest.raises(ValueError, match="either schema or grammar"):
        tiny_engine.chat(CONVERSATIONS[0], params, schema=Item, grammar='root ::= "a"')


def test_streaming_consumer_is_not_left_in_inference_mode(tiny_engine):
    for _ in tiny_engine.stream(CONVERSATIONS[0], SamplingParams(max_new_tokens=3)):
        assert not torch.is_inference_mode_enabled()
