"""Our engine against transformers on the embedded SmolLM2-135M GGUF, on CPU, in one process.

Same prompt, same dtype, greedy, 128 new tokens (EOS ignored on both sides), batch 1.
prefill: one forward over the prompt into an empty cache (median of 3).
decode: (time of the whole 128-token generation - prefill) / 127 steps.
Prints one JSON object on its last line.

    .venv/bin/python bench/engine_cpu.py [--threads 2] [--dtype float32] [--new-tokens 128]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.embedded import embedded_model_path
from engine.generate import BatchGeneration, prefill
from engine.loading import load_model
from engine.tokenizer import ChatTokenizer
from engine.types import SamplingParams

PROMPT = (
    "You are writing the related-work section of a survey on long-context language models. "
    "Summarise, in three short paragraphs, how sparse attention (block selection, sliding windows, "
    "compressed keys), retrieval-augmented generation and rotary position scaling (LongRoPE, YaRN) "
    "each extend the usable context of a transformer, and name one weakness of each approach."
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_seconds(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_ours(ids: list[int], new_tokens: int, dtype: str) -> dict:
    loaded = load_model("embedded", device="cpu", dtype=dtype)
    model = loaded.model
    tokens = torch.tensor([ids])
    positions = torch.arange(len(ids))[None]
    model.setup_caches(1, len(ids) + new_tokens)
    with torch.inference_mode():
        prefill(model, tokens, positions, None, 512)  # warm-up
        prefill_s = median_seconds(lambda: prefill(model, tokens, positions, None, 512))
    params = SamplingParams(max_new_tokens=new_tokens)

    def generate() -> list[int]:
        generation = BatchGeneration(model, loaded.tokenizer, (), [ids], params, [new_tokens])
        for _ in generation:
            pass
        return generation.results[0].token_ids

    generate()  # warm-up
    started = time.perf_counter()
    out = generate()
    total = time.perf_counter() - started
    return {"prefill_s": prefill_s, "decode_s": (total - prefill_s) / (new_tokens - 1), "tokens": out}


def bench_transformers(ids: list[int], new_tokens: int, dtype: str) -> dict:
    from transformers import AutoModelForCausalLM

    path = embedded_model_path()
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=getattr(torch, dtype)
    ).eval()
    tokens = torch.tensor([ids])
    with torch.inference_mode():
        # logits of the last position only, as generate() asks for and as our prefill computes
        model(tokens, use_cache=True, logits_to_keep=1)  # warm-up
        prefill_s = median_seconds(lambda: model(tokens, use_cache=True, logits_to_keep=1))

        def generate():
            return model.generate(
                tokens,
                attention_mask=torch.ones_like(tokens),
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=0,
            )

        generate()  # warm-up
        started = time.perf_counter()
        out = generate()
        total = time.perf_counter() - started
    return {
        "prefill_s": prefill_s,
        "decode_s": (total - prefill_s) / (new_tokens - 1),
        "tokens": out[0, len(ids) :].tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--skip-transformers", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()

    tokenizer = ChatTokenizer.from_gguf(embedded_model_path())
    ids = tokenizer.chat_prompt([{"role": "user", "content": PROMPT}])
    ours = bench_ours(ids, args.new_tokens, args.dtype)
    ours_rss = peak_rss_mb()
    result = {
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf (embedded)",
        "dtype": args.dtype,
        "threads": args.threads,
        "prompt_tokens": len(ids),
        "new_tokens": args.new_tokens,
        "decode_tok_s": round(1 / ours["decode_s"], 2),
        "prefill_tok_s": round(len(ids) / ours["prefill_s"], 1),
        "peak_rss_mb": round(ours_rss, 1),
    }
    if not args.skip_transformers:
        theirs = bench_transformers(ids, args.new_tokens, args.dtype)
        same = next(
            (i for i, (a, b) in enumerate(zip(ours["tokens"], theirs["tokens"], strict=False)) if a != b),
            args.new_tokens,
        )
        result |= {
            "hf_decode_tok_s": round(1 / theirs["decode_s"], 2),
            "hf_prefill_tok_s": round(len(ids) / theirs["prefill_s"], 1),
            "decode_ratio": round(theirs["decode_s"] / ours["decode_s"], 2),
            "prefill_ratio": round(theirs["prefill_s"] / ours["prefill_s"], 2),
            "greedy_tokens_equal_prefix": same,
            "peak_rss_mb_with_transformers": round(peak_rss_mb(), 1),
        }
    result |= {
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
