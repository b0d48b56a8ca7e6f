"""The GPU path's graph-independent logic on CPU: memory planning, buckets, prefill chunks, the
static decode step (per-row lengths on the device) against the model's own forward, and whole
generations through engine.static_runtime against the padded eager path."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from engine.errors import DeviceMemoryError
from engine.generate import BatchGeneration
from engine.local import LocalEngine
from engine.memory_plan import (
    CHUNK_ALIGN,
    GIB,
    MIN_PREFILL_CHUNK,
    batch_buckets,
    bucket_for,
    kv_cache_bytes,
    plan_cache,
    prefill_bytes_per_token,
    prefill_chunk,
)
from engine.static_runtime import StaticRuntime
from engine.types import SamplingParams
from kernels.infllmv2.config import SparseConfig

from .conftest import random_model, tiny_config

SPARSE = SparseConfig.tiny(dense_len=48)  # blocks of 16, window 32, top 4: sparse from 48 keys
SPARSE_C2 = replace(SPARSE, coarse_normaliser=True)  # as a checkpoint's sparse_config selects


def test_kv_cache_bytes_counts_what_the_runtime_allocates():
    for sparse in (None, SPARSE, SPARSE_C2):
        model = random_model(tiny_config(sparse_config=sparse))
        runtime = StaticRuntime(model, graphs=False, kernels=True)  # kernels: the compressed buffers
        runtime.reserve(capacity=200, max_rows=3)
        decoder = runtime.decoder
        allocated = sum(t.numel() * t.element_size() for c in decoder.caches for t in (c.k, c.v))
        if decoder.compressed:
            allocated += sum(
                t.numel() * t.element_size() for c in decoder.compressed for t in (c.c1, c.c2) if t is not None
            )
        assert kv_cache_bytes(model.config, 3, 200, 4) >= allocated
        assert kv_cache_bytes(model.config, 3, 200, 4) <= allocated * 1.05


def test_plan_cache_takes_the_rows_that_fit_and_names_the_sizes_when_none_does():
    config = tiny_config()
    row = kv_cache_bytes(config, 1, 4096, 2)
    chunk = MIN_PREFILL_CHUNK * prefill_bytes_per_token(config, 2)
    free = int((3.5 * row + chunk) / 0.85) + 1
    plan = plan_cache(config, 4096, max_rows=8, free_bytes=free, dtype_bytes=2)
    assert plan.rows == 3 and plan.cache_bytes == 3 * row
    assert plan_cache(config, 4096, max_rows=2, free_bytes=free, dtype_bytes=2).rows == 2
    with pytest.raises(DeviceMemoryError, match=r"KV cache of 4096 tokens needs .* GiB free"):
        plan_cache(config, 4096, max_rows=8, free_bytes=int(0.5 * row), dtype_bytes=2)


def test_plan_for_minicpm4_8b_at_128k_on_an_h200():
    """The issue's shape: a 128K row of MiniCPM4-8B holds 4 GiB of K/V (32 layers, 2 KV heads of
    128) plus its compressed keys, and 8 rows fit the ~120 GiB an H200 has beside the weights."""
    from engine.config import ModelConfig

    config = replace(ModelConfig.from_name("minicpm4-8b"), sparse_config=SparseConfig())
    row = kv_cache_bytes(config, 1, 131072, 2)
    assert 4.0 * GIB < row < 4.3 * GIB  # 4 GiB of K/V plus the compressed keys
    assert plan_cache(config, 131072, 8, free_bytes=120 * GIB, dtype_bytes=2).rows == 8
    with pytest.raises(DeviceMemoryError):
        plan_cache(config, 131072, 8, free_bytes=4 * GIB, dtype_bytes=2)


def test_prefill_chunk_is_one_pass_when_it_fits_else_aligned():
    config = tiny_config()
    per_token = prefill_bytes_per_token(config, 2)
    assert prefill_chunk(config, 5000, budget_bytes=5000 * per_token, dtype_bytes=2) == 5000
    chunk = prefill_chunk(config, 50000, budget_bytes=3000 * per_token, dtype_bytes=2)
    assert chunk % CHUNK_ALIGN == 0 and MIN_PREFILL_CHUNK <= chunk <= 3000
    assert prefill_chunk(config, 50000, budget_bytes=10, dtype_bytes=2) == MIN_PREFILL_CHUNK


def test_buckets():
    assert batch_buckets(1) == (1,)
    assert batch_buckets(8) == (1, 2, 4, 8)
    assert batch_buckets(6) == (1, 2, 4, 6)
    assert [bucket_for(n, (1, 2, 4, 6)) for n in (1, 2, 3, 5, 6)] == [1, 2, 4, 6, 6]
    with pytest.raises(ValueError, match="exceeds the largest"):
        bucket_for(7, (1, 2, 4, 6))


@pytest.mark.slow
@pytest.mark.parametrize("sparse", [None, SPARSE, SPARSE_C2], ids=["dense", "sparse", "sparse-c2"])
def test_static_decode_steps_match_the_full_forward(sparse):
    """Rows of different lengths prefilled one by one, then decode steps of all rows together;
    each step's logits equal the model's uncached forward over the whole sequence."""
    model = random_model(tiny_config(sparse_config=sparse), seed=3)
    runtime = StaticRuntime(model, graphs=False, kernels=False)
    runtime.reserve(capacity=96, max_rows=4)
    generator = torch.Generator().manual_seed(0)
    prompts = [torch.randint(0, 320, (n,), generator=generator).tolist() for n in (40, 45, 9)]
    sequences = [list(p) for p in prompts]
    logits = runtime.prefill(prompts)
    for step in range(8):  # the 40- and 45-token rows cross dense_len (48) on the way
        for row, sequence in enumerate(sequences):
            with torch.inference_mode():
                full = model(torch.tensor([sequence]), torch.arange(len(sequence))[None])[0, -1]
            assert torch.allclose(logits[row], full, atol=1e-4, rtol=1e-4), f"step {step}, row {row}"
        tokens = logits.argmax(-1)
        for row, token in enumerate(tokens.tolist()):
            sequences[row].append(token)
        logits = runtime.decode(tokens)
    assert runtime.decoder.lengths[:3].tolist() == [len(s) for s in sequences]  # every token fed is cached


@pytest.mark.slow
def test_runtime_generation_equals_the_padded_eager_path(tiny_checkpoint):
    eager = LocalEngine.load(str(tiny_checkpoint), device="cpu", dtype="float32", native=False)
    static = LocalEngine(eager.loaded, max_batch=2, static=True)
    static.runtime.kernels = static.runtime.decoder.kernels = False
    assert static.runtime.rows == 2 and not static.runtime.graphs
    conversations = [[{"role": "user", "content": text}] for text in ("Hi", "A longer question here.", "Why?")]
    params = SamplingParams(temperature=0.0, max_new_tokens=10)
    want = [c.text for c in eager.batch_chat(conversations, params)]
    assert [c.text for c in static.batch_chat(conversations, params)] == want  # two groups: 2 rows, then 1


def test_runtime_rejects_a_prompt_longer_than_its_cache():
    model = random_model(tiny_config(), seed=1)
    runtime = StaticRuntime(model, graphs=False, kernels=False)
    runtime.reserve(capacity=32, max_rows=1)
    with pytest.raises(Exception, match="takes 40 tokens, but the KV cache holds 32"):
        runtime.prefill([list(range(40))])
    with pytest.raises(ValueError, match="2 prompts exceed the cache's 1 rows"):
        runtime.prefill([[1, 2], [3]])
    with pytest.raises(ValueError, match="exceeds the model's 512 positions"):
        runtime.reserve(capacity=513)


def test_batch_generation_through_the_runtime_streams_every_row(tiny_engine):
    runtime = StaticRuntime(tiny_engine.model, graphs=False, kernels=False)
    runtime.reserve(capacity=64, max_rows=2)
    prompts = [[5, 6, 7], [8, 9, 10, 11, 12]]
    generation = BatchGeneration(
        tiny_engine.model, tiny_engine.tokenizer, (), prompts, SamplingParams(max_new_tokens=6), [6, 6], runtime=runtime
    )
    rows = {row for row, _ in generation}
    assert rows <= {0, 1} and all(len(r.token_ids) == 6 for r in generation.results)
    tiny_engine.model.caches = None  # the shared tiny engine builds its own cache again


def test_the_fused_step_functions_match_the_layer_modules(monkeypatch):
    """pre_attention / post_attention (what torch.compile fuses on CUDA) against the modules; run
    uncompiled here (torch.compile replaced by the identity): the functions are the same."""
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)
    model = random_model(tiny_config(), seed=4).fuse()
    prompts = [[3, 1, 4, 1, 5, 9, 2, 6], [5, 3, 5]]
    logits = {}
    for compiled in (False, True):
        runtime = StaticRuntime(model, graphs=False, kernels=False, compiled=compiled)
        runtime.reserve(capacity=32, max_rows=2)
        assert runtime.decoder.compiled == compiled
        steps = [runtime.prefill(prompts)]
        for token in (7, 8, 9):
            steps.append(runtime.decode(torch.tensor([token, token + 1])))
        logits[compiled] = torch.stack(steps)
    assert torch.allclose(logits[True], logits[False], atol=1e-5, rtol=1e-5)


def test_greedy_tokens_follow_the_argmax_of_each_step():
    """StaticRuntime.greedy_tokens (each step's tokens taken on the device from the step before)
    against a host loop of argmax and decode; on CPU its loop without graphs."""
    model = random_model(tiny_config(), seed=6).fuse()
    prompts = [[3, 1, 4, 1, 5], [9, 2, 6, 5, 3, 5, 8]]
    runtime = StaticRuntime(model, graphs=False, kernels=False)
    runtime.reserve(capacity=32, max_rows=2)
    logits = runtime.prefill(prompts)
    want = []
    for _ in range(6):
        tokens = logits.argmax(-1)
        want.append(tokens.tolist())
        logits = runtime.decode(tokens)
    got = list(runtime.greedy_tokens(runtime.prefill(prompts), 6))
    assert got == want
    assert runtime.decoder.lengths[:2].tolist() == [5 + 5, 7 + 5]  # 5 decode steps for 6 tokens
