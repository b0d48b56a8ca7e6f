"""The static decode step through the kernels (flash-decoding; InfLLM v2 decode with compressed keys
appended inside the step) against the model's uncached fp32 forward on CPU, which attends by
plain torch and kernels/infllmv2/naive.py. On CPU the kernels interpret in fp32 (tight bound); on a
GPU the model runs in bf16, graphed and eager (bound: 5% of the largest logit, as
tests/engine/test_cuda.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from kernel_testing import DEVICE

from engine.config import ModelConfig
from engine.model import MiniCPMForCausalLM
from engine.static_runtime import StaticRuntime
from kernels.infllmv2.config import SparseConfig
from tests.engine.conftest import random_model


def reference_logits(model: MiniCPMForCausalLM, sequence: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        return model(torch.tensor([sequence]), torch.arange(len(sequence))[None])[0, -1]


SPARSE = [
    None,
    SparseConfig.tiny(dense_len=48),
    SparseConfig.tiny(dense_len=48, coarse_normaliser=True),
]


@pytest.mark.slow
@pytest.mark.parametrize("sparse", SPARSE, ids=["dense", "sparse", "sparse-c2"])
@pytest.mark.parametrize("graphs", [False, True] if DEVICE.type == "cuda" else [False], ids=lambda g: f"graphs={g}")
def test_static_kernel_decode_matches_the_fp32_forward(sparse, graphs):
    config = replace(ModelConfig.from_name("tiny"), vocab_size=320, sparse_config=sparse)
    reference = random_model(config, seed=5).requires_grad_(False)
    model = random_model(config, seed=5).requires_grad_(False).fuse()
    if DEVICE.type == "cuda":
        model = model.to(DEVICE, torch.bfloat16)
    runtime = StaticRuntime(model, graphs=graphs, kernels=True)
    runtime.reserve(capacity=64, max_rows=2)
    if graphs:
        runtime.warmup()
    generator = torch.Generator().manual_seed(1)
    sequences = [torch.randint(0, 320, (n,), generator=generator).tolist() for n in (45, 9)]
    logits = runtime.prefill(sequences).cpu()
    for step in range(6):  # the row of 45 keys crosses dense_len (48) on the way
        for row, sequence in enumerate(sequences):
            want = reference_logits(reference, sequence)
            error = (logits[row] - want).abs().max() / want.abs().max()
            assert error < (0.05 if DEVICE.type == "cuda" else 1e-4), f"step {step}, row {row}: {error:.2e}"
        tokens = torch.stack([reference_logits(reference, s).argmax() for s in sequences])  # one path for both
        for row, token in enumerate(tokens.tolist()):
            sequences[row].append(token)
        logits = runtime.decode(tokens.to(DEVICE)).float().cpu()


def test_gemv_matmuls_in_the_step_match_f_linear(monkeypatch):
    """The one-row step with qkv, o and down through kernels.linear.gemv (engine.decode_matmul's
    choice where it wins; down splits the compiled tail in two around it) against the same step
    through F.linear; torch.compile as the identity, so that the compiled step's functions run here."""
    from engine.decode_matmul import MatmulChoice

    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)
    config = replace(ModelConfig.from_name("tiny"), vocab_size=320, sparse_config=SparseConfig.tiny(dense_len=48))
    model = random_model(config, seed=8).requires_grad_(False).fuse()
    if DEVICE.type == "cuda":
        model = model.to(DEVICE, torch.bfloat16)
    logits = {}
    for gemv in (False, True):
        runtime = StaticRuntime(model, graphs=False, kernels=True, compiled=True)
        runtime.reserve(capacity=80, max_rows=1)
        assert runtime.decoder.rope_kernel and runtime.decoder.compiled
        if gemv:
            runtime.decoder.matmuls = {
                "qkv": MatmulChoice((8, 4, 256, 4)),
                "o": MatmulChoice((4, 2, 512, 4)),
                "down": MatmulChoice((2, 3, 128, 2)),
            }
        steps = [runtime.prefill([list(range(3, 53))])]
        for token in (7, 8, 9):
            steps.append(runtime.decode(torch.tensor([token], device=DEVICE)))
            # the step leaves its argmax (kernels/fused/argmax.py) as the next greedy token
            assert runtime.decoder.tokens[:1].tolist() == steps[-1].argmax(-1).tolist()
        logits[gemv] = torch.stack(steps).float().cpu()
    bound = 2e-2 if DEVICE.type == "cuda" else 1e-5
    assert float((logits[True] - logits[False]).abs().max() / logits[False].abs().max()) < bound


def count_compressed_windows(monkeypatch) -> list[int]:
    """Count every window that kernels.infllmv2's compress_keys computes, wherever it is called
    from (engine.attention, the prefill kernels' entry point) -> the running count, in a list."""
    from kernels.infllmv2 import attention, compress

    counted = [0]
    original = compress.compress_keys

    def counting(k, cu_seqlens_k, max_seqlen_k, config, coarse=False):
        out = original(k, cu_seqlens_k, max_seqlen_k, config, coarse=coarse)
        lengths = (cu_seqlens_k[1:] - cu_seqlens_k[:-1]).tolist()
        counted[0] += sum(compress.compressed_count(n, config, coarse) for n in lengths)
        return out

    monkeypatch.setattr(compress, "compress_keys", counting)
    monkeypatch.setattr(attention, "compress_keys", counting)
    return counted


@pytest.mark.slow  # interpreted InfLLM v2 on CPU: ~10 s each
@pytest.mark.parametrize(
    "sparse, chunk",
    [(SPARSE[2], None), (SPARSE[2], 24), (SPARSE[1], 24)],
    ids=["sparse-c2-one-pass", "sparse-c2-chunked", "sparse-chunked"],
)
def test_the_fused_static_prefill_compresses_each_window_once_into_the_decoder(sparse, chunk, monkeypatch):
    """StaticRuntime.prefill through engine.fused_prefill (the GPU's path; interpreted on CPU) of
    rows of 70 and 30 tokens, in one pass or in chunks of 24 (sparse from the chunk that reaches
    48 keys): every layer's c1 (and c2) is compress_keys of its cache row, each window computed
    once (none twice by the prefill kernels, the layers or StaticDecoder.fill_compressed; the
    30-token row never reaches the sparse layers), the layers keep nothing, and decode steps
    match the fp32 forward."""
    from engine import static_runtime
    from kernels.infllmv2 import compress

    config = replace(ModelConfig.from_name("tiny"), vocab_size=320, sparse_config=sparse)
    reference = random_model(config, seed=5).requires_grad_(False)
    model = random_model(config, seed=5).requires_grad_(False).fuse()
    model.fused_prefill = True
    if DEVICE.type == "cuda":
        model = model.to(DEVICE, torch.bfloat16)
    for layer in model.model.layers:  # the InfLLM v2 kernels, not naive.py, on CPU too
        layer.self_attn.attend.fused = True
    if chunk is not None:
        monkeypatch.setattr(static_runtime, "prefill_chunk", lambda config, length, budget, size: chunk)
    runtime = StaticRuntime(model, graphs=False, kernels=True)
    runtime.reserve(capacity=96, max_rows=2)
    generator = torch.Generator().manual_seed(1)
    sequences = [torch.randint(0, 320, (n,), generator=generator).tolist() for n in (70, 30)]
    counted = count_compressed_windows(monkeypatch)
    logits = runtime.prefill(sequences).float().cpu()
    kinds = (False, True) if sparse.coarse_normaliser else (False,)
    per_layer = sum(compress.compressed_count(len(s), sparse, coarse) for s in sequences for coarse in kinds)
    assert counted[0] == config.num_layers * per_layer
    assert all(layer.self_attn.attend.compressed is None for layer in model.model.layers)
    for cache, kept in zip(runtime.decoder.caches, runtime.decoder.compressed, strict=True):
        for row, sequence in enumerate(sequences):
            n = len(sequence)
            cu = torch.tensor([0, n], dtype=torch.int32, device=DEVICE)
            for coarse, target in ((False, kept.c1), (True, kept.c2)):
                if target is not None:
                    want = compress.compress_keys(cache.k[row, :, :n].transpose(0, 1), cu, n, sparse, coarse=coarse)
                    torch.testing.assert_close(target[row, : want.shape[1]], want[0], rtol=0, atol=0)
    for step in range(4):
        for row, sequence in enumerate(sequences):
            want = reference_logits(reference, sequence)
            error = (logits[row] - want).abs().max() / want.abs().max()
            assert error < (0.05 if DEVICE.type == "cuda" else 1e-4), f"step {step}, row {row}: {error:.2e}"
        tokens = torch.stack([reference_logits(reference, s).argmax() for s in sequences])
        for row, token in enumerate(tokens.tolist()):
            sequences[row].append(token)
        logits = runtime.decode(tokens.to(DEVICE)).float().cpu()
