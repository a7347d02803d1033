"""The two Bayesian baselines: Ridge (posterior mean under N(0, I)) and dMMSE
(posterior mean under the uniform prior on the task pool).

Both take xs (N, K, D) and ys (N, K) and return (N, K) predictions where position k
(0-based here) uses only the k examples before it.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import native

# Weights below e^LOGIT_FLOOR of the largest are negligible: the torch code floors them
# there (exp() far below the max is slow: denormals and underflow cost ~16 ns per
# element), the C kernel leaves them out; either way they move the total by at most
# M e^-40 relative (4e-12 at M = 2^20), far below float64 agreement in the tests (1e-9).
LOGIT_FLOOR = -40.0
NATIVE_DTYPES = {torch.float64: "float64", torch.float32: "float32"}
# Default (chunk_size, seq_block). The torch code's work buffers hold seq_block * K *
# chunk_size numbers; the C kernel keeps a chunk of 512 tasks ((D + 1) * 512 numbers,
# 36 KiB at D = 8 in float64) in L1 cache while each of a block of 16 sequences uses it.
TORCH_BLOCKING = (4096, 64)
NATIVE_BLOCKING = (512, 16)


def _check_sequences(xs: np.ndarray, ys: np.ndarray):
    xs, ys = np.asarray(xs), np.asarray(ys)
    if xs.ndim != 3 or ys.shape != xs.shape[:2]:
        raise ValueError(f"expected xs (N, K, D) and ys (N, K), got {xs.shape} and {ys.shape}")
    return xs, ys


def ridge_posterior_means(xs: np.ndarray, ys: np.ndarray, noise_var: float,
                          task_var: float = 1.0) -> np.ndarray:
    """w_hat for every prefix, (N, K, D): position k solves on examples 0..k-1."""
    xs, ys = _check_sequences(xs, ys)
    xs, ys = xs.astype(np.float64), ys.astype(np.float64)
    N, K, D = xs.shape
    # Exclusive cumulative sums of x x^T and x y: prefix k holds examples 0..k-1.
    xxT = np.einsum("nki,nkj->nkij", xs, xs)
    xy = xs * ys[..., None]
    A = np.zeros((N, K, D, D))
    b = np.zeros((N, K, D))
    A[:, 1:] = np.cumsum(xxT, axis=1)[:, :-1]
    b[:, 1:] = np.cumsum(xy, axis=1)[:, :-1]
    A += (noise_var / task_var) * np.eye(D)
    return np.linalg.solve(A, b[..., None])[..., 0]


def ridge_predict(xs: np.ndarray, ys: np.ndarray, noise_var: float,
                  task_var: float = 1.0) -> np.ndarray:
    """Ridge predictions (N, K); position 0 predicts 0 (the prior mean)."""
    w_hat = ridge_posterior_means(xs, ys, noise_var, task_var)
    return np.einsum("nkd,nkd->nk", w_hat, np.asarray(xs, dtype=np.float64))


def resolve_backend(backend: str = "auto", dtype: torch.dtype = torch.float64,
                    device: str | torch.device = "cpu") -> str:
    """The dMMSE code that `backend` means here: "native" or "torch" (see
    dmmse_posterior_means). "auto" builds the C kernel if needed and picks it when it
    builds, the arithmetic is on the CPU and dtype is float32 or float64."""
    if backend not in ("auto", "torch", "native"):
        raise ValueError(f"backend must be 'auto', 'torch' or 'native', got {backend!r}")
    on_cpu = torch.device(device).type == "cpu"
    if backend == "native":
        if not on_cpu:
            raise ValueError(f"the native dMMSE kernel runs on the CPU, not on {device}")
        if dtype not in NATIVE_DTYPES:
            raise ValueError(f"the native dMMSE kernel takes float32 or float64, not {dtype}")
        return "native"
    if backend == "auto" and on_cpu and dtype in NATIVE_DTYPES \
            and native.load(NATIVE_DTYPES[dtype]) is not None:
        return "native"
    return "torch"


def _check_pool(pool, D: int) -> np.ndarray:
    pool = np.asarray(pool)
    if pool.ndim != 2 or pool.shape[1] != D or len(pool) == 0:
        raise ValueError(f"pool must be (M >= 1, D={D}), got {pool.shape}")
    return pool


@torch.no_grad()
def dmmse_posterior_means(xs: np.ndarray, ys: np.ndarray, pool: np.ndarray, noise_var: float,
                          chunk_size: int | None = None, seq_block: int | None = None,
                          dtype: torch.dtype = torch.float64,
                          device: str | torch.device = "cpu",
                          backend: str = "auto") -> np.ndarray:
    """Posterior mean of w under the uniform prior on `pool`, for every prefix: (N, K, D).

    Streams over the pool in chunks of `chunk_size` tasks with a running log-sum-exp,
    and over sequences in blocks of `seq_block`, so memory is bounded by about
    2 * seq_block * K * chunk_size numbers whatever M is (None: the backend's own
    defaults, TORCH_BLOCKING or NATIVE_BLOCKING). `device` (e.g. "cuda") is where the
    arithmetic runs; inputs and result stay numpy arrays.

    `backend`: "torch" (the tensor code below, any device), "native" (the fused C kernel
    of icl_diversity.native: one pass over the data instead of ~9, and tasks whose
    weight is below e^LOGIT_FLOOR skipped; CPU only) or "auto" (native on the CPU when a
    C compiler builds it, else torch; resolve_backend). Both agree to ~1e-10 in float64.
    """
    xs, ys = _check_sequences(xs, ys)
    N, K, D = xs.shape
    pool = _check_pool(pool, D)
    if noise_var <= 0:
        raise ValueError(f"dMMSE needs noise_var > 0, got {noise_var}")
    use = resolve_backend(backend, dtype, device)
    M, J = len(pool), K - 1            # J positions 1..K-1 use examples 0..K-2
    # Scaling x and y by 1/sqrt(2 sigma^2) makes a squared residual directly an
    # increment of the negative logit.
    scale = 1.0 / math.sqrt(2.0 * noise_var)
    if use == "native" and J > 0:
        return _dmmse_native(xs, ys, pool, scale, NATIVE_DTYPES[dtype],
                             chunk_size or NATIVE_BLOCKING[0], seq_block or NATIVE_BLOCKING[1])
    X = torch.from_numpy(np.ascontiguousarray(xs[:, :J])).to(device, dtype) * scale
    Y = torch.from_numpy(np.ascontiguousarray(ys[:, :J])).to(device, dtype) * scale
    W = torch.from_numpy(np.ascontiguousarray(pool)).to(device, dtype)
    # A column of ones: one matmul gives both sum_i p_i w_i and sum_i p_i.
    W1 = torch.cat([W, torch.ones((M, 1), dtype=dtype, device=device)], dim=1)
    out = torch.empty((N, K, D), dtype=dtype, device=device)
    out[:, 0] = W.mean(dim=0)                          # no examples yet: the prior mean
    # Work buffers are allocated once: fresh multi-MB tensors per chunk cost more in
    # page faults than the arithmetic does.
    chunk_size, seq_block = chunk_size or TORCH_BLOCKING[0], seq_block or TORCH_BLOCKING[1]
    C = min(chunk_size, M)
    nl = torch.empty((seq_block, J, C), dtype=dtype, device=device)   # negative logits
    p = torch.empty((seq_block, J, C), dtype=dtype, device=device)
    for n0 in range(0, N, seq_block):
        x, y = X[n0:n0 + seq_block], Y[n0:n0 + seq_block]      # (B, J, D), (B, J)
        B = x.shape[0]
        run_max = torch.full((B, J, 1), -torch.inf, dtype=dtype, device=device)
        run_sums = torch.zeros((B, J, D + 1), dtype=dtype, device=device)
        for m0 in range(0, M, C):
            c = min(C, M - m0)
            r, pp = nl[:B, :, :c], p[:B, :, :c]
            torch.matmul(x, W[m0:m0 + c].T, out=r)
            r.sub_(y[..., None]).square_()
            for j in range(1, J):                      # running sum over examples
                r[:, j].add_(r[:, j - 1])
            new_max = torch.maximum(run_max, r.amin(dim=2, keepdim=True).neg_())
            correction = torch.exp(run_max - new_max)  # 0 on the first chunk
            torch.sub(-new_max, r, out=pp).clamp_min_(LOGIT_FLOOR).exp_()
            run_sums.mul_(correction).add_(torch.matmul(pp, W1[m0:m0 + c]))
            run_max = new_max
        out[n0:n0 + B, 1:] = run_sums[..., :D] / run_sums[..., D:]
    return out.cpu().numpy()


def spatial_order(pool: np.ndarray, bits: int = 3) -> np.ndarray:
    """A permutation of the pool along a Z-order (Morton) curve over per-dimension
    octiles, so tasks next to each other in memory are close in w-space.

    The posterior is a uniform prior over a set, so the order of the pool does not change
    it; the native kernel skips groups of VL adjacent tasks that all have negligible
    weight, and on D = 8, M = 2^20 this order makes ~26% of 8-task groups matter against
    ~42% in the pool's own order (measured on T_True, sigma^2 = 0.25)."""
    M, D = pool.shape
    code = np.zeros(M, dtype=np.int64)
    levels = 1 << bits
    bins = []
    for d in range(D):
        edges = np.quantile(pool[:, d], np.arange(1, levels) / levels)
        bins.append(np.searchsorted(edges, pool[:, d]).astype(np.int64))
    for b in range(bits - 1, -1, -1):
        for d in range(D):
            code = (code << 1) | ((bins[d] >> b) & 1)
    return np.argsort(code, kind="stable")


def _dmmse_native(xs, ys, pool, scale: float, dtype: str, chunk: int,
                  seq_block: int) -> np.ndarray:
    N, K, D = xs.shape
    J = K - 1
    X = np.ascontiguousarray(xs[:, :J], dtype=dtype) * np.array(scale, dtype=dtype)
    Y = np.ascontiguousarray(ys[:, :J], dtype=dtype) * np.array(scale, dtype=dtype)
    ordered = pool[spatial_order(pool)] if D * 3 <= 62 else pool   # 3 bits per dimension
    WT = np.ascontiguousarray(ordered.astype(dtype).T)
    sums, _ = native.dmmse_sums(X, Y, WT, LOGIT_FLOOR, chunk, seq_block, torch.get_num_threads())
    out = np.empty((N, K, D), dtype=dtype)
    out[:, 0] = np.asarray(pool, dtype=np.float64).mean(axis=0)
    out[:, 1:] = sums[..., :D] / sums[..., D:]
    return out


def dmmse_predict(xs: np.ndarray, ys: np.ndarray, pool: np.ndarray, noise_var: float,
                  chunk_size: int | None = None, seq_block: int | None = None,
                  dtype: torch.dtype = torch.float64,
                  device: str | torch.device = "cpu", backend: str = "auto") -> np.ndarray:
    """dMMSE predictions (N, K); position 0 predicts with the pool mean."""
    w_hat = dmmse_posterior_means(xs, ys, pool, noise_var, chunk_size, seq_block, dtype,
                                  device, backend)
    return np.einsum("nkd,nkd->nk", w_hat, np.asarray(xs, dtype=w_hat.dtype))
