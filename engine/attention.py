"""Attention over the KV cache: dense SDPA, and the seam where InfLLM v2 sparse attention plugs in.

Shapes: q [B, Hkv, G*T, D] (the G query heads of a KV group stacked as rows, so no K/V repeat),
k, v [B, Hkv, S, D], mask [B, 1, G*T, S] bool (True = may attend) or None (every key visible).
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from engine.config import SparseConfig

logger = logging.getLogger(__name__)


# Up to this many query rows per KV head, three plain matmul/softmax calls beat the fused SDPA
# kernel, whose setup cost dominates at decode sizes on CPU.
SMALL_QUERY_ROWS = 16


def dense_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Exact softmax attention -> [B, Hkv, G*T, D]."""
    if q.shape[2] <= SMALL_QUERY_ROWS:
        return small_query_attention(q, k, v, mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def small_query_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """softmax(q k^T / sqrt(D)) v with the softmax in fp32: the decode path."""
    with single_cpu_thread(q.device):
        scores = torch.matmul(q, k.transpose(-1, -2)).float() * (q.shape[-1] ** -0.5)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        # A left-padding query sees no key: its softmax is NaN. Zero it, as SDPA does, or the NaN
        # reaches that slot's keys and values in the next layer, and 0 * NaN poisons real rows.
        probs = scores.softmax(dim=-1).nan_to_num_(0.0) if mask is not None else scores.softmax(dim=-1)
        return torch.matmul(probs.to(v.dtype), v)


def kernel_attention_ok(tensor: torch.Tensor) -> bool:
    """Whether attention on `tensor`'s device and dtype runs through the Triton kernels (CUDA,
    fp16/bf16), which mask causally by position, so that the model builds no mask."""
    return tensor.is_cuda and tensor.dtype in (torch.float16, torch.bfloat16)


def causal_kernel_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, tokens: int) -> torch.Tensor:
    """Causal attention of the last `tokens` keys' queries over all keys, by the dense kernels.

    q [B, Hkv, G*T, D], k and v [B, Hkv, S, D] (the cache's filled prefix) -> [B, Hkv, G*T, D].
    A whole prompt in one pass (no history): SDPA's cuDNN backend (else flash), GQA without a
    K/V repeat; one token a row: flash-decoding (split over the keys); a chunk with history: the
    Triton tile kernel, GQA heads in one tile."""
    batch, kv_heads, rows, dim = q.shape
    n_keys = k.shape[2]
    if tokens == n_keys and tokens > 1:
        return _sdpa_one_pass(q, k, v, tokens)
    flash = _flash_kernels()
    group = rows // tokens
    # [B, Hkv, G*T, D] -> [B, T, Hq, D], heads kv-head-major as the model's q_proj orders them
    q_tok = q.view(batch, kv_heads, group, tokens, dim).permute(0, 3, 1, 2, 4).reshape(batch, tokens, -1, dim)
    if tokens == 1:
        lengths = torch.full((batch,), n_keys, device=q.device, dtype=torch.int32)
        out = flash.flash_attention_decode(q_tok[:, 0], k.transpose(1, 2), v.transpose(1, 2), lengths)
    else:
        k_tok, v_tok = (
            t[0].transpose(0, 1) if batch == 1 else t.transpose(1, 2).reshape(batch * n_keys, kv_heads, dim)
            for t in (k, v)
        )
        cu_q = torch.arange(0, (batch + 1) * tokens, tokens, device=q.device, dtype=torch.int32)
        cu_k = torch.arange(0, (batch + 1) * n_keys, n_keys, device=q.device, dtype=torch.int32)
        out = flash.flash_attention_prefill(q_tok.reshape(batch * tokens, -1, dim), k_tok, v_tok, cu_q, cu_k, tokens)
    out = out.view(batch, tokens, kv_heads, group, dim)
    return out.permute(0, 2, 3, 1, 4).reshape(batch, kv_heads, rows, dim)


def _sdpa_one_pass(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, tokens: int) -> torch.Tensor:
    # [B, Hkv, G*T, D] rows g*T + t are [B, Hq, T, D] with head hkv*G + g, as q_proj orders them.
    # cuDNN: the fastest at 32K on the H200, ahead of our tile kernel and SDPA's flash backend
    # (bench/engine_gpu_parts.py, bench/RESULTS.md)
    from torch.nn.attention import SDPBackend, sdpa_kernel

    batch, kv_heads, rows, dim = q.shape
    heads = q.view(batch, kv_heads * (rows // tokens), tokens, dim)
    with sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION], set_priority=True):
        out = F.scaled_dot_product_attention(heads, k, v, is_causal=True, enable_gqa=True)
    return out.view(q.shape)


@functools.cache
def _flash_kernels():
    """kernels.flash_attention.attention, imported on first use (see _kernels)."""
    from kernels.flash_attention import attention

    return attention


@contextmanager
def single_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run tiny CPU ops on the calling thread only.

    Decode attention works on a few thousand numbers per layer; splitting that over the intra-op
    pool costs more than the work, and on a shared machine, where a pool thread may be descheduled,
    each such op waits a whole time slice (measured: 7 ms per tiny bmm at load 7 on 2 cores, and
    4x slower decode overall). The big weight matmuls keep the pool. Switching costs ~0.2 us."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.cache
def _kernels() -> SimpleNamespace:
    """kernels.infllmv2's entry points, imported once on first use: Triton loads only when a
    long context needs it, and a decode step (every layer, every token) pays no import."""
    from kernels.infllmv2 import attention, compress

    return SimpleNamespace(attention=attention, compress=compress)


@dataclass
class CompressedKeys:
    """One layer's compressed keys c1 (and c2 with the coarse normaliser) [B, capacity, Hkv, D],
    kept for the fused decode step: the windows of the first `covered` keys of every row of the
    cache (rows without left padding)."""

    covered: int
    c1: torch.Tensor
    c2: torch.Tensor | None


def compress_windows(k: torch.Tensor, target: torch.Tensor, start: int, config: SparseConfig, coarse: bool) -> None:
    """Write into target [B, >= compressed_count(n), Hkv, D] the c1 windows (coarse: c2) of keys
    k [B, Hkv, n, D] that the first `start` keys do not complete (entries compressed_count(start)
    to compressed_count(n) - 1), by kernels.infllmv2's compress_keys over those keys only; the
    entries before are left as they are (the windows of the first `start` keys, already there)."""
    compress = _kernels().compress
    stride = config.coarse_kernel_stride if coarse else config.kernel_stride
    batch, _, n_keys, _ = k.shape
    first = compress.compressed_count(start, config, coarse)
    last = compress.compressed_count(n_keys, config, coarse)
    if last <= first:
        return
    offset = first * stride  # window `first` starts here: the windows of k[offset:] are first, first + 1, ...
    span = n_keys - offset
    rows = [row[:, offset:].transpose(0, 1) for row in k]  # [span, Hkv, D] views
    packed = rows[0] if batch == 1 else torch.cat(rows)
    cu_k = torch.arange(0, (batch + 1) * span, span, device=k.device, dtype=torch.int32)
    target[:, first:last] = compress.compress_keys(packed, cu_k, span, config, coarse=coarse)


class SparseAttention:
    """InfLLM v2 for checkpoints with a `sparse_config`: dense below dense_len keys, sparse above.

    One instance per layer. The sparse branch runs kernels.infllmv2's fused Triton kernels where
    they run (`fused`: True, False, or None for "on a CUDA tensor in fp16/bf16"), else the
    plain-PyTorch specification (kernels/infllmv2/naive.py), exact to the design but slow: on
    CPU it is meant for correctness on long contexts, not speed.

    Fused, a prefill compresses the windows its keys complete into `CompressedKeys` (the
    layer's own, or buffers engine.static_runtime lends) and packs the batch's real keys and
    queries into one varlen `infllmv2_prefill`, which selects blocks from them; a decode
    step that extends exactly those keys by one appends the windows it completes and runs
    `infllmv2_decode` (five small kernels). Any other call takes the prefill path: a chunk
    that follows the layer's previous call compresses only the windows it completes; left
    padding, a first call past dense_len or keys rewritten compress afresh. Appending is safe
    because each layer sees every call: a call of one new token at n keys follows one at
    n - 1 keys only when slots 0 .. n - 2 were not written in between (a rewrite of slot s
    would have been a call at s + 1 keys).
    """

    def __init__(self, config: SparseConfig, num_groups: int, fused: bool | None = None) -> None:
        self.config = config
        self.num_groups = num_groups
        self.fused = fused
        self.compressed: CompressedKeys | None = None

    def __call__(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None,
        first_key: torch.Tensor | None = None,
    ) -> torch.Tensor:
        n_keys = k.shape[2]
        if n_keys < self.config.dense_len:
            return dense_attention(q, k, v, mask)
        fused = self.fused if self.fused is not None else q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)
        if not fused:
            return self._sparse(q, k, v, first_key)
        if first_key is not None:  # the engine passes it only for left padding: no compressed keys kept
            self.compressed = None
            return self._fused(q, k, v, first_key)
        kept = self.compressed
        if q.shape[2] == self.num_groups and self._extends(kept, k):
            return self._fused_decode(q, k, v, kept)
        kept = self._keep(k, n_keys - q.shape[2] // self.num_groups)
        return self._fused(q, k, v, None, kept)

    def prefill_tokens(
        self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, k: torch.Tensor
    ) -> torch.Tensor:
        """One row's causal prefill in the kernels' token-major layout (engine.fused_prefill): q
        [T, Hq, D] the last T of keys, values [S, Hkv, D] (S >= dense_len; k is the same keys as
        the [1, Hkv, S, D] cache view) -> [T, Hq, D]. Keeps the compressed keys as __call__ does,
        in the buffers engine.static_runtime lends when it does (see _keep), and the prefill
        kernels select blocks from those: each window is compressed once."""
        tokens, n_keys = q.shape[0], keys.shape[0]
        fused = self.fused if self.fused is not None else q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)
        if not fused:
            from kernels.infllmv2 import naive

            return naive.infllmv2_attention(q.float(), keys.float(), values.float(), self.config).to(q.dtype)
        cu_q = torch.tensor([0, tokens], device=q.device, dtype=torch.int32)
        cu_k = torch.tensor([0, n_keys], device=q.device, dtype=torch.int32)
        kept = self._keep(k, n_keys - tokens)
        return _kernels().attention.infllmv2_prefill(
            q, keys, values, cu_q, self.config, cu_k, max_seqlen_q=tokens, max_seqlen_k=n_keys, c1=kept.c1, c2=kept.c2
        )

    def _extends(self, kept: CompressedKeys | None, k: torch.Tensor) -> bool:
        """Whether keys k [B, Hkv, n, D] are kept's keys and one more, with room for its windows."""
        return kept is not None and kept.covered == k.shape[2] - 1 and self._fits(kept, k, k.shape[2] - 1)

    def _fits(self, kept: CompressedKeys | None, k: torch.Tensor, history: int) -> bool:
        """Whether kept can be brought to keys k [B, Hkv, n, D], of which the first `history` are
        unchanged since kept was: it covers no more of them, has k's rows and room for n keys."""
        compressed_count = _kernels().compress.compressed_count
        n_keys = k.shape[2]
        return (
            kept is not None
            and kept.covered <= history
            and kept.c1.shape[0] == k.shape[0]
            and kept.c1.shape[1] >= compressed_count(n_keys, self.config)
            and (kept.c2 is not None) == self.config.coarse_normaliser
            and (kept.c2 is None or kept.c2.shape[1] >= compressed_count(n_keys, self.config, coarse=True))
        )

    def _keep(self, k: torch.Tensor, history: int) -> CompressedKeys:
        """self.compressed brought to keys k [B, Hkv, n, D] before a prefill call whose first
        `history` keys were there at the last call: extended in place by the windows past
        kept.covered where it fits (_fits: buffers lent by engine.static_runtime, covering
        nothing yet, or those of this layer's previous chunk), else compressed afresh into new
        buffers with room for as many keys again. Reusing is safe because kept.covered is 0
        (lent) or the key count of this layer's last call at dense_len keys or more: a new
        sequence's first such call comes after calls below dense_len only, so its history is
        shorter than kept.covered."""
        kept = self.compressed
        if not self._fits(kept, k, history):
            self.compressed = kept = None  # the old buffers go before the new ones come
            kept = self._allocate(k)
        for coarse, target in ((False, kept.c1), (True, kept.c2)):
            if target is not None:
                compress_windows(k, target, kept.covered, self.config, coarse)
        kept.covered = k.shape[2]
        self.compressed = kept
        return kept

    def _allocate(self, k: torch.Tensor) -> CompressedKeys:
        """Zeroed c1 (and c2) for the rows of keys k [B, Hkv, n, D], room for 2n keys, none covered."""
        compressed_count = _kernels().compress.compressed_count
        batch, kv_heads, n_keys, dim = k.shape

        def buffer(coarse: bool) -> torch.Tensor:
            return k.new_zeros(batch, max(1, compressed_count(2 * n_keys, self.config, coarse)), kv_heads, dim)

        return CompressedKeys(0, buffer(False), buffer(True) if self.config.coarse_normaliser else None)

    def _fused_decode(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kept: CompressedKeys) -> torch.Tensor:
        """One new token per row over keys [B, Hkv, n, D] whose first n - 1 are compressed in kept."""
        kernels = _kernels()
        batch, n_keys = k.shape[0], k.shape[2]
        k_cache, v_cache = k.transpose(1, 2), v.transpose(1, 2)  # [B, n, Hkv, D] views
        new = torch.full((batch,), n_keys, device=k.device, dtype=torch.int32)
        kernels.compress.append_compressed_keys(k_cache, kept.c1, new - 1, new, self.config, c2_cache=kept.c2)
        kept.covered = n_keys
        # [B, Hkv, G, D] -> [B, Hq, D]: heads kv-head-major, as the model's q_proj orders them
        out = kernels.attention.infllmv2_decode(
            q.reshape(batch, -1, q.shape[-1]), k_cache, v_cache, kept.c1, new, self.config, kept.c2
        )
        return out.view(q.shape)

    def _fused(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        first_key: torch.Tensor | None,
        kept: CompressedKeys | None = None,
    ) -> torch.Tensor:
        """Every row's real keys and queries packed as one varlen batch for infllmv2_prefill; the
        queries of left padding (before a row's first key) get zeros. kept: every row's compressed
        keys, all of them (no left padding); else the kernels compress the packed keys."""
        batch, kv_heads, rows, dim = q.shape
        group, n_keys = self.num_groups, k.shape[2]
        tokens = rows // group
        starts = first_key.tolist() if first_key is not None else [0] * batch
        k_lens = [n_keys - start for start in starts]
        q_lens = [min(tokens, k_len) for k_len in k_lens]  # a row's queries are its last keys
        # [B, Hkv, G*T, D] -> [B, T, Hq, D], heads kv-head-major as the model's q_proj orders them
        q_tok = q.view(batch, kv_heads, group, tokens, dim).permute(0, 3, 1, 2, 4).reshape(batch, tokens, -1, dim)
        q_packed = torch.cat([q_tok[b, tokens - q_lens[b] :] for b in range(batch)])
        k_packed, v_packed = (
            torch.cat([t[b, :, start:].transpose(0, 1) for b, start in enumerate(starts)])
            if batch > 1
            else t[0, :, starts[0] :].transpose(0, 1)  # a view: the kernels take any token stride
            for t in (k, v)
        )
        cu_q, cu_k = (
            torch.tensor([0, *itertools.accumulate(lengths)], device=q.device, dtype=torch.int32)
            for lengths in (q_lens, k_lens)
        )
        out = _kernels().attention.infllmv2_prefill(
            q_packed,
            k_packed,
            v_packed,
            cu_q,
            self.config,
            cu_k,
            max_seqlen_q=max(q_lens),
            max_seqlen_k=max(k_lens),
            c1=None if kept is None else kept.c1,
            c2=None if kept is None else kept.c2,
        )
        result = q_tok.new_zeros(q_tok.shape)
        for b, (lo, hi) in enumerate(itertools.pairwise(cu_q.tolist())):
            result[b, tokens - q_lens[b] :] = out[lo:hi]
        return result.view(batch, tokens, kv_heads, group, dim).permute(0, 2, 3, 1, 4).reshape(q.shape)

    def _sparse(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, first_key: torch.Tensor | None
    ) -> torch.Tensor:
        from kernels.infllmv2 import naive  # lazy: only long contexts need it

        batch, kv_heads, rows, dim = q.shape
        n_keys = k.shape[2]
        out = torch.empty_like(q)
        for b in range(batch):
            start = int(first_key[b]) if first_key is not None else 0
            # [Hkv, G*T, D] -> [T, Hq, D] with heads ordered kv-head-major, as the model's q_proj is.
            group = self.num_groups
            tokens = rows // group
            qb = q[b].view(kv_heads, group, tokens, dim).permute(2, 0, 1, 3).reshape(tokens, kv_heads * group, dim)
            kb = k[b, :, start:n_keys].transpose(0, 1)
            vb = v[b, :, start:n_keys].transpose(0, 1)
            ob = naive.infllmv2_attention(qb.float(), kb.float(), vb.float(), self.config)
            out[b] = ob.view(tokens, kv_heads, group, dim).permute(1, 2, 0, 3).reshape(kv_heads, rows, dim).to(q.dtype)
        return out
