"""RoPE of q and k straight from the fused q/k/v projection, with k and v written into the KV cache.

One pass over the projection's output [B, T, (Hq + 2 Hkv) * D]: each program takes one token's
heads, rotates q and k in fp32 by the cos/sin tables at the token's position (the rotate-half
layout of engine.rope) and stores q token-major [B, T, Hq, D] (the layout the attention kernels
read), k and v at their cache slot [b, h, slot, :]. In a decode step this replaces the RoPE
kernel and the two cache scatters; the slots come from a device tensor, so a CUDA graph
captures it. kernels/fused/reference.py holds the specification.

Given the compressed-key caches of a sparse checkpoint, a decode step's launch also appends
them: when a row's new key completes a window, the program that rotated that key for its KV
head stores the window's mean into c1 (and c2), as kernels/infllmv2/compress.py
`append_compressed_keys` (the reference) would in a launch of its own. The window's other keys
come from the cache (earlier steps wrote them); the new key comes from the program's registers,
rounded to the cache's dtype as the cache holds it. On Hopper the kernel launches with PDL
(kernels/flash_attention/launch.py) and waits for the kernel before it (the qkv projection) before
it reads anything.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait

from kernels.flash_attention.launch import use_pdl
from kernels.infllmv2.config import SparseConfig


@triton.jit
def _append_window(
    k_ptr,
    c_ptr,
    new_keys,
    first_head,
    length,
    k_row,
    c_row,
    stride_cache_h,
    stride_cache_s,
    stride_c_j,
    stride_c_h,
    HEADS: tl.constexpr,
    KV_HEADS: tl.constexpr,
    DIM: tl.constexpr,
    HEAD_BLOCK: tl.constexpr,
    SIZE: tl.constexpr,
    STRIDE: tl.constexpr,
):
    """When `length` keys complete window j (keys j * STRIDE .. length - 1), store the mean of
    each KV head's window among this program's heads: the first SIZE - 1 keys from the cache,
    the last from new_keys [HEAD_BLOCK, DIM] (fp32, already rounded to the cache's dtype)."""
    if (length >= SIZE) & ((length - SIZE) % STRIDE == 0):
        j = (length - SIZE) // STRIDE
        o_t = tl.arange(0, SIZE)
        d = tl.arange(0, DIM)
        rows = tl.arange(0, HEAD_BLOCK)
        keys = k_ptr + k_row + (j * STRIDE + o_t).to(tl.int64)[:, None] * stride_cache_s + d[None, :]
        # the KV heads among this program's heads (a runtime loop: one copy of the window code)
        for kv_head in range(tl.maximum(first_head - HEADS, 0), tl.minimum(first_head + HEAD_BLOCK - HEADS, KV_HEADS)):
            window = tl.load(keys + kv_head * stride_cache_h, mask=(o_t < SIZE - 1)[:, None], other=0.0)
            new_key = tl.sum(tl.where(rows[:, None] == kv_head + HEADS - first_head, new_keys, 0.0), 0)
            window = tl.where((o_t == SIZE - 1)[:, None], new_key[None, :], window.to(tl.float32))
            mean = tl.sum(window, 0) / SIZE
            tl.store(c_ptr + c_row + j * stride_c_j + kv_head * stride_c_h + d, mean.to(c_ptr.dtype.element_ty))


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
    c1_ptr,
    c2_ptr,
    tokens,
    stride_pos_b,
    stride_pos_t,
    stride_cache_b,
    stride_cache_h,
    stride_cache_s,
    stride_c1_b,
    stride_c1_j,
    stride_c1_h,
    stride_c2_b,
    stride_c2_j,
    stride_c2_h,
    HEADS: tl.constexpr,
    KV_HEADS: tl.constexpr,
    DIM: tl.constexpr,
    HEAD_BLOCK: tl.constexpr,
    COMPRESS: tl.constexpr,
    HAS_C2: tl.constexpr,
    C1_SIZE: tl.constexpr,
    C1_STRIDE: tl.constexpr,
    C2_SIZE: tl.constexpr,
    C2_STRIDE: tl.constexpr,
    PDL: tl.constexpr = False,
):
    if PDL:  # qkv comes from the kernel before (launch.py)
        gdc_wait()
        gdc_launch_dependents()
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
    if COMPRESS:  # one token a row (T = 1), the row's keys filled from slot 0: slot + 1 keys now
        new_keys = rotated.to(k_ptr.dtype.element_ty).to(tl.float32)
        first_head = tl.program_id(1) * HEAD_BLOCK
        k_row = b * stride_cache_b
        _append_window(
            k_ptr,
            c1_ptr,
            new_keys,
            first_head,
            slot + 1,
            k_row,
            b * stride_c1_b,
            stride_cache_h,
            stride_cache_s,
            stride_c1_j,
            stride_c1_h,
            HEADS,
            KV_HEADS,
            DIM,
            HEAD_BLOCK,
            C1_SIZE,
            C1_STRIDE,
        )
        if HAS_C2:
            _append_window(
                k_ptr,
                c2_ptr,
                new_keys,
                first_head,
                slot + 1,
                k_row,
                b * stride_c2_b,
                stride_cache_h,
                stride_cache_s,
                stride_c2_j,
                stride_c2_h,
                HEADS,
                KV_HEADS,
                DIM,
                HEAD_BLOCK,
                C2_SIZE,
                C2_STRIDE,
            )


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
    *,
    c1_cache: torch.Tensor | None = None,
    sparse: SparseConfig | None = None,
    c2_cache: torch.Tensor | None = None,
) -> torch.Tensor:
    """qkv [B, T, (heads + 2 kv_heads) * D] contiguous; cos_table, sin_table [P, D] fp32
    contiguous; positions [B, T] RoPE positions (any strides, int32 or int64); slots [B] first
    cache slot of each row's tokens (token t goes to slot slots[b] + t); k_cache, v_cache
    [B', Hkv, S, D] (B' >= B, last dim contiguous, the same strides). Writes rotated k and v
    into the caches; -> q [B, T, heads, D] rotated, in qkv's dtype.

    With c1_cache [B', c1_capacity, Hkv, D] (k_cache's dtype) and sparse, a decode step (T = 1)
    whose row b held exactly slots[b] keys also appends the compressed keys its new keys
    complete, as append_compressed_keys(k_cache.transpose(1, 2), c1_cache, slots, slots + 1,
    sparse, c2_cache) after the plain call; c2_cache [B', c2_capacity, Hkv, D] likewise."""
    batch, tokens, width = qkv.shape
    dim = cos_table.shape[-1]
    if width != (heads + 2 * kv_heads) * dim or not qkv.is_contiguous():
        raise ValueError(f"qkv must be contiguous [B, T, {(heads + 2 * kv_heads) * dim}], got {tuple(qkv.shape)}")
    if dim & (dim - 1) or k_cache.stride() != v_cache.stride() or k_cache.stride(3) != 1:
        raise ValueError("rope_qkv_into_cache needs a power-of-two head_dim and caches of one contiguous layout")
    _check_compressed(batch, tokens, k_cache, c1_cache, sparse, c2_cache)
    c1 = k_cache if c1_cache is None else c1_cache
    c2 = c1 if c2_cache is None else c2_cache
    windows = _window_sizes(sparse)
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
        c1,
        c2,
        tokens,
        positions.stride(0),
        positions.stride(1),
        k_cache.stride(0),
        k_cache.stride(1),
        k_cache.stride(2),
        *c1.stride()[:3],
        *c2.stride()[:3],
        HEADS=heads,
        KV_HEADS=kv_heads,
        DIM=dim,
        HEAD_BLOCK=head_block,
        COMPRESS=c1_cache is not None,
        HAS_C2=c2_cache is not None,
        C1_SIZE=windows[0],
        C1_STRIDE=windows[1],
        C2_SIZE=windows[2],
        C2_STRIDE=windows[3],
        PDL=use_pdl(qkv),
        num_warps=4,
        launch_pdl=use_pdl(qkv),
    )
    return q


def _window_sizes(sparse: SparseConfig | None) -> tuple[int, int, int, int]:
    """c1's kernel size and stride, then c2's (placeholders when nothing is appended)."""
    if sparse is None:
        return 1, 1, 1, 1
    return sparse.kernel_size, sparse.kernel_stride, sparse.coarse_kernel_size, sparse.coarse_kernel_stride


def _check_compressed(batch: int, tokens: int, k_cache, c1_cache, sparse, c2_cache) -> None:
    """The compressed-key caches must come with their config, one token a row, in the layout
    and dtype of the key cache; c2 only with c1."""
    if c1_cache is None:
        if sparse is not None or c2_cache is not None:
            raise ValueError("rope_qkv_into_cache appends compressed keys only given c1_cache")
        return
    if sparse is None:
        raise ValueError("rope_qkv_into_cache needs the SparseConfig (sparse=) to append compressed keys")
    if tokens != 1:
        raise ValueError(f"compressed keys are appended in decode steps of one token a row, got {tokens} tokens")
    for name, cache in (("c1_cache", c1_cache), ("c2_cache", c2_cache)):
        if cache is None:
            continue
        if cache.dtype != k_cache.dtype or cache.shape[2:] != k_cache.shape[1:2] + k_cache.shape[3:]:
            raise ValueError(
                f"{name} must be [B, n, Hkv, D] in the key cache's dtype, got {tuple(cache.shape)} {cache.dtype}"
            )
        if cache.stride(3) != 1 or cache.shape[0] < batch:
            raise ValueError(f"{name} needs a contiguous last dim and a row for each of the {batch} rows")
