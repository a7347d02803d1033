"""Smoothed dMMSE (a mixture of N(w_i, s^2 I) over the pool as prior) against an
explicit mixture posterior: every component's Gaussian posterior solved on its own
and weighted by its marginal likelihood N(y; X w_i, sigma^2 I + s^2 X X^T), float64,
one numpy.linalg.solve per prefix and component."""
import numpy as np
import pytest
from scipy.special import logsumexp

from icl_diversity import native
from icl_diversity.baselines import (dmmse_predict, ridge_predict, smoothed_dmmse_predict,
                                     tune_smoothing_var, tuning_set)
from icl_diversity.tasks import eval_set, task_pool

D, K, NOISE = 4, 8, 0.25


def mixture_reference(xs, ys, pool, noise_var, s2):
    xs, ys, W = xs.astype(np.float64), ys.astype(np.float64), pool.astype(np.float64)
    N, K, D = xs.shape
    out = np.zeros((N, K))
    for n in range(N):
        for k in range(K):
            X, y = xs[n, :k], ys[n, :k]
            precision = X.T @ X / noise_var + np.eye(D) / s2
            means = np.stack([np.linalg.solve(precision, X.T @ y / noise_var + w / s2) for w in W])
            C = noise_var * np.eye(k) + s2 * X @ X.T
            _, logdet = np.linalg.slogdet(C) if k else (1.0, 0.0)
            logits = np.array([-0.5 * (r @ np.linalg.solve(C, r)) - 0.5 * logdet
                               for r in (y[None, :] - W @ X.T)]) if k else np.zeros(len(W))
            p = np.exp(logits - logsumexp(logits))
            out[n, k] = (p @ means) @ xs[n, k]
    return out


def data(M, n, seed, D=D):
    pool = task_pool(M, D, seed)
    s = eval_set(D, K, NOISE, n, seed)
    return s["xs"], s["ys"], pool


@pytest.fixture(params=["torch", "native"])
def backend(request):
    if request.param == "native" and native.load("float64") is None:
        pytest.skip("no C compiler on this machine")
    return request.param


def assert_close(got, ref, tol):
    assert got.shape == ref.shape and np.all(np.isfinite(got))
    err = np.abs(got - ref).max()
    assert err <= tol * max(1.0, np.abs(ref).max()), f"max error {err:.3g}"


@pytest.mark.parametrize("M", [1, 5, 64])
@pytest.mark.parametrize("s2", [0.01, 0.3, 2.0])
def test_matches_explicit_mixture(M, s2, backend):
    xs, ys, pool = data(M, 5, seed=M)
    got = smoothed_dmmse_predict(xs, ys, pool, NOISE, s2, chunk_size=7, backend=backend)
    assert_close(got, mixture_reference(xs, ys, pool, NOISE, s2), 1e-8)


@pytest.mark.parametrize("dim", [1, 3])
def test_other_dimensions(dim, backend):
    xs, ys, pool = data(40, 4, seed=dim, D=dim)
    got = smoothed_dmmse_predict(xs, ys, pool, NOISE, 0.1, chunk_size=16, backend=backend)
    assert_close(got, mixture_reference(xs, ys, pool, NOISE, 0.1), 1e-8)


def test_small_variance_is_dmmse(backend):
    xs, ys, pool = data(200, 6, seed=3)
    ref = dmmse_predict(xs, ys, pool, NOISE, backend=backend)
    for s2, tol in ((1e-6, 1e-4), (1e-10, 1e-8)):
        got = smoothed_dmmse_predict(xs, ys, pool, NOISE, s2, backend=backend)
        assert_close(got, ref, tol)
    # and the smoothing does something at a moderate s^2
    assert np.abs(smoothed_dmmse_predict(xs, ys, pool, NOISE, 0.1) - ref).max() > 1e-2


@pytest.mark.parametrize("task_var", [1.0, 3.0])
def test_one_task_at_zero_is_ridge(task_var, backend):
    xs, ys, _ = data(1, 6, seed=4)
    got = smoothed_dmmse_predict(xs, ys, np.zeros((1, D)), NOISE, task_var, backend=backend)
    np.testing.assert_allclose(got, ridge_predict(xs, ys, NOISE, task_var), rtol=0, atol=1e-12)


def test_chunked_equals_unchunked(backend):
    xs, ys, pool = data(500, 10, seed=5)
    whole = smoothed_dmmse_predict(xs, ys, pool, NOISE, 0.05, chunk_size=500, seq_block=10,
                                   backend=backend)
    for chunk, block in ((1, 1), (37, 3), (128, 64)):
        got = smoothed_dmmse_predict(xs, ys, pool, NOISE, 0.05, chunk_size=chunk,
                                     seq_block=block, backend=backend)
        assert_close(got, whole, 1e-12)


def test_backends_agree():
    if native.load("float64") is None:
        pytest.skip("no C compiler on this machine")
    xs, ys, pool = data(4096, 16, seed=6)
    a = smoothed_dmmse_predict(xs, ys, pool, NOISE, 0.05, backend="torch")
    b = smoothed_dmmse_predict(xs, ys, pool, NOISE, 0.05, backend="native")
    assert_close(b, a, 1e-10)


def test_position_zero_is_pool_mean():
    xs, ys, pool = data(30, 5, seed=7)
    got = smoothed_dmmse_predict(xs, ys, pool, NOISE, 0.5)
    np.testing.assert_allclose(got[:, 0], xs[:, 0].astype(np.float64) @ pool.mean(axis=0, dtype=np.float64),
                               rtol=1e-12, atol=1e-12)


def test_bad_arguments():
    xs, ys, pool = data(10, 2, seed=8)
    for noise, s2 in ((0.0, 1.0), (NOISE, 0.0), (NOISE, -1.0)):
        with pytest.raises(ValueError, match="smoothing_var"):
            smoothed_dmmse_predict(xs, ys, pool, noise, s2)
    with pytest.raises(ValueError, match="pool"):
        smoothed_dmmse_predict(xs, ys, pool[:, :2], NOISE, 1.0)
    for grid in ([], [0.1, 0.0], [np.nan]):
        with pytest.raises(ValueError, match="grid"):
            tune_smoothing_var(xs, ys, pool, NOISE, grid)


# ---------------------------------------------------------------- tuning

def test_tuning_picks_the_grid_minimum():
    pool = task_pool(64, D, 9)
    tune = tuning_set(D, K, NOISE, 200, seed=9)
    grid = [2.0 ** e for e in range(-8, 3)]
    best, losses, stderrs = tune_smoothing_var(tune["xs"], tune["ys"], pool, NOISE, grid)
    assert best in grid and best == grid[int(np.argmin(losses))]
    assert np.all(stderrs > 0) and len(losses) == len(grid)
    # each recorded loss is the smoothed dMMSE's L/D on the tuning set, recomputed here
    i = grid.index(best)
    pred = mixture_reference(tune["xs"][:20], tune["ys"][:20], pool, NOISE, best)
    sub_best, sub_losses, _ = tune_smoothing_var(tune["xs"][:20], tune["ys"][:20], pool, NOISE, [best])
    assert np.isclose(sub_losses[0], ((pred - tune["ys"][:20]) ** 2).mean() / D, rtol=1e-9)
    # smoothing helps on T_True here: the best beats the smallest s^2 (nearly dMMSE)
    assert losses[i] < losses[0]


def test_tuning_set_is_not_the_evaluation_set():
    tune = tuning_set(D, K, NOISE, 300, seed=104)
    ev = eval_set(D, K, NOISE, 300, seed=104)
    again = tuning_set(D, K, NOISE, 300, seed=104)
    assert all(np.array_equal(tune[k], again[k]) for k in tune)       # reproducible
    for key in ("ws", "xs", "ys"):       # no task, input or label row in common
        rows = lambda a: {r.tobytes() for r in a.reshape(len(a), -1)}  # noqa: E731
        assert not rows(tune[key]) & rows(ev[key]), key
        # float32 draws coincide now and then; whole streams do not
        assert np.isin(tune[key], ev[key]).mean() < 1e-3, key
    # T_True: fresh N(0, I) tasks, not pool tasks
    assert abs(tune["ws"].std() - 1.0) < 0.1
