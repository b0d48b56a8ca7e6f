"""The sparse-attention settings of a MiniCPM4 checkpoint (its config.json `sparse_config`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SparseConfig:
    """InfLLM v2 settings, named as in the checkpoint's `sparse_config` (docs/ARCHITECTURE.md section 4).

    kernel_size, kernel_stride: the compressed keys c1[j] = mean(K[j*stride : j*stride + size]).
    block_size: the selection unit, in tokens. init_blocks: leading blocks every query sees.
    window_size: tokens of the local window; the query's own block and the
    window_size // block_size blocks before it are always selected.
    topk: blocks chosen by score on top of the window; a query attends to
    `selected_blocks = topk + window_size // block_size` blocks in all, forced ones included.
    dense_len: contexts shorter than this (in tokens, history included) use dense attention.
    coarse_normaliser: True: the softmax of the block scores is normalised over the coarse c2
    kernels (kernel and stride 4x c1's: 128 and 64), as OpenBMB's InfLLM v2 inference does in
    prefill and decode since MiniCPM4.1 (docs/ARCHITECTURE.md section 4), ~4x cheaper; False:
    exactly over the c1 kernels. Checkpoints do not state it: from_dict turns it on unless told
    otherwise; the dataclass default, for explicit constructions, is the exact normaliser.
    """

    kernel_size: int = 32
    kernel_stride: int = 16
    init_blocks: int = 1
    block_size: int = 64
    window_size: int = 2048
    topk: int = 64
    use_nope: bool = False
    dense_len: int = 8192
    coarse_normaliser: bool = False

    def __post_init__(self) -> None:
        if self.kernel_size != 2 * self.kernel_stride:
            raise ValueError(f"kernel_size must be 2 * kernel_stride, got {self.kernel_size} and {self.kernel_stride}")
        ratio = self.block_size // self.kernel_stride
        if self.block_size % self.kernel_stride or ratio & (ratio - 1):
            raise ValueError(
                f"block_size / kernel_stride must be a power of two, got {self.block_size} / {self.kernel_stride}"
            )
        if self.block_size < 16 or self.block_size & (self.block_size - 1):
            raise ValueError(f"block_size must be a power of two >= 16, got {self.block_size}")
        if self.window_size % self.block_size:
            raise ValueError(f"window_size {self.window_size} is not a multiple of block_size {self.block_size}")
        if self.init_blocks < 0 or self.topk < 1:
            raise ValueError(f"init_blocks must be >= 0 and topk >= 1, got {self.init_blocks} and {self.topk}")
        if self.use_nope:
            raise ValueError("use_nope=true (keys without RoPE for selection) is not supported")
        if not isinstance(self.coarse_normaliser, bool):
            raise ValueError(f"coarse_normaliser must be true or false, got {self.coarse_normaliser!r}")
        forced = self.init_blocks + self.local_blocks + 1
        if forced > self.selected_blocks:
            raise ValueError(f"{forced} forced blocks exceed the {self.selected_blocks} selected blocks")

    @property
    def local_blocks(self) -> int:
        """Blocks of the local window before the query's own block."""
        return self.window_size // self.block_size

    @property
    def selected_blocks(self) -> int:
        """Blocks each query attends to (top-k plus window, forced blocks included)."""
        return self.topk + self.local_blocks

    @property
    def coarse_kernel_size(self) -> int:
        """Window of the coarse compressed keys c2 (4 x kernel_size)."""
        return 4 * self.kernel_size

    @property
    def coarse_kernel_stride(self) -> int:
        """Stride of the coarse compressed keys c2 (4 x kernel_stride)."""
        return 4 * self.kernel_stride

    @property
    def pool_ratio(self) -> int:
        """Compressed keys starting inside one block (the max-pool stride)."""
        return self.block_size // self.kernel_stride

    @classmethod
    def from_dict(cls, sparse_config: dict[str, Any] | None, coarse_normaliser: bool = True) -> SparseConfig | None:
        """Read a checkpoint's `sparse_config` dict; None (dense attention) when it is absent.

        The selection then runs as the model's own does, with the coarse normaliser;
        coarse_normaliser=False, or a "coarse_normaliser": false entry in the dict (which wins),
        keeps the exact one."""
        if not sparse_config:
            return None
        known = {name: sparse_config[name] for name in cls.__slots__ if name in sparse_config}
        known.setdefault("coarse_normaliser", coarse_normaliser)
        return cls(**known)

    @classmethod
    def tiny(cls, **overrides: Any) -> SparseConfig:
        """A shrunken configuration with the real ratios, for tests on small shapes."""
        values: dict[str, Any] = dict(
            kernel_size=8, kernel_stride=4, init_blocks=1, block_size=16, window_size=32, topk=4, dense_len=96
        )
        values.update(overrides)
        return cls(**values)
