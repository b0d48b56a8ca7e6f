"""Programmatic dependent launch (PDL) for the chains of small kernels of a decode step.

A decode step is a chain of dependent kernels of a few microseconds each, where the gap
between one kernel's end and the next one's start costs about as much as a kernel. With
PDL (Hopper and later) a kernel is launched while its predecessor is still running: its
programs call `gdc_launch_dependents()` (the next kernel may start) and `gdc_wait()` (block
until the predecessor has finished and its writes are visible) before they read anything
the predecessor wrote, so the launch latency overlaps the predecessor's tail. Our kernels
call `gdc_launch_dependents()` right after `gdc_wait()`, so a kernel starts only once its
predecessor has passed its own wait, when every kernel before that one has finished: what
those wrote may be read before the wait (the sparse decode split kernel reads the query and
the lengths first, a round trip to memory off the chain). Kernels take
a `PDL` constexpr that guards both calls; launchers pass `launch_pdl=PDL`. Both are no-ops
where PDL is off; the interpreter has neither, so it never gets PDL.
"""

from __future__ import annotations

import functools
import os

import torch

ENABLED = True  # switch for benchmarks (bench/kernels_gpu.py measures with and without)


def use_pdl(tensor: torch.Tensor) -> bool:
    """Whether kernels working on tensor's device launch with PDL: a CUDA device of compute
    capability 9.0 or more, not under TRITON_INTERPRET, and ENABLED."""
    if not ENABLED or not tensor.is_cuda or os.environ.get("TRITON_INTERPRET") == "1":
        return False
    return _hopper_or_later(tensor.device.index if tensor.device.index is not None else torch.cuda.current_device())


@functools.cache
def _hopper_or_later(device_index: int) -> bool:
    # asked once per device: use_pdl runs for every kernel of every decode step
    return torch.cuda.get_device_capability(device_index)[0] >= 9
