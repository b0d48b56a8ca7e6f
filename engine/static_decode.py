"""One decode step over a static KV cache whose lengths live on the device: a CUDA graph can capture it.

Each row of a batch owns one row of the cache, filled from slot 0 (rows are prefilled one at a
time, so there is no left padding and a row's RoPE position is its key count). The step reads
its tokens and lengths from static tensors, writes each row's new key and value at slot
lengths[b], attends over lengths[b] + 1 keys and advances lengths in place: no host int enters
it and no shape depends on the lengths. Sparse checkpoints keep their compressed keys (c1, and
c2 with the coarse normaliser) for the whole capacity and extend them inside the step.

`kernels=True` attends through the Triton kernels (CUDA, or the interpreter in tests);
`kernels=False` through plain torch over the same buffers (the reference; its sparse branch reads
the lengths on the host, so it cannot be captured).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.kv_cache import KVCache
from engine.model import MiniCPMForCausalLM
from kernels.fused.reference import apply_rope, rms_norm


@dataclass
class StaticCompressedKeys:
    """One layer's compressed keys for every cache row: c1 [B, compressed_count(capacity), Hkv, D],
    c2 likewise at the coarse stride (None without the coarse normaliser)."""

    c1: torch.Tensor
    c2: torch.Tensor | None


class StaticDecoder:
    """The static buffers of decode steps over `caches` (rows = caches' batch) and the step itself."""

    def __init__(self, model: MiniCPMForCausalLM, caches: list[KVCache], kernels: bool, compiled: bool = False) -> None:
        self.model, self.caches, self.kernels = model, caches, kernels
        fused = model.model.layers[0].mlp.gate_up_proj is not None
        # torch.compile fuses each layer's elementwise work (norms, RoPE, SiLU, residual adds) into a
        # few kernels around the matmuls: at decode sizes every kernel launch costs about as much
        # as its work. Only for fused weights (one qkv and one gate/up matmul a layer).
        self.compiled = compiled and fused
        self._pre = self._compiled(pre_attention)
        # with the kernels, one kernel rotates q and k and writes k and v into the cache
        # (kernels/fused/rope_cache.py), and each layer ends with the next one's norm (one
        # compiled kernel for the residual add and that norm): see _kernel_layers
        self.rope_kernel = kernels and fused
        self._norm = self._compiled(rms_norm)
        self._tail = self._compiled(layer_tail)
        # with a GEMV chosen for the down projection, the tail runs as two compiled parts around it
        self._activation = self._compiled(mlp_activation)
        self._residual_norm = self._compiled(residual_norm)
        # qkv, o and down of one-row steps: engine.decode_matmul's choices ("qkv", "o", "down"; F.linear when absent)
        self.matmuls: dict = {}
        self._post = self._compiled(post_attention)
        self.config = model.config
        rows, device = caches[0].k.shape[0], caches[0].k.device
        self.tokens = torch.zeros(rows, dtype=torch.long, device=device)
        self.lengths = torch.zeros(rows, dtype=torch.int32, device=device)
        self.row_ids = torch.arange(rows, device=device)
        self.compressed = self._allocate_compressed() if self.config.sparse_config else None

    def _compiled(self, function):
        """`function` compiled once for static shapes, when this decoder compiles; else itself."""
        return torch.compile(function, fullgraph=True, dynamic=False) if self.compiled else function

    @property
    def rows(self) -> int:
        return self.tokens.shape[0]

    @property
    def capacity(self) -> int:
        return self.caches[0].max_len

    def _allocate_compressed(self) -> list[StaticCompressedKeys] | None:
        from kernels.infllmv2.compress import compressed_count

        sparse = self.config.sparse_config
        k = self.caches[0].k
        batch, kv_heads, _, dim = k.shape

        def buffer(coarse: bool) -> torch.Tensor:
            count = max(1, compressed_count(self.capacity, sparse, coarse))
            return torch.zeros(batch, count, kv_heads, dim, dtype=k.dtype, device=k.device)

        return [
            StaticCompressedKeys(buffer(False), buffer(True) if sparse.coarse_normaliser else None) for _ in self.caches
        ]

    def fill_compressed(self, row: int, length: int, covered: list[int] | None = None) -> None:
        """Compress the first `length` keys of cache row `row` into its c1 (and c2), after a prefill:
        of layer i only the windows past its first covered[i] keys (a fused prefill compressed
        those there already: engine.static_runtime lends it these buffers), of every layer all
        windows when covered is None."""
        if self.compressed is None or not self.kernels:
            return
        from engine.attention import compress_windows

        sparse = self.config.sparse_config
        starts = [0] * len(self.caches) if covered is None else covered
        for cache, kept, start in zip(self.caches, self.compressed, starts, strict=True):
            keys = cache.k[row : row + 1, :, :length]  # [1, Hkv, L, D], a view
            for coarse, target in ((False, kept.c1), (True, kept.c2)):
                if target is not None:
                    compress_windows(keys, target[row : row + 1], start, sparse, coarse)

    def step(self, batch: int) -> torch.Tensor:
        """Decode one token for rows 0..batch-1 from self.tokens at self.lengths; returns logits
        [batch, V] fp32, advances self.lengths[:batch] by one and leaves the greedy next tokens
        (the logits' argmax) in self.tokens[:batch], so that greedy steps can follow one another
        on the device (a caller that samples otherwise overwrites them before the next step)."""
        model, config = self.model, self.config
        tokens, old = self.tokens[:batch], self.lengths[:batch]
        new = old + 1
        h = model.model.embed_tokens(tokens)[:, None]  # [B, 1, H]
        if config.scale_emb != 1.0:
            h = h * config.scale_emb
        # both end with the final norm
        h = self._kernel_layers(h, old, new) if self.rope_kernel else model.model.norm(self._module_layers(h, old, new))
        if config.logit_scale != 1.0:
            h = h / config.logit_scale
        logits = model.lm_head(h)[:, 0].float()
        old.copy_(new)
        if self.rope_kernel:  # the kernels run here: the argmax in two small kernels
            from kernels.fused.argmax import argmax_rows

            argmax_rows(logits, out=tokens)
        else:
            tokens.copy_(logits.argmax(-1))
        return logits

    def _kernel_layers(self, h: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """The layers with the RoPE/cache kernel: h [B, 1, hidden] -> the final norm of the last h.
        Per layer: qkv matmul of the normed h, RoPE with k and v written at slot old[b]
        (kernels/fused/rope_cache.py; for sparse checkpoints the same launch appends the compressed
        keys), attention, o matmul, then the tail (_layer_tail): residual, MLP, residual and the
        next layer's norm (the final norm after the last layer)."""
        from kernels.fused.rope_cache import rope_qkv_into_cache

        config, layers = self.config, self.model.model.layers
        batch, eps = h.shape[0], config.rms_norm_eps
        heads = (config.num_heads, config.num_kv_heads)
        cos_table, sin_table = self.model.rope_tables(h.device)
        normed = self._norm(h, layers[0].input_layernorm.weight, eps)
        for index, (layer, cache) in enumerate(zip(layers, self.caches, strict=True)):
            qkv = self._matmul("qkv", normed, layer.self_attn.qkv_proj.weight)
            appending = self._append_keywords(index)
            q = rope_qkv_into_cache(
                qkv, cos_table, sin_table, old[:, None], old, cache.k, cache.v, *heads, **appending
            )[:, 0]
            k_cache, v_cache = cache.k[:batch].transpose(1, 2), cache.v[:batch].transpose(1, 2)  # [B, cap, Hkv, D]
            out = self._attend(index, q, k_cache, v_cache, old, new, bool(appending)).reshape(batch, 1, -1)
            projected = self._matmul("o", out, layer.self_attn.o_proj.weight)
            following = layers[index + 1].input_layernorm if index + 1 < len(layers) else self.model.model.norm
            h, normed = self._layer_tail(layer, h, projected, following.weight)
        return normed

    def _layer_tail(self, layer, h: torch.Tensor, projected: torch.Tensor, next_norm_weight: torch.Tensor):
        """Residual, MLP, residual and the next norm: one compiled function, or two around the down
        projection's GEMV when warm-up chose one for it (one-row steps) -> (h, normed h)."""
        eps, scale = self.config.rms_norm_eps, self.config.residual_scale
        _, norm_weight, gate_up_weight, down_weight = layer_weights(layer, "post")
        if "down" not in self.matmuls or h.shape[0] != 1:
            return self._tail(h, projected, norm_weight, gate_up_weight, down_weight, next_norm_weight, eps, scale)
        h, activated = self._activation(h, projected, norm_weight, gate_up_weight, eps, scale)
        down = self._matmul("down", activated, down_weight)
        return self._residual_norm(h, down, next_norm_weight, eps, scale)

    def _append_keywords(self, index: int) -> dict:
        """The keywords that make rope_qkv_into_cache append layer `index`'s compressed keys in its
        own launch (one launch a layer fewer); none for dense checkpoints."""
        if self.compressed is None:
            return {}
        kept = self.compressed[index]
        return {"c1_cache": kept.c1, "sparse": self.config.sparse_config, "c2_cache": kept.c2}

    def _module_layers(self, h: torch.Tensor, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """The layers through the layer modules (or their compiled functions), the cache written
        by index: h [B, 1, hidden] -> the last layer's h."""
        config = self.config
        batch = h.shape[0]
        rows, slots = self.row_ids[:batch], old.long()
        cos_table, sin_table = self.model.rope_tables(h.device)
        cos, sin = cos_table[slots][:, None, None], sin_table[slots][:, None, None]  # [B, 1, 1, D]
        heads, kv_heads = config.num_heads, config.num_kv_heads
        for index, (layer, cache) in enumerate(zip(self.model.model.layers, self.caches, strict=True)):
            if self.compiled:
                q, k, v = self._pre(h, *layer_weights(layer, "pre"), cos, sin, config.rms_norm_eps, heads, kv_heads)
            else:
                q, k, v = _layer_pre_attention(layer, h, cos, sin)
            cache.k[rows, :, slots] = k
            cache.v[rows, :, slots] = v
            k_cache, v_cache = cache.k[:batch].transpose(1, 2), cache.v[:batch].transpose(1, 2)  # [B, cap, Hkv, D]
            out = self._attend(index, q, k_cache, v_cache, old, new).reshape(batch, 1, -1)
            if self.compiled:
                h = self._post(h, out, *layer_weights(layer, "post"), config.rms_norm_eps, config.residual_scale)
            else:
                h = torch.add(h, layer.self_attn.o_proj(out), alpha=config.residual_scale)
                h = torch.add(h, layer.mlp(layer.post_attention_layernorm(h)), alpha=config.residual_scale)
        return h

    def _matmul(self, name: str, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """x @ weight.T by warm-up's choice for `name` (one-row steps), else F.linear."""
        choice = self.matmuls.get(name)
        return choice(x, weight) if choice is not None and x.shape[0] == 1 else F.linear(x, weight)

    def choose_matmuls(self) -> dict:
        """Measure cuBLAS against the GEMV launch shapes on the qkv, o and down weights of every
        layer (engine.decode_matmul) and keep the faster for one-row steps; -> the timings (us)."""
        from engine.decode_matmul import GEMV_SHAPES, MatmulChoice, choose_matmul

        layers = self.model.model.layers
        timings = {}
        for name, weights in (
            ("qkv", [layer.self_attn.qkv_proj.weight for layer in layers]),
            ("o", [layer.self_attn.o_proj.weight for layer in layers]),
            ("down", [layer.mlp.down_proj.weight for layer in layers]),
        ):
            x = torch.randn(1, 1, weights[0].shape[1], device=weights[0].device, dtype=weights[0].dtype)
            choice, timings[name] = choose_matmul(x, weights, GEMV_SHAPES[name])
            if choice == MatmulChoice():
                self.matmuls.pop(name, None)
            else:
                self.matmuls[name] = choice
        return timings

    def _attend(self, index: int, q, k_cache, v_cache, old, new, appended: bool = False) -> torch.Tensor:
        """q [B, Hq, D] over k_cache, v_cache [B, cap, Hkv, D] with new[b] keys in use -> [B, Hq, D].
        appended: the compressed keys of the new keys are already in place (the RoPE kernel did it)."""
        sparse = self.config.sparse_config
        if self.kernels:
            if sparse is None:
                from kernels.flash_attention.attention import flash_attention_decode

                return flash_attention_decode(q, k_cache, v_cache, new)
            from kernels.infllmv2.attention import infllmv2_decode
            from kernels.infllmv2.compress import append_compressed_keys

            kept = self.compressed[index]
            if not appended:
                append_compressed_keys(k_cache, kept.c1, old, new, sparse, c2_cache=kept.c2)
            return infllmv2_decode(q, k_cache, v_cache, kept.c1, new, sparse, kept.c2)
        if sparse is None:
            return reference_decode_attention(q, k_cache, v_cache, new)
        return _reference_sparse_decode(q, k_cache, v_cache, new, sparse)


def _layer_pre_attention(layer, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """The layer's own modules: q [B, Hq, D], k and v [B, Hkv, D] of h [B, 1, hidden]."""
    attention = layer.self_attn
    batch = h.shape[0]
    q, k, v = attention.project(layer.input_layernorm(h))
    q = apply_rope(q.view(batch, 1, attention.num_heads, attention.head_dim), cos, sin)[:, 0]
    k = apply_rope(k.view(batch, 1, attention.num_kv_heads, attention.head_dim), cos, sin)[:, 0]
    return q, k, v.view(batch, attention.num_kv_heads, attention.head_dim)


def layer_weights(layer, part: str) -> tuple[torch.Tensor, ...]:
    """The fused layer's weights that pre_attention ("pre") or post_attention ("post") take."""
    if part == "pre":
        return layer.input_layernorm.weight, layer.self_attn.qkv_proj.weight
    return (
        layer.self_attn.o_proj.weight,
        layer.post_attention_layernorm.weight,
        layer.mlp.gate_up_proj.weight,
        layer.mlp.down_proj.weight,
    )


def pre_attention(h, norm_weight, qkv_weight, cos, sin, eps: float, heads: int, kv_heads: int):
    """Norm, fused q/k/v projection and RoPE of h [B, 1, hidden] -> q [B, Hq, D], k, v [B, Hkv, D]."""
    batch = h.shape[0]
    dim = cos.shape[-1]
    q, k, v = F.linear(rms_norm(h, norm_weight, eps), qkv_weight).split(
        [heads * dim, kv_heads * dim, kv_heads * dim], dim=-1
    )
    q = apply_rope(q.view(batch, 1, heads, dim), cos, sin)[:, 0]
    k = apply_rope(k.view(batch, 1, kv_heads, dim), cos, sin)[:, 0]
    return q, k, v.reshape(batch, kv_heads, dim)


def post_attention(h, out, o_weight, norm_weight, gate_up_weight, down_weight, eps: float, scale: float):
    """Output projection and residual, then the SwiGLU MLP and residual: h [B, 1, hidden] -> h."""
    return mlp_residuals(h, F.linear(out, o_weight), norm_weight, gate_up_weight, down_weight, eps, scale)


def mlp_residuals(h, projected, norm_weight, gate_up_weight, down_weight, eps: float, scale: float):
    """h + scale * projected (the attention's output projected), then the SwiGLU MLP and residual."""
    h, activated = mlp_activation(h, projected, norm_weight, gate_up_weight, eps, scale)
    return torch.add(h, F.linear(activated, down_weight), alpha=scale)


def mlp_activation(h, projected, norm_weight, gate_up_weight, eps: float, scale: float):
    """h + scale * projected, and the SwiGLU activation silu(gate) * up of its norm -> (h, activation)."""
    h = torch.add(h, projected, alpha=scale)
    gate, up = F.linear(rms_norm(h, norm_weight, eps), gate_up_weight).chunk(2, dim=-1)
    return h, F.silu(gate) * up


def residual_norm(h, out, norm_weight, eps: float, scale: float):
    """h + scale * out, and its RMSNorm -> (h, normed)."""
    h = torch.add(h, out, alpha=scale)
    return h, rms_norm(h, norm_weight, eps)


def layer_tail(h, projected, norm_weight, gate_up_weight, down_weight, next_norm_weight, eps: float, scale: float):
    """mlp_residuals, and the next norm of its result: -> (h, rms_norm(h, next_norm_weight))."""
    h = mlp_residuals(h, projected, norm_weight, gate_up_weight, down_weight, eps, scale)
    return h, rms_norm(h, next_norm_weight, eps)


def reference_decode_attention(
    q: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """Dense attention of one query a row over its first lengths[b] keys, plain torch, fp32 softmax.
    q [B, Hq, D]; k_cache, v_cache [B, cap, Hkv, D] -> [B, Hq, D]."""
    group = q.shape[1] // k_cache.shape[2]
    keys = k_cache.repeat_interleave(group, dim=2).float()  # [B, cap, Hq, D]
    scores = torch.einsum("bhd,bchd->bhc", q.float(), keys) * q.shape[-1] ** -0.5
    visible = torch.arange(k_cache.shape[1], device=q.device)[None, :] < lengths[:, None]  # [B, cap]
    probs = scores.masked_fill(~visible[:, None, :], float("-inf")).softmax(-1)
    out = torch.einsum("bhc,bchd->bhd", probs, v_cache.repeat_interleave(group, dim=2).float())
    return out.to(q.dtype)


def _reference_sparse_decode(q, k_cache, v_cache, lengths, sparse) -> torch.Tensor:
    from kernels.infllmv2 import naive

    out = torch.empty_like(q)
    for b, n_keys in enumerate(lengths.tolist()):
        keys, values = k_cache[b, :n_keys].float(), v_cache[b, :n_keys].float()
        out[b] = naive.infllmv2_attention(q[b][None].float(), keys, values, sparse)[0].to(q.dtype)
    return out
