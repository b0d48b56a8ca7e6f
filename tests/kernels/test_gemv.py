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
