"""Task pools and evaluation sets for in-context linear regression (training batches
are made on the training device: batches.py).

Every random stream is keyed by (seed, purpose, index...) through numpy's SeedSequence,
so any batch can be regenerated on its own and two purposes can never share a stream
(the counterpart of `fold_in` in the official JAX code).
"""
from __future__ import annotations

import math

import numpy as np

# One code per purpose; adding a purpose means adding a new code, never reusing one.
PURPOSES = {
    "pool": 1,          # the pretraining task pool (one draw; pools are nested prefixes)
    "train_task": 2,    # 2-4: the numpy training batches of earlier versions (retired:
    "train_x": 3,       # kept so that no new purpose reuses their codes)
    "train_noise": 4,
    "eval_task": 5,     # evaluation sets: tasks, inputs, noise
    "eval_x": 6,
    "eval_noise": 7,
    "model_init": 8,
    "train_batch": 9,   # one training batch, drawn on the training device (batches.py)
    "interp_pair": 10,  # Fig 5's interpolation sets: which pool tasks each path joins,
    "interp_x": 11,     # and the inputs and noise its sequences share along the path
    "interp_noise": 12,
}

INF = math.inf


def rng(seed: int, purpose: str, *index: int) -> np.random.Generator:
    """A generator for one (seed, purpose, index...) stream."""
    if purpose not in PURPOSES:
        raise KeyError(f"unknown random-stream purpose {purpose!r}; known: {sorted(PURPOSES)}")
    key = [int(seed), PURPOSES[purpose], *(int(i) for i in index)]
    if any(k < 0 for k in key):
        raise ValueError(f"random-stream keys must be non-negative, got {key}")
    return np.random.default_rng(np.random.SeedSequence(key))


def is_infinite(M) -> bool:
    return M is None or (isinstance(M, float) and math.isinf(M)) or str(M).lower() == "inf"


def parse_M(M) -> float | int:
    """Config or wildcard value of M -> int, or math.inf for 'inf'."""
    if is_infinite(M):
        return INF
    value = int(M)
    if value < 1:
        raise ValueError(f"M must be a positive integer or 'inf', got {M!r}")
    return value


def M_label(M) -> str:
    """The spelling of M in file names and wildcards: '64' or 'inf'."""
    return "inf" if is_infinite(M) else str(int(M))


PRIORS = ("gaussian", "laplace")


def draw_w(task_rng: np.random.Generator, shape, task_scale: float = 1.0,
           prior: str = "gaussian") -> np.ndarray:
    """Regression vectors with i.i.d. entries of variance task_scale^2 (float64):
    N(0, task_scale^2) for the Gaussian prior, Laplace(0, task_scale / sqrt 2) for the
    Laplace one (the same variance, heavier tails: excess kurtosis 3)."""
    if prior == "gaussian":
        return task_scale * task_rng.standard_normal(shape)
    if prior == "laplace":
        return task_rng.laplace(0.0, task_scale / math.sqrt(2.0), shape)
    raise ValueError(f"unknown task prior {prior!r}; known: {list(PRIORS)}")


def task_pool(M: int, D: int, seed: int, task_scale: float = 1.0,
              prior: str = "gaussian") -> np.ndarray:
    """The pool of M regression vectors, (M, D) float32, drawn from the task prior
    (draw_w: w ~ N(0, task_scale^2 I) by default).

    Pools are nested: the pool for M is the first M rows of the pool for any larger M,
    because numpy fills a (M, D) draw row by row from one stream. Nested pools make
    curves across M smoother (each larger pool only adds tasks) without changing the
    distribution of any single pool.
    """
    if is_infinite(M):
        raise ValueError("M = inf has no pool: every sequence draws a fresh task")
    M = int(M)
    if M < 1:
        raise ValueError(f"pool size M must be >= 1, got {M}")
    return draw_w(rng(seed, "pool"), (M, D), task_scale, prior).astype(np.float32)


def sample_sequences(ws: np.ndarray, K: int, noise_var: float, x_rng: np.random.Generator,
                     noise_rng: np.random.Generator, x_scale: float = 1.0):
    """Given tasks ws (N, D), draw xs (N, K, D) and noisy ys (N, K)."""
    N, D = ws.shape
    xs = (x_scale * x_rng.standard_normal((N, K, D))).astype(np.float32)
    noise = (math.sqrt(noise_var) * noise_rng.standard_normal((N, K))).astype(np.float32)
    ys = np.einsum("nkd,nd->nk", xs, ws).astype(np.float32) + noise
    return xs, ys


def draw_tasks(n: int, D: int, pool: np.ndarray | None, task_rng: np.random.Generator,
               task_scale: float = 1.0, prior: str = "gaussian"):
    """n tasks: uniformly from the pool, or fresh from the task prior when pool is None.

    Returns (ws (n, D) float32, idx (n,) int64; idx is -1 for fresh tasks).
    """
    if pool is None:
        ws = draw_w(task_rng, (n, D), task_scale, prior).astype(np.float32)
        return ws, np.full(n, -1, dtype=np.int64)
    idx = task_rng.integers(0, len(pool), size=n)
    return pool[idx], idx.astype(np.int64)


def eval_set(D: int, K: int, noise_var: float, n: int, seed: int, pool: np.ndarray | None = None,
             M=INF, task_scale: float = 1.0, x_scale: float = 1.0, prior: str = "gaussian") -> dict:
    """A fixed evaluation set: T_Pretrain of the pool when given, else T_True.

    The stream index is the pool size (0 for T_True), so the T_Pretrain sets of
    different M use different inputs and noise, and none share a stream with training.
    """
    index = 0 if pool is None else int(M)
    if pool is not None and len(pool) != index:
        raise ValueError(f"pool has {len(pool)} tasks but M = {M}")
    ws, idx = draw_tasks(n, D, pool, rng(seed, "eval_task", index), task_scale, prior)
    xs, ys = sample_sequences(ws, K, noise_var, rng(seed, "eval_x", index),
                              rng(seed, "eval_noise", index), x_scale)
    return {"xs": xs, "ys": ys, "ws": ws, "task_idx": idx}


def model_init_seed(seed: int, replicate: int = 0) -> int:
    """The torch seed of a run's initial weights, from (seeds.model, training seed)."""
    return int(rng(seed, "model_init", replicate).integers(2 ** 62))


def check_pool(pool: np.ndarray, M, D: int, path) -> None:
    """A pool read from `path` must be (M, D), as its file name and the config say."""
    if pool.shape != (int(M), D):
        raise ValueError(f"{path}: pool has shape {pool.shape}, expected (M, D) = ({int(M)}, {D})")


def check_eval_set(data: dict, K: int, D: int, path, n: int | None = None) -> None:
    """An evaluation set read from `path` must be N sequences of K examples in D
    dimensions (N = n when given): xs (N, K, D), ys (N, K), ws (N, D)."""
    N = len(data["xs"]) if n is None else n
    want = {"xs": (N, K, D), "ys": (N, K), "ws": (N, D)}
    for key, shape in want.items():
        if key in data and data[key].shape != shape:
            raise ValueError(f"{path}: {key} has shape {data[key].shape}, expected {shape} "
                             f"(N, K, D = {N}, {K}, {D})")
