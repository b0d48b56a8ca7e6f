"""kernels.linear.norm_gemv (residual add, RMSNorm and the one-row matmul in one kernel, optionally
with the SwiGLU activation of a fused gate/up weight) against the plain ops it replaces."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from kernel_testing import DEVICE, DTYPE, TOLERANCE, rel_err

from kernels.fused.reference import add_rms_norm, rms_norm, silu_mul
from kernels.linear.norm_gemv import norm_gemv


def _inputs(n_rows: int, n_cols: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    h, delta = (torch.randn(1, 1, n_cols, generator=generator).to(DEVICE, DTYPE) for _ in range(2))
    norm_weight = (1 + 0.1 * torch.randn(n_cols, generator=generator)).to(DEVICE, DTYPE)
    weight = torch.randn(n_rows, n_cols, generator=generator).to(DEVICE, DTYPE)
    return h, delta, norm_weight, weight


@pytest.mark.parametrize(("n_rows", "n_cols", "shape"), [(64, 256, (4, 8, 64, 4)), (37, 300, (8, 3, 128, 2))])
def test_norm_gemv_equals_add_norm_then_linear(n_rows, n_cols, shape):
    h, delta, norm_weight, weight = _inputs(n_rows, n_cols, n_cols)
    want_sum, normed = add_rms_norm(h, delta, 0.37, norm_weight, 1e-5)
    total, out = norm_gemv(h, norm_weight, weight, 1e-5, delta=delta, alpha=0.37, shape=shape)
    assert rel_err(total, want_sum) < TOLERANCE  # the next residual, rounded once as torch.add rounds
    assert out.shape == (1, 1, n_rows)
    assert rel_err(out, F.linear(normed.float(), weight.float())) < TOLERANCE


def test_norm_gemv_without_residual_normalises_h_itself():
    h, _, norm_weight, weight = _inputs(48, 128, 3)
    total, out = norm_gemv(h, norm_weight, weight, 1e-6, shape=(4, 5, 64, 4))
    assert total is h
    assert rel_err(out, F.linear(rms_norm(h, norm_weight, 1e-6).float(), weight.float())) < TOLERANCE


@pytest.mark.parametrize(("inter", "n_cols", "shape"), [(32, 256, (4, 4, 128, 4)), (21, 200, (2, 5, 64, 2))])
def test_swiglu_norm_gemv_equals_the_unfused_mlp_input(inter, n_cols, shape):
    """gate row j and up row j multiply in one program: silu(gate) * up of the normed sum's
    projection through a fused [gate; up] weight [2I, K]."""
    h, delta, norm_weight, weight = _inputs(2 * inter, n_cols, inter)
    _, normed = add_rms_norm(h, delta, 1.4, norm_weight, 1e-5)
    want = silu_mul(F.linear(normed, weight))
    _, out = norm_gemv(h, norm_weight, weight, 1e-5, delta=delta, alpha=1.4, swiglu=True, shape=shape)
    assert out.shape == (1, 1, inter)
    assert rel_err(out, want) < TOLERANCE


def test_norm_gemv_rejects_bad_shapes():
    h, delta, norm_weight, weight = _inputs(7, 64, 1)
    with pytest.raises(ValueError, match="one row of 64 values"):
        norm_gemv(h[..., :32], norm_weight, weight, 1e-5)
    with pytest.raises(ValueError, match="7 rows is odd"):
        norm_gemv(h, norm_weight, weight, 1e-5, delta=delta, swiglu=True)
