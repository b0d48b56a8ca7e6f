"""The prefill forward through kernels/fused: one pass per elementwise stage, q kept token-major.

The plain forward (engine.model) runs RMSNorm and RoPE as several fp32 PyTorch ops each, SiLU
and the product as two, and reorders q into the grouped [B, Hkv, G*T, D] layout and back for
the attention kernels: at 128K tokens each op is a pass over 1-9 GB. Here each layer is: a
norm fused with the residual add before it, the qkv matmul, one kernel that rotates q and k
and writes k and v into the cache, attention reading q as [T, Hq, D] (the kernels' own
layout), the o matmul, add + norm, the gate/up matmul, silu(gate) * up, the down matmul.

It serves a cached, unmasked prefill of one row (the static runtime prefills row by row) with
fused q/k/v and gate/up weights; engine.model falls back to the plain forward otherwise. The
numbers are those of the plain forward up to the order of fp32 sums (tests/kernels/
test_fused_prefill.py compares them).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.attention import SparseAttention


def fused_prefill_applies(model, input_ids: torch.Tensor, mask, first_key, caches) -> bool:
    """Whether `model`'s forward of input_ids [B, T] can take the fused path."""
    wanted = model.fused_prefill
    if wanted is None:
        weight = model.model.embed_tokens.weight
        wanted = weight.is_cuda and weight.dtype in (torch.float16, torch.bfloat16)
    layer = model.model.layers[0]
    return (
        bool(wanted)
        and caches is not None
        and mask is None
        and first_key is None
        and input_ids.shape[0] == 1
        and input_ids.shape[1] > 1
        and layer.self_attn.qkv_proj is not None
        and layer.mlp.gate_up_proj is not None
    )


def fused_prefill_forward(model, input_ids, positions, input_pos: int, caches, last_only: bool) -> torch.Tensor:
    """engine.model.MiniCPMForCausalLM.forward for one cached row [1, T] without a mask -> logits
    [1, T, V] fp32 ([1, 1, V] with last_only)."""
    from kernels.fused.elementwise import add_rms_norm, rms_norm, silu_mul
    from kernels.fused.rope_cache import rope_qkv_into_cache

    config, backbone = model.config, model.model
    tokens = input_ids.shape[1]
    end = input_pos + tokens
    if end > caches[0].max_len:
        raise ValueError(f"KV cache of {caches[0].max_len} slots cannot hold position {end - 1}")
    h = backbone.embed_tokens(input_ids)
    if config.scale_emb != 1.0:
        h = h * config.scale_emb
    cos_table, sin_table = model.rope_tables(h.device)
    slots = torch.full((1,), input_pos, device=h.device, dtype=torch.int32)
    heads, kv_heads, dim = config.num_heads, config.num_kv_heads, config.head_dim
    scale, eps = config.residual_scale, config.rms_norm_eps
    layers = backbone.layers
    normed = rms_norm(h, layers[0].input_layernorm.weight, eps)
    for index, (layer, cache) in enumerate(zip(layers, caches, strict=True)):
        attention = layer.self_attn
        qkv = F.linear(normed, attention.qkv_proj.weight)
        q = rope_qkv_into_cache(qkv, cos_table, sin_table, positions, slots, cache.k, cache.v, heads, kv_heads)
        del qkv
        out = attend_tokens(attention.attend, q, cache.k[:1, :, :end], cache.v[:1, :, :end])
        h, normed = add_rms_norm(
            h,
            F.linear(out.reshape(1, tokens, heads * dim), attention.o_proj.weight),
            scale,
            layer.post_attention_layernorm.weight,
            eps,
        )
        del q, out
        mlp = layer.mlp
        down = F.linear(silu_mul(F.linear(normed, mlp.gate_up_proj.weight)), mlp.down_proj.weight)
        following = layers[index + 1].input_layernorm if index + 1 < len(layers) else backbone.norm
        h, normed = add_rms_norm(h, down, scale, following.weight, eps)
        del down
    if last_only:
        normed = normed[:, -1:]
    if config.logit_scale != 1.0:
        normed = normed / config.logit_scale
    return model.lm_head(normed).float()


def attend_tokens(attend, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal attention of q [1, T, Hq, D] (the last T of the keys) over k, v [1, Hkv, S, D] (cache
    views) -> [1, T, Hq, D]: InfLLM v2 for a sparse layer at dense_len keys or more, else SDPA
    (cuDNN, else flash) in one pass, or the Triton tile kernel for a chunk with history."""
    tokens, n_keys = q.shape[1], k.shape[2]
    keys, values = k[0].transpose(0, 1), v[0].transpose(0, 1)  # [S, Hkv, D] views
    if isinstance(attend, SparseAttention) and n_keys >= attend.config.dense_len:
        return attend.prefill_tokens(q[0], keys, values, k)[None]
    if tokens == n_keys:
        return _sdpa_causal(q, k, v)
    from kernels.flash_attention.attention import flash_attention_prefill

    cu_q = torch.tensor([0, tokens], device=q.device, dtype=torch.int32)
    cu_k = torch.tensor([0, n_keys], device=q.device, dtype=torch.int32)
    return flash_attention_prefill(q[0], keys, values, cu_q, cu_k, tokens)[None]


def _sdpa_causal(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    heads = q.transpose(1, 2)  # [1, Hq, T, D], a view
    if not q.is_cuda:
        out = F.scaled_dot_product_attention(heads, k, v, is_causal=True, enable_gqa=True)
    else:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        # cuDNN: the fastest at 32K on the H200 (bench/RESULTS.md, engine GPU)
        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION], set_priority=True):
            out = F.scaled_dot_product_attention(heads, k, v, is_causal=True, enable_gqa=True)
    return out.transpose(1, 2)
