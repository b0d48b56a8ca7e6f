"""The MiniCPM4 model (muP scales, GQA, LongRoPE), which with identity scales is a Llama-family model.

Forward (docs/ARCHITECTURE.md section 3): h = embed(ids) * scale_emb; per layer, pre-norm,
h += attn(rms(h)) * scale_depth/sqrt(L), h += mlp(rms(h)) * scale_depth/sqrt(L);
logits = lm_head(rms(h) / (hidden/dim_model_base)). Parameter names follow the HF checkpoints
(model.layers.N.self_attn.q_proj.weight, ...), so loading is a plain name map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.attention import SparseAttention, causal_kernel_attention, dense_attention, kernel_attention_ok
from engine.config import ModelConfig
from engine.fused_prefill import fused_prefill_applies, fused_prefill_forward
from engine.kv_cache import KVCache
from engine.rope import rope_tables
from kernels.fused.reference import apply_rope, rms_norm


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight, the variance in fp32, no +1 offset."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps)


class Attention(nn.Module):
    """GQA self-attention. `fuse()` replaces q/k/v_proj by one qkv_proj matmul (same numbers, fewer calls)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = config.num_heads, config.num_kv_heads, config.head_dim
        q_dim, kv_dim = config.num_heads * config.head_dim, config.num_kv_heads * config.head_dim
        self.q_proj = nn.Linear(config.hidden_size, q_dim, bias=False)
        self.k_proj = nn.Linear(config.hidden_size, kv_dim, bias=False)
        self.v_proj = nn.Linear(config.hidden_size, kv_dim, bias=False)
        self.o_proj = nn.Linear(q_dim, config.hidden_size, bias=False)
        self.qkv_proj: nn.Linear | None = None
        self.split = (q_dim, kv_dim, kv_dim)
        self.attend = (
            SparseAttention(config.sparse_config, config.num_groups) if config.sparse_config else dense_attention
        )

    def fuse(self) -> None:
        weight = torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight]).detach()
        self.qkv_proj = nn.Linear(
            weight.shape[1], weight.shape[0], bias=False, device=weight.device, dtype=weight.dtype
        )
        self.qkv_proj.weight = nn.Parameter(weight, requires_grad=False)
        del self.q_proj, self.k_proj, self.v_proj

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v [B, T, heads * head_dim] of x [B, T, hidden], before RoPE."""
        if self.qkv_proj is not None:
            return self.qkv_proj(x).split(self.split, dim=-1)
        return self.q_proj(x), self.k_proj(x), self.v_proj(x)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None,
        input_pos: int,
        mask: torch.Tensor | None,
        first_key: torch.Tensor | None,
    ) -> torch.Tensor:
        batch, tokens, _ = x.shape
        q, k, v = self.project(x)
        group = self.num_heads // self.num_kv_heads
        q = apply_rope(q.view(batch, tokens, self.num_heads, self.head_dim), cos, sin)  # [B, T, Hq, D]
        k = apply_rope(k.view(batch, tokens, self.num_kv_heads, self.head_dim), cos, sin)  # [B, T, Hkv, D]
        k = k.transpose(1, 2)
        v = v.view(batch, tokens, self.num_kv_heads, self.head_dim).transpose(1, 2)
        if cache is not None:
            k, v = cache.update(input_pos, k, v)  # [B, Hkv, S, D]
        # q: [B, T, Hkv, G, D] -> [B, Hkv, G*T, D]
        q = q.view(batch, tokens, self.num_kv_heads, group, self.head_dim).permute(0, 2, 3, 1, 4)
        q = q.reshape(batch, self.num_kv_heads, group * tokens, self.head_dim)
        sparse = isinstance(self.attend, SparseAttention)
        if sparse and k.shape[2] >= self.attend.config.dense_len:
            out = self.attend(q, k, v, mask, first_key)
        elif mask is None and kernel_attention_ok(q):
            # the model leaves the mask out only here: causal over every key, by the Triton kernels
            out = causal_kernel_attention(q, k, v, tokens)
        elif sparse:
            out = self.attend(q, k, v, mask, first_key)
        else:
            out = self.attend(q, k, v, mask)
        out = out.view(batch, self.num_kv_heads, group, tokens, self.head_dim).permute(0, 3, 1, 2, 4)
        return self.o_proj(out.reshape(batch, tokens, self.num_heads * self.head_dim))


class MLP(nn.Module):
    """SwiGLU. `fuse()` replaces gate/up_proj by one gate_up_proj matmul."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.gate_up_proj: nn.Linear | None = None

    def fuse(self) -> None:
        weight = torch.cat([self.gate_proj.weight, self.up_proj.weight]).detach()
        self.gate_up_proj = nn.Linear(
            weight.shape[1], weight.shape[0], bias=False, device=weight.device, dtype=weight.dtype
        )
        self.gate_up_proj.weight = nn.Parameter(weight, requires_grad=False)
        del self.gate_proj, self.up_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate_up_proj is not None:
            gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        else:
            gate, up = self.gate_proj(x), self.up_proj(x)
        return self.down_proj(F.silu(gate) * up)


class DecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.self_attn = Attention(config)
        self.mlp = MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.residual_scale = config.residual_scale

    def forward(self, h, cos, sin, cache, input_pos, mask, first_key) -> torch.Tensor:
        attn = self.self_attn(self.input_layernorm(h), cos, sin, cache, input_pos, mask, first_key)
        h = torch.add(h, attn, alpha=self.residual_scale)
        return torch.add(h, self.mlp(self.post_attention_layernorm(h)), alpha=self.residual_scale)


class Backbone(nn.Module):
    """`model.` in the checkpoint names: embeddings, layers, final norm."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class MiniCPMForCausalLM(nn.Module):
    """MiniCPM4 / Llama causal LM. Call `setup_caches` before cached forwards."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.model = Backbone(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.caches: list[KVCache] | None = None
        self.rope_cos: torch.Tensor | None = None
        self.rope_sin: torch.Tensor | None = None
        # engine.native.NativeDecoder when the CPU decode step runs in C (set by engine.loading)
        self.native_decoder = None
        # prefill through kernels/fused (engine.fused_prefill): None = on CUDA in fp16/bf16
        self.fused_prefill: bool | None = None

    def fuse(self) -> MiniCPMForCausalLM:
        """Concatenate q/k/v and gate/up weights so each layer runs 4 matmuls instead of 7 (idempotent)."""
        if self.model.layers[0].mlp.gate_up_proj is not None:
            return self
        for layer in self.model.layers:
            layer.self_attn.fuse()
            layer.mlp.fuse()
        return self

    def setup_caches(self, batch: int, max_len: int) -> None:
        """Allocate the static KV cache (skipped when the current one is large enough)."""
        weight = self.model.embed_tokens.weight
        if self.caches and self.caches[0].k.shape[0] >= batch and self.caches[0].max_len >= max_len:
            return
        self.caches = [
            KVCache(batch, self.config.num_kv_heads, max_len, self.config.head_dim, weight.dtype, weight.device)
            for _ in self.model.layers
        ]

    def rope_tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin [max_position_embeddings, head_dim] fp32 on `device`, built once."""
        if self.rope_cos is None or self.rope_cos.device != device:
            self.rope_cos, self.rope_sin = rope_tables(self.config, int(self.config.max_position_embeddings), device)
        return self.rope_cos, self.rope_sin

    def _rope(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos, sin = self.rope_tables(positions.device)
        # [B, T] -> [B, T, 1, D]
        return cos[positions].unsqueeze(2), sin[positions].unsqueeze(2)

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        input_pos: int = 0,
        mask: torch.Tensor | None = None,
        use_cache: bool = False,
        first_key: torch.Tensor | None = None,
        last_only: bool = False,
        caches: list[KVCache] | None = None,
    ) -> torch.Tensor:
        """input_ids, positions: [B, T] (RoPE positions, per row). input_pos: first cache slot of this
        chunk. mask: [B, 1, T, S] bool over key slots 0..input_pos+T-1 (None: causal).
        first_key: [B] first non-padding slot per row (sparse attention only).
        caches: per-layer caches to use instead of self.caches (e.g. one row's views).
        Returns logits [B, T, V] fp32 ([B, 1, V] with last_only)."""
        caches = caches if caches is not None else self.caches
        if use_cache and fused_prefill_applies(self, input_ids, mask, first_key, caches):
            return fused_prefill_forward(self, input_ids, positions, input_pos, caches, last_only)
        h = self.model.embed_tokens(input_ids)
        if self.config.scale_emb != 1.0:
            h = h * self.config.scale_emb
        cos, sin = self._rope(positions)
        group = self.config.num_groups
        if mask is None and input_ids.shape[1] > 1 and not kernel_attention_ok(h):
            # on CUDA in fp16/bf16 the kernels mask causally themselves: no [T, S] mask, which at
            # 128K tokens would not fit the GPU
            mask = causal_mask(input_ids.shape[1], input_pos, input_ids.device)
        if mask is not None:
            batch, _, tokens, keys = mask.shape
            # rows of the grouped q are g*T + t: repeat the mask over the group.
            mask = mask.unsqueeze(2).expand(batch, 1, group, tokens, keys).reshape(batch, 1, group * tokens, keys)
        for index, layer in enumerate(self.model.layers):
            cache = caches[index] if use_cache else None
            h = layer(h, cos, sin, cache, input_pos, mask, first_key)
        if last_only:
            h = h[:, -1:]
        h = self.model.norm(h)
        if self.config.logit_scale != 1.0:
            h = h / self.config.logit_scale
        return self.lm_head(h).float()


def causal_mask(tokens: int, input_pos: int, device: torch.device | str) -> torch.Tensor:
    """[1, 1, T, input_pos+T] bool: query t (slot input_pos+t) sees key slots 0..input_pos+t."""
    query_slots = torch.arange(input_pos, input_pos + tokens, device=device)
    key_slots = torch.arange(input_pos + tokens, device=device)
    return (key_slots[None, :] <= query_slots[:, None])[None, None]
