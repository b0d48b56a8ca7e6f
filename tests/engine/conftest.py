"""Fixtures: a tiny random MiniCPM4 checkpoint saved as an HF directory, with a byte-level tokenizer."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.config import ModelConfig
from engine.model import MiniCPMForCausalLM

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
EOS_ID = 258  # <|im_end|>: after the 256 byte symbols and <|endoftext|>, <|im_start|>


def tiny_config(**changes) -> ModelConfig:
    """The `tiny` preset with a vocabulary that holds 256 bytes and 3 special tokens."""
    return replace(ModelConfig.from_name("tiny"), vocab_size=320, eos_token_ids=(EOS_ID,), **changes)


def hf_config_dict(config: ModelConfig) -> dict:
    """config.json of `config` as HF's MiniCPM (or Llama) checkpoints write it."""
    raw = {
        "architectures": ["MiniCPMForCausalLM" if config.architecture == "minicpm" else "LlamaForCausalLM"],
        "model_type": config.architecture,
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
        "num_key_value_heads": config.num_kv_heads,
        "head_dim": config.head_dim,
        "max_position_embeddings": config.max_position_embeddings,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": config.rope_theta,
        "hidden_act": "silu",
        "tie_word_embeddings": config.tie_word_embeddings,
        "eos_token_id": list(config.eos_token_ids),
        "bos_token_id": 257,
    }
    if config.architecture == "minicpm":
        raw.update(scale_emb=config.scale_emb, scale_depth=config.scale_depth, dim_model_base=config.dim_model_base)
    scaling = config.rope_scaling
    if scaling is not None:
        raw["rope_scaling"] = {
            "rope_type": scaling.rope_type,
            "long_factor": list(scaling.long_factor),
            "short_factor": list(scaling.short_factor),
            "original_max_position_embeddings": scaling.original_max_position_embeddings,
        }
    return raw


def random_model(config: ModelConfig, seed: int = 0) -> MiniCPMForCausalLM:
    """Random weights of a sensible scale (norm weights away from 1 so that they matter)."""
    torch.manual_seed(seed)
    model = MiniCPMForCausalLM(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.uniform_(0.5, 1.5)
            elif "embed_tokens" in name:
                param.normal_(0, 1.0 / config.scale_emb)
            else:
                param.normal_(0, 1.0 / math.sqrt(param.shape[1]))
    return model.eval()


def save_tokenizer(directory: Path) -> None:
    """A byte-level tokenizer (no merges) with ChatML special tokens and template."""
    from tokenizers import Tokenizer, decoders, models
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {symbol: index for index, symbol in enumerate(sorted(ByteLevel.alphabet()))}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=CHATML
    )
    fast.save_pretrained(directory)


def save_checkpoint(directory: Path, config: ModelConfig, seed: int = 0) -> MiniCPMForCausalLM:
    """Write config.json, model.safetensors and the tokenizer; returns the (unfused) model written."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    model = random_model(config, seed)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if config.tie_word_embeddings:
        state.pop("lm_head.weight")
    save_file(state, directory / "model.safetensors")
    (directory / "config.json").write_text(json.dumps(hf_config_dict(config)))
    save_tokenizer(directory)
    return model


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random MiniCPM4 (muP scales, GQA, LongRoPE) HF directory."""
    directory = tmp_path_factory.mktemp("tiny-minicpm")
    save_checkpoint(directory, tiny_config())
    return directory


@pytest.fixture(scope="session")
def tiny_engine(tiny_checkpoint):
    from engine.local import LocalEngine

    return LocalEngine.load(str(tiny_checkpoint), device="cpu", dtype="float32")
