"""The GPU path end to end (skipped without CUDA): a reduced MiniCPM4 (muP scales, GQA 4:1, LongRoPE,
head_dim 64, InfLLM v2 with the checkpoint's kernel/stride/block ratios) in bf16 on CUDA, prefill
(one pass, and in chunks) and decode steps graphed and eager, against the same weights in fp32 on
the CPU through the plain-torch forward (naive InfLLM v2).

Tolerance: each step's logits within 5% of the largest reference logit (bf16 rounding through four
layers, as tests/engine/test_cuda.py argues), and graphed steps within 1% of eager ones (the same
kernels, replayed)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from engine.config import ModelConfig
from engine.model import MiniCPMForCausalLM
from engine.static_runtime import StaticRuntime
from kernels.infllmv2.config import SparseConfig

from .conftest import random_model

pytestmark = pytest.mark.gpu

SPARSE = SparseConfig(kernel_size=32, kernel_stride=16, block_size=64, window_size=256, topk=8, dense_len=512)
SPARSE_C2 = replace(SPARSE, coarse_normaliser=True)  # the normaliser a checkpoint's sparse_config selects with


def reduced_minicpm4(sparse: SparseConfig | None) -> ModelConfig:
    tiny = ModelConfig.from_name("tiny")
    factors = tuple(1.0 + 0.5 * i for i in range(32))
    return replace(
        tiny,
        vocab_size=1000,
        hidden_size=512,
        num_layers=4,
        num_heads=8,
        num_kv_heads=2,
        head_dim=64,
        intermediate_size=1024,
        max_position_embeddings=4096,
        rope_scaling=replace(
            tiny.rope_scaling, long_factor=factors, short_factor=(1.0,) * 32, original_max_position_embeddings=1024
        ),
        sparse_config=sparse,
    )


def reference_logits(model: MiniCPMForCausalLM, sequence: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        return model(torch.tensor([sequence]), torch.arange(len(sequence))[None])[0, -1]


@pytest.mark.parametrize("sparse", [None, SPARSE, SPARSE_C2], ids=["dense", "sparse", "sparse-c2"])
@pytest.mark.parametrize("chunked", [False, True], ids=["one-pass", "chunked"])
def test_gpu_path_follows_the_fp32_cpu_forward(sparse, chunked, monkeypatch):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    if chunked:  # prefill in chunks of 512 with history, as when memory is short
        import engine.static_runtime as runtime_module

        monkeypatch.setattr(runtime_module, "prefill_chunk", lambda config, length, budget, size: 512)
    config = reduced_minicpm4(sparse)
    reference = random_model(config, seed=11).requires_grad_(False)
    model = random_model(config, seed=11).requires_grad_(False).fuse().to("cuda", torch.bfloat16)
    graphed = StaticRuntime(model, graphs=True)
    graphed.reserve(capacity=1400, max_rows=2)
    assert graphed.kernels and graphed.rows == 2
    graphed.warmup()
    generator = torch.Generator().manual_seed(2)
    # 1100 keys: sparse from the start; 500: crosses dense_len (512) while decoding
    sequences = [torch.randint(0, 1000, (n,), generator=generator).tolist() for n in (1100, 500)]
    logits = graphed.prefill(sequences)
    eager_logits = None
    for step in range(20):
        for row, sequence in enumerate(sequences):
            want = reference_logits(reference, sequence)
            got = logits[row].float().cpu()
            error = float((got - want).abs().max() / want.abs().max())
            assert error < 0.05, f"step {step}, row {row}: {error:.3f} of the largest logit"
            if eager_logits is not None:
                drift = float((got - eager_logits[row]).abs().max() / want.abs().max())
                assert drift < 0.01, f"step {step}, row {row}: graphed differs from eager by {drift:.4f}"
        tokens = torch.stack([reference_logits(reference, s).argmax() for s in sequences]).cuda()
        for row, token in enumerate(tokens.tolist()):
            sequences[row].append(token)
        # the eager step on the same state: run it, rewind the lengths, then replay the graph
        with torch.inference_mode():
            saved = graphed.decoder.lengths.clone()
            graphed.graphs = False
            eager_logits = graphed.decode(tokens).float().cpu()
            graphed.decoder.lengths.copy_(saved)
            graphed.graphs = True
        logits = graphed.decode(tokens)


def test_device_greedy_generation_equals_the_host_loop():
    """BatchGeneration's greedy path on the graphs (the next tokens picked on the device, one step
    queued ahead) gives the tokens of a host loop of argmax and decode on the same runtime."""
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from engine.generate import BatchGeneration
    from engine.types import SamplingParams

    model = random_model(reduced_minicpm4(SPARSE), seed=11).requires_grad_(False).fuse().to("cuda", torch.bfloat16)
    runtime = StaticRuntime(model, graphs=True)
    runtime.reserve(capacity=1400, max_rows=2)
    runtime.warmup()
    generator = torch.Generator().manual_seed(3)
    prompts = [torch.randint(0, 1000, (n,), generator=generator).tolist() for n in (1100, 500)]
    logits = runtime.prefill(prompts)
    want = [[], []]
    for _ in range(24):
        tokens = logits.argmax(-1)
        for row, token in enumerate(tokens.tolist()):
            want[row].append(token)
        logits = runtime.decode(tokens)

    class Ids:  # decodes any id, so that every row runs its whole budget
        def decode(self, ids, **kwargs):
            return " ".join(map(str, ids))

    generation = BatchGeneration(
        model, Ids(), (), prompts, SamplingParams(temperature=0.0, max_new_tokens=24), [24, 24], runtime=runtime
    )
    assert generation._device_greedy()
    for _ in generation:
        pass
    assert [result.token_ids for result in generation.results] == want
