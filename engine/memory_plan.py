"""How much GPU memory a static KV cache and a prefill chunk take, and what fits: sizes decided
before allocating, so that a request too large gets an error naming the sizes, not a CUDA OOM."""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import ModelConfig
from engine.errors import DeviceMemoryError

GIB = 1 << 30
# Activations are estimated, not measured: keep this share of the free memory for what the
# estimate misses (allocator fragmentation, cuBLAS workspaces, the graphs' pools).
HEADROOM = 0.85
MIN_PREFILL_CHUNK = 512
# Prefill chunks are multiples of this, so that one-pass and chunked prefills see few distinct
# sizes (and the kernels few launch specialisations).
CHUNK_ALIGN = 256


def kv_cache_bytes(config: ModelConfig, rows: int, capacity: int, dtype_bytes: int) -> int:
    """Bytes of the static cache: K and V of every layer, plus the sparse path's compressed keys."""
    per_token = 2 * config.num_kv_heads * config.head_dim * dtype_bytes
    total = config.num_layers * rows * capacity * per_token
    sparse = config.sparse_config
    if sparse is not None:
        entries = capacity // sparse.kernel_stride + 1
        if sparse.coarse_normaliser:
            entries += capacity // sparse.coarse_kernel_stride + 1
        total += config.num_layers * rows * entries * config.num_kv_heads * config.head_dim * dtype_bytes
    return total


def prefill_bytes_per_token(config: ModelConfig, dtype_bytes: int, n_keys: int = 0) -> int:
    """Peak activation bytes per query token of a prefill chunk through engine.fused_prefill over
    n_keys keys (history included): the residual stream and its norm, alive through a layer, and
    the fullest of the layer's stages. RoPE writes k and v straight into the cache, so only qkv's
    output and the rotated q are live there; the MLP's gate/up output and its product dominate.
    The plain forward (engine.model, off the fused path: fp32 or unfused weights) holds more."""
    hidden, inner = config.hidden_size, config.intermediate_size
    q_dim = config.num_heads * config.head_dim
    kv_dim = config.num_kv_heads * config.head_dim
    stages = (
        dtype_bytes * (2 * q_dim + 2 * kv_dim),  # qkv's output and the rotated q
        dtype_bytes * 2 * q_dim + 4 * config.num_heads + _selection_bytes(config, n_keys),  # q, output, fp32 LSE
        dtype_bytes * (2 * q_dim + 3 * hidden),  # q, output, o projection, add_rms_norm's sum and norm
        dtype_bytes * 3 * inner,  # gate/up output and silu(gate) * up
        dtype_bytes * (inner + hidden),  # silu(gate) * up and the down projection
    )
    return dtype_bytes * 2 * hidden + max(stages)


def prefill_bytes(config: ModelConfig, tokens: int, n_keys: int, dtype_bytes: int) -> int:
    """Peak bytes besides weights and cache of a prefill chunk of `tokens` queries over n_keys keys.
    Nothing grows with the history: a sparse layer compresses the chunk's new windows straight
    into the decoder's c1/c2 (engine.static_runtime lends them; counted in kv_cache_bytes),
    through a temporary of about Hkv * D * dtype_bytes / kernel_stride bytes a token that is
    freed before the attention, less than any stage of prefill_bytes_per_token."""
    return tokens * prefill_bytes_per_token(config, dtype_bytes, n_keys)


def _selection_bytes(config: ModelConfig, n_keys: int) -> int:
    """Per query token of a sparse layer at n_keys keys (kernels.infllmv2.infllmv2_prefill), all KV
    heads: int32 selected blocks, the merged tiles' blocks and bits (4 tokens a tile) and counts,
    and the fp32 block scores of its chunk of queries. 0 below dense_len."""
    sparse = config.sparse_config
    if sparse is None or n_keys < sparse.dense_len:
        return 0
    blocks = -(-n_keys // sparse.block_size)
    return 4 * config.num_kv_heads * (9 * sparse.selected_blocks + 2 + blocks)


@dataclass(frozen=True, slots=True)
class CachePlan:
    """The rows and capacity of a static cache that fits, and the memory it leaves for prefill."""

    rows: int
    capacity: int
    cache_bytes: int
    free_bytes: int

    @property
    def prefill_budget(self) -> int:
        return int(self.free_bytes * HEADROOM) - self.cache_bytes


def plan_cache(config: ModelConfig, capacity: int, max_rows: int, free_bytes: int, dtype_bytes: int) -> CachePlan:
    """The most rows (up to max_rows) of `capacity` tokens whose cache fits `free_bytes` with room
    left for a prefill chunk of MIN_PREFILL_CHUNK tokens. Raises DeviceMemoryError, naming the
    sizes, when not even one row fits."""
    chunk = prefill_bytes(config, min(capacity, MIN_PREFILL_CHUNK), capacity, dtype_bytes)
    usable = int(free_bytes * HEADROOM) - chunk
    row_bytes = kv_cache_bytes(config, 1, capacity, dtype_bytes)
    rows = min(max_rows, usable // row_bytes if row_bytes else max_rows)
    if rows < 1:
        raise DeviceMemoryError(
            f"a KV cache of {capacity} tokens needs {row_bytes / GIB:.2f} GiB and a prefill chunk "
            f"{chunk / GIB:.2f} GiB, but the GPU has {free_bytes / GIB:.2f} GiB free (of which "
            f"{HEADROOM:.0%} is used); ask for a shorter context_window, or free GPU memory"
        )
    return CachePlan(rows, capacity, rows * row_bytes, free_bytes)


def prefill_chunk(config: ModelConfig, length: int, budget_bytes: int, dtype_bytes: int) -> int:
    """Tokens per prefill chunk: the whole prompt when its activations fit `budget_bytes`, else the
    largest multiple of CHUNK_ALIGN that does (at least MIN_PREFILL_CHUNK)."""
    fits = budget_bytes // prefill_bytes_per_token(config, dtype_bytes, length)
    if fits >= length:
        return max(1, length)
    return max(MIN_PREFILL_CHUNK, fits // CHUNK_ALIGN * CHUNK_ALIGN)


def batch_buckets(max_rows: int) -> tuple[int, ...]:
    """Batch sizes with a captured decode graph: powers of two below max_rows, and max_rows."""
    sizes = []
    size = 1
    while size < max_rows:
        sizes.append(size)
        size *= 2
    return (*sizes, max_rows)


def bucket_for(batch: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket holding `batch` rows."""
    for size in buckets:
        if size >= batch:
            return size
    raise ValueError(f"a batch of {batch} rows exceeds the largest decode bucket, {buckets[-1]}")
