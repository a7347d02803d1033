"""Ridge and dMMSE baselines against slow, obvious references.

The references below are deliberately naive: one numpy.linalg.solve per prefix for
Ridge, and for dMMSE an explicit float64 softmax over the whole pool per prefix
(scipy's logsumexp), with no chunking, streaming or pruning.
"""
import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from icl_diversity.baselines import dmmse_predict, ridge_predict
from icl_diversity.tasks import eval_set, task_pool

D, K, NOISE = 8, 16, 0.25


def ridge_reference(xs, ys, noise_var, task_var=1.0):
    xs, ys = xs.astype(np.float64), ys.astype(np.float64)
    N, K, D = xs.shape
    out = np.zeros((N, K))
    for n in range(N):
        for k in range(1, K):
            X, y = xs[n, :k], ys[n, :k]
            w = np.linalg.solve(X.T @ X + (noise_var / task_var) * np.eye(D), X.T @ y)
            out[n, k] = w @ xs[n, k]
    return out


def dmmse_reference(xs, ys, pool, noise_var):
    xs, ys, W = xs.astype(np.float64), ys.astype(np.float64), pool.astype(np.float64)
    N, K, D = xs.shape
    out = np.zeros((N, K))
    for n in range(N):
        for k in range(K):
            sse = ((ys[n, :k, None] - xs[n, :k] @ W.T) ** 2).sum(axis=0)    # (M,)
            logits = -sse / (2 * noise_var)
            p = np.exp(logits - logsumexp(logits))
            out[n, k] = (p @ W) @ xs[n, k]
    return out


def data(M, n, seed=0, in_pool=False):
    pool = task_pool(M, D, seed)
    s = eval_set(D, K, NOISE, n, seed, pool=pool if in_pool else None, M=M if in_pool else None)
    return s["xs"], s["ys"], pool


def assert_close(got, ref, rtol):
    """Relative to the scale of the predictions: entries near 0 get no free pass
    and no impossible demand either."""
    assert got.shape == ref.shape
    assert np.all(np.isfinite(got))
    scale = np.abs(ref).max()
    err = np.abs(got - ref).max()
    assert err <= rtol * scale, f"max error {err:.3g} vs scale {scale:.3g} (rtol {rtol})"


# ---------------------------------------------------------------- Ridge

def test_ridge_matches_per_prefix_solve():
    xs, ys, _ = data(4, 12, seed=1)
    assert_close(ridge_predict(xs, ys, NOISE), ridge_reference(xs, ys, NOISE), 1e-10)


def test_ridge_task_variance_enters_the_regulariser():
    xs, ys, _ = data(4, 6, seed=2)
    got = ridge_predict(xs, ys, NOISE, task_var=4.0)
    assert_close(got, ridge_reference(xs, ys, NOISE, task_var=4.0), 1e-10)
    # and it does matter: the task_var=1 answer differs
    assert np.abs(got - ridge_reference(xs, ys, NOISE)).max() > 1e-4


def test_ridge_position_zero_is_prior_mean():
    xs, ys, _ = data(4, 5, seed=3)
    assert np.all(ridge_predict(xs, ys, NOISE)[:, 0] == 0)


# ---------------------------------------------------------------- dMMSE, float64

@pytest.mark.parametrize("M", [1, 2, 37, 1000, 3000])
@pytest.mark.parametrize("chunk", [1, 7, "M", "2M"])
def test_dmmse_matches_bruteforce(M, chunk):
    if chunk == 1 and M > 1000:
        pytest.skip("chunk 1 over 3000 tasks is slow and adds nothing over M=1000")
    chunk = {"M": M, "2M": 2 * M}.get(chunk, chunk)
    xs, ys, pool = data(M, 6, seed=M)
    got = dmmse_predict(xs, ys, pool, NOISE, chunk_size=chunk)
    assert got.dtype == np.float64
    assert_close(got, dmmse_reference(xs, ys, pool, NOISE), 1e-9)


@pytest.mark.parametrize("M", [16, 2048])
def test_dmmse_on_pretraining_tasks(M):
    # the true task is in the pool: the posterior collapses onto it, so exp() sees
    # logit gaps of hundreds and most tasks are pruned after a few positions
    xs, ys, pool = data(M, 8, seed=5, in_pool=True)
    got = dmmse_predict(xs, ys, pool, NOISE, chunk_size=300)
    assert_close(got, dmmse_reference(xs, ys, pool, NOISE), 1e-9)


def test_dmmse_sequence_blocks_do_not_matter():
    xs, ys, pool = data(500, 10, seed=6)
    a = dmmse_predict(xs, ys, pool, NOISE, chunk_size=64, seq_block=3)
    b = dmmse_predict(xs, ys, pool, NOISE, chunk_size=64, seq_block=64)
    assert_close(a, b, 1e-12)


def test_dmmse_position_zero_is_pool_mean():
    xs, ys, pool = data(300, 5, seed=7)
    got = dmmse_predict(xs, ys, pool, NOISE, chunk_size=64)
    expected = xs[:, 0].astype(np.float64) @ pool.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["ys_x1e3", "pool_far", "tiny_noise"])
def test_dmmse_extreme_residuals(case):
    # logits of -1e8 and worse: a plain exp() underflows every task to 0 and 0/0 = NaN
    xs, ys, pool = data(200, 5, seed=8)
    noise = NOISE
    if case == "ys_x1e3":
        ys = ys * 1e3
    elif case == "pool_far":
        pool = pool + 1e3
    else:
        noise = 1e-8
    ref = dmmse_reference(xs, ys, pool, noise)
    assert np.all(np.isfinite(ref))
    for chunk in (7, 200):
        assert_close(dmmse_predict(xs, ys, pool, noise, chunk_size=chunk), ref, 1e-9)


def test_dmmse_m1_is_the_single_task():
    xs, ys, pool = data(1, 4, seed=9)
    got = dmmse_predict(xs, ys, pool, NOISE)
    np.testing.assert_allclose(got, xs.astype(np.float64) @ pool[0].astype(np.float64),
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- dMMSE, float32

@pytest.mark.parametrize("M", [37, 3000])
def test_dmmse_float32(M):
    # float32 logits carry an absolute error of about eps32 * |logit| per addition,
    # i.e. ~1e-6 * (a few tens) for the tasks that matter (logits within ~50 of the
    # max on unit-scale data), so the softmax weights are off by ~1e-5 relative;
    # 1e-4 of the prediction scale leaves a margin of ten. (float32 is not offered
    # as exact on badly scaled data: there the logits themselves reach 1e7.)
    xs, ys, pool = data(M, 6, seed=10)
    got = dmmse_predict(xs, ys, pool, NOISE, chunk_size=256, dtype=torch.float32)
    assert_close(got, dmmse_reference(xs, ys, pool, NOISE), 1e-4)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("shapes", [
    ((4, 16, 8), (4, 15), (10, 8)),     # ys length
    ((4, 16, 8), (4, 16), (10, 7)),     # pool dimension
    ((16, 8), (16,), (10, 8)),          # no sequence axis
    ((4, 16, 8), (4, 16), (0, 8)),      # empty pool
    ((4, 16, 8), (4, 16), (8,)),        # pool not 2-D
])
def test_dmmse_bad_shapes(shapes):
    xs, ys, pool = (np.zeros(s, dtype=np.float32) for s in shapes)
    with pytest.raises(ValueError):
        dmmse_predict(xs, ys, pool, NOISE)


@pytest.mark.parametrize("shapes", [((4, 16, 8), (4, 15)), ((16, 8), (16,)),
                                    ((4, 16, 8), (5, 16))])
def test_ridge_bad_shapes(shapes):
    xs, ys = (np.zeros(s, dtype=np.float32) for s in shapes)
    with pytest.raises(ValueError):
        ridge_predict(xs, ys, NOISE)


def test_dmmse_bad_noise():
    xs, ys, pool = data(10, 2)
    with pytest.raises(ValueError):
        dmmse_predict(xs, ys, pool, 0.0)
