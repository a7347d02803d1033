"""The two Bayesian baselines: Ridge (posterior mean under N(0, I)) and dMMSE
(posterior mean under the uniform prior on the task pool).

Both take xs (N, K, D) and ys (N, K) and return (N, K) predictions where position k
(0-based here) uses only the k examples before it.
"""
from __future__ import annotations

import numpy as np
import torch


LOGIT_FLOOR = -60.0


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


@torch.no_grad()
def dmmse_posterior_means(xs: np.ndarray, ys: np.ndarray, pool: np.ndarray, noise_var: float,
                          chunk_size: int = 4096, seq_block: int = 64,
                          dtype: torch.dtype = torch.float64) -> np.ndarray:
    """Posterior mean of w under the uniform prior on `pool`, for every prefix: (N, K, D).

    Streams over the pool in chunks of `chunk_size` tasks with a running log-sum-exp,
    and over sequences in blocks of `seq_block`, so memory is bounded by
    seq_block * K * chunk_size numbers whatever M is.
    """
    xs, ys = _check_sequences(xs, ys)
    pool = np.asarray(pool)
    if pool.ndim != 2 or pool.shape[1] != xs.shape[2] or len(pool) == 0:
        raise ValueError(f"pool must be (M >= 1, D={xs.shape[2]}), got {pool.shape}")
    if noise_var <= 0:
        raise ValueError(f"dMMSE needs noise_var > 0, got {noise_var}")
    N, K, D = xs.shape
    W = torch.from_numpy(pool).to(dtype)
    X = torch.from_numpy(xs).to(dtype)
    Y = torch.from_numpy(ys).to(dtype)
    scale = -0.5 / noise_var
    out = torch.empty((N, K, D), dtype=dtype)
    # Work buffers are allocated once: fresh multi-MB tensors per chunk cost more in
    # page faults than the arithmetic does.
    C = min(chunk_size, len(W))
    r = torch.empty((seq_block, K, C), dtype=dtype)
    logits = torch.empty((seq_block, K, C), dtype=dtype)
    for n0 in range(0, N, seq_block):
        x, y = X[n0:n0 + seq_block], Y[n0:n0 + seq_block]          # (B, K, D), (B, K)
        B = x.shape[0]
        run_max = torch.full((B, K, 1), -torch.inf, dtype=dtype)
        run_sum = torch.zeros((B, K, 1), dtype=dtype)
        run_acc = torch.zeros((B, K, D), dtype=dtype)
        for m0 in range(0, len(W), C):
            w = W[m0:m0 + C]                                         # (c, D)
            c = w.shape[0]
            rr, ll = r[:B, :, :c], logits[:B, :, :c]
            torch.matmul(x, w.T, out=rr)
            rr.sub_(y[..., None]).square_()                          # squared residuals
            # Exclusive prefix sums over examples: position k sees residuals 0..k-1.
            ll[:, 0].zero_()
            for k in range(1, K):
                torch.add(ll[:, k - 1], rr[:, k - 1], alpha=scale, out=ll[:, k])
            new_max = torch.maximum(run_max, ll.amax(dim=2, keepdim=True))
            correction = torch.exp(run_max - new_max)                # 0 on the first chunk
            # Tasks more than LOGIT_FLOOR below the best carry < M * e^-60 of the mass;
            # flooring them keeps exp out of its (very slow) denormal range.
            p = ll.sub_(new_max).clamp_min_(LOGIT_FLOOR).exp_()
            run_sum.mul_(correction).add_(p.sum(dim=2, keepdim=True))
            run_acc.mul_(correction).add_(torch.matmul(p, w))
            run_max = new_max
        out[n0:n0 + B] = run_acc / run_sum
    return out.numpy()


def dmmse_predict(xs: np.ndarray, ys: np.ndarray, pool: np.ndarray, noise_var: float,
                  chunk_size: int = 4096, seq_block: int = 64,
                  dtype: torch.dtype = torch.float64) -> np.ndarray:
    """dMMSE predictions (N, K); position 0 predicts with the pool mean."""
    w_hat = dmmse_posterior_means(xs, ys, pool, noise_var, chunk_size, seq_block, dtype)
    return np.einsum("nkd,nkd->nk", w_hat, np.asarray(xs, dtype=w_hat.dtype))
