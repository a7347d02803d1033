"""Two analyses of trained models (evaluation only, nothing is trained here):

- Fig 5: tasks on a path between two pool tasks, where dMMSE (which only knows the pool)
  fails in the middle and a PT past the threshold keeps up with Ridge;
- linear mode connectivity: the loss along the straight line in weight space between two
  trained models, and its barrier (how far it rises above the line between the ends).
"""
from __future__ import annotations

import numpy as np
import torch

from .model import ICLTransformer, ModelConfig
from .tasks import rng, sample_sequences
from .train import predict_numpy

# How the norm of w_a is set along a path:
#   "mean":   (|w_i| + |w_j|) / 2 all along (the paper's formula; the ends are the pool
#             tasks' directions at that norm, so pool tasks exactly when |w_i| = |w_j|);
#   "linear": a |w_i| + (1 - a) |w_j|, the same in the middle, and the ends are exactly
#             the pool tasks.
PATH_NORMS = ("mean", "linear")


# ---------------------------------------------------------------- Fig 5: task paths

def path_tasks(w_i: np.ndarray, w_j: np.ndarray, a, norm: str = "mean") -> np.ndarray:
    """w_a = r_a (a w_i + (1 - a) w_j) / |a w_i + (1 - a) w_j| for every a and pair:
    w_i, w_j (P, D), a (A,) -> (A, P, D) float64, with r_a as PATH_NORMS says
    (a = 1 is w_i's end, a = 0 is w_j's)."""
    if norm not in PATH_NORMS:
        raise ValueError(f"path norm must be one of {PATH_NORMS}, got {norm!r}")
    w_i, w_j = np.asarray(w_i, np.float64), np.asarray(w_j, np.float64)
    a = np.asarray(a, np.float64)[:, None, None]
    chord = a * w_i + (1 - a) * w_j
    length = np.linalg.norm(chord, axis=-1, keepdims=True)
    if (length < 1e-12).any():
        raise ValueError("a path passes through w = 0 (two opposite tasks): its direction "
                         "is undefined there")
    n_i = np.linalg.norm(w_i, axis=-1, keepdims=True)
    n_j = np.linalg.norm(w_j, axis=-1, keepdims=True)
    radius = (n_i + n_j) / 2 if norm == "mean" else a * n_i + (1 - a) * n_j
    return radius * chord / length


def distinct_pairs(M: int, n_pairs: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n_pairs ordered pairs (i, j) of distinct pool indices, uniform over all M (M - 1)."""
    if M < 2:
        raise ValueError(f"a pool of M = {M} task has no pair of distinct tasks")
    i = gen.integers(0, M, size=n_pairs)
    j = (i + 1 + gen.integers(0, M - 1, size=n_pairs)) % M
    return i, j


def interpolation_set(pool: np.ndarray, K: int, noise_var: float, n_pairs: int, n_points: int,
                      seed: int, norm: str = "mean", x_scale: float = 1.0) -> dict:
    """Fig 5's evaluation set for one pool: n_pairs paths between distinct pool tasks,
    each evaluated at n_points values of a evenly spaced over [0, 1].

    Sequence p of every a shares its inputs and noise (common random numbers), so the
    curves vs a differ only through the task. Streams are keyed by the pool size M, like
    the T_Pretrain sets. Returns xs (A * P, K, D), ys (A * P, K), ws (A * P, D) float32,
    `a` and `pair` per sequence, and the pool indices `i`, `j` of each pair.
    """
    M, D = pool.shape
    i, j = distinct_pairs(M, n_pairs, rng(seed, "interp_pair", M))
    a_grid = np.linspace(0.0, 1.0, n_points)
    ws = path_tasks(pool[i], pool[j], a_grid, norm).astype(np.float32)       # (A, P, D)
    # one input and noise draw per pair, reused at every a: ws as stand-in tasks
    xs, noise = sample_sequences(np.zeros((n_pairs, D), np.float32), K, noise_var,
                                 rng(seed, "interp_x", M), rng(seed, "interp_noise", M), x_scale)
    xs = np.broadcast_to(xs, (n_points, *xs.shape)).reshape(-1, K, D)
    ys = (np.einsum("nkd,nd->nk", xs, ws.reshape(-1, D))
          + np.tile(noise, (n_points, 1))).astype(np.float32)
    return {"xs": np.ascontiguousarray(xs), "ys": ys, "ws": ws.reshape(-1, D),
            "a": np.repeat(a_grid, n_pairs), "pair": np.tile(np.arange(n_pairs), n_points),
            "i": i.astype(np.int64), "j": j.astype(np.int64)}


# ---------------------------------------------------------------- mode connectivity

def interpolate_state(start: dict, end: dict, t: float) -> dict:
    """Weights a fraction t of the way from `start` to `end` (state dicts of one model
    config): start + t (end - start), with t = 1 giving `end` itself. Written so that
    t = 0 gives `start` and two equal models give it at every t, bit for bit."""
    if start.keys() != end.keys():
        raise ValueError("the two models have different parameters: "
                         f"{sorted(set(start) ^ set(end))}")
    if t == 1:
        return {k: v.clone() for k, v in end.items()}
    out = {}
    for k, v in start.items():
        if v.shape != end[k].shape:
            raise ValueError(f"parameter {k} has shape {tuple(v.shape)} in one model and "
                             f"{tuple(end[k].shape)} in the other")
        out[k] = v + t * (end[k] - v) if v.is_floating_point() else v.clone()
    return out


def path_losses(start: dict, end: dict, model_config: dict, ts, xs: np.ndarray,
                ys: np.ndarray, D: int) -> np.ndarray:
    """Squared error / D against ys, mean over positions, of the model with weights
    interpolate_state(start, end, t) for every t: (T, N) float64, one row per t."""
    model = ICLTransformer(ModelConfig(**model_config))
    target = np.asarray(ys, dtype=np.float64)
    rows = []
    for t in ts:
        model.load_state_dict(interpolate_state(start, end, float(t)))
        pred = predict_numpy(model, xs, ys).astype(np.float64)
        rows.append(((pred - target) ** 2).mean(axis=1) / D)
    return np.stack(rows)


def barrier(ts, losses: np.ndarray) -> dict:
    """The loss barrier of a path: the largest excess of the mean loss over the straight
    line between the two endpoint losses. `losses` is (T, N) per-sequence losses with
    ts[0] = 0 and ts[-1] = 1. Returns the barrier, the t where it is reached and the
    standard error of the excess there (over the N sequences, which every t shares)."""
    ts = np.asarray(ts, dtype=np.float64)
    if ts[0] != 0 or ts[-1] != 1 or np.any(np.diff(ts) <= 0):
        raise ValueError(f"the t grid must rise from 0 to 1, got {ts}")
    losses = np.asarray(losses, dtype=np.float64)
    # start + t (end - start): exactly the end losses at t = 0 and 1, so the barrier is >= 0
    excess = losses - (losses[0] + ts[:, None] * (losses[-1] - losses[0]))
    mean = excess.mean(axis=1)
    k = int(np.argmax(mean))
    N = excess.shape[1]
    se = float(excess[k].std(ddof=1) / np.sqrt(N)) if N > 1 and 0 < k < len(ts) - 1 else 0.0
    return {"barrier": float(mean[k]), "t_max": float(ts[k]), "barrier_stderr": se}
