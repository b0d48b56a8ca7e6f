"""Rotary position embeddings: plain, LongRoPE (MiniCPM4), linear and Llama 3 scaling; rotate_half layout in fp32."""

from __future__ import annotations

import math

import torch

from engine.config import ModelConfig


def inverse_frequencies(config: ModelConfig) -> tuple[torch.Tensor, float]:
    """Per-pair inverse frequencies [head_dim/2] (fp32) and the cos/sin magnitude factor."""
    dim = config.head_dim
    inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    scaling = config.rope_scaling
    if scaling is None:
        return inv_freq, 1.0
    if scaling.rope_type == "linear":
        return inv_freq / scaling.factor, 1.0
    if scaling.rope_type == "llama3":
        return _llama3_frequencies(inv_freq, scaling.factor, scaling), 1.0
    # LongRoPE as MiniCPM4 builds it: the factor list is chosen once from the configured context
    # (long when it exceeds the original), and cos/sin are scaled by sqrt(1 + ln(s)/ln(orig)).
    original = scaling.original_max_position_embeddings
    extended = config.max_position_embeddings > original
    factors = torch.tensor(scaling.long_factor if extended else scaling.short_factor, dtype=torch.float32)
    scale = config.max_position_embeddings / original
    magnitude = math.sqrt(1 + math.log(scale) / math.log(original)) if scale > 1 else 1.0
    return inv_freq / factors, magnitude


def _llama3_frequencies(inv_freq: torch.Tensor, factor: float, scaling) -> torch.Tensor:
    original = scaling.original_max_position_embeddings or 8192
    low_wavelen = original / scaling.low_freq_factor
    high_wavelen = original / scaling.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (original / wavelen - scaling.low_freq_factor) / (scaling.high_freq_factor - scaling.low_freq_factor)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    return torch.where(medium, smoothed, scaled)


def rope_tables(
    config: ModelConfig, length: int, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables [length, head_dim] in fp32, halves duplicated (rotate_half layout)."""
    inv_freq, magnitude = inverse_frequencies(config)
    positions = torch.arange(length, dtype=torch.float32)
    freqs = torch.outer(positions, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return (emb.cos() * magnitude).to(device), (emb.sin() * magnitude).to(device)
