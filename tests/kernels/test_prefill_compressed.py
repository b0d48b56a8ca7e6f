"""The prefill's compressed keys kept once: kernels.infllmv2's infllmv2_prefill on c1/c2 it is given
(a decode loop's capacity-sized buffers) against computing them itself, and engine.attention's
compress_windows, which fills such buffers chunk by chunk, against compress_keys of all the keys."""

from __future__ import annotations

import pytest
import torch
from kernel_testing import DEVICE, DTYPE, cu_seqlens

from engine.attention import compress_windows
from kernels.infllmv2.attention import infllmv2_prefill
from kernels.infllmv2.compress import coarse_from_fine, compress_keys, compressed_count
from kernels.infllmv2.config import SparseConfig

CONFIG = SparseConfig.tiny(dense_len=64)
COARSE = SparseConfig.tiny(dense_len=64, coarse_normaliser=True)


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).to(DEVICE, DTYPE)


def in_capacity(keys: torch.Tensor, capacity: int, seed: int) -> torch.Tensor:
    """keys [B, n, Hkv, D] at the front of a [B, capacity, Hkv, D] buffer whose rest is noise
    (stale entries of an earlier, longer prompt), which no kernel may read."""
    buffer = randn(keys.shape[0], capacity, *keys.shape[2:], seed=seed) * 100
    buffer[:, : keys.shape[1]] = keys
    return buffer


@pytest.mark.slow  # interpreted on CPU: ~7 s each
@pytest.mark.parametrize("config", [CONFIG, COARSE], ids=["exact", "c2"])
def test_prefill_on_given_compressed_keys_equals_computing_them(config):
    """Two sequences with history (90 queries over 110 keys, 30 over 70): the same output,
    bit for bit, from c1 (and c2 = coarse_from_fine(c1), as the kernels compute them) kept in
    buffers of a 160-key capacity with noise past each sequence's count."""
    lengths_q, lengths_k = [90, 30], [110, 70]
    q = randn(sum(lengths_q), 8, 32, seed=1)
    k, v = (randn(sum(lengths_k), 2, 32, seed=seed) for seed in (2, 3))
    cu_q, cu_k = cu_seqlens(lengths_q, DEVICE), cu_seqlens(lengths_k, DEVICE)
    want = infllmv2_prefill(q, k, v, cu_q, config, cu_k)
    c1 = compress_keys(k, cu_k, max(lengths_k), config)
    c1_cache = in_capacity(c1, compressed_count(160, config), seed=4)
    c2_cache = None
    if config.coarse_normaliser:
        c2_cache = in_capacity(coarse_from_fine(c1, config), compressed_count(160, config, coarse=True), seed=5)
    got = infllmv2_prefill(q, k, v, cu_q, config, cu_k, c1=c1_cache, c2=c2_cache)
    assert torch.equal(got, want)


def test_prefill_with_given_c1_but_no_c2_names_what_is_missing():
    q = randn(80, 8, 32, seed=1)
    k, v = (randn(80, 2, 32, seed=seed) for seed in (2, 3))
    cu = cu_seqlens([80], DEVICE)
    c1 = compress_keys(k, cu, 80, COARSE)
    with pytest.raises(ValueError, match="needs the coarse keys c2"):
        infllmv2_prefill(q, k, v, cu, COARSE, c1=c1)


@pytest.mark.parametrize("coarse", [False, True], ids=["c1", "c2"])
@pytest.mark.parametrize("batch", [1, 2])
def test_compress_windows_chunk_by_chunk_equals_compressing_all_keys(coarse, batch):
    """Keys [B, Hkv, 150, D] compressed in chunks ending at 7, 40, 41, 100 and 150 keys (windows
    that straddle a chunk's end come with the next one) into a buffer of noise: every entry
    equals compress_keys of all 150 keys, each window written once, the rest left alone."""
    config = COARSE
    keys = randn(batch, 2, 150, 16, seed=6)
    count = compressed_count(150, config, coarse)
    target = randn(batch, count + 5, 2, 16, seed=7)
    noise = target[:, count:].clone()
    writes = []
    start = 0
    for end in (7, 40, 41, 100, 150):
        before = target.clone()
        compress_windows(keys[:, :, :end], target, start, config, coarse)
        changed = (target != before).any(-1).any(-1).any(0).nonzero().flatten().tolist()
        writes.append((compressed_count(start, config, coarse), compressed_count(end, config, coarse), changed))
        start = end
    packed = torch.cat(list(keys.transpose(1, 2)))  # [B * 150, Hkv, D]
    want = compress_keys(packed, cu_seqlens([150] * batch, DEVICE), 150, config, coarse=coarse)
    torch.testing.assert_close(target[:, :count], want, rtol=0, atol=0)
    assert torch.equal(target[:, count:], noise)
    for first, last, changed in writes:  # a chunk writes exactly the windows it completes
        assert changed == list(range(first, last)), (first, last, changed)
