"""Fig 5's paths between pool tasks and linear mode connectivity (analysis.py)."""
import math

import numpy as np
import pytest
import torch

from icl_diversity.analysis import (barrier, distinct_pairs, interpolate_state,
                                    interpolation_set, path_losses, path_tasks)
from icl_diversity.checkpoint import save_checkpoint
from icl_diversity.model import ModelConfig, build_model, load_pretrained
from icl_diversity.tasks import eval_set, task_pool
from icl_diversity.train import predict_numpy

A = np.linspace(0, 1, 11)


def reference_path_task(w_i, w_j, a, norm):
    """One point of the path, written out in plain Python floats."""
    chord = [a * x + (1 - a) * y for x, y in zip(w_i, w_j)]
    length = math.sqrt(sum(c * c for c in chord))
    n_i, n_j = math.sqrt(sum(x * x for x in w_i)), math.sqrt(sum(y * y for y in w_j))
    radius = (n_i + n_j) / 2 if norm == "mean" else a * n_i + (1 - a) * n_j
    return [radius * c / length for c in chord]


@pytest.mark.parametrize("norm", ["mean", "linear"])
def test_path_tasks_follow_the_formula(norm):
    pool = task_pool(8, 4, seed=3).astype(np.float64)
    w_i, w_j = pool[:4], pool[4:]
    got = path_tasks(w_i, w_j, A, norm)
    assert got.shape == (len(A), 4, 4)
    for k, a in enumerate(A):
        for p in range(4):
            np.testing.assert_allclose(got[k, p], reference_path_task(w_i[p], w_j[p], a, norm),
                                       rtol=1e-12, atol=1e-12)
    norms = np.linalg.norm(got, axis=-1)
    n_i, n_j = np.linalg.norm(w_i, axis=-1), np.linalg.norm(w_j, axis=-1)
    want = ((n_i + n_j) / 2 * np.ones_like(A)[:, None] if norm == "mean"
            else A[:, None] * n_i + (1 - A[:, None]) * n_j)
    np.testing.assert_allclose(norms, want, rtol=1e-12)
    # the ends point along the pool tasks (a = 1: w_i, a = 0: w_j)
    np.testing.assert_allclose(got[-1] / norms[-1][:, None], w_i / n_i[:, None], atol=1e-12)
    np.testing.assert_allclose(got[0] / norms[0][:, None], w_j / n_j[:, None], atol=1e-12)


def test_path_ends_are_the_pool_tasks():
    pool = task_pool(8, 4, seed=3).astype(np.float64)
    ends = path_tasks(pool[:4], pool[4:], [0.0, 1.0], "linear")
    np.testing.assert_allclose(ends[1], pool[:4], rtol=1e-12)
    np.testing.assert_allclose(ends[0], pool[4:], rtol=1e-12)
    # the paper's formula (norm = mean of the two) gives the pool tasks when their norms agree
    w_j = pool[4:] / np.linalg.norm(pool[4:], axis=1, keepdims=True) \
        * np.linalg.norm(pool[:4], axis=1, keepdims=True)
    ends = path_tasks(pool[:4], w_j, [0.0, 1.0], "mean")
    np.testing.assert_allclose(ends[1], pool[:4], rtol=1e-12)
    np.testing.assert_allclose(ends[0], w_j, rtol=1e-12)


def test_path_tasks_refuse_a_bad_norm_and_a_path_through_zero():
    w = np.array([[1.0, 2.0]])
    with pytest.raises(ValueError, match="norm"):
        path_tasks(w, -w, A, "median")
    with pytest.raises(ValueError, match="w = 0"):
        path_tasks(w, -w, [0.5], "mean")


def test_distinct_pairs_cover_every_ordered_pair_and_never_repeat_a_task():
    i, j = distinct_pairs(3, 6000, np.random.default_rng(0))
    assert (i != j).all()
    counts = np.zeros((3, 3))
    np.add.at(counts, (i, j), 1)
    off = counts[~np.eye(3, dtype=bool)]
    assert np.all(np.abs(off / 6000 - 1 / 6) < 0.02), counts     # uniform over the 6 pairs
    with pytest.raises(ValueError, match="distinct"):
        distinct_pairs(1, 4, np.random.default_rng(0))


def test_interpolation_set_is_the_paths_with_shared_inputs_and_noise():
    pool = task_pool(16, 3, seed=5)
    s = interpolation_set(pool, K=6, noise_var=0.25, n_pairs=40, n_points=5, seed=9, norm="linear")
    n = 5 * 40
    assert s["xs"].shape == (n, 6, 3) and s["ys"].shape == (n, 6) and s["ws"].shape == (n, 3)
    assert (s["i"] != s["j"]).all()
    ws = s["ws"].reshape(5, 40, 3)
    np.testing.assert_allclose(ws[0], pool[s["j"]], rtol=1e-6)       # a = 0
    np.testing.assert_allclose(ws[-1], pool[s["i"]], rtol=1e-6)      # a = 1
    np.testing.assert_array_equal(s["a"].reshape(5, 40), np.repeat(np.linspace(0, 1, 5), 40).reshape(5, 40))
    xs = s["xs"].reshape(5, 40, 6, 3)
    assert all(np.array_equal(xs[0], xs[k]) for k in range(5))       # one input draw per pair
    noise = (s["ys"] - np.einsum("nkd,nd->nk", s["xs"], s["ws"])).reshape(5, 40, 6)
    np.testing.assert_allclose(noise, np.broadcast_to(noise[0], noise.shape), atol=1e-5)
    assert 0.15 < noise.var() < 0.35                                  # sigma^2 = 0.25


def test_interpolation_set_is_reproducible_from_its_seed_and_keyed_by_M():
    pool = task_pool(32, 3, seed=5)
    a = interpolation_set(pool, 6, 0.25, 20, 3, seed=9)
    b = interpolation_set(pool, 6, 0.25, 20, 3, seed=9)
    c = interpolation_set(pool, 6, 0.25, 20, 3, seed=10)
    d = interpolation_set(pool[:16], 6, 0.25, 20, 3, seed=9)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["xs"], c["xs"]) and not np.array_equal(a["i"], c["i"])
    assert not np.array_equal(a["xs"], d["xs"])          # another pool size, another stream
    # and none of its streams is the T_True evaluation set's
    true = eval_set(3, 6, 0.25, 20, seed=9)
    assert not np.array_equal(a["xs"][:20], true["xs"])


# ---------------------------------------------------------------- mode connectivity

CFG = ModelConfig(n_dims=3, n_points=6, n_layer=2, n_embd=16, n_head=2)


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """Two checkpoints of different weights, as the workflow writes them."""
    folder = tmp_path_factory.mktemp("models")
    paths = []
    for seed in (1, 2):
        model = build_model(CFG, seed)
        with torch.no_grad():     # move off the initialisation, so the outputs are not ~0
            for p in model.parameters():
                p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)))
        path = folder / f"model{seed}.pt"
        save_checkpoint(path, {"model": model.state_dict(), "model_config": CFG.to_dict()})
        paths.append(path)
    return paths


def own_loss(path, data):
    """Per-sequence L/D of a saved model, the way any consumer of model.pt gets it."""
    pred = predict_numpy(load_pretrained(path), data["xs"], data["ys"]).astype(np.float64)
    return ((pred - data["ys"].astype(np.float64)) ** 2).mean(axis=1) / CFG.n_dims


def test_path_ends_reproduce_the_endpoint_models_losses_exactly(two_models):
    data = eval_set(3, 6, 0.25, 64, seed=4)
    a, b = (load_pretrained(p).state_dict() for p in two_models)
    losses = path_losses(a, b, CFG.to_dict(), np.linspace(0, 1, 5), data["xs"], data["ys"], 3)
    np.testing.assert_array_equal(losses[0], own_loss(two_models[0], data))
    np.testing.assert_array_equal(losses[-1], own_loss(two_models[1], data))
    assert not np.allclose(losses[2], losses[0])          # the middle is another model


def test_barrier_of_a_model_with_itself_is_zero(two_models):
    data = eval_set(3, 6, 0.25, 64, seed=4)
    a = load_pretrained(two_models[0]).state_dict()
    ts = np.linspace(0, 1, 7)
    losses = path_losses(a, a, CFG.to_dict(), ts, data["xs"], data["ys"], 3)
    assert barrier(ts, losses) == {"barrier": 0.0, "t_max": 0.0, "barrier_stderr": 0.0}


def test_interpolated_weights_are_the_straight_line(two_models):
    a, b = (load_pretrained(p).state_dict() for p in two_models)
    mid = interpolate_state(a, b, 0.25)
    for k in a:
        np.testing.assert_allclose(mid[k].double(), 0.75 * a[k].double() + 0.25 * b[k].double(),
                                   rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="different parameters"):
        interpolate_state(a, {k: v for k, v in b.items() if k != "wpe.weight"}, 0.5)


def test_barrier_against_brute_force():
    rng = np.random.default_rng(0)
    ts = np.linspace(0, 1, 9)
    ends = rng.uniform(0.5, 1.0, size=(2, 200))
    bump = 0.3 * np.sin(np.pi * ts)[:, None] * rng.uniform(0.5, 1.5, size=200)
    losses = (1 - ts[:, None]) * ends[0] + ts[:, None] * ends[1] + bump
    got = barrier(ts, losses)
    mean = losses.mean(axis=1)
    excess = [mean[k] - ((1 - t) * mean[0] + t * mean[-1]) for k, t in enumerate(ts)]
    k = int(np.argmax(excess))
    assert got["t_max"] == 0.5 and got["barrier"] == pytest.approx(excess[k], rel=1e-12)
    per_seq = losses[k] - ((1 - ts[k]) * losses[0] + ts[k] * losses[-1])
    assert got["barrier_stderr"] == pytest.approx(per_seq.std(ddof=1) / np.sqrt(200), rel=1e-9)
    # a loss below the straight line everywhere: no barrier
    assert barrier(ts, losses - 2 * bump)["barrier"] == 0.0
    with pytest.raises(ValueError, match="t grid"):
        barrier(ts[1:], losses[1:])
