"""The C decode step (engine/native) against the torch model, its plain reference.

Tolerances: both paths compute in fp32 from identical weights (the GGUF blocks are exactly the
values the torch copy was dequantized to), so they differ only in the order of the sums: about
1e-6 relative per dot product, ~1e-4 on logits of magnitude ~25 after 30 layers. 1e-3 absolute
leaves room for that and would still catch any real error (a wrong block layout, scale or
position moves logits by whole units).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType, quants

from engine.generate import BatchGeneration, decode_one_token, prefill
from engine.loading import load_model
from engine.native import build
from engine.native.decoder import ThreadChooser, weight_struct
from engine.native.weights import RawWeight
from engine.types import SamplingParams

TYPES = [GGMLQuantizationType.F32, GGMLQuantizationType.F16, GGMLQuantizationType.Q8_0]
TYPES += [GGMLQuantizationType.Q4_0, GGMLQuantizationType.Q4_1]

pytestmark = pytest.mark.skipif(build.load_library() is None, reason="no C compiler: the native path is off")


def raw_weight(values: np.ndarray, kind: GGMLQuantizationType) -> tuple[RawWeight, torch.Tensor]:
    """`values` [rows, cols] stored as `kind`, and the fp32 matrix those blocks decode to (gguf's reading)."""
    stored = values.astype(np.float32) if kind == GGMLQuantizationType.F32 else quants.quantize(values, kind)
    decoded = quants.dequantize(stored, kind).astype(np.float32)
    return RawWeight(int(kind), np.ascontiguousarray(stored), *values.shape), torch.from_numpy(decoded)


@pytest.mark.parametrize("kind", TYPES, ids=lambda k: k.name)
@pytest.mark.parametrize("rows", [1, 3, 20])  # batch 1, a small batch, the GEMM path (8 rows or more)
@pytest.mark.parametrize("outputs", [48, 37])  # whole 16-row panels, and not (the row kernels)
def test_matmul_and_dequantize_match_gguf_for_every_format(kind, rows, outputs):
    library = build.load_library()
    generator = np.random.default_rng(int(kind) * 10 + rows)
    weight, reference = raw_weight(generator.standard_normal((outputs, 96)).astype(np.float32), kind)
    struct = weight_struct(weight)
    row = torch.empty(96)
    library.cpm_dequantize_row(ctypes.byref(struct), ctypes.c_int64(5), ctypes.c_void_p(row.data_ptr()))
    assert torch.equal(row, reference[5])
    x = torch.randn(rows, 96, generator=torch.Generator().manual_seed(rows))
    out = torch.full((rows, outputs), float("nan"))
    x_pointer, out_pointer = ctypes.c_void_p(x.data_ptr()), ctypes.c_void_p(out.data_ptr())
    assert library.cpm_matmul(ctypes.byref(struct), x_pointer, rows, out_pointer, 2) == 0
    torch.testing.assert_close(out, x @ reference.T, rtol=1e-5, atol=1e-5)


def test_weight_shapes_that_the_kernels_cannot_take_are_refused():
    with pytest.raises(ValueError, match="multiple of 32"):
        RawWeight.from_tensor(torch.zeros(4, 40))
    with pytest.raises(ValueError, match="bytes"):
        RawWeight(int(GGMLQuantizationType.Q4_1), np.zeros((4, 10), np.uint8), 4, 64)


@pytest.fixture(scope="module")
def embedded():
    """The bundled SmolLM2 GGUF (Q4_1 layers, a Q8_0 embedding) with its native decoder."""
    loaded = load_model("embedded", device="cpu", dtype="float32")
    assert loaded.model.native_decoder is not None
    return loaded


def logits_both_ways(model, prompts: list[list[int]], steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Prefill left-padded prompts through the torch forward and then natively (the keys cached at
    every real slot of every layer must agree), then `steps` greedy decode steps through both from
    the same cache state; returns the (native, torch) logits of the prefill and of each step."""
    native = model.native_decoder
    length = max(len(p) for p in prompts)
    pads = torch.tensor([length - len(p) for p in prompts])
    ids = torch.tensor([[0] * (length - len(p)) + p for p in prompts])
    positions = (torch.arange(length)[None] - pads[:, None]).clamp(min=0)
    model.setup_caches(len(prompts), length + steps + 1)
    pairs = []
    with torch.inference_mode():
        model.native_decoder = None
        expected = prefill(model, ids, positions, pads if pads.any() else None, 4)
        real = torch.arange(length)[None, :] >= pads[:, None]  # [B, L] slots holding prompt tokens
        expected_keys = [cache.k[: len(prompts), :, :length].clone() for cache in model.caches]
        model.native_decoder = native
        logits = prefill(model, ids, positions, pads if pads.any() else None, 4)  # chunks of 4: several calls
        pairs.append((logits, expected))
        for cache, keys in zip(model.caches, expected_keys, strict=True):
            got = cache.k[: len(prompts), :, :length].permute(0, 2, 1, 3)[real]
            torch.testing.assert_close(got, keys.permute(0, 2, 1, 3)[real], rtol=0, atol=1e-4)
        for step in range(steps):
            tokens = logits.argmax(-1)[:, None]
            step_positions = positions[:, -1:] + 1 + step
            model.native_decoder = None
            expected = decode_one_token(model, tokens, step_positions, length + step, pads if pads.any() else None)
            model.native_decoder = native
            logits = decode_one_token(model, tokens, step_positions, length + step, pads if pads.any() else None)
            pairs.append((logits, expected))
    return pairs


def test_embedded_gguf_decode_matches_the_torch_model(embedded):
    prompt = embedded.tokenizer.chat_prompt([{"role": "user", "content": "What is sparse attention?"}])
    for logits, expected in logits_both_ways(embedded.model, [prompt], steps=6):
        assert logits.shape == expected.shape == (1, embedded.model.config.vocab_size)
        torch.testing.assert_close(logits, expected, rtol=0, atol=1e-3)


def test_embedded_gguf_padded_batch_matches_the_torch_model(embedded):
    prompts = [
        embedded.tokenizer.chat_prompt([{"role": "user", "content": "Hi"}]),
        embedded.tokenizer.chat_prompt([{"role": "user", "content": "Name three surveys of retrieval augmentation."}]),
    ]
    for logits, expected in logits_both_ways(embedded.model, prompts, steps=4):
        torch.testing.assert_close(logits, expected, rtol=0, atol=1e-3)


def test_native_and_torch_generate_the_same_greedy_text(embedded):
    prompt = embedded.tokenizer.chat_prompt([{"role": "user", "content": "Define a literature survey."}])
    decoder, texts = embedded.model.native_decoder, []
    try:
        for native in (decoder, None):
            embedded.model.native_decoder = native
            generation = BatchGeneration(embedded.model, embedded.tokenizer, (), [prompt], SamplingParams(), [24])
            list(generation)
            texts.append(generation.results[0].token_ids)
    finally:
        embedded.model.native_decoder = decoder
    assert len(texts[0]) == 24 and texts[0] == texts[1]


def test_fp32_checkpoint_with_mup_scales_matches_the_torch_model(tiny_engine):
    """The tiny random MiniCPM4 (scale_emb, residual and logit scales, LongRoPE, GQA) from an HF
    directory: the native step reads the torch parameters in place, fused qkv and gate/up included."""
    model = tiny_engine.model
    assert model.native_decoder is not None
    prompts = [[5, 9, 200, 31, 7], [44, 3]]
    for logits, expected in logits_both_ways(model, prompts, steps=5):
        torch.testing.assert_close(logits, expected, rtol=0, atol=1e-4)


def test_bad_input_is_refused_before_any_write(tiny_engine):
    model = tiny_engine.model
    model.setup_caches(1, 32)
    decoder = model.native_decoder
    with pytest.raises(ValueError, match="vocabulary"):
        decoder.decode(torch.tensor([[10_000]]), torch.tensor([[0]]), 0, None)
    with pytest.raises(ValueError, match="KV cache"):
        decoder.decode(torch.tensor([[1]]), torch.tensor([[0]]), model.caches[0].max_len, None)


def test_thread_chooser_settles_on_the_faster_count_and_explores_again():
    chooser = ThreadChooser(explore=2, period=10)
    seen = []
    for _ in range(10):
        threads = chooser.pick(2)
        seen.append(threads)
        chooser.record(threads, 0.005 if threads == 1 else 0.050)  # one thread is faster here
    assert seen[:4] == [2, 2, 1, 1] and set(seen[4:]) == {1}
    assert chooser.best(2) == 1  # what prefill uses
    assert [chooser.pick(2) for _ in range(2)] == [2, 2]  # the next period measures again
    assert ThreadChooser().pick(1) == 1
    assert ThreadChooser().best(2) == 2  # nothing timed yet: all threads


def test_switched_off_means_the_torch_path(tiny_checkpoint):
    from engine.local import LocalEngine

    assert LocalEngine.load(str(tiny_checkpoint), "cpu", "float32", native=False).model.native_decoder is None
    assert LocalEngine.load(str(tiny_checkpoint), "cpu", "float32").model.native_decoder is not None


def test_a_failing_compiler_is_reported_and_leaves_no_library(monkeypatch, tmp_path, caplog):
    build.load_library.cache_clear()
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    monkeypatch.setattr(build, "cache_dir", lambda: tmp_path)
    try:
        with caplog.at_level("WARNING"):
            assert build.load_library() is None
        assert "compiling decode.c failed" in caplog.text
        assert list(tmp_path.iterdir()) == []  # no half-written library left behind
    finally:
        build.load_library.cache_clear()


def test_portable_build_without_avx2_computes_the_same(monkeypatch, tmp_path):
    """Machines without AVX2/FMA/F16C get the plain C kernels (and no GEMM path): same numbers."""
    monkeypatch.setattr(build, "cpu_has_avx2", lambda: False)
    library = ctypes.CDLL(str(build.build(tmp_path)))
    assert library.cpm_simd() == 0
    for kind in TYPES:
        weight, reference = raw_weight(
            np.random.default_rng(int(kind)).standard_normal((48, 64)).astype(np.float32), kind
        )
        x = torch.randn(9, 64, generator=torch.Generator().manual_seed(int(kind)))
        out = torch.full((9, 48), float("nan"))
        struct = weight_struct(weight)
        x_pointer, out_pointer = ctypes.c_void_p(x.data_ptr()), ctypes.c_void_p(out.data_ptr())
        assert library.cpm_matmul(ctypes.byref(struct), x_pointer, 9, out_pointer, 2) == 0
        torch.testing.assert_close(out, x @ reference.T, rtol=1e-5, atol=1e-5)
