"""The GPU generation path: a static KV cache sized once, prompts prefilled row by row in chunks
chosen from free memory, and decode steps replayed from CUDA graphs captured per batch bucket.

The cache's rows and capacity come from engine.memory_plan before anything is allocated. Each
prompt fills its own cache row from slot 0 (no left padding); a decode step runs the batch's
rows together (engine.static_decode), from the graph of the smallest bucket that holds them.
Warm-up compiles the Triton kernels' variants for every length up to the capacity and captures
the graphs, so that a request compiles nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence

import torch

from engine.attention import CompressedKeys, SparseAttention, causal_kernel_attention, kernel_attention_ok
from engine.errors import ContextWindowExceededError
from engine.kv_cache import KVCache
from engine.memory_plan import HEADROOM, CachePlan, batch_buckets, bucket_for, plan_cache, prefill_chunk
from engine.model import MiniCPMForCausalLM
from engine.static_decode import StaticDecoder

logger = logging.getLogger(__name__)


class StaticRuntime:
    """Prefill and decode over one static cache. graphs: replay decode steps from CUDA graphs
    (default: on CUDA); kernels: attend through the Triton kernels (default: CUDA in fp16/bf16);
    compiled: the step's elementwise work fused by torch.compile (default: on CUDA)."""

    def __init__(
        self,
        model: MiniCPMForCausalLM,
        graphs: bool | None = None,
        kernels: bool | None = None,
        compiled: bool | None = None,
    ) -> None:
        weight = model.model.embed_tokens.weight
        self.model, self.device, self.dtype = model, weight.device, weight.dtype
        self.graphs = self.device.type == "cuda" if graphs is None else graphs
        self.kernels = kernel_attention_ok(weight) if kernels is None else kernels
        self.compiled = self.device.type == "cuda" if compiled is None else compiled
        self.decoder: StaticDecoder | None = None
        self.plan: CachePlan | None = None
        self.buckets: tuple[int, ...] = ()
        self._graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self._pool = None
        self.warmup_seconds: float | None = None
        self.matmul_timings: dict = {}  # warm-up's cuBLAS / GEMV timings (engine.decode_matmul)

    @property
    def capacity(self) -> int:
        return self.plan.capacity if self.plan else 0

    @property
    def rows(self) -> int:
        return self.plan.rows if self.plan else 0

    def reserve(self, capacity: int, max_rows: int = 8) -> CachePlan:
        """Allocate the static cache: `capacity` tokens a row, as many rows up to max_rows as the
        free memory holds (DeviceMemoryError naming the sizes when not one does). Drops the old
        cache and graphs first; warm up again afterwards."""
        positions = self.model.config.max_position_embeddings
        if capacity > positions:
            raise ValueError(f"a cache of {capacity} tokens exceeds the model's {positions} positions")
        self._release()
        plan = plan_cache(self.model.config, capacity, max_rows, self._free_bytes(), self.dtype.itemsize)
        config = self.model.config
        caches = [
            KVCache(plan.rows, config.num_kv_heads, capacity, config.head_dim, self.dtype, self.device)
            for _ in range(config.num_layers)
        ]
        self.model.caches = caches
        with torch.inference_mode():
            self.decoder = StaticDecoder(self.model, caches, self.kernels, self.compiled)
        self.plan, self.buckets = plan, batch_buckets(plan.rows)
        logger.info("static KV cache: %d rows x %d tokens, %.2f GiB", plan.rows, capacity, plan.cache_bytes / (1 << 30))
        return plan

    def release(self) -> None:
        """Free the cache and the graphs (reserve again before the next request)."""
        self._release()

    def _release(self) -> None:
        self._graphs.clear()
        self.decoder, self.plan, self.model.caches = None, None, None
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()

    def _free_bytes(self) -> int:
        if self.device.type != "cuda":
            return 1 << 62  # host memory is not planned here
        free, _ = torch.cuda.mem_get_info(self.device)
        return free + torch.cuda.memory_reserved(self.device) - torch.cuda.memory_allocated(self.device)

    def warmup(self) -> float:
        """Compile the kernels' variants for lengths up to the capacity and capture a decode graph
        per batch bucket. Returns the seconds it took (also kept in warmup_seconds)."""
        started = time.perf_counter()
        with torch.inference_mode():
            if self.kernels:
                self._compile_prefill_kernels()
                self._warm_prefill_forward()
            if self.graphs and self.compiled and self.decoder.rope_kernel:
                self.matmul_timings = self.decoder.choose_matmuls()
                logger.info("one-row decode matmuls: %s", self.decoder.matmuls)
            if self.graphs:
                for bucket in reversed(self.buckets):  # largest first: the pool then fits the rest
                    self._capture(bucket)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.warmup_seconds = time.perf_counter() - started
        logger.info("warm-up: %.2f s (capacity %d, buckets %s)", self.warmup_seconds, self.capacity, self.buckets)
        return self.warmup_seconds

    def warmup_lengths(self) -> list[tuple[int, int]]:
        """(queries, keys) of the attention calls that warm-up compiles: short dense prompts with
        and without history, and for sparse checkpoints one-pass prefills of every power-of-two
        block count up to the capacity (the top-k kernel's width), at four lengths: with the
        length and the block count each divisible by 16 or not (Triton specialises integer
        arguments on that, and a variant compiled during a request costs 0.3-1 s)."""
        shapes = [(32, 32), (37, 37), (256, 768), (37, 101)]
        sparse = self.model.config.sparse_config
        if sparse is not None:
            length = sparse.dense_len
            block = sparse.block_size
            while True:
                top = min(length, self.capacity)
                for less in (0, 37, 5 * block, 5 * block + 37):
                    # the same power-of-two block count, on the sparse path
                    if top - less > length // 2 and top - less >= sparse.dense_len:
                        shapes.append((top - less, top - less))
                if top >= self.capacity:
                    break
                length *= 2
        return [(q, k) for q, k in shapes if k <= self.capacity and q >= 1]

    def _compile_prefill_kernels(self) -> None:
        config = self.model.config
        group, kv_heads, dim = config.num_groups, config.num_kv_heads, config.head_dim
        sparse = config.sparse_config
        for tokens, keys in self.warmup_lengths():
            q = torch.randn(1, kv_heads, group * tokens, dim, device=self.device, dtype=self.dtype)
            k, v = (torch.randn(1, kv_heads, keys, dim, device=self.device, dtype=self.dtype) for _ in range(2))
            if sparse is not None and keys >= sparse.dense_len:
                SparseAttention(sparse, group)(q, k, v, None, None)
            else:
                causal_kernel_attention(q, k, v, tokens)
            del q, k, v

    def _warm_prefill_forward(self) -> None:
        """Prefill two short prompts into row 0 (then forget them): the model's own prefill
        kernels (engine.fused_prefill's norms, SiLU x up, RoPE into the cache) compile here, in
        both variants Triton makes of a token count (divisible by 16 or not)."""
        for length in (32, 37):
            if length < self.capacity:
                self._prefill_row(0, [0] * length)
        self.decoder.lengths.zero_()

    def _capture(self, bucket: int) -> None:
        decoder = self.decoder
        saved = decoder.lengths.clone()
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            for _ in range(2):  # compiles and loads every kernel before the capture
                decoder.step(bucket)
                decoder.lengths.copy_(saved)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool):
            logits = decoder.step(bucket)
        decoder.lengths.copy_(saved)
        self._graphs[bucket] = (graph, logits)

    def prefill(self, prompts: Sequence[Sequence[int]]) -> torch.Tensor:
        """Fill cache rows 0..B-1 with the prompts, one row at a time; -> last-position logits [B, V]
        fp32. Rows past B are reset, so that the bucket's spare rows decode harmlessly."""
        decoder = self.decoder
        if len(prompts) > self.rows:
            raise ValueError(f"{len(prompts)} prompts exceed the cache's {self.rows} rows; run them in groups")
        for index, prompt in enumerate(prompts):
            if len(prompt) >= self.capacity:
                raise ContextWindowExceededError(
                    f"prompt {index} takes {len(prompt)} tokens, but the KV cache holds {self.capacity} "
                    "(prompt and reply together); shorten the prompt or reserve a longer context"
                )
        logits = []
        with torch.inference_mode():
            for row, prompt in enumerate(prompts):
                logits.append(self._prefill_row(row, prompt))
            lengths = torch.tensor([len(p) for p in prompts], dtype=torch.int32)
            decoder.lengths.zero_()
            decoder.lengths[: len(prompts)].copy_(lengths)
            return torch.stack(logits)

    def _prefill_row(self, row: int, prompt: Sequence[int]) -> torch.Tensor:
        ids = torch.tensor([list(prompt)], device=self.device)
        positions = torch.arange(len(prompt), device=self.device)[None]
        caches = [cache.row(row) for cache in self.decoder.caches]
        budget = int(self._free_bytes() * HEADROOM)
        chunk = prefill_chunk(self.model.config, len(prompt), budget, self.dtype.itemsize)
        lent = self._lend_compressed(row)
        try:
            for start in range(0, len(prompt), chunk):
                part = slice(start, min(start + chunk, len(prompt)))
                logits = self.model(
                    ids[:, part], positions[:, part], start, None, use_cache=True, last_only=True, caches=caches
                )[0, -1]
        finally:
            covered = self._take_back_compressed(lent)
        self.decoder.fill_compressed(row, len(prompt), covered)
        return logits

    def _lend_compressed(self, row: int) -> list[tuple[SparseAttention, CompressedKeys]]:
        """Hand every sparse layer the decoder's c1 (and c2) of cache row `row`, covering no key
        yet: a fused prefill (SparseAttention.prefill_tokens) then compresses each window there,
        once, and the prefill kernels select from it; the layers keep no copy of their own."""
        decoder = self.decoder
        if decoder.compressed is None or not decoder.kernels:
            return []
        lent = []
        for layer, kept in zip(self.model.model.layers, decoder.compressed, strict=True):
            attend = layer.self_attn.attend
            c2 = None if kept.c2 is None else kept.c2[row : row + 1]
            attend.compressed = CompressedKeys(0, kept.c1[row : row + 1], c2)
            lent.append((attend, attend.compressed))
        return lent

    def _take_back_compressed(self, lent: list[tuple[SparseAttention, CompressedKeys]]) -> list[int] | None:
        """Take the lent buffers back from the layers -> the keys each layer's buffers cover (0 where
        the layer put buffers of its own in their place); None when none were lent."""
        if not lent:
            return None
        covered = [keys.covered if attend.compressed is keys else 0 for attend, keys in lent]
        for attend, _ in lent:
            attend.compressed = None
        return covered

    def greedy_tokens(self, logits: torch.Tensor, steps: int) -> Iterator[list[int]]:
        """Greedy generation for rows 0..B-1 after `prefill`: yields each step's tokens [B] as host
        ints, step 0's from the prefill's logits [B, V], each later one's from a decode step,
        `steps` in all. Every decode step takes its tokens from the step before on the device
        (StaticDecoder.step leaves its argmax there), so step t + 1 is queued, graph and copy,
        before the host waits for step t's tokens: the host's work for a token (checks, text,
        handing it out) overlaps the GPU's next step. Stop iterating to stop early; at most
        one step more than was consumed has run."""
        batch = logits.shape[0]
        decoder = self.decoder
        with torch.inference_mode():
            decoder.tokens[:batch].copy_(logits.argmax(-1))
        if not self.graphs or self.device.type != "cuda":
            for step in range(steps):
                with torch.inference_mode():
                    sampled = decoder.tokens[:batch].tolist()
                yield sampled
                if step + 1 < steps:
                    with torch.inference_mode():
                        decoder.step(batch)
            return
        graph = self._graph_for(batch)
        host = [torch.empty(batch, dtype=torch.long, pin_memory=True) for _ in range(2)]
        ready = [torch.cuda.Event() for _ in range(2)]

        def queue_copy(slot: int) -> None:
            with torch.inference_mode():
                host[slot].copy_(decoder.tokens[:batch], non_blocking=True)
            ready[slot].record()

        queue_copy(0)
        for step in range(steps):
            slot = step % 2
            if step + 1 < steps:
                graph.replay()
                queue_copy(1 - slot)
            ready[slot].synchronize()
            yield host[slot].tolist()

    def _graph_for(self, batch: int) -> torch.cuda.CUDAGraph:
        bucket = bucket_for(batch, self.buckets)
        if bucket not in self._graphs:
            logger.warning("decode graph for %d rows captured during a request (warm up first)", bucket)
            with torch.inference_mode():
                self._capture(bucket)
        return self._graphs[bucket][0]

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """One step for rows 0..B-1 fed tokens [B]; -> logits [B, V] fp32 (valid until the next step)."""
        batch = tokens.shape[0]
        with torch.inference_mode():
            self.decoder.tokens[:batch].copy_(tokens)
            if not self.graphs:
                return self.decoder.step(batch)
            graph = self._graph_for(batch)
            graph.replay()
            return self._graphs[bucket_for(batch, self.buckets)][1][:batch]
