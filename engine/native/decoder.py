"""NativeDecoder: prefill chunks and decode steps of the whole model through decode.c (CPU, fp32
activations).

The torch model stays the owner of everything: its fp32 parameters (used in place where the
checkpoint gave no quantized blocks), its RoPE tables and its static KV cache, which the torch
forward (long prefill chunks, sparse attention) and this path share. Weights given as GGUF blocks
are read in their own format, so a Q4_1 checkpoint moves ~6x fewer bytes a token than its fp32 copy.
"""

from __future__ import annotations

import ctypes
import logging
import time

import torch

from engine.native.build import load_library
from engine.native.weights import RawWeight

logger = logging.getLogger(__name__)

_c_ptr, _i32, _i64, _f32 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64, ctypes.c_float


class WeightStruct(ctypes.Structure):
    _fields_ = [("data", _c_ptr), ("row_bytes", _i64), ("type", _i32), ("rows", _i32), ("cols", _i32), ("pad_", _i32)]


_PROJECTIONS = ("q", "k", "v", "o", "gate", "up", "down")


class LayerStruct(ctypes.Structure):
    _fields_ = [("attn_norm", _c_ptr), ("ffn_norm", _c_ptr)]
    _fields_ += [(name, WeightStruct) for name in _PROJECTIONS]
    _fields_ += [("k_cache", _c_ptr), ("v_cache", _c_ptr)]


class ModelStruct(ctypes.Structure):
    _fields_ = [
        (name, _i32)
        for name in (
            "n_layers",
            "hidden",
            "heads",
            "kv_heads",
            "head_dim",
            "inter",
            "vocab",
            "batch_capacity",
            "max_len",
            "rope_len",
        )
    ]
    _fields_ += [(name, _f32) for name in ("eps", "scale_emb", "residual_scale", "logit_scale")]
    _fields_ += [("rope_cos", _c_ptr), ("rope_sin", _c_ptr), ("final_norm", _c_ptr)]
    _fields_ += [("embed", WeightStruct), ("lm_head", WeightStruct), ("layers", ctypes.POINTER(LayerStruct))]


# Prefill chunks whose keys end beyond this slot use torch (flash SDPA beats the C key loop there).
PREFILL_MAX_KEYS = 2048

_ERRORS = {
    1: "cache row outside the KV cache's batch, or a bad logits row",
    2: "cache slot outside the KV cache",
    3: "token id outside the vocabulary",
    4: "position beyond the RoPE table",
    5: "first key slot after the current slot",
    6: "out of memory for the step's scratch",
}

# HF parameter names of a layer's projections, by the short names decode.c uses.
_HF_NAMES = {
    "q": "self_attn.q_proj",
    "k": "self_attn.k_proj",
    "v": "self_attn.v_proj",
    "o": "self_attn.o_proj",
    "gate": "mlp.gate_proj",
    "up": "mlp.up_proj",
    "down": "mlp.down_proj",
}


def weight_struct(weight: RawWeight) -> WeightStruct:
    return WeightStruct(weight.address, weight.row_bytes, weight.ggml_type, weight.rows, weight.cols, 0)


def _float_pointer(tensor: torch.Tensor) -> int:
    if tensor.dtype != torch.float32 or not tensor.is_contiguous():
        raise ValueError("the native path needs contiguous fp32 tensors")
    return tensor.data_ptr()


class NativeDecoder:
    """Prefill chunks and decode steps of `model` through the C library; see `create` for when one
    exists."""

    def __init__(self, library: ctypes.CDLL, model, blocks: dict[str, RawWeight]) -> None:
        self.library, self.model = library, model
        config = model.config
        self._keep: list = []  # everything whose memory the C structs point into
        cos, sin = model.rope_tables(torch.device("cpu"))
        self._keep += [cos, sin]
        layers = (LayerStruct * config.num_layers)()
        for index, layer in enumerate(model.model.layers):
            prefix = f"model.layers.{index}."
            for short, hf_name in _HF_NAMES.items():
                weight = blocks.get(f"{prefix}{hf_name}.weight")
                weight = weight or RawWeight.from_tensor(projection_weight(layer, short))
                self._keep.append(weight)
                setattr(layers[index], short, weight_struct(weight))
            layers[index].attn_norm = _float_pointer(layer.input_layernorm.weight)
            layers[index].ffn_norm = _float_pointer(layer.post_attention_layernorm.weight)
        embed = blocks.get("model.embed_tokens.weight") or RawWeight.from_tensor(model.model.embed_tokens.weight)
        lm_head = blocks.get("lm_head.weight") or (
            embed if config.tie_word_embeddings else RawWeight.from_tensor(model.lm_head.weight)
        )
        self._keep += [embed, lm_head, layers]
        self.layers = layers
        self.struct = ModelStruct(
            n_layers=config.num_layers,
            hidden=config.hidden_size,
            heads=config.num_heads,
            kv_heads=config.num_kv_heads,
            head_dim=config.head_dim,
            inter=config.intermediate_size,
            vocab=config.vocab_size,
            rope_len=cos.shape[0],
            eps=config.rms_norm_eps,
            scale_emb=config.scale_emb,
            residual_scale=config.residual_scale,
            logit_scale=config.logit_scale,
            rope_cos=_float_pointer(cos),
            rope_sin=_float_pointer(sin),
            final_norm=_float_pointer(model.model.norm.weight),
            embed=weight_struct(embed),
            lm_head=weight_struct(lm_head),
            layers=ctypes.cast(layers, ctypes.POINTER(LayerStruct)),
        )
        self._caches = None
        self.library.cpm_forward.restype = ctypes.c_int
        self.threads = ThreadChooser()

    @classmethod
    def create(cls, model, blocks: dict[str, RawWeight] | None = None) -> NativeDecoder | None:
        """A decoder for a CPU fp32 model, or None (with the reason logged) where the torch path must
        serve: another device or dtype, widths that are not multiples of 32, no C compiler."""
        weight = model.model.embed_tokens.weight
        if weight.device.type != "cpu" or weight.dtype != torch.float32:
            return None
        library = load_library()
        if library is None:
            return None
        try:
            return cls(library, model, blocks or {})
        except ValueError as exc:
            logger.info("native CPU decode not used for this model: %s", exc)
            return None

    def can_decode(self, input_pos: int) -> bool:
        """False once a sparse-attention model's context reaches dense_len (the torch path runs InfLLM v2)."""
        sparse = self.model.config.sparse_config
        return sparse is None or input_pos + 1 < sparse.dense_len

    def can_prefill(self, end: int) -> bool:
        """Whether a prefill chunk ending at cache slot `end` runs here. Attention in C is a plain loop
        over keys, so long contexts (more than PREFILL_MAX_KEYS) go to torch's flash SDPA."""
        return end <= PREFILL_MAX_KEYS and self.can_decode(end - 1)

    def decode(
        self, tokens: torch.Tensor, positions: torch.Tensor, input_pos: int, pads: torch.Tensor | None
    ) -> torch.Tensor:
        """One step: tokens, positions [B, 1] int64 at cache slot input_pos; pads [B] padding slots
        per row (None: none) -> logits [B, V] fp32. Writes the step's keys and values into the model's
        KV cache, exactly as the torch forward does."""
        batch = tokens.shape[0]
        rows = torch.arange(batch, dtype=torch.int64)
        slots = torch.full((batch,), input_pos, dtype=torch.int64)
        threads = self.threads.pick(torch.get_num_threads())
        started = time.perf_counter()
        logits = self._forward(tokens.reshape(batch), positions.reshape(batch), rows, slots, pads, rows, threads)
        self.threads.record(threads, time.perf_counter() - started)
        return logits

    def prefill(
        self, ids: torch.Tensor, positions: torch.Tensor, start: int, pads: torch.Tensor | None
    ) -> torch.Tensor:
        """A prefill chunk: ids, positions [B, T] at cache slots start..start+T-1 -> logits [B, V] of
        each row's last position. Rows of the chunk attend causally, as in the torch forward."""
        batch, tokens = ids.shape
        cache_rows = torch.arange(batch, dtype=torch.int64).repeat_interleave(tokens)
        slots = torch.arange(start, start + tokens, dtype=torch.int64).repeat(batch)
        first = None if pads is None else pads.to(torch.int64).repeat_interleave(tokens)
        if first is not None:  # a padding slot's own row sees at least itself, as in the torch path's
            first = torch.minimum(first, slots)  # causal mask, whose output is never used
        last = torch.arange(batch, dtype=torch.int64) * tokens + tokens - 1
        # thread count: what decode steps last found faster (a contended machine stalls prefill's
        # barriers as much as decode's), all threads before any step was timed
        threads = self.threads.best(torch.get_num_threads())
        return self._forward(ids.reshape(-1), positions.reshape(-1), cache_rows, slots, first, last, threads)

    def _forward(
        self,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        cache_rows: torch.Tensor,
        slots: torch.Tensor,
        first_key: torch.Tensor | None,
        logit_rows: torch.Tensor,
        threads: int,
    ) -> torch.Tensor:
        self._bind_caches()
        arrays = [t.to(torch.int64).contiguous() for t in (tokens, positions, cache_rows, slots)]
        first = torch.zeros_like(arrays[3]) if first_key is None else first_key.to(torch.int64).contiguous()
        logit_rows = logit_rows.to(torch.int64).contiguous()
        logits = torch.empty(len(logit_rows), self.model.config.vocab_size, dtype=torch.float32)
        pointers = [ctypes.c_void_p(t.data_ptr()) for t in (*arrays, first)]
        code = self.library.cpm_forward(
            ctypes.byref(self.struct),
            len(arrays[0]),
            *pointers,
            len(logit_rows),
            ctypes.c_void_p(logit_rows.data_ptr()),
            ctypes.c_void_p(logits.data_ptr()),
            threads,
        )
        if code:
            raise ValueError(f"native forward refused its input: {_ERRORS.get(code, code)}")
        return logits

    def _bind_caches(self) -> None:
        caches = self.model.caches
        if caches is None:
            raise ValueError("setup_caches must run before decoding")
        if caches is self._caches:
            return
        for layer, cache in zip(self.layers, caches, strict=True):
            layer.k_cache, layer.v_cache = _float_pointer(cache.k), _float_pointer(cache.v)
        self.struct.batch_capacity, self.struct.max_len = caches[0].k.shape[0], caches[0].max_len
        self._caches = caches


def projection_weight(layer, short: str) -> torch.Tensor:
    """A projection's fp32 weight, also after `fuse()` (a row slice of qkv_proj or gate_up_proj)."""
    attn, mlp = layer.self_attn, layer.mlp
    if short in ("q", "k", "v") and attn.qkv_proj is not None:
        q_dim, kv_dim, _ = attn.split
        start, size = {"q": (0, q_dim), "k": (q_dim, kv_dim), "v": (q_dim + kv_dim, kv_dim)}[short]
        return attn.qkv_proj.weight[start : start + size]
    if short in ("gate", "up") and mlp.gate_up_proj is not None:
        half = mlp.gate_up_proj.weight.shape[0] // 2
        return mlp.gate_up_proj.weight[:half] if short == "gate" else mlp.gate_up_proj.weight[half:]
    return layer.get_parameter(_HF_NAMES[short] + ".weight")


class ThreadChooser:
    """Picks the thread count of each step: all of torch's threads, or one.

    A step has ~8 barriers a layer. On an idle machine more threads win; on a shared one a
    descheduled thread stalls every barrier for a time slice (measured here at load 5 on 2 cores:
    156 ms a step on 2 threads, 37 ms on 1). So both are timed now and then and the faster one is
    used: `explore` steps each at the start and again every `period` steps."""

    def __init__(self, explore: int = 4, period: int = 128) -> None:
        self.explore, self.period = explore, period
        self.step = 0
        self.times: dict[int, list[float]] = {}

    def pick(self, available: int) -> int:
        options = _options(available)
        phase = self.step % self.period
        self.step += 1
        if len(options) > 1 and phase < self.explore * len(options):
            if phase == 0:
                self.times = {}
            return options[phase // self.explore]
        return self.best(available)

    def best(self, available: int) -> int:
        """The count with the lower median step time so far (all threads while untimed)."""
        options = _options(available)
        if not any(self.times.get(n) for n in options):
            return available
        return min(options, key=lambda n: _median(self.times.get(n)))

    def record(self, threads: int, seconds: float) -> None:
        self.times.setdefault(threads, []).append(seconds)


def _options(available: int) -> tuple[int, ...]:
    return (available, 1) if available > 1 else (1,)


def _median(values: list[float] | None) -> float:
    if not values:
        return float("inf")
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
