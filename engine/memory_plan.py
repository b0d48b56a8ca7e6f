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


def prefill_bytes_per_token(config: ModelConfig, dtype_bytes: int) -> int:
    """Peak activation bytes per prompt token in one layer of a prefill chunk (an estimate with
    margin): the MLP's gate/up output and its product dominate, then RoPE's fp32 temporaries."""
    q_dim = config.num_heads * config.head_dim
    kv_dim = config.num_kv_heads * config.head_dim
    storage = dtype_bytes * (8 * config.hidden_size + 3 * (q_dim + 2 * kv_dim) + 4 * config.intermediate_size)
    rope = 4 * 4 * (q_dim + kv_dim)
    sparse = 0
    if config.sparse_config is not None:  # selection lists and merged tiles, int32 per KV head
        sparse = 4 * 12 * config.num_kv_heads * config.sparse_config.selected_blocks
    return int(1.5 * (storage + rope + sparse))


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
    chunk = min(capacity, MIN_PREFILL_CHUNK) * prefill_bytes_per_token(config, dtype_bytes)
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
    fits = budget_bytes // prefill_bytes_per_token(config, dtype_bytes)
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
