"""Attention over the KV cache: dense SDPA, and the seam where InfLLM v2 sparse attention plugs in.

Shapes: q [B, Hkv, G*T, D] (the G query heads of a KV group stacked as rows, so no K/V repeat),
k, v [B, Hkv, S, D], mask [B, 1, G*T, S] bool (True = may attend) or None (every key visible).
"""

from __future__ import annotations

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

    The sparse branch calls kernels.infllmv2 per sequence. Until its fused kernels are wired in
    here, the plain-PyTorch specification (kernels/infllmv2/naive.py) runs: exact to the design,
    but slow; it is meant for correctness on long contexts, not speed.
    """

    def __init__(self, config: SparseConfig, num_groups: int) -> None:
        self.config = config
        self.num_groups = num_groups

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
        return self._sparse(q, k, v, first_key)

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
