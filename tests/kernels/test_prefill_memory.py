"""engine.memory_plan's prefill estimate against what engine.fused_prefill allocates: every tensor
the prefill creates is tracked (a dispatch mode counting storages until their last tensor dies),
and the peak of live bytes compared with prefill_bytes_per_token and prefill_bytes. On CPU the
fused kernels run in fp32 under Triton's interpreter; on a GPU in bf16."""

from __future__ import annotations

import weakref
from dataclasses import replace

import pytest
import torch
from kernel_testing import DEVICE, DTYPE
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from engine import static_runtime
from engine.config import ModelConfig
from engine.kv_cache import KVCache
from engine.memory_plan import GIB, prefill_bytes, prefill_bytes_per_token, prefill_chunk
from engine.static_runtime import StaticRuntime
from kernels.infllmv2.config import SparseConfig
from tests.engine.conftest import random_model


class LiveBytes(TorchDispatchMode):
    """Peak bytes of the storages that ops create while active (views of older tensors and
    in-place results are not new; a storage is freed when its last tracked tensor dies)."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list[int]] = {}  # storage address -> [bytes, tensors alive]
        self.now = self.peak = 0

    def _release(self, address: int) -> None:
        entry = self.live[address]
        entry[1] -= 1
        if entry[1] == 0:
            self.now -= entry[0]
            del self.live[address]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        for tensor in tree_leaves(out):
            if not isinstance(tensor, torch.Tensor):
                continue
            address = tensor.untyped_storage().data_ptr()
            if address not in self.live:
                if address in inputs:
                    continue
                self.live[address] = [tensor.untyped_storage().nbytes(), 0]
                self.now += self.live[address][0]
                self.peak = max(self.peak, self.now)
            self.live[address][1] += 1
            weakref.finalize(tensor, self._release, address)
        return out


def fused_model(config: ModelConfig):
    model = random_model(config, seed=3).requires_grad_(False).fuse().to(DEVICE, DTYPE)
    model.fused_prefill = True
    if config.sparse_config is not None:
        for layer in model.model.layers:  # the InfLLM v2 kernels, not naive.py, on CPU too
            layer.self_attn.attend.fused = True
    return model


def chunk_peak(model, history: int, tokens: int) -> int:
    """Peak bytes the fused prefill of `tokens` tokens allocates after `history` cached ones."""
    config = model.config
    caches = [
        KVCache(1, config.num_kv_heads, history + tokens, config.head_dim, DTYPE, DEVICE)
        for _ in range(config.num_layers)
    ]
    ids = torch.randint(0, config.vocab_size, (1, history + tokens), generator=torch.Generator().manual_seed(1))
    ids, positions = ids.to(DEVICE), torch.arange(history + tokens, device=DEVICE)[None]
    before, chunk = (ids[:, :history], positions[:, :history]), (ids[:, history:], positions[:, history:])
    with torch.inference_mode():
        model(*before, 0, use_cache=True, last_only=True, caches=caches)
        tracker = LiveBytes()
        with tracker:
            model(*chunk, history, use_cache=True, last_only=True, caches=caches)
    return tracker.peak


@pytest.mark.slow  # interpreted on CPU: ~6 s
def test_prefill_bytes_per_token_is_what_the_fused_prefill_allocates():
    """Per token (the growth of the peak from 8 to 16 tokens, the rest being fixed): the estimate
    covers it with at most 10% to spare. The plain forward's fp32 RoPE temporaries, counted
    before RoPE went straight into the cache, made it 5x."""
    model = fused_model(replace(ModelConfig.from_name("tiny"), vocab_size=300, num_layers=1))
    measured = (chunk_peak(model, 8, 16) - chunk_peak(model, 8, 8)) / 8
    estimate = prefill_bytes_per_token(model.config, DTYPE.itemsize, 24)
    assert measured <= estimate <= 1.1 * measured, (measured, estimate)


def static_prefill(model, length: int, chunk: int, monkeypatch) -> tuple[LiveBytes, torch.Tensor]:
    """StaticRuntime.prefill of one prompt of `length` tokens in chunks of `chunk` (through the
    kernels, the decoder's compressed keys lent to the layers), every allocation tracked."""
    runtime = StaticRuntime(model, graphs=False, kernels=True, compiled=False)
    runtime.reserve(capacity=length + 16, max_rows=1)
    monkeypatch.setattr(static_runtime, "prefill_chunk", lambda config, length, budget, size: chunk)
    ids = torch.randint(0, model.config.vocab_size, (length,), generator=torch.Generator().manual_seed(1)).tolist()
    model.rope_tables(DEVICE)  # built on first use and kept by the model: not the prefill's
    tracker = LiveBytes()
    with tracker:
        logits = runtime.prefill([ids])
    return tracker, logits


@pytest.mark.slow  # interpreted InfLLM v2 on CPU: ~10 s each
@pytest.mark.parametrize("coarse", [False, True], ids=["exact", "c2"])
def test_a_static_sparse_prefill_keeps_no_compressed_keys_of_its_own(coarse, monkeypatch):
    """StaticRuntime.prefill of 80 tokens in chunks of 40, the second sparse over 80 keys: the
    forward's peak within 20% below prefill_bytes of that chunk, and afterwards nothing that the prefill
    allocated is alive but the logits. The layers compress into the decoder's c1/c2 (which
    kv_cache_bytes counts); a copy of their own, kept with room for twice the keys (as before),
    would stay alive after the prefill."""
    sparse = SparseConfig.tiny(dense_len=48, coarse_normaliser=coarse)
    model = fused_model(replace(ModelConfig.from_name("tiny"), vocab_size=300, sparse_config=sparse))
    tracker, logits = static_prefill(model, 80, 40, monkeypatch)
    estimate = prefill_bytes(model.config, 40, 80, DTYPE.itemsize)
    # besides the forward: the prompt's ids and positions (int64), and the first chunk's logits
    outside = 2 * 80 * 8 + logits.numel() * logits.element_size()
    assert tracker.peak - outside <= estimate <= 1.2 * (tracker.peak - outside), (tracker.peak, estimate)
    assert tracker.now == logits.numel() * logits.element_size(), tracker.live
    assert all(layer.self_attn.attend.compressed is None for layer in model.model.layers)


def test_minicpm4_8b_prefill_peak_is_its_mlp_stage():
    """At MiniCPM4-8B's shape the fullest stage is the MLP: the residual stream and its norm, the
    gate/up output and its product, bf16: 112 KiB a token, so 128K tokens prefill in one pass
    within 20 GiB (the estimate that counted RoPE's fp32 temporaries asked for 56 GiB)."""
    config = replace(ModelConfig.from_name("minicpm4-8b"), sparse_config=SparseConfig(coarse_normaliser=True))
    assert prefill_bytes_per_token(config, 2, 131072) == 2 * (2 * 4096 + 3 * 16384)
    assert prefill_chunk(config, 131072, budget_bytes=20 * GIB, dtype_bytes=2) == 131072
