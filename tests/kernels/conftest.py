"""Kernel tests run on CUDA when there is a GPU, else on CPU under Triton's interpreter.

TRITON_INTERPRET is read when a kernel is decorated, so it is set here, before any kernel
module is imported; kernel modules imported earlier without it (by another package's tests)
are reloaded. Only CPU machines get the variable: there every Triton kernel must interpret.
"""

from __future__ import annotations

import importlib
import os
import sys

import pytest
import torch

ON_GPU = torch.cuda.is_available()
if not ON_GPU and os.environ.get("TRITON_INTERPRET") != "1":
    os.environ["TRITON_INTERPRET"] = "1"
    for name in (  # defined before this ran, compiled for a GPU: define them again, dependencies first
        "kernels.flash_attention.triton_attention",
        "kernels.infllmv2.compress",
        "kernels.infllmv2.topk",
        "kernels.infllmv2.select",
        "kernels.infllmv2.sparse",
        "kernels.flash_attention.attention",
        "kernels.infllmv2.attention",
        "kernels.linear.gemv",
        "kernels.fused.elementwise",
        "kernels.fused.rope_cache",
        "kernels.fused.argmax",
    ):
        if name in sys.modules:
            importlib.reload(sys.modules[name])

sys.path.insert(0, os.path.dirname(__file__))  # the test modules import kernel_testing


@pytest.fixture(autouse=True)
def poison_new_tensors(monkeypatch):
    """Fill every tensor the kernels' launchers allocate with NaN (floats) or a wild integer,
    so that an output element no kernel wrote fails the comparison."""
    empty, empty_like = torch.empty, torch.empty_like

    def poison(tensor):
        return tensor.fill_(float("nan") if tensor.is_floating_point() else -12345)

    monkeypatch.setattr(torch, "empty", lambda *args, **kwargs: poison(empty(*args, **kwargs)))
    monkeypatch.setattr(torch, "empty_like", lambda *args, **kwargs: poison(empty_like(*args, **kwargs)))
