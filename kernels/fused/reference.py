"""The plain-torch specification of kernels/fused, and the engine's own elementwise arithmetic:
engine.model.RMSNorm, the decode step and engine.rope call `rms_norm` and `apply_rope` from here,
so the kernels are tested against exactly what the plain forward computes."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """weight * (x * rsqrt(mean(x^2) + eps)) with the variance in fp32, as engine.model.RMSNorm."""
    xf = x.float()
    return weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


def add_rms_norm(
    h: torch.Tensor, delta: torch.Tensor, alpha: float, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(h + alpha * delta, its rms_norm): a residual add and the next norm."""
    total = torch.add(h, delta, alpha=alpha)
    return total, rms_norm(total, weight, eps)


def silu_mul(gate_up: torch.Tensor) -> torch.Tensor:
    """silu(gate) * up of gate_up [..., 2I] (gate first) -> [..., I]."""
    gate, up = gate_up.chunk(2, dim=-1)
    return F.silu(gate) * up


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """x with its halves swapped and the new first half negated (RoPE's rotate_half layout)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [B, T, H, D]; cos, sin: [B, T, 1, D] fp32. Computed in fp32, returned in x's dtype."""
    xf = x.float()
    return (xf * cos + rotate_half(xf) * sin).to(x.dtype)


def rope_qkv_into_cache(
    qkv: torch.Tensor,
    cos_table: torch.Tensor,
    sin_table: torch.Tensor,
    positions: torch.Tensor,
    slots: torch.Tensor,
    k_cache: torch.Tensor,
    v_cache: torch.Tensor,
    heads: int,
    kv_heads: int,
) -> torch.Tensor:
    """Split qkv [B, T, (heads + 2 kv_heads) * D] into q, k, v; rotate q and k by the RoPE tables
    [P, D] (fp32, halves duplicated) at positions [B, T]; write k and v into the caches
    [B', Hkv, S, D] at slot slots[b] + t of row b; -> q [B, T, heads, D] rotated."""
    batch, tokens, _ = qkv.shape
    dim = cos_table.shape[-1]
    q, k, v = qkv.view(batch, tokens, heads + 2 * kv_heads, dim).split([heads, kv_heads, kv_heads], dim=2)
    cos, sin = cos_table[positions.long()][:, :, None], sin_table[positions.long()][:, :, None]  # [B, T, 1, D]

    k = apply_rope(k, cos, sin)
    for b in range(batch):
        where = slots[b].long() + torch.arange(tokens, device=qkv.device)
        k_cache[b, :, where] = k[b].transpose(0, 1)
        v_cache[b, :, where] = v[b].transpose(0, 1)
    return apply_rope(q, cos, sin)
