"""InfLLM v2 sparse attention (docs/ARCHITECTURE.md section 4): Triton kernels beside their plain-PyTorch
specification (naive.py). Import-light: importing this package loads neither Triton nor a
kernel; `from kernels.infllmv2.attention import infllmv2_prefill, infllmv2_decode` does."""

from kernels.infllmv2.config import SparseConfig

__all__ = ["SparseConfig"]
