"""Barriers between the programs of one row of a grid, for decode kernels that would
otherwise be chains of dependent launches.

A decode step is a chain of small dependent kernels; each link costs a launch and a memory
round trip. Where a stage needs what every program of its row (a sequence and KV head) wrote
in the previous stage, the two stages can share one launch if the programs wait for each
other: `row_barrier` is a counter in global memory that every program of the row increments
(acq_rel, after a CTA barrier so that all its threads' writes come first) and then spins on
(acquire) until it reads the number of programs in the row.

Counters must read 0 at every launch, CUDA-graph replays included, so the kernel that uses
them zeroes them itself: a counter is zeroed once every program of the row has left its spin
(after a later barrier, or by the last program to take an exit ticket, `row_exit`).

The spin needs every program of the row resident at once: a caller launches the fused form
only when the grid has at most one program per SM (`fits_one_wave`); programs run one after
another under TRITON_INTERPRET, so there kernels run their stages as separate launches.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

MAX_ROWS = 1024
COUNTERS_PER_ROW = 3

_COUNTERS: dict[tuple[torch.device, str], torch.Tensor] = {}


@triton.jit
def row_barrier(counter_ptr, n_progs):
    """Wait until n_progs programs have reached this barrier on counter_ptr."""
    tl.debug_barrier()  # every thread of this program has written what the others will read
    seen = tl.atomic_add(counter_ptr, 1, sem="acq_rel", scope="gpu") + 1
    # spin on plain volatile reads (L2, no read-modify-write: spinning atomics on one address
    # would queue behind each other and delay the arrivals), then one acquire to see the
    # others' writes
    while seen < n_progs:
        seen = tl.load(counter_ptr, volatile=True)
    tl.atomic_add(counter_ptr, 0, sem="acquire", scope="gpu")
    tl.debug_barrier()


@triton.jit
def row_exit(ticket_ptr, n_progs, last_barrier_ptr):
    """Take an exit ticket; the last of n_progs programs zeroes last_barrier_ptr and the
    ticket (every program has left the last barrier's spin before taking its ticket)."""
    ticket = tl.atomic_add(ticket_ptr, 1, sem="acq_rel", scope="gpu")
    if ticket == n_progs - 1:
        tl.atomic_xchg(last_barrier_ptr, 0, sem="relaxed", scope="gpu")
        tl.atomic_xchg(ticket_ptr, 0, sem="relaxed", scope="gpu")


def runs_phased(tensor: torch.Tensor) -> bool:
    """Whether kernels on tensor must run their stages as separate launches (CPU tensors,
    TRITON_INTERPRET): there programs run one after another and a spin would never end."""
    return not tensor.is_cuda or os.environ.get("TRITON_INTERPRET") == "1"


def fits_one_wave(tensor: torch.Tensor, rows: int, programs_per_row: int) -> bool:
    """Whether a grid of rows x programs_per_row can use row barriers on tensor's GPU: at most
    one program per SM (each fits an SM, so none waits for one that cannot start) and at
    most MAX_ROWS rows of counters."""
    sms = torch.cuda.get_device_properties(tensor.device).multi_processor_count
    return rows <= MAX_ROWS and rows * programs_per_row <= sms


def row_counters(device: torch.device, site: str) -> torch.Tensor:
    """The counters of one call site, [MAX_ROWS * COUNTERS_PER_ROW] int32 zeros, one buffer
    per device and site for the process's life (a CUDA graph captures its address)."""
    key = (device, site)
    if key not in _COUNTERS:
        _COUNTERS[key] = torch.zeros(MAX_ROWS * COUNTERS_PER_ROW, device=device, dtype=torch.int32)
    return _COUNTERS[key]


def cooperative_launch_supported() -> bool:
    """Whether this Triton can launch a grid as cooperative (the driver then refuses a grid
    whose programs cannot all be resident, instead of letting its barriers hang)."""
    import dataclasses

    from triton.backends.nvidia.compiler import CUDAOptions

    return "launch_cooperative_grid" in {f.name for f in dataclasses.fields(CUDAOptions)}


def launch_options(pdl: bool) -> dict:
    """Launch keywords for a kernel with row barriers: PDL as asked, cooperative where
    supported."""
    options = {"launch_pdl": pdl}
    if cooperative_launch_supported():
        options["launch_cooperative_grid"] = True
    return options
