"""InfLLM v2 kernels against naive.py, on small odd shapes with a shrunken configuration
(blocks of 16, kernels 8/4, 2 window blocks, 6 selected blocks; see SparseConfig.tiny)."""

from __future__ import annotations

import pytest
import torch
from kernel_testing import DEVICE, DTYPE, TOLERANCE, assert_valid_selection, cu_seqlens, reference_scores, rel_err

from kernels.infllmv2 import naive
from kernels.infllmv2.config import SparseConfig

CONFIG = SparseConfig.tiny(dense_len=64)
COARSE = SparseConfig.tiny(dense_len=64, coarse_normaliser=True)  # c2: kernels of 32, stride 16
SCORE_TOL = 1e-5 if torch.float32 == DTYPE else 3e-3


def make_qkv(lengths, n_heads, n_kv, dim, seed=0):
    generator = torch.Generator().manual_seed(seed)
    total = sum(lengths)
    q, k, v = (torch.randn(total, h, dim, generator=generator) for h in (n_heads, n_kv, n_kv))
    return (t.to(DEVICE, DTYPE) for t in (q, k, v))


def test_config_reads_checkpoint_dict():
    config = SparseConfig.from_dict(
        {
            "kernel_size": 32,
            "kernel_stride": 16,
            "init_blocks": 1,
            "block_size": 64,
            "window_size": 2048,
            "topk": 64,
            "use_nope": False,
            "dense_len": 8192,
        }
    )
    assert config.selected_blocks == 96 and config.local_blocks == 32 and config.pool_ratio == 4
    assert config.coarse_normaliser and (config.coarse_kernel_size, config.coarse_kernel_stride) == (128, 64)
    assert not SparseConfig.from_dict({"dense_len": 8192}, coarse_normaliser=False).coarse_normaliser
    assert not SparseConfig.from_dict({"coarse_normaliser": False}, coarse_normaliser=True).coarse_normaliser
    assert not SparseConfig().coarse_normaliser  # explicit constructions: exact unless asked
    assert SparseConfig.from_dict(None) is None
    with pytest.raises(ValueError, match="kernel_size"):
        SparseConfig(kernel_size=24)


def test_coarse_normaliser_is_the_models():
    """The coarse normaliser as MiniCPM4 runs it (OpenBMB's modeling code and infllmv2_cuda_impl
    stage 1): c2 is the mean of every complete window of 128 raw keys at stride 64, and the
    scores are exp(q . c1 / sqrt(D) - lse) with lse over the c2 entries that the query at
    position p may see, m < (p + 1) // 64 - 1 (the kernel's mask: windows ending at or before p).
    Stated here independently of naive.py, on MiniCPM4's kernel sizes with a one-block window."""
    config = SparseConfig(window_size=64, topk=2, dense_len=1, coarse_normaliser=True)
    n_keys, n_q, dim = 1000, 300, 8
    generator = torch.Generator().manual_seed(0)
    q, k = torch.randn(n_q, 1, dim, generator=generator), torch.randn(n_keys, 1, dim, generator=generator)
    c2 = naive.compress_keys(k, config, coarse=True)
    assert c2.shape[0] == (n_keys - 128) // 64 + 1
    for m in range(c2.shape[0]):
        torch.testing.assert_close(c2[m], k[64 * m : 64 * m + 128].mean(0))
    c1 = naive.compress_keys(k, config)
    got = naive.block_scores(q, c1, n_keys, config, c2)[0]  # [Tq, n_blocks]
    for i in range(n_q):
        p = n_keys - n_q + i
        lse = torch.logsumexp(c2[: (p + 1) // 64 - 1, 0] @ q[i, 0] / dim**0.5, 0)
        fine = (c1[: (p - 31) // 16 + 1, 0] @ q[i, 0] / dim**0.5 - lse).exp()
        for block in range(1, p // 64 - 1):  # neither forced (block 0, the window) nor after p
            kernels = fine[max(0, 4 * block - 1) : 4 * block + 4]
            torch.testing.assert_close(got[i, block], kernels.max() if len(kernels) else torch.tensor(0.0))


@pytest.mark.parametrize("coarse", [False, True])
def test_compress_keys_varlen(coarse):
    from kernels.infllmv2.compress import compress_keys

    lengths = [5, 37, 100]
    _, k, _ = make_qkv(lengths, 2, 2, 48)
    cu = cu_seqlens(lengths, DEVICE)
    c1 = compress_keys(k, cu, max(lengths), CONFIG, coarse=coarse)
    for b in range(len(lengths)):
        ref = naive.compress_keys(k[cu[b] : cu[b + 1]], CONFIG, coarse=coarse)
        assert (
            c1[b, : ref.shape[0]].float().cpu().allclose(ref.cpu(), atol=2e-3 if DTYPE is not torch.float32 else 1e-6)
        )
        assert not c1[b, ref.shape[0] :].float().abs().sum() > 0


def test_coarse_keys_from_fine_ones():
    from kernels.infllmv2.compress import coarse_from_fine, compress_keys

    lengths = [127, 128, 255, 300]
    _, k, _ = make_qkv(lengths, 2, 2, 24, seed=14)
    cu = cu_seqlens(lengths, DEVICE)
    config = SparseConfig()  # c1 32/16, c2 128/64
    c2 = coarse_from_fine(compress_keys(k, cu, max(lengths), config), config)
    for b, n in enumerate(lengths):
        ref = naive.compress_keys(k[cu[b] : cu[b + 1]], config, coarse=True)
        assert ref.shape[0] == (n - 128) // 64 + 1 if n >= 128 else ref.shape[0] == 0
        if ref.shape[0]:
            assert rel_err(c2[b, : ref.shape[0]], ref) < TOLERANCE
    assert c2.shape[1] == (300 - 128) // 64 + 1


def test_append_compressed_keys_matches_prefill_compression():
    from kernels.infllmv2.compress import append_compressed_keys, compress_keys

    batch, capacity, n_kv, dim = 3, 90, 2, 40
    k_cache = torch.randn(batch, capacity, n_kv, dim).to(DEVICE, DTYPE)
    c1_cache = torch.full((batch, 21, n_kv, dim), float("nan"), device=DEVICE, dtype=DTYPE)
    c2_cache = torch.full((batch, 4, n_kv, dim), float("nan"), device=DEVICE, dtype=DTYPE)
    lengths = torch.tensor([3, 30, 61], device=DEVICE, dtype=torch.int32)
    append_compressed_keys(k_cache, c1_cache, torch.zeros_like(lengths), lengths, CONFIG, c2_cache=c2_cache)
    for step in (1, 1, 5, 17):  # decode steps, then a speculative burst
        append_compressed_keys(k_cache, c1_cache, lengths, lengths + step, CONFIG, c2_cache=c2_cache)
        lengths = lengths + step
    for b in range(batch):  # lengths 27, 54, 85: 5, 12, 20 c1 entries and 0, 2, 4 c2 entries
        length = int(lengths[b])
        for cache, coarse in ((c1_cache, False), (c2_cache, True)):
            ref = compress_keys(k_cache[b, :length], cu_seqlens([length], DEVICE), length, CONFIG, coarse=coarse)[0]
            if ref.shape[0]:
                assert rel_err(cache[b, : ref.shape[0]], ref) < TOLERANCE
    assert bool(c2_cache[2, :4].isfinite().all()) and bool(c2_cache[2, 4:].isnan().all())


# the last sequence of the short case has 41 tokens of history; the long case, 399 tokens of
# history and then a sequence of its own, spans several chunks of 64 kernels (256 tokens here)
SHORT, LONG = ([13, 90, 70], [13, 90, 29], 48, 8), ([700, 260], [301, 260], 64, 44)


@pytest.mark.parametrize(
    ("case", "n_heads", "n_kv", "config"),
    [(SHORT, 2, 2, CONFIG), (SHORT, 12, 3, CONFIG), (SHORT, 16, 1, COARSE), (LONG, 8, 2, CONFIG), (LONG, 8, 2, COARSE)],
)
def test_block_scores_varlen_with_history(case, n_heads, n_kv, config):
    from kernels.infllmv2.compress import compress_keys
    from kernels.infllmv2.select import prefill_block_scores

    k_lengths, q_lengths, dim, n_cols = case
    q, _, _ = make_qkv(q_lengths, n_heads, n_kv, dim, seed=1)
    _, k, _ = make_qkv(k_lengths, n_heads, n_kv, dim, seed=2)
    cu_q, cu_k = cu_seqlens(q_lengths, DEVICE), cu_seqlens(k_lengths, DEVICE)
    c1 = compress_keys(k, cu_k, max(k_lengths), config)
    c2 = compress_keys(k, cu_k, max(k_lengths), config, coarse=True) if config.coarse_normaliser else None
    scores = prefill_block_scores(q, c1, cu_q, cu_k, max(q_lengths), n_cols, (0, q.shape[0]), config, c2=c2)
    for b in range(len(k_lengths)):
        ref = reference_scores(q[cu_q[b] : cu_q[b + 1]], k[cu_k[b] : cu_k[b + 1]], config).cpu()
        got = scores[:, cu_q[b] : cu_q[b + 1]].cpu()
        assert torch.equal(torch.isinf(got[..., : ref.shape[-1]]), torch.isinf(ref))
        assert bool((got[..., ref.shape[-1] :] == float("-inf")).all())
        finite = torch.isfinite(ref)
        assert bool(((got[..., : ref.shape[-1]][finite] - ref[finite]).abs() < SCORE_TOL * 10).all())


def test_selection_is_a_top_k_of_the_reference_scores():
    from kernels.infllmv2.compress import compress_keys
    from kernels.infllmv2.select import prefill_select

    lengths = [40, 150, 97]
    q, k, _ = make_qkv(lengths, 8, 2, 32, seed=3)
    cu = cu_seqlens(lengths, DEVICE)
    c1 = compress_keys(k, cu, max(lengths), CONFIG)
    selected = prefill_select(q, c1, cu, cu, max(lengths), max(lengths), CONFIG, chunk_tokens=100)
    for b in range(3):
        ref = reference_scores(q[cu[b] : cu[b + 1]], k[cu[b] : cu[b + 1]], CONFIG)
        assert_valid_selection(selected[cu[b] : cu[b + 1]].transpose(0, 1), ref, CONFIG, SCORE_TOL)
        if DTYPE is torch.float32:  # same ties, same picks
            assert torch.equal(
                selected[cu[b] : cu[b + 1]].transpose(0, 1).cpu(), naive.select_blocks(ref, CONFIG).cpu()
            )


def test_topk_kernel_matches_torch_topk():
    from kernels.infllmv2.topk import BIG, topk_blocks, topk_by_rank, torch_topk_blocks

    scores = torch.rand(2, 3, 13, device=DEVICE)
    scores[0, 0, 5:7] = 0.5  # a tie: the lower block wins
    scores[0, 1, :] = float("inf")
    scores[1, 0, 4:] = float("-inf")  # fewer allowed blocks than slots
    scores[1, 2, 9] = float("inf")
    got = topk_blocks(scores, 6)
    assert torch.equal(got, torch_topk_blocks(scores, 6, sort=True))
    assert got[1, 0].tolist() == [0, 1, 2, 3, -1, -1]
    ranked = topk_by_rank(scores, 6, chunk=4)  # the same blocks, best first
    picked = torch.where(ranked >= 0, scores.gather(-1, ranked.clamp(min=0).long()), float("-inf"))
    assert bool((picked[..., :-1] >= picked[..., 1:]).all())
    assert torch.equal(torch.where(ranked < 0, BIG, ranked).sort(-1).values, torch.where(got < 0, BIG, got))
    scored = topk_blocks(scores, 6, skip_forced=True)  # the +inf blocks chosen, not listed
    for x in range(2):
        for y in range(3):
            rest = [b for b in got[x, y].tolist() if b >= 0 and scores[x, y, b] < float("inf")]
            assert scored[x, y].tolist() == rest + [-1] * (6 - len(rest))


def test_topk_kernel_on_many_ties_and_wide_rows():
    from kernels.infllmv2.topk import BIG, topk_blocks, topk_by_rank, torch_topk_blocks

    generator = torch.Generator().manual_seed(11)
    scores = torch.randint(0, 4, (3, 2, 300), generator=generator).float() / 4  # heavy ties
    scores[0, :, :40] = float("inf")
    scores[1, :, 250:] = float("-inf")
    scores[2, 1, 3:] = float("-inf")
    scores = scores.to(DEVICE)
    got = topk_blocks(scores, 96)
    assert torch.equal(got, torch_topk_blocks(scores, 96, sort=True))
    ranked = topk_by_rank(scores, 96, chunk=64)
    assert torch.equal(torch.where(ranked < 0, BIG, ranked).sort(-1).values, torch.where(got < 0, BIG, got))


@pytest.mark.parametrize(("tile_tokens", "n_heads", "n_kv"), [(1, 4, 1), (4, 8, 2), (8, 6, 3)])
def test_block_sparse_prefill_matches_reference(tile_tokens, n_heads, n_kv):
    from kernels.infllmv2.compress import compress_keys
    from kernels.infllmv2.select import prefill_select
    from kernels.infllmv2.sparse import block_sparse_prefill

    k_lengths, q_lengths = ([75, 50], [21, 50]) if tile_tokens == 1 else ([100, 70, 45], [100, 21, 45])
    q, _, _ = make_qkv(q_lengths, n_heads, n_kv, 40, seed=4)
    _, k, v = make_qkv(k_lengths, n_heads, n_kv, 40, seed=5)
    cu_q, cu_k = cu_seqlens(q_lengths, DEVICE), cu_seqlens(k_lengths, DEVICE)
    c1 = compress_keys(k, cu_k, max(k_lengths), CONFIG)
    selected = prefill_select(q, c1, cu_q, cu_k, max(q_lengths), max(k_lengths), CONFIG)
    out = block_sparse_prefill(q, k, v, selected, cu_q, cu_k, max(q_lengths), CONFIG, tile_tokens=tile_tokens)
    for b in range(len(q_lengths)):
        qs, ks = slice(cu_q[b], cu_q[b + 1]), slice(cu_k[b], cu_k[b + 1])
        if k_lengths[b] < CONFIG.dense_len:
            ref = naive.attention(q[qs], k[ks], v[ks])
        else:
            ref = naive.block_sparse_attention(q[qs], k[ks], v[ks], selected[qs].transpose(0, 1), CONFIG.block_size)
        assert rel_err(out[qs], ref) < TOLERANCE


def test_merged_tiles_list_each_block_once_with_its_users():
    from kernels.infllmv2.sparse import merge_tile_selections

    # three queries at key positions 112-114 of 115 (blocks of 16): blocks 0-6 end before all of them
    selected = torch.tensor([[[0, 2, 5, 7]], [[0, 2, 3, 7]], [[0, 1, 2, 7]]], dtype=torch.int32, device=DEVICE)
    cu_q, cu_k = cu_seqlens([3], DEVICE), cu_seqlens([115], DEVICE)
    blocks, bits, counts = merge_tile_selections(selected, cu_q, cu_k, 3, tile_tokens=4, block_size=16)
    n_whole, n_rest = counts[0, 0].tolist()
    # blocks 0-6 need no causal mask: ascending, packed with their users
    assert blocks[0, 0, :n_whole].tolist() == [
        b | users << 20 for b, users in ((0, 0b111), (1, 0b100), (2, 0b111), (3, 0b010), (5, 0b001))
    ]
    # the rest at the row's end: 7 reaches the queries' own block
    assert blocks[0, 0, -n_rest:].tolist() == [7]
    assert bits[0, 0, -n_rest:].tolist() == [0b111]


def test_all_blocks_selected_equals_dense_attention():
    from kernels.flash_attention.attention import flash_attention_prefill
    from kernels.infllmv2.compress import compress_keys
    from kernels.infllmv2.select import prefill_select
    from kernels.infllmv2.sparse import block_sparse_prefill

    config = SparseConfig.tiny(topk=16, dense_len=1)  # 18 >= every block count here
    lengths = [110, 61]
    q, k, v = make_qkv(lengths, 8, 2, 32, seed=6)
    cu = cu_seqlens(lengths, DEVICE)
    selected = prefill_select(q, compress_keys(k, cu, 110, config), cu, cu, 110, 110, config)
    sparse = block_sparse_prefill(q, k, v, selected, cu, cu, 110, config, tile_tokens=8)
    dense = flash_attention_prefill(q, k, v, cu, cu, 110)
    assert rel_err(sparse, dense) < TOLERANCE
    for b in range(2):
        s = slice(cu[b], cu[b + 1])
        assert rel_err(sparse[s], naive.attention(q[s], k[s], v[s])) < TOLERANCE


def test_prefill_entry_point_below_and_above_dense_len():
    from kernels.infllmv2.attention import infllmv2_prefill

    lengths = [50, 110]  # 50 < dense_len = 64 <= 110
    q, k, v = make_qkv(lengths, 8, 2, 32, seed=7)
    cu = cu_seqlens(lengths, DEVICE)
    for window_tokens, tile_tokens, config in ((None, 8, CONFIG), (8, 1, CONFIG), (None, 4, COARSE)):
        out = infllmv2_prefill(q, k, v, cu, config, tile_tokens=tile_tokens, window_tokens=window_tokens)
        for b in range(2):
            s = slice(cu[b], cu[b + 1])
            assert rel_err(out[s], naive.infllmv2_attention(q[s], k[s], v[s], config)) < TOLERANCE
    short = infllmv2_prefill(q[:50], k[:50], v[:50], cu[:2], CONFIG)  # all below dense_len: the dense kernel
    assert rel_err(short, naive.attention(q[:50], k[:50], v[:50])) < TOLERANCE


@pytest.mark.parametrize("config", [CONFIG, COARSE])
def test_decode_of_the_last_tokens_equals_the_tail_of_a_prefill(config):
    from kernels.infllmv2.attention import infllmv2_decode, infllmv2_prefill
    from kernels.infllmv2.compress import append_compressed_keys

    n_heads, n_kv, dim, capacity = 8, 2, 32, 160
    lengths = [120, 40]  # sparse and dense decode in one batch
    q, k, v = make_qkv(lengths, n_heads, n_kv, dim, seed=8)
    cu = cu_seqlens(lengths, DEVICE)
    prefill = infllmv2_prefill(q, k, v, cu, config, tile_tokens=8, window_tokens=8)
    k_cache = torch.zeros(2, capacity, n_kv, dim, device=DEVICE, dtype=DTYPE)
    v_cache = torch.zeros_like(k_cache)
    c1_cache = torch.zeros(2, 39, n_kv, dim, device=DEVICE, dtype=DTYPE)
    c2_cache = torch.zeros(2, 9, n_kv, dim, device=DEVICE, dtype=DTYPE) if config.coarse_normaliser else None
    steps = 3
    length = torch.tensor([n - steps for n in lengths], device=DEVICE, dtype=torch.int32)
    for b, n in enumerate(lengths):
        k_cache[b, :n] = k[cu[b] : cu[b + 1]]
        v_cache[b, :n] = v[cu[b] : cu[b + 1]]
    append_compressed_keys(k_cache, c1_cache, torch.zeros_like(length), length, config, c2_cache=c2_cache)
    for step in range(steps):
        append_compressed_keys(k_cache, c1_cache, length, length + 1, config, c2_cache=c2_cache)
        length = length + 1
        rows = cu[1:] - steps + step
        out = infllmv2_decode(q[rows.long()], k_cache, v_cache, c1_cache, length, config, c2_cache=c2_cache)
        assert rel_err(out, prefill[rows.long()]) < TOLERANCE


@pytest.mark.parametrize("config", [CONFIG, COARSE])
def test_decode_selection_is_a_top_k_of_the_reference_scores(config):
    from kernels.infllmv2.compress import append_compressed_keys
    from kernels.infllmv2.select import decode_select

    batch, n_heads, n_kv, dim, capacity = 3, 16, 2, 32, 200
    generator = torch.Generator().manual_seed(9)
    k_cache = torch.randn(batch, capacity, n_kv, dim, generator=generator).to(DEVICE, DTYPE)
    q = torch.randn(batch, n_heads, dim, generator=generator).to(DEVICE, DTYPE)
    lengths = torch.tensor([20, 131, 200], device=DEVICE, dtype=torch.int32)
    c1_cache = torch.zeros(batch, 49, n_kv, dim, device=DEVICE, dtype=DTYPE)
    c2_cache = torch.zeros(batch, 11, n_kv, dim, device=DEVICE, dtype=DTYPE) if config.coarse_normaliser else None
    append_compressed_keys(k_cache, c1_cache, torch.zeros_like(lengths), lengths, config, c2_cache=c2_cache)
    selected = decode_select(q, c1_cache, lengths, 13, config, c2_cache)
    in_order = decode_select(q, c1_cache, lengths, 13, config, c2_cache, ranked=False)
    big = torch.iinfo(torch.int32).max
    assert torch.equal(
        torch.where(selected < 0, big, selected).sort(-1).values, torch.where(in_order < 0, big, in_order)
    )
    for b in range(batch):
        ref = reference_scores(q[b : b + 1], k_cache[b, : lengths[b]], config)  # [HKV, 1, n_blocks]
        big = torch.iinfo(torch.int32).max  # decode ids come unordered: sort them, -1 last
        got = torch.where(selected[b] >= 0, selected[b], big).sort(-1).values
        got = got.masked_fill(got == big, -1)
        assert_valid_selection(got[:, None, :], ref, config, SCORE_TOL)


@pytest.mark.parametrize(
    ("window_tokens", "tile_tokens", "n_heads", "n_kv"), [(4, 1, 8, 2), (8, 4, 6, 3), (16, 1, 4, 1)]
)
def test_split_prefill_window_then_scored_blocks_matches_reference(window_tokens, tile_tokens, n_heads, n_kv):
    from kernels.infllmv2.compress import compress_keys
    from kernels.infllmv2.select import prefill_select
    from kernels.infllmv2.sparse import block_sparse_prefill_split

    k_lengths, q_lengths = [110, 70, 45], [30, 21, 45]  # history; the last sequence is dense
    q, _, _ = make_qkv(q_lengths, n_heads, n_kv, 40, seed=12)
    _, k, v = make_qkv(k_lengths, n_heads, n_kv, 40, seed=13)
    cu_q, cu_k = cu_seqlens(q_lengths, DEVICE), cu_seqlens(k_lengths, DEVICE)
    c1 = compress_keys(k, cu_k, max(k_lengths), CONFIG)
    args = (q, c1, cu_q, cu_k, max(q_lengths), max(k_lengths), CONFIG)
    selected, scored = prefill_select(*args), prefill_select(*args, scored_only=True)
    out = block_sparse_prefill_split(
        q, k, v, scored, cu_q, cu_k, max(q_lengths), CONFIG, window_tokens=window_tokens, tile_tokens=tile_tokens
    )
    for b in range(len(q_lengths)):
        qs, ks = slice(cu_q[b], cu_q[b + 1]), slice(cu_k[b], cu_k[b + 1])
        if k_lengths[b] < CONFIG.dense_len:
            ref = naive.attention(q[qs], k[ks], v[ks])
        else:
            ref = naive.block_sparse_attention(q[qs], k[ks], v[ks], selected[qs].transpose(0, 1), CONFIG.block_size)
            pos = torch.arange(k_lengths[b] - q_lengths[b], k_lengths[b])  # scored = selected less forced
            own = (pos // CONFIG.block_size)[:, None, None]
            full = selected[qs].cpu().long()
            forced = (full < CONFIG.init_blocks) | (full >= own - CONFIG.local_blocks)
            for t in range(full.shape[0]):
                for h in range(n_kv):
                    rest = full[t, h][(full[t, h] >= 0) & ~forced[t, h]].tolist()
                    assert scored[cu_q[b] + t, h].tolist() == rest + [-1] * (scored.shape[-1] - len(rest))
        assert rel_err(out[qs], ref) < TOLERANCE
