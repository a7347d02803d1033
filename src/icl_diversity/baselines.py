"""The two Bayesian baselines: Ridge (posterior mean under N(0, I)) and dMMSE
(posterior mean under the uniform prior on the task pool).

Both take xs (N, K, D) and ys (N, K) and return (N, K) predictions where position k
(0-based here) uses only the k examples before it.
"""
from __future__ import annotations

import math

import numpy as np
import torch

# exp() of logits far below the max is both negligible and slow (denormals and
# underflow cost ~16 ns per element): weights are floored at e^LOGIT_FLOOR of the
# running max, which adds at most M e^-60 (about 1e-20 at M = 2^20) relative mass.
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



def _check_pool(pool, D: int) -> np.ndarray:
    pool = np.asarray(pool)
    if pool.ndim != 2 or pool.shape[1] != D or len(pool) == 0:
        raise ValueError(f"pool must be (M >= 1, D={D}), got {pool.shape}")
    return pool


@torch.no_grad()
def dmmse_posterior_means(xs: np.ndarray, ys: np.ndarray, pool: np.ndarray, noise_var: float,
                          chunk_size: int = 4096, seq_block: int = 64,
                          dtype: torch.dtype = torch.float64,
                          device: str | torch.device = "cpu") -> np.ndarray:
    """Posterior mean of w under the uniform prior on `pool`, for every prefix: (N, K, D).

    Streams over the pool in chunks of `chunk_size` tasks with a running log-sum-exp,
    and over sequences in blocks of `seq_block`, so memory is bounded by about
    2 * seq_block * K * chunk_size numbers whatever M is. `device` (e.g. "cuda") is
    where the arithmetic runs; inputs and result stay numpy arrays.
    """
    xs, ys = _check_sequences(xs, ys)
    N, K, D = xs.shape
    pool = _check_pool(pool, D)
    if noise_var <= 0:
        raise ValueError(f"dMMSE needs noise_var > 0, got {noise_var}")
    M, J = len(pool), K - 1            # J positions 1..K-1 use examples 0..K-2
    # Scaling x and y by 1/sqrt(2 sigma^2) makes a squared residual directly an
    # increment of the negative logit.
    scale = 1.0 / math.sqrt(2.0 * noise_var)
    X = torch.from_numpy(np.ascontiguousarray(xs[:, :J])).to(device, dtype) * scale
    Y = torch.from_numpy(np.ascontiguousarray(ys[:, :J])).to(device, dtype) * scale
    W = torch.from_numpy(np.ascontiguousarray(pool)).to(device, dtype)
    # A column of ones: one matmul gives both sum_i p_i w_i and sum_i p_i.
    W1 = torch.cat([W, torch.ones((M, 1), dtype=dtype, device=device)], dim=1)
    out = torch.empty((N, K, D), dtype=dtype, device=device)
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


def dmmse_predict(xs: np.ndarray, ys: np.ndarray, pool: np.ndarray, noise_var: float,
                  chunk_size: int = 4096, seq_block: int = 64,
                  dtype: torch.dtype = torch.float64,
                  device: str | torch.device = "cpu") -> np.ndarray:
    """dMMSE predictions (N, K); position 0 predicts with the pool mean."""
    w_hat = dmmse_posterior_means(xs, ys, pool, noise_var, chunk_size, seq_block, dtype, device)
    return np.einsum("nkd,nkd->nk", w_hat, np.asarray(xs, dtype=w_hat.dtype))
