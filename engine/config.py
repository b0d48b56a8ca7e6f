"""ModelConfig: the shape of a MiniCPM4 / Llama-family model, from presets, HF config.json or GGUF metadata.

A plain Llama checkpoint is MiniCPM4 with identity muP scales: scale_emb = 1,
scale_depth = sqrt(num_layers), dim_model_base = hidden_size (docs/ARCHITECTURE.md section 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from engine.errors import CheckpointError
from kernels.infllmv2.config import SparseConfig  # one definition, validated where the kernels need it

SUPPORTED_ARCHITECTURES = ("llama", "minicpm")
# HF `architectures` entries and the model family each one is.
_HF_ARCHITECTURES = {"LlamaForCausalLM": "llama", "MiniCPMForCausalLM": "minicpm"}


@dataclass(slots=True)
class RopeScaling:
    """Rotary position scaling. `default` is plain RoPE; `longrope` is MiniCPM4's per-frequency
    extension factors; `linear` divides positions; `llama3` is Llama 3.1's frequency smoothing."""

    rope_type: str = "default"
    long_factor: tuple[float, ...] = ()
    short_factor: tuple[float, ...] = ()
    original_max_position_embeddings: int = 0
    factor: float = 1.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0

    def __post_init__(self) -> None:
        if self.rope_type not in ("default", "longrope", "linear", "llama3"):
            raise CheckpointError(
                f"unknown rope_scaling type {self.rope_type!r}: supported are default, longrope, linear, llama3"
            )
        if self.rope_type == "longrope":
            if not self.long_factor or len(self.long_factor) != len(self.short_factor):
                raise CheckpointError("longrope needs long_factor and short_factor lists of the same length")
            if self.original_max_position_embeddings <= 0:
                raise CheckpointError("longrope needs original_max_position_embeddings > 0")
        if self.rope_type in ("linear", "llama3") and self.factor <= 0:
            raise CheckpointError(f"rope_scaling factor must be > 0, got {self.factor}")

    @classmethod
    def from_hf(cls, raw: dict[str, Any] | None) -> RopeScaling | None:
        """Parse a config.json `rope_scaling` entry (None or type 'default' means plain RoPE)."""
        if not raw:
            return None
        rope_type = raw.get("rope_type", raw.get("type", "default"))
        if rope_type == "default":
            return None
        return cls(
            rope_type=rope_type,
            long_factor=tuple(float(x) for x in raw.get("long_factor", ()) or ()),
            short_factor=tuple(float(x) for x in raw.get("short_factor", ()) or ()),
            original_max_position_embeddings=int(raw.get("original_max_position_embeddings", 0) or 0),
            factor=float(raw.get("factor", 1.0) or 1.0),
            low_freq_factor=float(raw.get("low_freq_factor", 1.0)),
            high_freq_factor=float(raw.get("high_freq_factor", 4.0)),
        )


def _sparse_config(raw: dict[str, Any] | None, coarse_normaliser: bool) -> SparseConfig | None:
    """The checkpoint's `sparse_config` through the kernels' own validation, as a CheckpointError."""
    try:
        return SparseConfig.from_dict(raw, coarse_normaliser)
    except ValueError as exc:
        raise CheckpointError(f"config.json sparse_config is not usable: {exc}") from None


@dataclass(slots=True)
class ModelConfig:
    """Every number the model class needs. `scale_depth` None and `dim_model_base` None mean the
    Llama identity values (sqrt(num_layers) and hidden_size)."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    head_dim: int = 0
    max_position_embeddings: int = 4096
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: RopeScaling | None = None
    scale_emb: float = 1.0
    scale_depth: float | None = None
    dim_model_base: float | None = None
    tie_word_embeddings: bool = False
    sparse_config: SparseConfig | None = None
    architecture: str = "llama"
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.head_dim == 0:
            if self.hidden_size % self.num_heads:
                raise CheckpointError(f"hidden_size {self.hidden_size} is not divisible by {self.num_heads} heads")
            self.head_dim = self.hidden_size // self.num_heads
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size"):
            if getattr(self, name) <= 0:
                raise CheckpointError(f"model config: {name} must be > 0, got {getattr(self, name)}")
        if self.num_heads % self.num_kv_heads:
            raise CheckpointError(
                f"model config: {self.num_heads} query heads are not a multiple of {self.num_kv_heads} KV heads"
            )
        if self.head_dim % 2:
            raise CheckpointError(f"model config: head_dim must be even for RoPE, got {self.head_dim}")
        if self.architecture not in SUPPORTED_ARCHITECTURES:
            raise CheckpointError(
                f"unknown architecture {self.architecture!r}: supported are {', '.join(SUPPORTED_ARCHITECTURES)}"
            )
        if self.scale_depth is None:
            self.scale_depth = math.sqrt(self.num_layers)
        if self.dim_model_base is None:
            self.dim_model_base = float(self.hidden_size)
        scaling = self.rope_scaling
        if scaling is not None and scaling.rope_type == "longrope" and len(scaling.long_factor) != self.head_dim // 2:
            raise CheckpointError(
                f"longrope factors have {len(scaling.long_factor)} entries, expected head_dim/2 = {self.head_dim // 2}"
            )

    @property
    def residual_scale(self) -> float:
        """Multiplier on each attention and MLP output before the residual add."""
        return self.scale_depth / math.sqrt(self.num_layers)

    @property
    def logit_scale(self) -> float:
        """Divisor on the final hidden state before lm_head (hidden / dim_model_base)."""
        return self.hidden_size / self.dim_model_base

    @property
    def parameter_count(self) -> int:
        """Weights in the model (embeddings, attention, MLP, norms, and lm_head when untied)."""
        attention = self.hidden_size * self.head_dim * (2 * self.num_heads + 2 * self.num_kv_heads)
        per_layer = attention + 3 * self.hidden_size * self.intermediate_size + 2 * self.hidden_size
        embeddings = self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)
        return embeddings + self.num_layers * per_layer + self.hidden_size

    @property
    def num_groups(self) -> int:
        """Query heads per KV head (GQA)."""
        return self.num_heads // self.num_kv_heads

    @classmethod
    def from_name(cls, name: str) -> ModelConfig:
        """A named preset: 'tiny' (random-weight CPU tests), 'tiny-llama', 'minicpm4-8b', 'smollm2-135m'."""
        if name not in _PRESETS:
            raise KeyError(f"unknown model preset {name!r}; known: {', '.join(sorted(_PRESETS))}")
        return replace(_PRESETS[name])

    @classmethod
    def from_hf_config(cls, raw: dict[str, Any], coarse_normaliser: bool = True) -> ModelConfig:
        """Build from the dict of an HF config.json (llama or minicpm model_type). A `sparse_config`
        selects blocks with the coarse normaliser, as MiniCPM4's own InfLLM v2 does;
        coarse_normaliser=False (or that key, false, in the sparse_config) keeps the exact one."""
        architecture = raw.get("model_type")
        if architecture not in SUPPORTED_ARCHITECTURES:
            declared = [_HF_ARCHITECTURES.get(a) for a in raw.get("architectures") or []]
            architecture = next((a for a in declared if a), None)
        if architecture is None:
            raise CheckpointError(
                f"unknown architecture: model_type {raw.get('model_type')!r}, architectures "
                f"{raw.get('architectures')!r}; supported are {', '.join(_HF_ARCHITECTURES)}"
            )
        try:
            num_layers = int(raw["num_hidden_layers"])
            hidden = int(raw["hidden_size"])
            heads = int(raw["num_attention_heads"])
            config = cls(
                vocab_size=int(raw["vocab_size"]),
                hidden_size=hidden,
                num_layers=num_layers,
                num_heads=heads,
                num_kv_heads=int(raw.get("num_key_value_heads") or heads),
                intermediate_size=int(raw["intermediate_size"]),
                head_dim=int(raw.get("head_dim") or 0),
                max_position_embeddings=int(raw.get("max_position_embeddings", 4096)),
                rms_norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
                rope_theta=float(raw.get("rope_theta", 10000.0)),
                rope_scaling=RopeScaling.from_hf(raw.get("rope_scaling")),
                scale_emb=float(raw.get("scale_emb", 1.0)),
                scale_depth=float(raw["scale_depth"]) if "scale_depth" in raw else None,
                dim_model_base=float(raw["dim_model_base"]) if "dim_model_base" in raw else None,
                tie_word_embeddings=bool(raw.get("tie_word_embeddings", architecture == "minicpm")),
                sparse_config=_sparse_config(raw.get("sparse_config"), coarse_normaliser),
                architecture=architecture,
                bos_token_id=raw.get("bos_token_id"),
                eos_token_ids=_as_ids(raw.get("eos_token_id")),
            )
        except KeyError as exc:
            raise CheckpointError(f"config.json lacks the field {exc.args[0]!r}") from None
        except TypeError as exc:
            raise CheckpointError(f"config.json has an unexpected field: {exc}") from None
        if raw.get("hidden_act", "silu") != "silu":
            raise CheckpointError(f"unsupported hidden_act {raw.get('hidden_act')!r}: only silu (SwiGLU) is supported")
        if raw.get("attention_bias") or raw.get("mlp_bias"):
            raise CheckpointError("checkpoints with attention or MLP biases are not supported")
        return config

    @classmethod
    def from_gguf_metadata(cls, meta: dict[str, Any]) -> ModelConfig:
        """Build from GGUF key/values (`general.architecture` llama or minicpm)."""
        arch = meta.get("general.architecture")
        if arch not in SUPPORTED_ARCHITECTURES:
            raise CheckpointError(
                f"unknown GGUF architecture {arch!r}: supported are {', '.join(SUPPORTED_ARCHITECTURES)}"
            )

        def key(name: str, default: Any = KeyError) -> Any:
            value = meta.get(f"{arch}.{name}", default)
            if value is KeyError:
                raise CheckpointError(f"GGUF metadata lacks {arch}.{name}")
            return value

        heads = int(key("attention.head_count"))
        hidden = int(key("embedding_length"))
        num_layers = int(key("block_count"))
        residual_scale = meta.get(f"{arch}.residual_scale")
        logit_scale = meta.get(f"{arch}.logit_scale")
        vocab = meta.get(f"{arch}.vocab_size") or len(meta.get("tokenizer.ggml.tokens", ()))
        eos = [meta.get("tokenizer.ggml.eos_token_id"), meta.get("tokenizer.ggml.eot_token_id")]
        return cls(
            vocab_size=int(vocab),
            hidden_size=hidden,
            num_layers=num_layers,
            num_heads=heads,
            num_kv_heads=int(key("attention.head_count_kv", heads)),
            intermediate_size=int(key("feed_forward_length")),
            head_dim=int(key("attention.key_length", 0)),
            max_position_embeddings=int(key("context_length", 4096)),
            rms_norm_eps=float(key("attention.layer_norm_rms_epsilon", 1e-6)),
            rope_theta=float(key("rope.freq_base", 10000.0)),
            scale_emb=float(key("embedding_scale", 1.0)),
            scale_depth=float(residual_scale) * math.sqrt(num_layers) if residual_scale is not None else None,
            dim_model_base=hidden / float(logit_scale) if logit_scale is not None else None,
            tie_word_embeddings=False,  # the loader sets this when output.weight is absent
            architecture=arch,
            bos_token_id=meta.get("tokenizer.ggml.bos_token_id"),
            eos_token_ids=tuple(int(e) for e in dict.fromkeys(eos) if e is not None),
        )


def _as_ids(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)


def _minicpm4_8b() -> ModelConfig:
    # The 64 LongRoPE factors of the published config (docs/ARCHITECTURE.md section 3; ../shared/data/minicpm4/).
    factors = _MINICPM4_LONGROPE_FACTORS
    return ModelConfig(
        vocab_size=73448,
        hidden_size=4096,
        num_layers=32,
        num_heads=32,
        num_kv_heads=2,
        intermediate_size=16384,
        head_dim=128,
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        rope_theta=10000.0,
        rope_scaling=RopeScaling("longrope", factors, factors, 32768),
        scale_emb=12.0,
        scale_depth=1.4,
        dim_model_base=256.0,
        tie_word_embeddings=False,
        architecture="minicpm",
        bos_token_id=1,
        eos_token_ids=(2, 73440),
    )


# fmt: off
_MINICPM4_LONGROPE_FACTORS = (
    0.9977997200264581, 1.014658295992452, 1.0349680404997148, 1.059429246056193, 1.0888815016813513,
    1.1243301355211495, 1.166977103606075, 1.2182568066927284, 1.2798772354275727, 1.3538666751582975,
    1.4426259039919596, 1.5489853358570191, 1.6762658237220625, 1.8283407612492941, 2.0096956085876183,
    2.225478927469756, 2.481536379650452, 2.784415934557119, 3.1413289096347365, 3.560047844772632,
    4.048719380066383, 4.615569542115128, 5.2684819496549835, 6.014438591970396, 6.858830049237097,
    7.804668263503327, 8.851768731513417, 9.99600492938444, 11.228766118181639, 12.536757560834843,
    13.902257701387796, 15.303885189125953, 16.717837610115794, 18.119465097853947, 19.484965238406907,
    20.792956681060105, 22.02571786985731, 23.16995406772833, 24.217054535738416, 25.16289275000465,
    26.007284207271347, 26.753240849586767, 27.40615325712662, 27.973003419175363, 28.461674954469114,
    28.880393889607006, 29.237306864684626, 29.540186419591297, 29.79624387177199, 30.01202719065413,
    30.193382037992453, 30.34545697551969, 30.47273746338473, 30.579096895249787, 30.66785612408345,
    30.741845563814174, 30.80346599254902, 30.85474569563567, 30.897392663720595, 30.932841297560394,
    30.962293553185553, 30.986754758742034, 31.007064503249293, 31.02392307921529,
)
# fmt: on

_PRESETS: dict[str, ModelConfig] = {
    # Same structure as MiniCPM4 (muP scales, GQA, LongRoPE), small enough for CPU tests.
    "tiny": ModelConfig(
        vocab_size=256,
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=128,
        head_dim=16,
        max_position_embeddings=512,
        rms_norm_eps=1e-6,
        rope_scaling=RopeScaling("longrope", (1.0, 1.3, 1.9, 2.6, 4.0, 6.5, 9.0, 12.0), (1.0,) * 8, 256),
        scale_emb=12.0,
        scale_depth=1.4,
        dim_model_base=16.0,
        architecture="minicpm",
        eos_token_ids=(2,),
    ),
    "tiny-llama": ModelConfig(
        vocab_size=256,
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,
        intermediate_size=128,
        max_position_embeddings=512,
        rope_theta=10000.0,
        eos_token_ids=(2,),
    ),
    "minicpm4-8b": _minicpm4_8b(),
    "smollm2-135m": ModelConfig(
        vocab_size=49152,
        hidden_size=576,
        num_layers=30,
        num_heads=9,
        num_kv_heads=3,
        intermediate_size=1536,
        max_position_embeddings=8192,
        rms_norm_eps=1e-5,
        rope_theta=100000.0,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_ids=(2,),
    ),
}
