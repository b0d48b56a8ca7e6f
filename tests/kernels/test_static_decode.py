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
from kernels.linear import norm_gemv as norm_gemv_module
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


@pytest.mark.parametrize("variant", ["gemv", "norm_gemv"])
def test_gemv_matmuls_in_the_step_match_f_linear(monkeypatch, variant):
    """The one-row step with qkv, o and down through kernels.linear.gemv (engine.decode_matmul's
    choice where it wins; down splits the compiled tail in two around it), and with norm_gemv also
    the post-attention residual add, norm and SwiGLU inside the gate/up GEMV (kernels/linear/norm_gemv.py),
    against the same step through F.linear; torch.compile as the identity, so that the compiled
    step's functions run here."""
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
            if variant == "norm_gemv":
                runtime.decoder.norm_gemvs = {"gate_up": (2, 5, 128, 2)}
                calls = counted(monkeypatch, norm_gemv_module, "norm_gemv")
        steps = [runtime.prefill([list(range(3, 53))])]
        for token in (7, 8, 9):
            steps.append(runtime.decode(torch.tensor([token], device=DEVICE)))
            # the step leaves its argmax (kernels/fused/argmax.py) as the next greedy token
            assert runtime.decoder.tokens[:1].tolist() == steps[-1].argmax(-1).tolist()
        logits[gemv] = torch.stack(steps).float().cpu()
    bound = 2e-2 if DEVICE.type == "cuda" else 1e-5
    assert float((logits[True] - logits[False]).abs().max() / logits[False].abs().max()) < bound
    if variant == "norm_gemv":
        assert len(calls) == 3 * config.num_layers  # gate/up of every layer, three steps


def counted(monkeypatch, module, name: str) -> list:
    """Replace module.name by a wrapper that records each call; -> the list of calls."""
    calls, original = [], getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls
