"""kernels.linear.gemv (one-row weight matmul) against torch.nn.functional.linear in fp32."""

from __future__ import annotations

import pytest
import torch
from kernel_testing import DEVICE, DTYPE, TOLERANCE, rel_err

from kernels.linear.gemv import gemv


@pytest.mark.parametrize(("n_rows", "n_cols", "programs"), [(100, 300, 3), (64, 512, 8), (37, 1030, 5)])
def test_gemv_matches_linear(n_rows, n_cols, programs):
    generator = torch.Generator().manual_seed(n_rows)
    weight = torch.randn(n_rows, n_cols, generator=generator).to(DEVICE, DTYPE)
    x = torch.randn(1, 1, n_cols, generator=generator).to(DEVICE, DTYPE)
    out = gemv(x, weight, programs=programs, block_k=256)
    assert out.shape == (1, 1, n_rows)
    assert rel_err(out, torch.nn.functional.linear(x.float(), weight.float())) < TOLERANCE


def test_gemv_rejects_more_than_one_row():
    with pytest.raises(ValueError, match="one row of 8 values"):
        gemv(torch.zeros(2, 8, device=DEVICE, dtype=DTYPE), torch.zeros(4, 8, device=DEVICE, dtype=DTYPE))


@pytest.mark.parametrize(("n_rows", "n_cols", "programs", "rows"), [(64, 256, 8, 4), (37, 300, 5, 8)])
def test_gated_gemv_matches_silu_times_up_then_linear(n_rows, n_cols, programs, rows):
    """gated=True multiplies by silu(gate) * up of x = [gate, up], each product rounded to x's
    dtype as the unfused activation kernel stores it."""
    generator = torch.Generator().manual_seed(n_cols)
    weight = torch.randn(n_rows, n_cols, generator=generator).to(DEVICE, DTYPE)
    x = torch.randn(1, 1, 2 * n_cols, generator=generator).to(DEVICE, DTYPE)
    gate, up = x.chunk(2, dim=-1)
    want = torch.nn.functional.linear((torch.nn.functional.silu(gate) * up).float(), weight.float())
    out = gemv(x, weight, programs=programs, rows=rows, block_k=128, gated=True)
    assert out.shape == (1, 1, n_rows)
    assert rel_err(out, want) < TOLERANCE


def test_gated_gemv_rejects_x_without_the_up_half():
    with pytest.raises(ValueError, match="one row of 16 values"):
        gemv(torch.zeros(8, device=DEVICE, dtype=DTYPE), torch.zeros(4, 8, device=DEVICE, dtype=DTYPE), gated=True)
