"""Per-token cost of grammar-constrained decoding over SmolLM2's 49K vocabulary.

Drives engine.constrained with random logits (no model) and times, per generated token,
the bitmask computation (xgrammar's matcher) and its application to the logits, for:
the citation grammar (150 allowed ids), the same grammar written ambiguously (the form
citation_grammar avoids), the planner's outline schema, and the judge's reply schema (a
600-character reason, which engine.constrained writes in chunks of 100 so the mask is exact),
beside the same reply written as one count of 600 (the form before; "refused_after_mask"
counts the tokens its mask allowed and its matcher refused).

    .venv/bin/python bench/constrained_mask.py [--steps 400] [--ambiguous-steps 200]

Prints one JSON object on its last line; times in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime

import torch
from pydantic import BaseModel, Field

from engine.constrained import _STRING_CHARACTER, ConstraintFactory, GrammarConstraint, citation_grammar
from engine.embedded import embedded_model_path
from engine.tokenizer import ChatTokenizer

VOCAB = 49152
IDS = [f"25{month:02d}.{number:05d}" for month in range(3, 13) for number in range(11, 99999, 6661)][:150]


class Subsection(BaseModel):
    title: str
    description: str


class Section(BaseModel):
    title: str
    description: str
    queries: list[str]
    subsections: list[Subsection]


class Outline(BaseModel):
    title: str
    sections: list[Section]


class JudgeReply(BaseModel):
    """eval.content_quality.ScoreReply's shape."""

    score: int = Field(ge=1, le=5)
    reason: str = Field("", max_length=600)


def ambiguous_citation_grammar(allowed: list[str]) -> str:
    """What citation_grammar must not write: prose and markers in an ambiguous loop."""
    ids = " | ".join(json.dumps(f"arXiv:{i}") for i in allowed)
    return f'root ::= (text | citation)*\ntext ::= [^\\[\\]]+\ncitation ::= "[" id ("; " id)* "]"\nid ::= {ids}\n'


def run(constraint: GrammarConstraint, favour: torch.Tensor, steps: int, seed: int = 0) -> dict[str, float]:
    generator = torch.Generator().manual_seed(seed)
    fill, apply = [], []
    produced = refused = 0
    for step in range(steps):
        logits = torch.randn(VOCAB, generator=generator) * 3
        logits[favour] += 4.0 if step % 7 == 0 else 0.0
        started = time.perf_counter()
        finished = constraint.is_finished()  # computes this step's bitmask
        filled = time.perf_counter()
        if finished:
            break
        constraint.mask_logits(logits)
        applied = time.perf_counter()
        fill.append(filled - started)
        apply.append(applied - filled)
        while not constraint._matcher.accept_token(int(torch.argmax(logits))):
            refused += 1  # the mask let through a token the matcher refuses: the next best one
            logits[int(torch.argmax(logits))] = float("-inf")
        constraint._bitmask_is_current = False
        produced += 1

    def ms(values: list[float], q: float) -> float:
        return round(sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1e3, 4)

    return {
        "tokens": produced,
        "refused_after_mask": refused,
        "mask_median_ms": ms(fill, 0.5),
        "mask_p90_ms": ms(fill, 0.9),
        "mask_max_ms": ms(fill, 1.0),
        "apply_median_ms": ms(apply, 0.5),
        "mask_mean_ms": round(statistics.fmean(fill) * 1e3, 4),
        # growth with the length of the text: an ambiguous grammar's parser state grows
        "mask_last20_mean_ms": round(statistics.fmean(fill[-20:]) * 1e3, 4),
    }


# The judge's reply as engine.constrained wrote it before: one count of 600, over xgrammar's
# exact limit of 130 (its mask then lets through tokens its matcher refuses).
PLAIN_COUNT = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "reason": {"type": "string", "pattern": "^" + _STRING_CHARACTER + "{0,600}$"},
    },
    "required": ["score"],
}


def _inside_reason(constraint: GrammarConstraint) -> GrammarConstraint:
    """The judge's reply from the start of its reason: the steps timed are the long string's."""
    constraint.accept_text('{"score": 3, "reason": "')
    return constraint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--ambiguous-steps", type=int, default=200)
    args = parser.parse_args()
    tokenizer = ChatTokenizer.from_gguf(embedded_model_path()).tokenizer
    factory = ConstraintFactory(tokenizer, VOCAB)
    texts = [tokenizer.decode([i]) for i in range(len(tokenizer))]
    brackets = torch.tensor([i for i, t in enumerate(texts) if "[" in t or "]" in t or t.strip().isdigit()])
    closers = torch.tensor([i for i, t in enumerate(texts) if t and set(t) <= set('"]},: ')])
    words = torch.tensor([i for i, t in enumerate(texts) if t.strip().isalpha()])
    results = {}
    cases = [
        ("citation_grammar", lambda: factory.for_grammar(citation_grammar(IDS)), brackets, args.steps),
        (
            "ambiguous_citation_grammar",
            lambda: factory.for_grammar(ambiguous_citation_grammar(IDS)),
            brackets,
            args.ambiguous_steps,
        ),
        ("outline_schema", lambda: factory.for_schema(Outline), closers, args.steps),
        ("judge_reply_schema", lambda: _inside_reason(factory.for_schema(JudgeReply)), words, args.steps),
        ("judge_reply_plain_count", lambda: _inside_reason(factory.for_schema(PLAIN_COUNT)), words, args.steps),
    ]
    for name, build, favour, steps in cases:
        started = time.perf_counter()
        constraint = build()
        compile_ms = (time.perf_counter() - started) * 1e3
        results[name] = {"compile_ms": round(compile_ms, 2), **run(constraint, favour, steps)}
        print(name, results[name], flush=True)
    summary = {
        "vocab": VOCAB,
        "allowed_ids": len(IDS),
        **results,
        "torch_threads": torch.get_num_threads(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
