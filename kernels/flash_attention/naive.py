"""Dense causal attention in plain PyTorch fp32: the specification of kernels/flash_attention."""

from __future__ import annotations

from kernels.infllmv2.naive import attention

__all__ = ["attention"]
