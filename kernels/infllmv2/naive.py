"""InfLLM v2 in plain PyTorch, fp32, one sequence at a time: the specification of every kernel.

Shapes: one sequence; q [Tq, HQ, D] holds the last Tq of the Tk tokens whose keys are
k [Tk, HKV, D] (so query i sits at position Tk - Tq + i); HQ = G * HKV. Nothing here is fast.
"""

from __future__ import annotations

import math

import torch

from kernels.infllmv2.config import SparseConfig


def compress_keys(k: torch.Tensor, config: SparseConfig, coarse: bool = False) -> torch.Tensor:
    """c1[j] = mean(k[j*stride : j*stride + size]) over complete windows: [Tk, HKV, D] -> [n_c1, HKV, D].
    coarse: c2 instead, with config.coarse_kernel_size and config.coarse_kernel_stride."""
    size, stride = config.kernel_size, config.kernel_stride
    if coarse:
        size, stride = config.coarse_kernel_size, config.coarse_kernel_stride
    n_c1 = (k.shape[0] - size) // stride + 1 if k.shape[0] >= size else 0
    if n_c1 == 0:
        return k.new_zeros(0, *k.shape[1:], dtype=torch.float32)
    windows = k.float().unfold(0, size, stride)  # [n_c1, HKV, D, size]
    return windows.mean(-1)


def block_scores(
    q: torch.Tensor, c1: torch.Tensor, n_keys: int, config: SparseConfig, c2: torch.Tensor | None = None
) -> torch.Tensor:
    """Score of every key block for every query, forced and excluded blocks applied.

    q [Tq, HQ, D], c1 [n_c1, HKV, D] -> [HKV, Tq, n_blocks] fp32, n_blocks = ceil(n_keys / block_size).
    Per query head: p = softmax(q . c1 / sqrt(D)) over the kernels that end at or before the
    query; p summed over the G heads of a KV group; a block scores the max over the kernels
    overlapping it (max-pool of size ratio + 1, stride ratio, padding 1); block 0..init_blocks-1
    and the query's own block with the local_blocks before it score +inf; later blocks -inf.
    With c2 [n_c2, HKV, D] (config.coarse_normaliser), each head's normaliser is the sum of
    exp(q . c2 / sqrt(D)) over the c2 kernels that end at or before the query instead: p =
    exp(q . c1 / sqrt(D)) / that sum, not summing to 1 (0 for a query that sees no c2 kernel).
    """
    n_q, n_heads, dim = q.shape
    n_kv = c1.shape[1]
    group = n_heads // n_kv
    pos = torch.arange(n_keys - n_q, n_keys, device=q.device)  # [Tq]
    kernel_end = torch.arange(c1.shape[0], device=q.device) * config.kernel_stride + config.kernel_size - 1
    visible = kernel_end[None, :] <= pos[:, None]  # [Tq, n_c1]
    qg = q.float().view(n_q, n_kv, group, dim)
    logits = torch.einsum("tkgd,jkd->ktgj", qg, c1.float()) / math.sqrt(dim)  # [HKV, Tq, G, n_c1]
    logits = logits.masked_fill(~visible[None, :, None, :], float("-inf"))
    if c2 is None:
        probs = torch.softmax(logits, dim=-1).nan_to_num(0.0)  # a query that sees no kernel scores 0
    else:
        coarse_start = torch.arange(c2.shape[0], device=q.device) * config.coarse_kernel_stride
        coarse_visible = coarse_start[None, :] + config.coarse_kernel_size - 1 <= pos[:, None]  # [Tq, n_c2]
        coarse = torch.einsum("tkgd,jkd->ktgj", qg, c2.float()) / math.sqrt(dim)  # [HKV, Tq, G, n_c2]
        normaliser = coarse.masked_fill(~coarse_visible[None, :, None, :], float("-inf")).logsumexp(-1, keepdim=True)
        seen = normaliser > float("-inf")  # a query that sees no c2 kernel scores 0
        probs = torch.where(seen, (logits - normaliser.masked_fill(~seen, 0.0)).exp(), 0.0)
    summed = probs.sum(2)  # [HKV, Tq, n_c1]

    ratio = config.pool_ratio
    n_blocks = math.ceil(n_keys / config.block_size)
    padded = torch.nn.functional.pad(summed, (1, ratio * n_blocks + 1 - summed.shape[-1]))  # kernel j at j + 1
    scores = padded.unfold(-1, ratio + 1, ratio)[..., :n_blocks, :].amax(-1)  # block b: kernels 4b-1 .. 4b+3

    block = torch.arange(n_blocks, device=q.device)
    own = pos // config.block_size  # [Tq]
    forced = (block[None, :] < config.init_blocks) | (block[None, :] >= own[:, None] - config.local_blocks)
    scores = scores.masked_fill(forced[None], float("inf"))
    return scores.masked_fill((block[None, :] > own[:, None])[None], float("-inf"))


def select_blocks(scores: torch.Tensor, config: SparseConfig) -> torch.Tensor:
    """The selected_blocks highest-scoring blocks, ties to the lower block index (adjacent
    blocks share a kernel, so exact ties are common): [..., n_blocks] -> [..., selected_blocks]
    int32, ascending, padded with -1 where fewer blocks are allowed."""
    k = min(config.selected_blocks, scores.shape[-1])
    values, order = scores.sort(dim=-1, descending=True, stable=True)
    index = order[..., :k].to(torch.int32).masked_fill(values[..., :k] == float("-inf"), -1)
    big = torch.iinfo(torch.int32).max
    index = index.masked_fill(index < 0, big).sort(-1).values
    index = index.masked_fill(index == big, -1)
    return torch.nn.functional.pad(index, (0, config.selected_blocks - k), value=-1)


def block_sparse_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, selected: torch.Tensor, block_size: int
) -> torch.Tensor:
    """Exact causal softmax attention over the selected key blocks only.

    q [Tq, HQ, D], k and v [Tk, HKV, D], selected [HKV, Tq, S] int32 (-1 = none) -> [Tq, HQ, D] fp32.
    """
    n_q, n_heads = q.shape[:2]
    n_keys, n_kv = k.shape[:2]
    group = n_heads // n_kv
    allowed = torch.zeros(n_kv, n_q, math.ceil(n_keys / block_size) + 1, dtype=torch.bool, device=q.device)
    allowed.scatter_(-1, selected.long().masked_fill(selected < 0, allowed.shape[-1] - 1), True)
    allowed = allowed[..., :-1].repeat_interleave(block_size, -1)[..., :n_keys]  # [HKV, Tq, Tk]
    pos = torch.arange(n_keys - n_q, n_keys, device=q.device)
    allowed &= torch.arange(n_keys, device=q.device)[None, None, :] <= pos[None, :, None]
    return attention(q, k, v, allowed.repeat_interleave(group, 0))


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax attention in fp32: q [Tq, HQ, D], k and v [Tk, HKV, D], allowed [HQ, Tq, Tk] bool
    (None: causal, query i at position Tk - Tq + i) -> [Tq, HQ, D] fp32."""
    n_q, n_heads, dim = q.shape
    n_keys, n_kv = k.shape[:2]
    if allowed is None:
        pos = torch.arange(n_keys - n_q, n_keys, device=q.device)
        allowed = (torch.arange(n_keys, device=q.device)[None, :] <= pos[:, None]).expand(n_heads, n_q, n_keys)
    kf = k.float().repeat_interleave(n_heads // n_kv, 1)
    vf = v.float().repeat_interleave(n_heads // n_kv, 1)
    logits = torch.einsum("thd,shd->hts", q.float(), kf) / math.sqrt(dim)
    probs = torch.softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)
    return torch.einsum("hts,shd->thd", probs, vf)


def infllmv2_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, config: SparseConfig) -> torch.Tensor:
    """The whole forward for one sequence (prefill, or decode with Tq = 1): dense below dense_len,
    else compressed keys, block scores, top-k and block-sparse attention. -> [Tq, HQ, D] fp32."""
    if k.shape[0] < config.dense_len:
        return attention(q, k, v)
    c2 = compress_keys(k, config, coarse=True) if config.coarse_normaliser else None
    scores = block_scores(q, compress_keys(k, config), k.shape[0], config, c2)
    return block_sparse_attention(q, k, v, select_blocks(scores, config), config.block_size)
