"""The Bayesian baselines: Ridge (posterior mean under N(0, I)), dMMSE
(posterior mean under the uniform prior on the task pool) and smoothed dMMSE (under a
mixture of isotropic Gaussians centred on the pool tasks).

Both take xs (N, K, D) and ys (N, K) and return (N, K) predictions where position k
(0-based here) uses only the k examples before it.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import native, tasks

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


def _prefix_moments(xs: np.ndarray, ys: np.ndarray):
    """Exclusive prefix sums in float64: A[:, k] = sum_{j<k} x_j x_j^T (N, K, D, D) and
    b[:, k] = sum_{j<k} x_j y_j (N, K, D), so prefix k holds examples 0..k-1."""
    xs, ys = xs.astype(np.float64), ys.astype(np.float64)
    N, K, D = xs.shape
    A = np.zeros((N, K, D, D))
    b = np.zeros((N, K, D))
    A[:, 1:] = np.cumsum(np.einsum("nki,nkj->nkij", xs, xs), axis=1)[:, :-1]
    b[:, 1:] = np.cumsum(xs * ys[..., None], axis=1)[:, :-1]
    return A, b


def ridge_posterior_means(xs: np.ndarray, ys: np.ndarray, noise_var: float,
                          task_var: float = 1.0) -> np.ndarray:
    """w_hat for every prefix, (N, K, D): position k solves on examples 0..k-1."""
    xs, ys = _check_sequences(xs, ys)
    A, b = _prefix_moments(xs, ys)
    A += (noise_var / task_var) * np.eye(xs.shape[2])
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

    `backend`: "torch" (the tensor code of _pool_softmax_torch, any device), "native"
    (the fused C kernel of icl_diversity.native: one pass over the data instead of ~9,
    and tasks whose weight is below e^LOGIT_FLOOR skipped; CPU only) or "auto" (native
    on the CPU when a C compiler builds it, else torch; resolve_backend). Both agree to
    ~1e-10 in float64.
    """
    xs, ys = _check_sequences(xs, ys)
    pool = _check_pool(pool, xs.shape[2])
    if noise_var <= 0:
        raise ValueError(f"dMMSE needs noise_var > 0, got {noise_var}")
    # Scaling x and y by 1/sqrt(2 sigma^2) makes a squared residual directly an
    # increment of the negative logit.
    scale = 1.0 / math.sqrt(2.0 * noise_var)
    J = xs.shape[1] - 1                # J positions 1..K-1 use examples 0..K-2
    return pool_softmax_means(xs[:, :J].astype(np.float64) * scale,
                              ys[:, :J].astype(np.float64) * scale, pool,
                              chunk_size, seq_block, dtype, device, backend)


def pool_softmax_means(X: np.ndarray, Y: np.ndarray, pool: np.ndarray,
                       chunk_size: int | None = None, seq_block: int | None = None,
                       dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu",
                       backend: str = "auto") -> np.ndarray:
    """sum_i p_i w_i over the pool, for every prefix: (N, J + 1, D), where at position j
    p_i is proportional to exp(-sum_{l<j} (Y_l - X_l . w_i)^2) (position 0: uniform, the
    pool mean). X (N, J, D) and Y (N, J) are already scaled so that a squared residual is
    an increment of the negative logit. The streaming core of dMMSE and smoothed dMMSE;
    arguments as in dmmse_posterior_means."""
    N, J, D = X.shape
    use = resolve_backend(backend, dtype, device)
    if use == "native" and J > 0:
        return _pool_softmax_native(X, Y, pool, NATIVE_DTYPES[dtype],
                                    chunk_size or NATIVE_BLOCKING[0],
                                    seq_block or NATIVE_BLOCKING[1])
    return _pool_softmax_torch(X, Y, pool, chunk_size or TORCH_BLOCKING[0],
                               seq_block or TORCH_BLOCKING[1], dtype, device)


@torch.no_grad()
def _pool_softmax_torch(X, Y, pool, chunk_size: int, seq_block: int, dtype, device) -> np.ndarray:
    N, J, D = X.shape
    M = len(pool)
    X = torch.from_numpy(np.ascontiguousarray(X)).to(device, dtype)
    Y = torch.from_numpy(np.ascontiguousarray(Y)).to(device, dtype)
    W = torch.from_numpy(np.ascontiguousarray(pool)).to(device, dtype)
    # A column of ones: one matmul gives both sum_i p_i w_i and sum_i p_i.
    W1 = torch.cat([W, torch.ones((M, 1), dtype=dtype, device=device)], dim=1)
    out = torch.empty((N, J + 1, D), dtype=dtype, device=device)
    out[:, 0] = W.mean(dim=0)                          # no examples yet: the prior mean
    # Work buffers are allocated once: fresh multi-MB tensors per chunk cost more in
    # page faults than the arithmetic does.
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


def _pool_softmax_native(X, Y, pool, dtype: str, chunk: int, seq_block: int) -> np.ndarray:
    N, J, D = X.shape
    X = np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(Y, dtype=dtype)
    ordered = pool[spatial_order(pool)] if D * 3 <= 62 else pool   # 3 bits per dimension
    WT = np.ascontiguousarray(ordered.astype(dtype).T)
    sums, _ = native.dmmse_sums(X, Y, WT, LOGIT_FLOOR, chunk, seq_block, torch.get_num_threads())
    out = np.empty((N, J + 1, D), dtype=dtype)
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


# ---------------------------------------------------------------- smoothed dMMSE

def smoothed_dmmse_posterior_means(xs: np.ndarray, ys: np.ndarray, pool: np.ndarray,
                                   noise_var: float, smoothing_var: float,
                                   chunk_size: int | None = None, seq_block: int | None = None,
                                   dtype: torch.dtype = torch.float64,
                                   device: str | torch.device = "cpu",
                                   backend: str = "auto") -> np.ndarray:
    """Posterior mean of w under the mixture prior (1/M) sum_i N(w_i, s^2 I) over the
    pool (s^2 = smoothing_var), for every prefix: (N, K, D). s^2 -> 0 is dMMSE; one
    task at 0 with s^2 = task_var is Ridge.

    On prefix k (examples 0..k-1, Gram A_k, b_k = sum x_j y_j) every component has the
    same posterior covariance S_k = (A_k / sigma^2 + I / s^2)^-1, so the mixture's mean
    is S_k (b_k / sigma^2 + wbar_k / s^2), with wbar_k the pool averaged under the
    components' posterior weights. A weight is the component's marginal likelihood, a
    product of one-step predictive densities: given examples 0..j-1, component i
    predicts y_j ~ N(x_j . m0_j + u_j . w_i, v_j) with m0_j = S_j b_j / sigma^2,
    u_j = S_j x_j / s^2 and v_j = sigma^2 + x_j' S_j x_j, all shared by the components.
    So the weights are dMMSE's with (x_j, y_j, 2 sigma^2) replaced by
    (u_j, y_j - x_j . m0_j, 2 v_j): the same streaming code (pool_softmax_means), at
    dMMSE's cost plus O(N K D^3), with the same memory bound and backends.
    """
    xs, ys = _check_sequences(xs, ys)
    N, K, D = xs.shape
    pool = _check_pool(pool, D)
    if noise_var <= 0 or smoothing_var <= 0:
        raise ValueError(f"smoothed dMMSE needs noise_var > 0 and smoothing_var > 0, "
                         f"got {noise_var} and {smoothing_var}")
    A, b = _prefix_moments(xs, ys)
    # G = S / s^2 = (I + (s^2 / sigma^2) A)^-1: eigenvalues in (0, 1] for any s^2
    G = np.linalg.inv(np.eye(D) + (smoothing_var / noise_var) * A)           # (N, K, D, D)
    x = xs.astype(np.float64)
    u = np.einsum("nkij,nkj->nki", G, x)
    m0 = (smoothing_var / noise_var) * np.einsum("nkij,nkj->nki", G, b)
    v = noise_var + smoothing_var * np.einsum("nki,nki->nk", x, u)
    residual = ys.astype(np.float64) - np.einsum("nki,nki->nk", x, m0)
    scale = 1.0 / np.sqrt(2.0 * v)
    J = K - 1
    wbar = pool_softmax_means((u * scale[..., None])[:, :J], (residual * scale)[:, :J], pool,
                              chunk_size, seq_block, dtype, device, backend)
    return m0 + np.einsum("nkij,nkj->nki", G, wbar.astype(np.float64))


def smoothed_dmmse_predict(xs: np.ndarray, ys: np.ndarray, pool: np.ndarray, noise_var: float,
                           smoothing_var: float, **kwargs) -> np.ndarray:
    """Smoothed dMMSE predictions (N, K); position 0 predicts with the pool mean. Keyword
    arguments as in smoothed_dmmse_posterior_means."""
    w_hat = smoothed_dmmse_posterior_means(xs, ys, pool, noise_var, smoothing_var, **kwargs)
    return np.einsum("nkd,nkd->nk", w_hat, np.asarray(xs, dtype=np.float64))


def tune_smoothing_var(xs: np.ndarray, ys: np.ndarray, pool: np.ndarray, noise_var: float,
                       grid, **kwargs) -> tuple[float, np.ndarray, np.ndarray]:
    """The s^2 of `grid` whose smoothed dMMSE has the lowest L/D against y on (xs, ys),
    which must be a tuning set (tuning_set), never the evaluation set. Returns it, and
    for every grid value the mean loss / D and its standard error over sequences (the
    same sequences for every value, so differences are paired). Ties go to the first."""
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or len(grid) == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
        raise ValueError(f"the smoothing grid must be a non-empty list of positive numbers, got {grid}")
    D = np.shape(xs)[-1]
    losses, stderrs = [], []
    for s2 in grid:
        pred = smoothed_dmmse_predict(xs, ys, pool, noise_var, float(s2), **kwargs)
        per_seq = ((pred - np.asarray(ys, np.float64)) ** 2).mean(axis=1) / D
        losses.append(per_seq.mean())
        stderrs.append(per_seq.std(ddof=1) / np.sqrt(len(per_seq)))
    losses, stderrs = np.array(losses), np.array(stderrs)
    return float(grid[int(np.argmin(losses))]), losses, stderrs


# The tuning set's streams: the T_True evaluation set's (index 0) with one more index.
# Their home would be tasks.py under purposes of their own; they live here so that
# adding them does not edit tasks.py, which every training job runs (and would retrain).
TUNING_INDEX = (0, 1)


def tuning_set(D: int, K: int, noise_var: float, n: int, seed: int, task_scale: float = 1.0,
               x_scale: float = 1.0, prior: str = "gaussian") -> dict:
    """n T_True sequences (tasks from the problem's prior) for choosing a baseline's
    hyper-parameters, from streams no evaluation set or training batch uses."""
    ws, _ = tasks.draw_tasks(n, D, None, tasks.rng(seed, "eval_task", *TUNING_INDEX), task_scale,
                             prior)
    xs, ys = tasks.sample_sequences(ws, K, noise_var, tasks.rng(seed, "eval_x", *TUNING_INDEX),
                                    tasks.rng(seed, "eval_noise", *TUNING_INDEX), x_scale)
    return {"xs": xs, "ys": ys, "ws": ws}
