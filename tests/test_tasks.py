"""Pools and evaluation sets are reproducible, seed-dependent, and T_Pretrain uses pool tasks."""
import numpy as np
import pytest

from icl_diversity import tasks
from icl_diversity.batches import BatchStream
from icl_diversity.tasks import eval_set, rng, task_pool


def test_pool_is_reproducible_and_seeded():
    a, b = task_pool(64, 5, seed=3), task_pool(64, 5, seed=3)
    assert a.shape == (64, 5) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, task_pool(64, 5, seed=4))


def test_pools_are_nested_prefixes():
    big = task_pool(1024, 4, seed=1)
    for M in (1, 2, 16, 512):
        np.testing.assert_array_equal(task_pool(M, 4, seed=1), big[:M])


def test_pool_rejects_bad_sizes():
    with pytest.raises(ValueError):
        task_pool(0, 4, seed=1)
    with pytest.raises(ValueError):
        task_pool(float("inf"), 4, seed=1)


def test_eval_sets_are_reproducible_and_seeded():
    pool = task_pool(16, 4, seed=1)
    for kwargs in ({}, {"pool": pool, "M": 16}):
        a, b = eval_set(4, 8, 0.25, 32, 7, **kwargs), eval_set(4, 8, 0.25, 32, 7, **kwargs)
        for k in ("xs", "ys", "ws", "task_idx"):
            np.testing.assert_array_equal(a[k], b[k])
        c = eval_set(4, 8, 0.25, 32, 8, **kwargs)
        assert not np.allclose(a["xs"], c["xs"])


def test_pretrain_eval_set_uses_only_pool_tasks():
    pool = task_pool(8, 3, seed=2)
    data = eval_set(3, 5, 0.25, 500, 9, pool=pool, M=8)
    np.testing.assert_array_equal(data["ws"], pool[data["task_idx"]])
    assert set(np.unique(data["task_idx"])) <= set(range(8))
    assert len(np.unique(data["task_idx"])) == 8   # 500 draws cover all 8 tasks


def test_labels_follow_the_model():
    data = eval_set(4, 6, 0.25, 4000, 1)
    resid = data["ys"] - np.einsum("nkd,nd->nk", data["xs"], data["ws"])
    assert abs(resid.var() - 0.25) < 0.02       # noise variance sigma^2
    assert abs(data["ws"].var() - 1.0) < 0.05   # w ~ N(0, I)


def test_streams_never_coincide():
    # Evaluation streams are keyed apart from training ones, and steps apart from each other.
    draws = {
        "train_x step 0": rng(1, "train_x", 0).standard_normal(8),
        "train_x step 1": rng(1, "train_x", 1).standard_normal(8),
        "eval_x T_True": rng(1, "eval_x", 0).standard_normal(8),
        "pool": rng(1, "pool").standard_normal(8),
    }
    values = list(draws.values())
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            assert not np.allclose(values[i], values[j])
    with pytest.raises(KeyError):
        rng(1, "nonsense")


def test_each_training_seed_has_its_own_init():
    from icl_diversity.tasks import model_init_seed
    inits = {model_init_seed(100, r) for r in range(50)}
    assert len(inits) == 50 and model_init_seed(100, 7) == model_init_seed(100, 7)
    assert model_init_seed(100, 0) != model_init_seed(101, 0)


def test_shape_checks_name_the_file_and_the_mismatch():
    from icl_diversity.tasks import check_eval_set, check_pool
    pool = task_pool(2, 4, seed=0)
    check_pool(pool, 2, 4, "pool_M2.npy")
    with pytest.raises(ValueError, match=r"pool_M16.npy.*\(2, 4\).*\(16, 4\)"):
        check_pool(pool, 16, 4, "pool_M16.npy")     # a 2-row pool copied over pool_M16
    s = eval_set(4, 8, 0.25, 10, 1)
    check_eval_set(s, 8, 4, "true.npz", n=10)
    with pytest.raises(ValueError, match="true.npz: xs"):
        check_eval_set(s, 16, 4, "true.npz")
    with pytest.raises(ValueError, match="true.npz: xs"):
        check_eval_set(s, 8, 4, "true.npz", n=12)


def test_every_stream_purpose_has_its_own_code():
    # two purposes sharing a code would draw the same numbers for different things
    assert len(set(tasks.PURPOSES.values())) == len(tasks.PURPOSES)


# ---------------------------------------------------------------- the task prior

def _moments(x):
    x = np.asarray(x, dtype=np.float64).ravel()
    centred = x - x.mean()
    return x.mean(), x.var(), np.mean(centred ** 4) / np.mean(centred ** 2) ** 2 - 3.0


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_laplace_draws_have_the_variance_of_the_gaussian_and_laplace_tails(scale):
    # 2^18 draws: the standard error of the mean is scale * 0.002, of the variance about
    # 1% (Laplace: sqrt((kurtosis + 2) / n)), of the excess kurtosis about 0.1
    from icl_diversity.tasks import draw_w
    w = draw_w(rng(7, "pool"), (2 ** 16, 4), scale, "laplace")
    mean, var, kurt = _moments(w)
    assert abs(mean) < 0.01 * scale
    assert abs(var / scale ** 2 - 1.0) < 0.03
    assert abs(kurt - 3.0) < 0.5                        # Laplace: 3
    _, var_g, kurt_g = _moments(draw_w(rng(7, "pool"), (2 ** 16, 4), scale, "gaussian"))
    assert abs(var_g / scale ** 2 - 1.0) < 0.03 and abs(kurt_g) < 0.1   # Gaussian: 0
    with pytest.raises(ValueError, match="cauchy"):
        draw_w(rng(7, "pool"), (4, 4), 1.0, "cauchy")


def test_the_gaussian_prior_draws_what_it_drew_before_priors_existed():
    # a finished study must find its pools, evaluation sets and batches unchanged
    np.testing.assert_array_equal(task_pool(32, 4, seed=102),
                                  rng(102, "pool").standard_normal((32, 4)).astype(np.float32))
    ws = eval_set(4, 8, 0.25, 64, seed=104)["ws"]
    np.testing.assert_array_equal(ws, rng(104, "eval_task", 0).standard_normal((64, 4)).astype(np.float32))


def test_the_prior_reaches_pools_T_True_and_M_inf_batches():
    kurtosis = {}
    for prior in ("gaussian", "laplace"):
        pool = task_pool(2 ** 14, 8, seed=3, prior=prior)
        true = eval_set(8, 4, 0.25, 2 ** 14, seed=5, prior=prior)
        kurtosis[prior] = [_moments(pool)[2], _moments(true["ws"])[2]]
        # M = inf batches: without noise ys = xs . w exactly, and K = 16 > D recovers each w
        xs, ys = BatchStream(1024, 8, 16, 0.0, seed=6, pool=None, prior=prior)(0)
        w = np.stack([np.linalg.lstsq(x.double().numpy(), y.double().numpy(), rcond=None)[0]
                      for x, y in zip(xs, ys)])
        kurtosis[prior].append(_moments(w)[2])
    assert all(abs(k) < 0.25 for k in kurtosis["gaussian"]), kurtosis
    assert all(abs(k - 3.0) < 1.0 for k in kurtosis["laplace"]), kurtosis
    # a pool under the Laplace prior is still nested
    big = task_pool(64, 3, seed=1, prior="laplace")
    np.testing.assert_array_equal(task_pool(8, 3, seed=1, prior="laplace"), big[:8])
