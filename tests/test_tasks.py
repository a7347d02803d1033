"""Pools and evaluation sets are reproducible, seed-dependent, and T_Pretrain uses pool tasks."""
import numpy as np
import pytest

from icl_diversity import tasks
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
