"""RMSNorm (with the residual add before it) and SwiGLU's silu(gate) * up as single passes.

A prefill of 128K tokens moves each of these tensors (1-9 GB) once per layer here, where the
PyTorch ops they replace made a pass per op, several in fp32. Each kernel rounds where the
engine's PyTorch ops round (kernels/fused/reference.py is their specification): the
normalised row to the input dtype before the weight multiplies it, the residual sum once,
silu(gate) before the product. Rows are indexed in int64: a 128K prefill's gate/up output has
more than 2^31 elements.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _rms_norm_kernel(
    h_ptr, delta_ptr, sum_ptr, out_ptr, w_ptr, n_cols, alpha, eps, ADD: tl.constexpr, BLOCK: tl.constexpr
):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(h_ptr + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
    if ADD:
        delta = tl.load(delta_ptr + row * n_cols + cols, mask=mask, other=0.0).to(tl.float32)
        total = (x + alpha * delta).to(sum_ptr.dtype.element_ty)
        tl.store(sum_ptr + row * n_cols + cols, total, mask=mask)
        x = total.to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, 0) / n_cols + eps)
    normed = (x * rstd).to(out_ptr.dtype.element_ty).to(tl.float32)
    weight = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + row * n_cols + cols, (normed * weight).to(out_ptr.dtype.element_ty), mask=mask)


def _rows(x: torch.Tensor) -> torch.Tensor:
    if not x.is_contiguous():
        raise ValueError("the fused norm needs a contiguous input")
    return x.view(-1, x.shape[-1])


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """engine.model.RMSNorm of x [..., H] (contiguous) in one pass -> x's shape and dtype."""
    rows = _rows(x)
    out = torch.empty_like(x)
    block = triton.next_power_of_2(x.shape[-1])
    _rms_norm_kernel[(rows.shape[0],)](
        rows, rows, rows, out, weight, x.shape[-1], 1.0, eps, ADD=False, BLOCK=block, num_warps=_warps(block)
    )
    return out


def add_rms_norm(
    h: torch.Tensor, delta: torch.Tensor, alpha: float, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(h + alpha * delta, RMSNorm of that sum) in one pass; h and delta [..., H] contiguous."""
    rows, deltas = _rows(h), _rows(delta)
    total, out = torch.empty_like(h), torch.empty_like(h)
    block = triton.next_power_of_2(h.shape[-1])
    _rms_norm_kernel[(rows.shape[0],)](
        rows, deltas, total, out, weight, h.shape[-1], alpha, eps, ADD=True, BLOCK=block, num_warps=_warps(block)
    )
    return total, out


def _warps(block: int) -> int:
    return max(1, min(8, block // 512))


@triton.jit
def _silu_mul_kernel(gate_up_ptr, out_ptr, inner, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < inner
    gate = tl.load(gate_up_ptr + row * 2 * inner + cols, mask=mask, other=0.0).to(tl.float32)
    up = tl.load(gate_up_ptr + row * 2 * inner + inner + cols, mask=mask, other=0.0).to(tl.float32)
    silu = (gate / (1.0 + tl.exp(-gate))).to(out_ptr.dtype.element_ty).to(tl.float32)
    tl.store(out_ptr + row * inner + cols, (silu * up).to(out_ptr.dtype.element_ty), mask=mask)


def silu_mul(gate_up: torch.Tensor, block: int = 1024) -> torch.Tensor:
    """silu(gate) * up of gate_up [..., 2I] (contiguous, gate first) -> [..., I]."""
    if not gate_up.is_contiguous():
        raise ValueError("silu_mul needs a contiguous gate/up tensor")
    inner = gate_up.shape[-1] // 2
    rows = gate_up.numel() // (2 * inner)
    out = torch.empty(*gate_up.shape[:-1], inner, device=gate_up.device, dtype=gate_up.dtype)
    block = min(block, triton.next_power_of_2(inner))
    _silu_mul_kernel[(rows, triton.cdiv(inner, block))](gate_up, out, inner, BLOCK=block, num_warps=4)
    return out
