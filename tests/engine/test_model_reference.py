"""Our model against transformers' LlamaForCausalLM, and the fast paths against the plain ones."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from engine import attention
from engine.config import ModelConfig
from engine.hf_checkpoint import read_config, read_weights
from engine.loading import build_model
from engine.model import MiniCPMForCausalLM

from .conftest import random_model, tiny_config

# Both sides run fp32 with the same operations in a different order (fused GQA rows vs repeated
# K/V, scales folded into weights vs applied to activations): the differences are fp32 rounding,
# ~1e-6 relative on logits of magnitude ~1-10; 1e-4 leaves room without hiding a wrong formula
# (a wrong scale or RoPE factor moves logits by >1e-1).
TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}


def llama_reference(model: MiniCPMForCausalLM):
    """transformers' Llama holding our weights with the muP scales folded in (docs/ARCHITECTURE.md section 3):
    embedding x scale_emb, o_proj and down_proj x scale_depth/sqrt(L), lm_head / (hidden/dim_model_base)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = model.config
    rope = {"rope_type": "default", "rope_theta": config.rope_theta}
    scaling = config.rope_scaling
    if scaling is not None:
        assert scaling.rope_type == "longrope"
        extended = config.max_position_embeddings > scaling.original_max_position_embeddings
        factors = list(scaling.long_factor if extended else scaling.short_factor)
        ratio = config.max_position_embeddings / scaling.original_max_position_embeddings
        magnitude = math.sqrt(1 + math.log(ratio) / math.log(scaling.original_max_position_embeddings))
        rope = {
            "rope_type": "longrope",
            "rope_theta": config.rope_theta,
            "long_factor": factors,
            "short_factor": factors,
            "original_max_position_embeddings": scaling.original_max_position_embeddings,
            "attention_factor": magnitude if extended else 1.0,
        }
    reference_config = LlamaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        head_dim=config.head_dim,
        max_position_embeddings=config.max_position_embeddings,
        rms_norm_eps=config.rms_norm_eps,
        rope_parameters=rope,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    reference = LlamaForCausalLM(reference_config).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["model.embed_tokens.weight"] *= config.scale_emb
    state["lm_head.weight"] = model.lm_head.weight.detach() / config.logit_scale
    for name in state:
        if name.endswith(("o_proj.weight", "down_proj.weight")):
            state[name] *= config.residual_scale
    reference.load_state_dict(state, strict=True)
    return reference


@pytest.mark.parametrize("preset", ["tiny", "tiny-llama"])
def test_logits_equal_transformers_llama(preset):
    config = tiny_config() if preset == "tiny" else ModelConfig.from_name(preset)
    model = random_model(config)
    reference = llama_reference(model)
    ids = torch.randint(0, config.vocab_size, (2, 37), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model(ids, torch.arange(37).expand(2, 37))
        theirs = reference(ids).logits
    torch.testing.assert_close(ours, theirs, **TOLERANCE)


def test_checkpoint_directory_round_trip(tiny_checkpoint):
    """What the loader reads back from the HF directory is the MiniCPM4 of the config, scales and all."""
    config = read_config(tiny_checkpoint)
    assert (config.architecture, config.scale_emb, config.scale_depth) == ("minicpm", 12.0, 1.4)
    model = build_model(config, read_weights(tiny_checkpoint), str(tiny_checkpoint))
    ids = torch.arange(3, 40)[None]
    with torch.no_grad():
        torch.testing.assert_close(model(ids, torch.arange(37)[None]), llama_reference(model)(ids).logits, **TOLERANCE)


def test_fused_projections_equal_separate():
    model = random_model(tiny_config())
    fused = copy.deepcopy(model).fuse()
    ids = torch.randint(0, 256, (1, 20))
    positions = torch.arange(20)[None]
    with torch.no_grad():
        torch.testing.assert_close(fused(ids, positions), model(ids, positions), rtol=1e-5, atol=1e-5)


def test_cached_incremental_decode_equals_full_forward():
    model = random_model(tiny_config()).fuse()
    ids = torch.randint(0, 256, (1, 24), generator=torch.Generator().manual_seed(2))
    positions = torch.arange(24)[None]
    with torch.no_grad():
        full = model(ids, positions)
        model.setup_caches(1, 64)
        steps = [model(ids[:, :10], positions[:, :10], 0, use_cache=True)]  # prefill 10, then 14 single steps
        steps += [model(ids[:, t : t + 1], positions[:, t : t + 1], t, use_cache=True) for t in range(10, 24)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


def test_chunked_prefill_equals_one_chunk():
    from engine.generate import prefill

    model = random_model(tiny_config()).fuse()
    ids = torch.randint(0, 256, (1, 50))
    positions = torch.arange(50)[None]
    with torch.no_grad():
        model.setup_caches(1, 64)
        whole = prefill(model, ids, positions, None, chunk=64)
        chunked = prefill(model, ids, positions, None, chunk=16)
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows", [1, 3, 16])
def test_small_query_attention_equals_sdpa(rows):
    """The decode fast path (three plain ops) against torch's fused SDPA, with and without a mask."""
    generator = torch.Generator().manual_seed(3)
    q = torch.randn(2, 3, rows, 16, generator=generator)
    k = torch.randn(2, 3, 29, 16, generator=generator)
    v = torch.randn(2, 3, 29, 16, generator=generator)
    mask = torch.rand(2, 1, rows, 29, generator=generator) > 0.3
    mask[..., 0] = True
    for m in (None, mask):
        expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m)
        torch.testing.assert_close(attention.small_query_attention(q, k, v, m), expected, rtol=1e-5, atol=1e-5)


def test_longrope_uses_long_factors_and_magnitude_beyond_original_context():
    from engine.rope import inverse_frequencies

    config = tiny_config()
    inv_freq, magnitude = inverse_frequencies(config)
    base = 1.0 / (config.rope_theta ** (torch.arange(0, 16, 2).float() / 16))
    torch.testing.assert_close(inv_freq, base / torch.tensor(config.rope_scaling.long_factor))
    assert magnitude == pytest.approx(math.sqrt(1 + math.log(2) / math.log(256)))
    short = tiny_config(max_position_embeddings=256)
    inv_short, magnitude_short = inverse_frequencies(short)
    torch.testing.assert_close(inv_short, base)  # short factors are all 1 in the preset
    assert magnitude_short == 1.0


@pytest.mark.parametrize("coarse", [False, True], ids=["exact", "coarse"])
def test_sparse_seam_equals_dense_when_every_block_is_selected(monkeypatch, coarse):
    """A sparse_config model past dense_len goes through kernels.infllmv2; with top-k and the window
    covering every block it must equal dense attention (checks the seam's head and row layout),
    whichever normaliser scores the blocks."""
    from engine.config import SparseConfig
    from kernels.infllmv2 import naive

    calls = []
    specification = naive.infllmv2_attention
    monkeypatch.setattr(naive, "infllmv2_attention", lambda *args: calls.append(1) or specification(*args))

    dense = random_model(tiny_config()).fuse()
    sparse = MiniCPMForCausalLM(
        tiny_config(sparse_config=SparseConfig(window_size=2048, dense_len=64, coarse_normaliser=coarse))
    ).eval()
    sparse.load_state_dict(random_model(tiny_config()).state_dict())
    sparse.fuse()
    ids = torch.randint(0, 256, (1, 90), generator=torch.Generator().manual_seed(5))
    positions = torch.arange(90)[None]
    with torch.no_grad():
        dense.setup_caches(1, 96)
        sparse.setup_caches(1, 96)
        expected = dense(ids, positions, 0, use_cache=True)
        got = sparse(ids, positions, 0, use_cache=True)
        step = sparse(ids[:, :1], torch.tensor([[90]]), 90, use_cache=True)  # decode past dense_len
        step_expected = dense(ids[:, :1], torch.tensor([[90]]), 90, use_cache=True)
    assert len(calls) == 2 * 2  # two layers, prefill and one decode step
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(step, step_expected, rtol=1e-4, atol=1e-4)
