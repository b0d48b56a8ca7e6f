"""Read an HF checkpoint directory: config.json, single or sharded safetensors, tokenizer files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from engine.config import ModelConfig
from engine.errors import CheckpointError

logger = logging.getLogger(__name__)

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")


def read_config(directory: Path) -> ModelConfig:
    """ModelConfig from directory/config.json (CheckpointError when absent or malformed)."""
    raw = _read_json(directory / "config.json", directory)
    config = ModelConfig.from_hf_config(raw)
    generation = directory / "generation_config.json"
    if generation.is_file():
        eos = _read_json(generation, directory).get("eos_token_id")
        if eos is not None:
            config.eos_token_ids = tuple(eos) if isinstance(eos, list) else (int(eos),)
    return config


def weight_files(directory: Path) -> list[Path]:
    """The safetensors files of the checkpoint, checked to exist."""
    if (directory / SINGLE_FILE).is_file():
        return [directory / SINGLE_FILE]
    index_path = directory / INDEX_FILE
    if not index_path.is_file():
        present = sorted(p.name for p in directory.iterdir())
        raise CheckpointError(
            f"checkpoint directory {directory} has neither {SINGLE_FILE} nor {INDEX_FILE} "
            f"(found: {', '.join(present) or 'nothing'}); download the weights again or pass a .gguf file"
        )
    shards = sorted(set(_read_json(index_path, directory).get("weight_map", {}).values()))
    if not shards:
        raise CheckpointError(f"{index_path} lists no weight files in its weight_map")
    missing = [name for name in shards if not (directory / name).is_file()]
    if missing:
        raise CheckpointError(
            f"checkpoint directory {directory} is missing {len(missing)} of the {len(shards)} shards "
            f"named in {INDEX_FILE}: {', '.join(missing[:5])}; download them again"
        )
    return [directory / name for name in shards]


def read_weights(directory: Path) -> dict[str, torch.Tensor]:
    """All tensors of the checkpoint by their HF names (memory-mapped; rotary caches dropped)."""
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for path in weight_files(directory):
        try:
            state.update(load_file(path))
        except Exception as exc:  # safetensors raises its own SafetensorError and OSError kinds
            raise CheckpointError(f"cannot read {path}: {exc}; the file is damaged or incomplete") from None
    return {name: tensor for name, tensor in state.items() if not name.endswith("rotary_emb.inv_freq")}


def check_tokenizer_files(directory: Path) -> None:
    """CheckpointError unless the directory holds a tokenizer the transformers classes can read."""
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise CheckpointError(
            f"checkpoint directory {directory} has no tokenizer ({' or '.join(TOKENIZER_FILES)}); "
            "copy the tokenizer files of the model next to config.json"
        )


def _read_json(path: Path, directory: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"checkpoint directory {directory} has no {path.name}; it is not an HF model directory")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot parse {path}: {exc}") from None
