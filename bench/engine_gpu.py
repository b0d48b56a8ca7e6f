"""Our engine against transformers on one GPU, MiniCPM4-8B shape, random bf16 weights (issue 18).

For each context (tokens of prompt) and each system: an explicit warm-up (ours: LocalEngine.warmup;
transformers compiled: its first generate) and a warm-up request at the same length, then the
measured request: prefill seconds, first-token latency, decode tok/s (the median interval between
streamed tokens over --decode-tokens tokens), peak GPU memory. Ours runs through LocalEngine.stream
(its public path), sparse (the checkpoint's sparse_config) and dense (none); transformers is
LlamaForCausalLM of the same shape (sdpa), eager and with generate(cache_implementation="static"),
which compiles its decode step. --batch8 adds our batch-8 decode at 32K. --runs N adds our prefill
of a prompt of N-token runs of one word ("prefill_runs_s"): random weights give random queries, the
sparse kernels' slow case, while neighbouring queries of real text pick alike blocks; runs make
neighbours alike. The last line printed is one JSON object.

    python3 bench/engine_gpu.py --contexts 8192,32768 --systems sparse,dense,hf,hf-compiled --batch8
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from engine.attention import dense_attention
from engine.config import ModelConfig
from engine.generate import BatchGeneration
from engine.loading import LoadedModel
from engine.local import LocalEngine
from engine.model import MiniCPMForCausalLM
from engine.tokenizer import ChatTokenizer
from engine.types import SamplingParams

CONFIG_PLACES = ("../shared/data/minicpm4/config-8b-128k-sparse.json", ".bench_data/config-8b-128k-sparse.json")
GIB = 1 << 30


def minicpm4_config() -> ModelConfig:
    for place in CONFIG_PLACES:
        path = Path(__file__).resolve().parents[1] / place
        if path.is_file():
            return ModelConfig.from_hf_config(json.loads(path.read_text()))
    raise SystemExit(
        f"no MiniCPM4 config: copy ../shared/data/minicpm4/config-8b-128k-sparse.json to {CONFIG_PLACES[1]}"
    )


def word_tokenizer(vocab_size: int) -> ChatTokenizer:
    """One token per word 'wN' (N < vocab_size): a prompt of N words is N tokens, any id decodes."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"w{i}": i for i in range(vocab_size)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="w0"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, chat_template="{% for m in messages %}{{ m['content'] }}{% endfor %}"
    )
    return ChatTokenizer(fast)


def random_weights(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.fill_(1.0)
            else:
                param.normal_(0, param.shape[-1] ** -0.5 if param.dim() > 1 else 1.0)


def our_model(config: ModelConfig) -> MiniCPMForCausalLM:
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = MiniCPMForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    random_weights(model)
    return model.eval().requires_grad_(False).fuse()


def prompt_text(tokens: int, seed: int, vocab: int, runs: int = 1) -> str:
    """`tokens` random words, each repeated `runs` times in a row."""
    generator = torch.Generator().manual_seed(seed)
    words = torch.randint(3, vocab, (-(-tokens // runs),), generator=generator).repeat_interleave(runs)[:tokens]
    return " ".join(f"w{i}" for i in words.tolist())


def timed_prefill(engine: LocalEngine, tokenizer: ChatTokenizer, text: str) -> tuple[float, list[int]]:
    """Seconds of the runtime's prefill of `text` as a chat prompt; -> (seconds, prompt ids)."""
    ids = [tokenizer.chat_prompt([{"role": "user", "content": text}])]
    torch.cuda.synchronize()
    started = time.perf_counter()
    engine.runtime.prefill(ids)
    torch.cuda.synchronize()
    return time.perf_counter() - started, ids[0]


def timed_stream(engine: LocalEngine, text: str, new_tokens: int) -> dict:
    params = SamplingParams(temperature=0.0, max_new_tokens=new_tokens)
    torch.cuda.synchronize()
    started = time.perf_counter()
    stamps = []
    for _ in engine.stream([{"role": "user", "content": text}], params):
        stamps.append(time.perf_counter())
    intervals = [b - a for a, b in itertools.pairwise(stamps)]
    return {
        "first_token_s": stamps[0] - started,
        "decode_tok_s": 1.0 / statistics.median(intervals),
        "tokens": len(stamps),
    }


def run_ours(model: MiniCPMForCausalLM, tokenizer: ChatTokenizer, context: int, new_tokens: int, runs: int = 0) -> dict:
    loaded = LoadedModel(model, tokenizer, (), "minicpm4-8b-random")
    torch.cuda.reset_peak_memory_stats()
    engine = LocalEngine(loaded, context_window=context + new_tokens + 64, max_batch=1)
    warmup = engine.warmup()
    text = prompt_text(context, 0, model.config.vocab_size)
    timed_stream(engine, prompt_text(context, 1, model.config.vocab_size), 8)  # warm-up request, same length
    prefill, ids = timed_prefill(engine, tokenizer, text)
    figures = timed_stream(engine, text, new_tokens)
    if runs:
        timed_prefill(engine, tokenizer, prompt_text(context, 2, model.config.vocab_size, runs))  # warm-up
        figures["prefill_runs_s"] = timed_prefill(
            engine, tokenizer, prompt_text(context, 3, model.config.vocab_size, runs)
        )[0]
    figures["graph_step_ms"] = graph_step_ms(engine.runtime)
    figures["decode_matmuls"] = {name: choice.gemv for name, choice in engine.runtime.decoder.matmuls.items()}
    figures["matmul_timings_us"] = engine.runtime.matmul_timings
    figures.update(
        prefill_s=prefill,
        warmup_s=warmup,
        peak_gib=torch.cuda.max_memory_allocated() / GIB,
        prompt_tokens=len(ids),
    )
    engine.runtime.release()
    return figures


def graph_step_ms(runtime) -> float:
    """GPU time of one replayed decode step of one row (no host work between replays)."""
    return graph_step_ms_of(runtime, runtime._graphs[1][0])


def graph_step_ms_of(runtime, graph, steps: int = 64) -> float:
    with torch.inference_mode():
        saved = runtime.decoder.lengths.clone()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(steps):
            graph.replay()
        end.record()
        torch.cuda.synchronize()
        runtime.decoder.lengths.copy_(saved)
    return start.elapsed_time(end) / steps


def run_batch8(model: MiniCPMForCausalLM, tokenizer: ChatTokenizer, context: int, new_tokens: int) -> dict:
    loaded = LoadedModel(model, tokenizer, (), "minicpm4-8b-random")
    engine = LocalEngine(loaded, context_window=context + new_tokens + 64, max_batch=8)
    assert engine.runtime.rows == 8, f"only {engine.runtime.rows} rows of {context} fit"
    warmup = engine.warmup()
    prompts = [
        tokenizer.chat_prompt([{"role": "user", "content": prompt_text(context, seed, model.config.vocab_size)}])
        for seed in range(8)
    ]

    def generate(steps: int) -> float:
        generation = BatchGeneration(
            model, tokenizer, (), prompts, SamplingParams(max_new_tokens=steps), [steps] * 8, runtime=engine.runtime
        )
        first = None
        for seen, _ in enumerate(generation, start=1):
            if seen == 8:  # every row's first token: prefill is over
                first = time.perf_counter()
        return (8 * (steps - 1)) / (time.perf_counter() - first)

    generate(8)
    figures = {"decode_tok_s": generate(new_tokens), "warmup_s": warmup, "rows": 8}
    graph, _ = engine.runtime._graphs[8]
    figures["graph_step_ms"] = graph_step_ms_of(engine.runtime, graph)
    engine.runtime.release()
    return figures


def run_cold(model: MiniCPMForCausalLM, tokenizer: ChatTokenizer, lengths: list[int]) -> dict:
    """After one warm-up at the largest capacity, the first request at each new length against a
    second one at that length: what a request pays for anything warm-up left uncompiled."""
    loaded = LoadedModel(model, tokenizer, (), "minicpm4-8b-random")
    engine = LocalEngine(loaded, context_window=max(lengths) + 256, max_batch=1)
    figures = {"warmup_s": engine.warmup()}
    for length in lengths:
        first = timed_stream(engine, prompt_text(length, 2, model.config.vocab_size), 8)
        second = timed_stream(engine, prompt_text(length, 3, model.config.vocab_size), 8)
        figures[str(length)] = {"first_request_s": first["first_token_s"], "second_request_s": second["first_token_s"]}
        print("cold", length, json.dumps(figures[str(length)]), flush=True)
    engine.runtime.release()
    return figures


def hf_model(config: ModelConfig):
    from transformers import LlamaConfig, LlamaForCausalLM

    hf_config = LlamaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        head_dim=config.head_dim,
        max_position_embeddings=config.max_position_embeddings,
        rms_norm_eps=config.rms_norm_eps,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(hf_config)
    torch.set_default_dtype(torch.float32)
    random_weights(model)
    return model.eval().requires_grad_(False)


def run_hf(model, context: int, new_tokens: int, compiled: bool) -> dict:
    from transformers.generation.streamers import BaseStreamer

    class Stamps(BaseStreamer):
        def __init__(self) -> None:
            self.times: list[float] = []

        def put(self, value) -> None:
            self.times.append(time.perf_counter())

        def end(self) -> None:
            pass

    def generate(seed: int, tokens: int) -> tuple[float, list[float]]:
        generator = torch.Generator().manual_seed(seed)
        ids = torch.randint(3, model.config.vocab_size, (1, context), generator=generator).cuda()
        stamps = Stamps()
        extra = {"cache_implementation": "static"} if compiled else {}
        torch.cuda.synchronize()
        started = time.perf_counter()
        model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            streamer=stamps,
            pad_token_id=0,
            **extra,
        )
        return started, stamps.times[1:]  # the first put is the prompt

    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    generate(1, 8)  # warm-up at the same length (compiles when compiled)
    warmup = time.perf_counter() - started
    started, times = generate(0, new_tokens)
    intervals = [b - a for a, b in itertools.pairwise(times)]
    return {
        "first_token_s": times[0] - started,
        "prefill_s": times[0] - started,  # generate's prefill ends with the first token
        "decode_tok_s": 1.0 / statistics.median(intervals),
        "warmup_s": warmup,
        "peak_gib": torch.cuda.max_memory_allocated() / GIB,
        "tokens": len(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", default="8192,32768,131072")
    parser.add_argument("--systems", default="sparse,dense,hf,hf-compiled")
    parser.add_argument("--decode-tokens", type=int, default=256)
    parser.add_argument("--batch8", action="store_true", help="our batch-8 decode at 32K")
    parser.add_argument("--cold", default="", help="lengths for first-request-after-warm-up checks (sparse)")
    parser.add_argument("--runs", type=int, default=0, help="also prefill a prompt of runs of this many tokens")
    args = parser.parse_args()
    contexts = [int(c) for c in args.contexts.split(",") if c]
    systems = [s for s in args.systems.split(",") if s]
    config = minicpm4_config()
    tokenizer = word_tokenizer(config.vocab_size)
    results: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "contexts": {}}
    ours = [s for s in systems if s in ("sparse", "dense")]
    cold = [int(c) for c in args.cold.split(",") if c]
    if ours or args.batch8 or cold:
        model = our_model(config)
        for context in contexts:
            # 128K: the prompt leaves room for the reply within max_position_embeddings (131072)
            context = min(context, config.max_position_embeddings - args.decode_tokens - 64)
            for system in ours:
                set_attention(model, config, sparse=system == "sparse")
                figures = run_ours(model, tokenizer, context, args.decode_tokens, args.runs)
                results["contexts"].setdefault(str(context), {})[system] = figures
                print(system, context, json.dumps(figures), flush=True)
        if args.batch8:
            set_attention(model, config, sparse=True)
            results["batch8_32k"] = run_batch8(model, tokenizer, 32768, args.decode_tokens)
            print("batch8", json.dumps(results["batch8_32k"]), flush=True)
        if cold:
            set_attention(model, config, sparse=True)
            results["cold"] = run_cold(model, tokenizer, cold)
        del model
        gc.collect()
        torch.cuda.empty_cache()
    for system in [s for s in systems if s.startswith("hf")]:
        model = hf_model(config)
        for context in contexts:
            context = min(context, config.max_position_embeddings - args.decode_tokens - 64)
            figures = run_hf(model, context, args.decode_tokens, compiled=system == "hf-compiled")
            results["contexts"].setdefault(str(context), {})[system] = figures
            print(system, context, json.dumps(figures), flush=True)
            torch._dynamo.reset()
        del model
        gc.collect()
        torch.cuda.empty_cache()
    print(json.dumps(results))


def set_attention(model: MiniCPMForCausalLM, config: ModelConfig, sparse: bool) -> None:
    """Switch every layer between the checkpoint's InfLLM v2 (sparse) and dense attention."""
    from engine.attention import SparseAttention

    model.config = config if sparse else replace(config, sparse_config=None)
    for layer in model.model.layers:
        layer.self_attn.attend = SparseAttention(config.sparse_config, config.num_groups) if sparse else dense_attention


if __name__ == "__main__":
    main()
