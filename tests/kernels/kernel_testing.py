"""Shared settings and checks for the kernel tests (conftest.py puts this folder on sys.path)."""

from __future__ import annotations

import torch

from kernels.infllmv2 import naive
from kernels.infllmv2.config import SparseConfig

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
# The interpreter's bf16 is broken: fp32 there; fp16 on the GPU (bf16 in the gpu-marked tests).
DTYPE = torch.float16 if DEVICE.type == "cuda" else torch.float32
# Relative RMS error allowed against the fp32 reference, for DTYPE inputs.
TOLERANCE = 3e-3 if DEVICE.type == "cuda" else 1e-5


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Relative RMS error ||out - ref|| / ||ref||; NaN anywhere gives NaN (which fails any bound)."""
    out, ref = out.double().cpu(), ref.double().cpu()
    return float((out - ref).norm() / ref.norm())


def cu_seqlens(lengths: list[int], device: torch.device) -> torch.Tensor:
    return torch.tensor([0, *lengths], device=device).cumsum(0).to(torch.int32)


def assert_valid_selection(selected: torch.Tensor, scores: torch.Tensor, config: SparseConfig, tol: float) -> None:
    """selected [HKV, Tq, S] must be a top-S set of the reference scores [HKV, Tq, n_blocks]
    up to tol (near-ties may go either way): distinct ascending ids, -1 only at the end and
    only where fewer blocks are allowed, every pick scoring at least the best block left out."""
    selected, scores = selected.long().cpu(), scores.float().cpu()
    n_allowed = (scores > float("-inf")).sum(-1).clamp(max=config.selected_blocks)
    picked = selected >= 0
    assert torch.equal(picked.sum(-1), n_allowed), "wrong number of selected blocks"
    assert torch.equal(picked, torch.arange(selected.shape[-1]) < n_allowed[..., None]), "-1 before a block id"
    assert bool((selected[..., 1:] > selected[..., :-1])[picked[..., 1:]].all()), "ids not strictly ascending"
    n_blocks = scores.shape[-1]
    chosen = torch.zeros(*scores.shape[:-1], n_blocks + 1, dtype=torch.bool)
    chosen = chosen.scatter_(-1, selected.masked_fill(~picked, n_blocks), True)[..., :n_blocks]
    worst_pick = scores.masked_fill(~chosen, float("inf")).amin(-1)
    best_left = scores.masked_fill(chosen, float("-inf")).amax(-1)
    finite = torch.isfinite(worst_pick) & torch.isfinite(best_left)
    assert bool((worst_pick >= best_left - tol)[finite].all()), "a better block was left out"
    assert bool((worst_pick >= best_left)[~finite].all()), "a forced block was left out or an excluded one picked"


def reference_scores(q: torch.Tensor, k: torch.Tensor, config: SparseConfig) -> torch.Tensor:
    """naive block scores of one sequence whose queries are the last of its keys (with the c2
    normaliser when config.coarse_normaliser)."""
    c2 = naive.compress_keys(k, config, coarse=True) if config.coarse_normaliser else None
    return naive.block_scores(q, naive.compress_keys(k, config), k.shape[0], config, c2)
