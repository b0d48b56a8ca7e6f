"""Read a GGUF checkpoint with the `gguf` package: metadata, dequantized tensors, HF names.

llama.cpp's converter permutes the rows of q and k weights for the llama and minicpm
architectures (its RoPE pairs interleaved elements; ours is the rotate_half layout), so the
loader undoes that permutation.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.config import ModelConfig, RopeScaling
from engine.errors import CheckpointError
from engine.native.weights import BLOCK_LAYOUT, F32, RawWeight

logger = logging.getLogger(__name__)

_GLOBAL_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_LAYER_PATTERN = re.compile(r"blk\.(\d+)\.(\w+)\.weight")
_ROPE_TENSORS = ("rope_freqs.weight", "rope_factors_long.weight", "rope_factors_short.weight")


def _reader(path: Path):
    import gguf

    try:
        return gguf.GGUFReader(path)
    except Exception as exc:  # the reader raises ValueError/struct errors/OSError on a bad file
        raise CheckpointError(f"cannot read GGUF file {path}: {exc}") from None


def read_metadata(reader) -> dict[str, Any]:
    """Scalar and string key/values of the file (token lists are skipped: only their length is kept)."""
    meta: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("tokenizer.ggml.") and len(field.data) > 1:
            meta[key] = range(len(field.data))
            continue
        try:
            meta[key] = field.contents()
        except Exception:  # fields of exotic types are not needed by the model
            logger.debug("skipping GGUF field %s", key)
    return meta


def unpermute(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """Invert llama.cpp's q/k row permutation: rows (head, pair, 2) back to (head, 2, pair)."""
    rows = weight.shape[0]
    return weight.reshape(heads, rows // heads // 2, 2, *weight.shape[1:]).transpose(1, 2).reshape(weight.shape)


def dequantize(tensor) -> torch.Tensor:
    """One GGUF tensor as fp32 torch, rows = output features (CheckpointError for unreadable quant types)."""
    from gguf import quants

    try:
        array = quants.dequantize(tensor.data, tensor.tensor_type)
    except NotImplementedError:
        raise CheckpointError(
            f"tensor {tensor.name} uses GGUF quantization type {tensor.tensor_type.name}, which the gguf "
            "package cannot dequantize; convert the model to Q8_0, Q4_K_M or F16 with llama.cpp's llama-quantize"
        ) from None
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not array.flags.writeable:  # F32 tensors come back as read-only views of the memory-mapped file
        array = array.copy()
    return torch.from_numpy(array)


def read_gguf(path: Path) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """ModelConfig, HF-named fp32 state dict and metadata of a llama/minicpm GGUF file."""
    config, state, meta, _ = read_gguf_with_blocks(path)
    return config, state, meta


def read_gguf_with_blocks(
    path: Path,
) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, Any], dict[str, RawWeight]]:
    """As `read_gguf`, plus every 2-D weight whose GGML type engine.native reads in its stored
    blocks (F16, Q4_0, Q4_1, Q8_0), HF-named and with q/k rows un-permuted like the fp32 copy."""
    reader = _reader(path)
    meta = read_metadata(reader)
    config = ModelConfig.from_gguf_metadata(meta)
    tensors = {t.name: t for t in reader.tensors}
    config.tie_word_embeddings = "output.weight" not in tensors
    rope_factors = {name: dequantize(tensors[name]) for name in _ROPE_TENSORS if name in tensors}
    if rope_factors:
        config.rope_scaling = _rope_scaling(config, meta, rope_factors)
    state: dict[str, torch.Tensor] = {}
    blocks: dict[str, RawWeight] = {}
    for name, tensor in tensors.items():
        if name in _ROPE_TENSORS:
            continue
        hf_name = _hf_name(name, path)
        state[hf_name] = _oriented(name, dequantize(tensor), config)
        raw = _blocks(tensor, state[hf_name].shape)
        if raw is not None:
            blocks[hf_name] = _oriented_blocks(name, raw, config)
    return config, state, meta, blocks


def _blocks(tensor, shape: torch.Size) -> RawWeight | None:
    """The tensor's stored bytes as a RawWeight, or None for 1-D tensors, types without a native
    kernel, and F32 (the fp32 torch parameter is the same matrix and is used in place)."""
    kind = int(tensor.tensor_type)
    if len(shape) != 2 or kind not in BLOCK_LAYOUT or kind == F32 or shape[1] % 32:
        return None
    return RawWeight(kind, tensor.data, int(shape[0]), int(shape[1]))


def _oriented_blocks(name: str, weight: RawWeight, config: ModelConfig) -> RawWeight:
    """`_oriented` for stored blocks: the same row order, applied to whole rows of bytes."""
    heads = _permuted_heads(name, config)
    if heads is None:
        return weight
    return weight.permute_rows(unpermute(torch.arange(weight.rows)[:, None], heads)[:, 0].numpy())


def _permuted_heads(name: str, config: ModelConfig) -> int | None:
    """The head count whose row permutation llama.cpp applied to this tensor (q and k), else None."""
    if name.endswith("attn_q.weight"):
        return config.num_heads
    if name.endswith("attn_k.weight"):
        return config.num_kv_heads
    return None


def _oriented(name: str, weight: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    heads = _permuted_heads(name, config)
    return weight if heads is None else unpermute(weight, heads)


def _hf_name(name: str, path: Path) -> str:
    if name in _GLOBAL_NAMES:
        return _GLOBAL_NAMES[name]
    match = _LAYER_PATTERN.fullmatch(name)
    if match and match.group(2) in _LAYER_NAMES:
        return f"model.layers.{match.group(1)}.{_LAYER_NAMES[match.group(2)]}.weight"
    raise CheckpointError(f"GGUF file {path} holds tensor {name!r}, which a llama/minicpm model does not have")


def _rope_scaling(config: ModelConfig, meta: dict[str, Any], factors: dict[str, torch.Tensor]) -> RopeScaling:
    arch = config.architecture
    if "rope_factors_long.weight" in factors:
        long = tuple(factors["rope_factors_long.weight"].tolist())
        short = tuple(factors.get("rope_factors_short.weight", factors["rope_factors_long.weight"]).tolist())
        original = meta.get(f"{arch}.rope.scaling.original_context_length") or config.max_position_embeddings
        return RopeScaling("longrope", long, short, int(original))
    # rope_freqs (Llama 3.1): per-frequency divisors with no magnitude change, which is LongRoPE at scale 1.
    freqs = tuple(factors["rope_freqs.weight"].tolist())
    return RopeScaling("longrope", freqs, freqs, config.max_position_embeddings)
