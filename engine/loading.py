"""Resolve a model reference ('embedded', an HF directory, a .gguf file, a hub id) to a ready model."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from engine import gguf_checkpoint, hf_checkpoint
from engine.config import ModelConfig
from engine.embedded import embedded_model_path
from engine.errors import CheckpointError
from engine.model import MiniCPMForCausalLM
from engine.native.decoder import NativeDecoder
from engine.native.weights import RawWeight
from engine.tokenizer import ChatTokenizer

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class LoadedModel:
    model: MiniCPMForCausalLM
    tokenizer: ChatTokenizer
    eos_token_ids: tuple[int, ...]
    name: str


def resolve_device(device: str) -> torch.device:
    """'auto' is CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CheckpointError(f"device {device!r} requested but CUDA is not available here; use device='cpu'")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """'auto' is bf16 on CUDA and fp32 on CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in names:
        raise ValueError(f"unknown dtype {dtype!r}; use auto, {', '.join(names)}")
    return names[dtype]


def build_model(config: ModelConfig, state: dict[str, torch.Tensor], source: str) -> MiniCPMForCausalLM:
    """A model holding `state` (HF names); CheckpointError naming missing or unexpected tensors."""
    with torch.device("meta"):
        model = MiniCPMForCausalLM(config)
    expected = set(model.state_dict())
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
        expected.discard("lm_head.weight")
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {source} does not match a {config.architecture} model of its config: "
            f"missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
            f"unexpected {unexpected[:4]}{'...' if len(unexpected) > 4 else ''}"
        )
    for name, tensor in state.items():
        want = model.get_parameter(name).shape
        if tuple(tensor.shape) != tuple(want):
            raise CheckpointError(
                f"checkpoint {source}: tensor {name} has shape {tuple(tensor.shape)}, expected {tuple(want)}"
            )
    model.load_state_dict(state, strict=False, assign=True)
    if config.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    return model.eval().requires_grad_(False)


def load_model(
    reference: str = "embedded", device: str = "auto", dtype: str = "auto", native: bool = True
) -> LoadedModel:
    """Load weights, tokenizer and EOS ids; the model is fused and placed on `device` in `dtype`.
    native: on CPU in fp32, decode steps run in C (engine.native), reading GGUF weights in their
    stored blocks; False keeps every step in torch."""
    target = resolve_device(device)
    precision = resolve_dtype(dtype, target)
    path = embedded_model_path() if reference == "embedded" else Path(reference).expanduser()
    blocks: dict[str, RawWeight] = {}
    if path.is_file() and path.suffix == ".gguf":
        config, state, _, blocks = gguf_checkpoint.read_gguf_with_blocks(path)
        tokenizer = ChatTokenizer.from_gguf(path)
        name = path.stem
    elif path.is_dir():
        config, state, tokenizer = _read_directory(path)
        name = path.name
    elif path.exists():
        raise CheckpointError(f"{path} is neither a .gguf file nor an HF checkpoint directory")
    elif _looks_like_hub_id(reference):
        config, state, tokenizer = _read_directory(_download(reference))
        name = reference
    else:
        raise CheckpointError(
            f"model {reference!r} not found: pass 'embedded', an HF checkpoint directory, a .gguf file or a hub id"
        )
    model = build_model(config, state, str(path))
    model.to(device=target, dtype=precision).fuse()
    if native:
        model.native_decoder = NativeDecoder.create(model, blocks)
    eos = tuple(config.eos_token_ids) or ((tokenizer.eos_token_id,) if tokenizer.eos_token_id is not None else ())
    logger.info(
        "loaded %s (%s, %d layers) on %s in %s%s",
        name,
        config.architecture,
        config.num_layers,
        target,
        precision,
        ", native CPU decode" if model.native_decoder is not None else "",
    )
    return LoadedModel(model, tokenizer, eos, name)


def _read_directory(directory: Path) -> tuple[ModelConfig, dict[str, torch.Tensor], ChatTokenizer]:
    config = hf_checkpoint.read_config(directory)
    files = hf_checkpoint.weight_files(directory)  # fail on a missing shard before the slow reads
    hf_checkpoint.check_tokenizer_files(directory)
    logger.debug("reading %d weight files from %s", len(files), directory)
    return config, hf_checkpoint.read_weights(directory), ChatTokenizer.from_directory(directory)


def _looks_like_hub_id(reference: str) -> bool:
    parts = reference.split("/")
    return len(parts) == 2 and all(parts) and not reference.startswith((".", "~"))


def _download(repo_id: str) -> Path:
    """Fetch the config, weights and tokenizer of a hub model (only when the user named a hub id)."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        logger.info("HF_HUB_OFFLINE=1: looking for %s in the local hub cache only", repo_id)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(
            snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.model", "*.jinja"])
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        raise CheckpointError(
            f"cannot download {repo_id!r} from the Hugging Face hub ({exc}); check the id and the network, "
            "or pass a local directory"
        ) from None
