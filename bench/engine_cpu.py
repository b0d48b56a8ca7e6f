"""Our engine against transformers on the embedded SmolLM2-135M GGUF, on CPU, in one process.

Same prompt, same dtype, greedy, 128 new tokens (EOS ignored on both sides), batch 1.
prefill: one forward over the prompt into an empty cache; decode: seconds per step from the first
generated token to the last (our generation loop; transformers' generate() timed by a streamer).
The two engines alternate for --rounds rounds (the machine is shared and its load drifts) and
medians are reported.
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


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class Ours:
    """Our engine: prefill() into an empty cache, and the full generation loop (sampling, detokenizing)."""

    def __init__(self, ids: list[int], new_tokens: int, dtype: str, native: bool = True) -> None:
        self.loaded = load_model("embedded", device="cpu", dtype=dtype, native=native)
        self.ids, self.new_tokens = ids, new_tokens
        self.loaded.model.setup_caches(1, len(ids) + new_tokens)
        self.tokens: list[int] = []

    def prefill(self) -> None:
        with torch.inference_mode():
            prefill(self.loaded.model, torch.tensor([self.ids]), torch.arange(len(self.ids))[None], None, 512)

    def generate(self) -> float:
        """Seconds per decode step, from the first generated token to the last."""
        params = SamplingParams(max_new_tokens=self.new_tokens)
        loaded = self.loaded
        generation = BatchGeneration(loaded.model, loaded.tokenizer, (), [self.ids], params, [self.new_tokens])
        first = None
        for _ in generation:
            first = first or (time.perf_counter(), len(generation.results[0].token_ids))
        end = time.perf_counter()
        self.tokens = generation.results[0].token_ids
        return (end - first[0]) / (len(self.tokens) - first[1])


class Transformers:
    """transformers' Llama from the same GGUF: a forward for prefill, generate() for the whole run."""

    def __init__(self, ids: list[int], new_tokens: int, dtype: str) -> None:
        from transformers import AutoModelForCausalLM

        path = embedded_model_path()
        self.model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=getattr(torch, dtype)
        ).eval()
        self.ids, self.new_tokens = torch.tensor([ids]), new_tokens
        self.tokens: list[int] = []

    def prefill(self) -> None:
        # logits of the last position only, as generate() asks for and as our prefill computes
        with torch.inference_mode():
            self.model(self.ids, use_cache=True, logits_to_keep=1)

    def generate(self) -> float:
        """Seconds per decode step, from the first generated token to the last."""
        from transformers.generation.streamers import BaseStreamer

        class Clock(BaseStreamer):
            def __init__(self) -> None:
                self.times: list[float] = []

            def put(self, value) -> None:  # called with the prompt, then once per new token
                self.times.append(time.perf_counter())

            def end(self) -> None:
                self.times.append(time.perf_counter())

        clock = Clock()
        with torch.inference_mode():
            out = self.model.generate(
                self.ids,
                streamer=clock,
                attention_mask=torch.ones_like(self.ids),
                max_new_tokens=self.new_tokens,
                min_new_tokens=self.new_tokens,
                do_sample=False,
                pad_token_id=0,
            )
        self.tokens = out[0, self.ids.shape[1] :].tolist()
        return (clock.times[-1] - clock.times[1]) / (len(self.tokens) - 1)


def measure(engines: dict, rounds: int) -> dict:
    """Alternate the engines round by round (the machine's load drifts) and take medians of the
    prefill seconds and of the seconds per decode step."""
    prefill_times = {name: [] for name in engines}
    decode_times = {name: [] for name in engines}
    for engine in engines.values():  # warm-up
        engine.prefill()
        engine.generate()
    for _ in range(rounds):
        for name, engine in engines.items():
            prefill_times[name].append(timed(engine.prefill))
            decode_times[name].append(engine.generate())
    return {
        name: {"prefill_s": statistics.median(prefill_times[name]), "decode_s": statistics.median(decode_times[name])}
        for name in engines
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurement rounds (medians reported)")
    parser.add_argument("--skip-transformers", action="store_true")
    parser.add_argument("--no-native", action="store_true", help="decode through the torch forward, not engine.native")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()

    tokenizer = ChatTokenizer.from_gguf(embedded_model_path())
    ids = tokenizer.chat_prompt([{"role": "user", "content": PROMPT}])
    engines = {"ours": Ours(ids, args.new_tokens, args.dtype, native=not args.no_native)}
    engines["ours"].generate()
    ours_rss = peak_rss_mb()  # before transformers is loaded into the same process
    if not args.skip_transformers:
        engines["hf"] = Transformers(ids, args.new_tokens, args.dtype)
    times = measure(engines, args.rounds)
    ours = times["ours"]
    result = {
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf (embedded)",
        "dtype": args.dtype,
        "threads": args.threads,
        "prompt_tokens": len(ids),
        "new_tokens": args.new_tokens,
        "rounds": args.rounds,
        "decode_tok_s": round(1 / ours["decode_s"], 2),
        "prefill_tok_s": round(len(ids) / ours["prefill_s"], 1),
        "peak_rss_mb": round(ours_rss, 1),
        "native_decode": engines["ours"].loaded.model.native_decoder is not None,
    }
    if not args.skip_transformers:
        theirs = times["hf"]
        pairs = zip(engines["ours"].tokens, engines["hf"].tokens, strict=False)
        same = next((i for i, (a, b) in enumerate(pairs) if a != b), args.new_tokens)
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
