"""Ridge and dMMSE baselines against slow, obvious references.

The references below are deliberately naive: one numpy.linalg.solve per prefix for
Ridge, and for dMMSE an explicit float64 softmax over the whole pool per prefix
(scipy's logsumexp), with no chunking, streaming or pruning.
"""
import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from icl_diversity import native
from icl_diversity.baselines import dmmse_predict, ridge_predict, spatial_order
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
# Every test runs both backends: the torch code and the C kernel (icl_diversity.native).
# chunk_size/seq_block are set small so that the kernel's chunking, padding and
# pruning all happen on pools of a few hundred tasks.

@pytest.fixture(params=["torch", "native"])
def backend(request):
    if request.param == "native" and native.load("float64") is None:
        pytest.skip("no C compiler on this machine (test_native_kernel_builds checks)")
    return request.param


def test_native_kernel_builds():
    # A machine with a C compiler must get the kernel: a broken build would otherwise
    # only show as skipped tests and a slow workflow.
    if not native._compilers():
        pytest.skip("no C compiler on this machine")
    assert native.load("float64") is not None
    assert native.load("float32") is not None


@pytest.mark.parametrize("M", [1, 2, 37, 1000, 3000])
@pytest.mark.parametrize("chunk", [1, 7, "M", "2M"])
def test_dmmse_matches_bruteforce(M, chunk, backend):
    if chunk == 1 and M > 1000:
        pytest.skip("chunk 1 over 3000 tasks is slow and adds nothing over M=1000")
    chunk = {"M": M, "2M": 2 * M}.get(chunk, chunk)
    xs, ys, pool = data(M, 6, seed=M)
    got = dmmse_predict(xs, ys, pool, NOISE, chunk_size=chunk, backend=backend)
    assert got.dtype == np.float64
    assert_close(got, dmmse_reference(xs, ys, pool, NOISE), 1e-9)


@pytest.mark.parametrize("M", [16, 2048])
def test_dmmse_on_pretraining_tasks(M, backend):
    # the true task is in the pool: the posterior collapses onto it, so exp() sees
    # logit gaps of hundreds and most tasks are pruned after a few positions
    xs, ys, pool = data(M, 8, seed=5, in_pool=True)
    got = dmmse_predict(xs, ys, pool, NOISE, chunk_size=300, backend=backend)
    assert_close(got, dmmse_reference(xs, ys, pool, NOISE), 1e-9)


def test_dmmse_sequence_blocks_do_not_matter(backend):
    xs, ys, pool = data(500, 10, seed=6)
    a = dmmse_predict(xs, ys, pool, NOISE, chunk_size=64, seq_block=3, backend=backend)
    b = dmmse_predict(xs, ys, pool, NOISE, chunk_size=64, seq_block=64, backend=backend)
    assert_close(a, b, 1e-12)


def test_dmmse_position_zero_is_pool_mean(backend):
    xs, ys, pool = data(300, 5, seed=7)
    got = dmmse_predict(xs, ys, pool, NOISE, chunk_size=64, backend=backend)
    expected = xs[:, 0].astype(np.float64) @ pool.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["ys_x1e3", "pool_far", "tiny_noise"])
def test_dmmse_extreme_residuals(case, backend):
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
        got = dmmse_predict(xs, ys, pool, noise, chunk_size=chunk, backend=backend)
        assert_close(got, ref, 1e-9)


def test_dmmse_m1_is_the_single_task(backend):
    xs, ys, pool = data(1, 4, seed=9)
    got = dmmse_predict(xs, ys, pool, NOISE, backend=backend)
    np.testing.assert_allclose(got, xs.astype(np.float64) @ pool[0].astype(np.float64),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dim", [1, 3, 8, 9])
def test_dmmse_other_dimensions(dim, backend):
    # the kernel has code specialised for some D (1, 2, 4, 8, ...) and a generic path
    pool = task_pool(700, dim, 11)
    s = eval_set(dim, 12, NOISE, 5, 11)
    got = dmmse_predict(s["xs"], s["ys"], pool, NOISE, chunk_size=48, seq_block=2,
                        backend=backend)
    assert_close(got, dmmse_reference(s["xs"], s["ys"], pool, NOISE), 1e-9)


def test_dmmse_backends_agree_at_scale():
    # 2^15 tasks in the default blocking: the kernel prunes most of the pool at late
    # positions, on T_True and on T_Pretrain
    if native.load("float64") is None:
        pytest.skip("no C compiler on this machine")
    pool = task_pool(2 ** 15, D, 12)
    for in_pool in (False, True):
        s = eval_set(D, K, NOISE, 24, 12, pool=pool if in_pool else None,
                     M=2 ** 15 if in_pool else None)
        a = dmmse_predict(s["xs"], s["ys"], pool, NOISE, backend="torch")
        b = dmmse_predict(s["xs"], s["ys"], pool, NOISE, backend="native")
        assert_close(b, a, 1e-10)


def test_dmmse_auto_falls_back_to_torch(monkeypatch):
    xs, ys, pool = data(50, 4, seed=13)
    monkeypatch.setattr(native, "_loaded", {})
    monkeypatch.setattr(native, "_compilers", lambda: [])
    got = dmmse_predict(xs, ys, pool, NOISE)                     # auto: torch
    assert_close(got, dmmse_reference(xs, ys, pool, NOISE), 1e-9)
    with pytest.raises(RuntimeError, match="torch backend"):
        dmmse_predict(xs, ys, pool, NOISE, backend="native")


def test_dmmse_backend_arguments():
    xs, ys, pool = data(10, 2)
    with pytest.raises(ValueError, match="backend"):
        dmmse_predict(xs, ys, pool, NOISE, backend="fast")
    with pytest.raises(ValueError, match="CPU"):
        dmmse_predict(xs, ys, pool, NOISE, backend="native", device="meta")
    with pytest.raises(ValueError, match="float32 or float64"):
        dmmse_predict(xs, ys, pool, NOISE, backend="native", dtype=torch.float16)


def test_spatial_order_is_a_permutation():
    pool = task_pool(5000, D, 14)
    order = spatial_order(pool)
    assert np.array_equal(np.sort(order), np.arange(5000))
    assert np.array_equal(order, spatial_order(pool))           # deterministic
    # neighbours in the order are closer in w-space than random pairs
    ordered = pool[order]
    near = np.linalg.norm(np.diff(ordered, axis=0), axis=1).mean()
    rand = np.linalg.norm(np.diff(pool, axis=0), axis=1).mean()
    assert near < 0.8 * rand


# ---------------------------------------------------------------- dMMSE, float32

@pytest.mark.parametrize("M", [37, 3000])
def test_dmmse_float32(M, backend):
    # float32 logits carry an absolute error of about eps32 * |logit| per addition,
    # i.e. ~1e-6 * (a few tens) for the tasks that matter (logits within ~50 of the
    # max on unit-scale data), so the softmax weights are off by ~1e-5 relative;
    # 1e-4 of the prediction scale leaves a margin of ten. (float32 is not offered
    # as exact on badly scaled data: there the logits themselves reach 1e7.)
    xs, ys, pool = data(M, 6, seed=10)
    got = dmmse_predict(xs, ys, pool, NOISE, chunk_size=256, dtype=torch.float32,
                        backend=backend)
    assert got.dtype == np.float32
    assert_close(got, dmmse_reference(xs, ys, pool, NOISE), 1e-4)


@pytest.mark.parametrize("noise", [1e-8, 1e-10])
def test_dmmse_float32_extreme_residuals_stay_finite(noise, backend):
    # D = 8, M = 64, K = 16 with a tiny noise variance: negative logits reach ~1e9, where
    # float32 cannot represent U + 40 (the pruning limit) apart from U. The posterior is
    # then a point mass on the best task(s); the prediction must stay finite and equal
    # float64's best-task prediction to float32's resolution of the logits.
    xs, ys, pool = data(64, 6, seed=11)
    got = dmmse_predict(xs, ys, pool, noise, dtype=torch.float32, backend=backend)
    assert np.all(np.isfinite(got)), np.argwhere(~np.isfinite(got))
    ref = dmmse_predict(xs, ys, pool, noise, dtype=torch.float64, backend=backend)
    assert np.all(np.isfinite(ref))
    # past the first position (pool mean) both are the single best task's prediction
    assert_close(got[:, 2:].astype(np.float64), ref[:, 2:], 1e-3)


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
