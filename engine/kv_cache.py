"""Static preallocated KV cache: one module per layer, written in place, read up to the filled length."""

from __future__ import annotations

import torch
from torch import nn


class KVCache(nn.Module):
    """Keys and values of one layer: [batch, kv_heads, max_len, head_dim] buffers allocated once."""

    def __init__(
        self, batch: int, kv_heads: int, max_len: int, head_dim: int, dtype: torch.dtype, device: torch.device | str
    ) -> None:
        super().__init__()
        shape = (batch, kv_heads, max_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    def row(self, index: int) -> KVCache:
        """A cache of one row that shares this cache's memory (row `index`), for per-row prefill."""
        view = KVCache.__new__(KVCache)
        nn.Module.__init__(view)
        view.register_buffer("k", self.k[index : index + 1], persistent=False)
        view.register_buffer("v", self.v[index : index + 1], persistent=False)
        return view

    @property
    def max_len(self) -> int:
        return self.k.shape[2]

    def update(self, input_pos: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k, v [B, Hkv, T, D] at slots input_pos..input_pos+T-1 and return the filled prefix
        [B, Hkv, input_pos+T, D] of both buffers (views, no copy). input_pos is a host int: the
        loop knows it, so slicing costs no device sync."""
        end = input_pos + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KV cache of {self.max_len} slots cannot hold position {end - 1}")
        batch = k.shape[0]
        self.k[:batch, :, input_pos:end].copy_(k)
        self.v[:batch, :, input_pos:end].copy_(v)
        return self.k[:batch, :, :end], self.v[:batch, :, :end]
