"""The Bayes estimator for an i.i.d. Laplace task prior: the posterior mean of w when each
entry of w is Laplace(0, b) and y = w.x + N(0, sigma^2) noise. It has no closed form, so
it is estimated by Gibbs sampling, with its Monte-Carlo standard error.

The sampler is the Bayesian lasso's (Park & Casella 2008, with sigma^2 known): the
Laplace prior is a scale mixture of Gaussians, w_j | tau_j ~ N(0, tau_j) with
tau_j ~ Exponential(mean 2 b^2), so the chain alternates
    w | tau, y ~ N(P^-1 X'y / sigma^2, P^-1),  P = X'X / sigma^2 + diag(1 / tau),
    1 / tau_j | w ~ InverseGaussian(mean 1 / (b |w_j|), shape 1 / b^2).
What is averaged is not w but its conditional mean P^-1 X'y / sigma^2 (Rao-Blackwell:
same expectation, smaller variance), so with no examples (prefix 0) every draw is 0,
the prior mean, exactly. One chain runs per (sequence, prefix), all in one batch.

b is set by the variance: 2 b^2 = task_scale^2, the variance of the Gaussian task prior
it is compared with.
"""
from __future__ import annotations

import math

import numpy as np

from .baselines import _check_sequences, _prefix_moments


# The Gibbs chains' stream in the workflow: the T_True evaluation set's task stream (index
# 0) with one more index, as the smoothed-dMMSE tuning set does (baselines.TUNING_INDEX),
# so that adding it does not edit tasks.py, which every training job runs.
GIBBS_INDEX = (0, 2)


def laplace_scale(task_scale: float) -> float:
    """b of the Laplace prior whose variance 2 b^2 is task_scale^2."""
    return task_scale / math.sqrt(2.0)


def inverse_gaussian(mean: np.ndarray, shape: float, rng: np.random.Generator) -> np.ndarray:
    """Inverse Gaussian draws (Michael, Schucany & Haas 1976), written without the
    cancellation of the textbook form: the smaller root mean / (1 + r/2 + sqrt(r + r^2/4))
    with r = mean * nu^2 / shape stays positive and accurate however large mean is
    (mean = 1 / (b |w_j|) is huge when a draw of w_j lands near 0)."""
    r = mean * rng.standard_normal(mean.shape) ** 2 / shape
    small = mean / (1.0 + r / 2.0 + np.sqrt(r) * np.sqrt(1.0 + r / 4.0))
    return np.where(rng.random(mean.shape) * (mean + small) <= mean, small, mean / small * mean)


def _cholesky_solve_sample(P: np.ndarray, rhs: np.ndarray, z: np.ndarray):
    """For many small SPD systems at once, stored chain-last (P (D, D, C), rhs and z
    (D, C)): the solution m of P m = rhs and m + L^-T z, a draw from N(m, P^-1) where
    P = L L^T. Written as O(D^3) vector operations over the C chains: LAPACK per 8 x 8
    matrix spends its time in call overhead, this in arithmetic."""
    D = len(rhs)
    L = np.zeros_like(P)
    for j in range(D):
        L[j, j] = np.sqrt(P[j, j] - (L[j, :j] ** 2).sum(axis=0))
        for i in range(j + 1, D):
            L[i, j] = (P[i, j] - (L[i, :j] * L[j, :j]).sum(axis=0)) / L[j, j]
    v = np.empty_like(rhs)                       # L v = rhs
    for i in range(D):
        v[i] = (rhs[i] - (L[i, :i] * v[:i]).sum(axis=0)) / L[i, i]
    out = []
    for t in (v, z):                             # L^T m = v and L^T e = z
        x = np.empty_like(t)
        for i in range(D - 1, -1, -1):
            x[i] = (t[i] - (L[i + 1:, i] * x[i + 1:]).sum(axis=0)) / L[i, i]
        out.append(x)
    mean, noise = out
    return mean, mean + noise


class _LassoGibbs:
    """The Gibbs chains of the Bayesian lasso with known sigma^2, one per system: A
    (C, D, D) and b (C, D) are each chain's X'X and X'y. State: 1/tau, (D, C)."""

    def __init__(self, A, b, noise_var: float, scale_b: float, rng: np.random.Generator):
        self.P0 = np.ascontiguousarray(np.moveaxis(A, 0, -1)) / noise_var    # (D, D, C)
        self.rhs = np.ascontiguousarray(b.T) / noise_var                      # (D, C)
        self.scale_b, self.rng = scale_b, rng
        # start at the Gaussian prior of the same variance, 1/tau = 1 / (2 b^2)
        self.inv_tau = np.full(self.rhs.shape, 1.0 / (2.0 * scale_b ** 2))

    def mean_of_sweeps(self, chains: np.ndarray, sweeps: int) -> np.ndarray:
        """Run `sweeps` sweeps of the given chains; the mean of their Rao-Blackwellised
        draws E[w | tau, y], (len(chains), D)."""
        P0, rhs, inv_tau = self.P0[:, :, chains], self.rhs[:, chains], self.inv_tau[:, chains]
        P, D = P0.copy(), len(rhs)
        diag = np.arange(D)
        total = np.zeros_like(rhs)
        for _ in range(sweeps):
            P[diag, diag] = P0[diag, diag] + inv_tau
            cond_mean, w = _cholesky_solve_sample(P, rhs, self.rng.standard_normal(rhs.shape))
            absw = np.maximum(np.abs(w), 1e-100)
            inv_tau = inverse_gaussian(1.0 / (self.scale_b * absw), 1.0 / self.scale_b ** 2,
                                       self.rng)
            total += cond_mean
        self.inv_tau[:, chains] = inv_tau
        return (total / max(sweeps, 1)).T


def laplace_posterior_means(xs: np.ndarray, ys: np.ndarray, noise_var: float,
                            task_scale: float = 1.0, **kwargs):
    """Posterior mean of w under an i.i.d. Laplace prior of variance task_scale^2, for
    every prefix (position k uses examples 0..k-1): returns (mean, stderr), both
    (N, K, D), stderr the Monte-Carlo standard error by batch means. Keyword arguments
    as in laplace_batch_means."""
    batches = laplace_batch_means(xs, ys, noise_var, task_scale, **kwargs)
    return np.nanmean(batches, axis=0), _batch_stderr(batches)


def laplace_bayes_predict(xs: np.ndarray, ys: np.ndarray, noise_var: float,
                          task_scale: float = 1.0, **kwargs):
    """Predictions (N, K) of the Laplace-prior Bayes estimator and their Monte-Carlo
    standard errors (batch means of x.w); keyword arguments as in laplace_batch_means.
    Position 0 predicts 0, the prior mean."""
    batches = laplace_batch_means(xs, ys, noise_var, task_scale, **kwargs)
    preds = np.einsum("bnkd,nkd->bnk", batches, np.asarray(xs, dtype=np.float64))
    return np.nanmean(preds, axis=0), _batch_stderr(preds)


def _batch_stderr(batches: np.ndarray) -> np.ndarray:
    """Standard error of the mean over the batch axis; NaN marks batches a chain did
    not run (chains that met the target early)."""
    count = np.isfinite(batches).sum(axis=0)
    return np.nanstd(batches, axis=0, ddof=1) / np.sqrt(count)


def laplace_batch_means(xs: np.ndarray, ys: np.ndarray, noise_var: float,
                        task_scale: float = 1.0, rng: np.random.Generator | None = None,
                        n_samples: int = 1000, n_batches: int = 20, burn_in: int = 200,
                        target_se: float | None = None, max_samples: int = 16000) -> np.ndarray:
    """Batch means (B, N, K, D) of the Gibbs chains of the Laplace posterior, one chain per
    sequence and prefix: after `burn_in` sweeps, n_batches batches of
    n_samples / n_batches sweeps each; their mean is the posterior mean and their spread
    gives the Monte-Carlo standard error.

    With target_se, every chain whose standard error (its largest over the entries of
    w) is above target_se runs on, in rounds of n_samples more sweeps, until all meet
    it; RuntimeError if a chain would need more than max_samples sweeps. Chains that
    stop early have NaN for the batches they did not run. `rng` (a seeded numpy Generator) makes the
    result reproducible.
    """
    xs, ys = _check_sequences(xs, ys)
    if noise_var <= 0 or task_scale <= 0:
        raise ValueError(f"need noise_var > 0 and task_scale > 0, got {noise_var} and {task_scale}")
    if n_batches < 2 or n_samples < n_batches or burn_in < 0:
        raise ValueError(f"need n_batches >= 2, n_samples >= n_batches and burn_in >= 0, got "
                         f"{n_batches}, {n_samples}, {burn_in}")
    rng = rng if rng is not None else np.random.default_rng()
    N, K, D = xs.shape
    A, b = _prefix_moments(xs, ys)
    gibbs = _LassoGibbs(A.reshape(N * K, D, D), b.reshape(N * K, D), noise_var,
                        laplace_scale(task_scale), rng)
    batch_len = n_samples // n_batches
    chains = np.arange(N * K)
    gibbs.mean_of_sweeps(chains, burn_in)
    batches = np.full((0, N * K, D), np.nan)
    while True:
        new = np.full((n_batches, N * K, D), np.nan)
        for i in range(n_batches):
            new[i, chains] = gibbs.mean_of_sweeps(chains, batch_len)
        batches = np.concatenate([batches, new])
        if target_se is None:
            break
        se = _batch_stderr(batches).max(axis=1)                   # per chain
        chains = np.flatnonzero(se > target_se)
        done = int(np.isfinite(batches[:, :, 0]).sum(axis=0).max()) * batch_len
        if len(chains) == 0:
            break
        if done + n_batches * batch_len > max_samples:
            raise RuntimeError(f"Laplace posterior: Monte-Carlo standard error {se.max():.3g} "
                               f"is above the target {target_se:.3g} for {len(chains)} of "
                               f"{N * K} chains after {done} sweeps (max_samples = {max_samples})")
    return batches.reshape(-1, N, K, D)
