"""RoPE of q and k straight from the fused q/k/v projection, with k and v written into the KV cache.

One pass over the projection's output [B, T, (Hq + 2 Hkv) * D]: each program takes one token's
heads, rotates q and k in fp32 by the cos/sin tables at the token's position (the rotate-half
layout of engine.rope) and stores q token-major [B, T, Hq, D] (the layout the attention kernels
read), k and v at their cache slot [b, h, slot, :]. In a decode step this replaces the RoPE
kernel and the two cache scatters; the slots come from a device tensor, so a CUDA graph
captures it. kernels/fused/reference.py holds the specification.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _rope_cache_kernel(
    qkv_ptr,
    cos_ptr,
    sin_ptr,
    pos_ptr,
    slot_ptr,
    q_ptr,
    k_ptr,
    v_ptr,
    tokens,
    stride_pos_b,
    stride_pos_t,
    stride_cache_b,
    stride_cache_h,
    stride_cache_s,
    HEADS: tl.constexpr,
    KV_HEADS: tl.constexpr,
    DIM: tl.constexpr,
    HEAD_BLOCK: tl.constexpr,
):
    token = tl.program_id(0).to(tl.int64)  # b * tokens + t
    b, t = token // tokens, token % tokens
    heads = tl.program_id(1) * HEAD_BLOCK + tl.arange(0, HEAD_BLOCK)
    total_heads: tl.constexpr = HEADS + 2 * KV_HEADS
    half: tl.constexpr = DIM // 2
    d = tl.arange(0, DIM)
    partner = (d + half) % DIM
    valid = heads < total_heads
    row = qkv_ptr + token * total_heads * DIM + heads[:, None] * DIM
    x = tl.load(row + d[None, :], mask=valid[:, None], other=0.0).to(tl.float32)
    x_partner = tl.load(row + partner[None, :], mask=valid[:, None], other=0.0).to(tl.float32)
    position = tl.load(pos_ptr + b * stride_pos_b + t * stride_pos_t).to(tl.int64)
    cos = tl.load(cos_ptr + position * DIM + d)
    sin = tl.load(sin_ptr + position * DIM + d)
    signed = tl.where(d < half, -x_partner, x_partner)  # rotate_half(x)
    rotated = x * cos[None, :] + signed * sin[None, :]
    is_q = heads < HEADS
    is_k = (heads >= HEADS) & (heads < HEADS + KV_HEADS)
    is_v = (heads >= HEADS + KV_HEADS) & valid
    tl.store(
        q_ptr + token * HEADS * DIM + heads[:, None] * DIM + d[None, :],
        rotated.to(q_ptr.dtype.element_ty),
        mask=is_q[:, None],
    )
    slot = tl.load(slot_ptr + b).to(tl.int64) + t
    cache_row = b * stride_cache_b + slot * stride_cache_s + d[None, :]
    k_head = tl.where(is_k, heads - HEADS, 0)
    tl.store(
        k_ptr + cache_row + k_head[:, None] * stride_cache_h, rotated.to(k_ptr.dtype.element_ty), mask=is_k[:, None]
    )
    v_head = tl.where(is_v, heads - HEADS - KV_HEADS, 0)
    tl.store(v_ptr + cache_row + v_head[:, None] * stride_cache_h, x.to(v_ptr.dtype.element_ty), mask=is_v[:, None])


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
    """qkv [B, T, (heads + 2 kv_heads) * D] contiguous; cos_table, sin_table [P, D] fp32
    contiguous; positions [B, T] RoPE positions (any strides, int32 or int64); slots [B] first
    cache slot of each row's tokens (token t goes to slot slots[b] + t); k_cache, v_cache
    [B', Hkv, S, D] (B' >= B, last dim contiguous, the same strides). Writes rotated k and v
    into the caches; -> q [B, T, heads, D] rotated, in qkv's dtype."""
    batch, tokens, width = qkv.shape
    dim = cos_table.shape[-1]
    if width != (heads + 2 * kv_heads) * dim or not qkv.is_contiguous():
        raise ValueError(f"qkv must be contiguous [B, T, {(heads + 2 * kv_heads) * dim}], got {tuple(qkv.shape)}")
    if dim & (dim - 1) or k_cache.stride() != v_cache.stride() or k_cache.stride(3) != 1:
        raise ValueError("rope_qkv_into_cache needs a power-of-two head_dim and caches of one contiguous layout")
    q = torch.empty(batch, tokens, heads, dim, device=qkv.device, dtype=qkv.dtype)
    head_block = min(8, triton.next_power_of_2(heads + 2 * kv_heads))
    grid = (batch * tokens, triton.cdiv(heads + 2 * kv_heads, head_block))
    _rope_cache_kernel[grid](
        qkv,
        cos_table,
        sin_table,
        positions,
        slots,
        q,
        k_cache,
        v_cache,
        tokens,
        positions.stride(0),
        positions.stride(1),
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        HEADS=heads,
        KV_HEADS=kv_heads,
        DIM=dim,
        HEAD_BLOCK=head_block,
        num_warps=4,
    )
    return q
