"""Weight matrices as the checkpoint stores them (GGML block formats), for the native decode path."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# GGML type id -> (values per block, bytes per block). The ids are GGUF's, so a GGUF tensor's type
# passes straight through to decode.c.
F32, F16, Q4_0, Q4_1, Q8_0 = 0, 1, 2, 3, 8
BLOCK_LAYOUT = {F32: (1, 4), F16: (1, 2), Q4_0: (32, 18), Q4_1: (32, 20), Q8_0: (32, 34)}


@dataclass(slots=True)
class RawWeight:
    """A [rows, cols] matrix in GGML type `ggml_type`: row r is bytes r*row_bytes.. of `data`
    (a C-contiguous numpy array or torch tensor, kept alive by this object)."""

    ggml_type: int
    data: np.ndarray | torch.Tensor
    rows: int
    cols: int

    def __post_init__(self) -> None:
        if self.ggml_type not in BLOCK_LAYOUT:
            raise ValueError(f"GGML type {self.ggml_type} has no native kernel")
        if self.cols % 32:
            raise ValueError(f"{self.cols} columns is not a multiple of 32, which the native kernels need")
        if self.nbytes != self.rows * self.row_bytes:
            raise ValueError(f"{self.nbytes} bytes for a [{self.rows}, {self.cols}] matrix of type {self.ggml_type}")

    @property
    def row_bytes(self) -> int:
        per_block, block_bytes = BLOCK_LAYOUT[self.ggml_type]
        return self.cols // per_block * block_bytes

    @property
    def nbytes(self) -> int:
        if isinstance(self.data, torch.Tensor):
            return self.data.numel() * self.data.element_size()
        return self.data.nbytes

    @property
    def address(self) -> int:
        if isinstance(self.data, torch.Tensor):
            return self.data.data_ptr()
        return self.data.ctypes.data

    @classmethod
    def from_tensor(cls, tensor: torch.Tensor) -> RawWeight:
        """An fp32 or fp16 [rows, cols] torch matrix, used in place (made contiguous if it is not)."""
        kinds = {torch.float32: F32, torch.float16: F16}
        if tensor.dtype not in kinds or tensor.dim() != 2 or tensor.device.type != "cpu":
            raise ValueError(f"no native format for a {tensor.dtype} {tensor.device} tensor of {tensor.dim()} dims")
        tensor = tensor.detach().contiguous()
        return cls(kinds[tensor.dtype], tensor, tensor.shape[0], tensor.shape[1])

    def permute_rows(self, order: np.ndarray) -> RawWeight:
        """The same matrix with its rows reordered (row i of the result is row order[i]); copies."""
        data = self.data.numpy() if isinstance(self.data, torch.Tensor) else self.data
        rows = np.ascontiguousarray(np.asarray(data).view(np.uint8).reshape(self.rows, self.row_bytes)[order])
        return RawWeight(self.ggml_type, rows, self.rows, self.cols)
