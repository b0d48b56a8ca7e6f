"""Attention over the KV cache: dense SDPA, and the seam where InfLLM v2 sparse attention plugs in.

Shapes: q [B, Hkv, G*T, D] (the G query heads of a KV group stacked as rows, so no K/V repeat),
k, v [B, Hkv, S, D], mask [B, 1, G*T, S] bool (True = may attend) or None (every key visible).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from contextlib import contextmanager

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


class SparseAttention:
    """InfLLM v2 for checkpoints with a `sparse_config`: dense below dense_len keys, sparse above.

    The sparse branch runs kernels.infllmv2's fused Triton kernels where they run (`fused`:
    True, False, or None for "on a CUDA tensor in fp16/bf16"), else the plain-PyTorch
    specification (kernels/infllmv2/naive.py), exact to the design but slow: on CPU it is meant
    for correctness on long contexts, not speed. The fused path serves decode steps too, as a
    prefill of one query over the whole history (compressing every key again each step); the
    kernels' own decode path, with compressed keys kept beside the cache, is not wired in yet.
    """

    def __init__(self, config: SparseConfig, num_groups: int, fused: bool | None = None) -> None:
        self.config = config
        self.num_groups = num_groups
        self.fused = fused

    def __call__(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None,
        first_key: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if k.shape[2] < self.config.dense_len:
            return dense_attention(q, k, v, mask)
        fused = self.fused if self.fused is not None else q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)
        return self._fused(q, k, v, first_key) if fused else self._sparse(q, k, v, first_key)

    def _fused(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, first_key: torch.Tensor | None) -> torch.Tensor:
        """Every row's real keys and queries packed as one varlen batch for infllmv2_prefill; the
        queries of left padding (before a row's first key) get zeros."""
        from kernels.infllmv2.attention import infllmv2_prefill  # lazy: Triton only for long contexts

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
        out = infllmv2_prefill(
            q_packed, k_packed, v_packed, cu_q, self.config, cu_k, max_seqlen_q=max(q_lens), max_seqlen_k=max(k_lens)
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
