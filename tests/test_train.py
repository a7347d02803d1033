"""Training: the schedule, learning, kill-and-resume, divergence."""
import numpy as np
import pytest
import torch

from icl_diversity.model import ModelConfig
from icl_diversity.tasks import eval_set, task_pool
from icl_diversity.train import TrainConfig, TrainingDiverged, train, triangle_lr

PROBLEM = {"D": 3, "K": 8, "noise_var": 0.25}
MODEL = ModelConfig(n_dims=3, n_points=8, n_layer=1, n_embd=16, n_head=2)
POOL = task_pool(4, 3, seed=0)
EVAL = {"true": eval_set(3, 8, 0.25, 256, 1), "pretrain": eval_set(3, 8, 0.25, 256, 1, pool=POOL, M=4)}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_triangle_schedule():
    lrs = [triangle_lr(s, 100, 1.0) for s in range(100)]
    assert int(np.argmax(lrs)) == 49 and lrs[49] == pytest.approx(1.0)
    assert lrs[0] == pytest.approx(0.02) and lrs[-1] == pytest.approx(0.02)
    assert all(a < b for a, b in zip(lrs[:49], lrs[1:50]))
    assert all(a > b for a, b in zip(lrs[50:], lrs[51:]))


def test_smoke_model_learns_and_beats_predicting_zero():
    tc = TrainConfig(batch_size=64, steps=600, lr=1e-2, eval_every=200, checkpoint_every=200)
    out = train(MODEL, tc, PROBLEM, POOL, EVAL, progress_file=False)
    assert out["loss"][-50:].mean() < 0.7 * out["loss"][:50].mean()
    ys = EVAL["pretrain"]["ys"]
    final = out["eval_preds"]["pretrain"][-1]
    assert np.mean((final - ys) ** 2) < 0.7 * np.mean(ys ** 2)
    assert list(out["eval_steps"]) == [0, 200, 400, 600]
    assert out["eval_preds"]["true"].shape == (4, 256, 8)


def test_training_seeds_give_different_runs_and_each_is_reproducible():
    tc = [TrainConfig(batch_size=16, steps=20, lr=3e-3, eval_every=10, checkpoint_every=10, seed=s)
          for s in (0, 1, 1)]
    runs = [train(MODEL, t, PROBLEM, POOL, EVAL, progress_file=False) for t in tc]
    np.testing.assert_array_equal(runs[1]["loss"], runs[2]["loss"])
    assert not np.allclose(runs[0]["loss"], runs[1]["loss"])
    # the initial weights differ too: the step-0 predictions do
    assert not np.allclose(runs[0]["eval_preds"]["true"][0], runs[1]["eval_preds"]["true"][0])


class Killed(Exception):
    pass


@pytest.mark.parametrize("weight_decay,seed", [(0.0, 0), (0.01, 3)])
def test_kill_and_resume_equals_uninterrupted(tmp_path, weight_decay, seed):
    tc = TrainConfig(batch_size=16, steps=60, lr=3e-3, weight_decay=weight_decay,
                     eval_every=10, checkpoint_every=10, seed=seed)
    straight = train(MODEL, tc, PROBLEM, POOL, EVAL, progress_file=False)

    ckpt = tmp_path / "rolling.pt"

    def kill_at_37(step):
        if step == 37:
            raise Killed
    with pytest.raises(Killed):
        train(MODEL, tc, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False,
              on_step=kill_at_37)
    assert ckpt.exists()
    resumed = train(MODEL, tc, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False)

    for (name, a), b in zip(straight["model"].state_dict().items(), resumed["model"].state_dict().values()):
        assert torch.equal(a, b), name
    np.testing.assert_array_equal(straight["loss"], resumed["loss"])
    np.testing.assert_array_equal(straight["eval_preds"]["true"], resumed["eval_preds"]["true"])
    np.testing.assert_array_equal(straight["eval_steps"], resumed["eval_steps"])


def killed_at_step_25(tc, tmp_path):
    """Train with a rolling checkpoint and die at step 25; returns the checkpoint."""
    ckpt = tmp_path / "rolling.pt"

    def kill(step):
        if step == 25:
            raise Killed
    with pytest.raises(Killed):
        train(MODEL, tc, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False, on_step=kill)
    return ckpt


def test_resume_survives_a_change_of_checkpoint_cadence(tmp_path, caplog):
    # how often to checkpoint is an execution knob, not part of what the run computes
    tc = TrainConfig(batch_size=16, steps=40, lr=3e-3, eval_every=10, checkpoint_every=10)
    straight = train(MODEL, tc, PROBLEM, POOL, EVAL, progress_file=False)
    ckpt = killed_at_step_25(tc, tmp_path)
    changed = TrainConfig(batch_size=16, steps=40, lr=3e-3, eval_every=10, checkpoint_every=7,
                          max_loss=1e6)
    with caplog.at_level("INFO", logger="icl_diversity"):
        resumed = train(MODEL, changed, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False)
    assert "resumed from" in caplog.text and "at step 20" in caplog.text
    np.testing.assert_array_equal(straight["loss"], resumed["loss"])


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_rolling_checkpoint_is_set_aside_and_training_restarts(tmp_path, caplog, damage):
    tc = TrainConfig(batch_size=16, steps=40, lr=3e-3, eval_every=10, checkpoint_every=10)
    straight = train(MODEL, tc, PROBLEM, POOL, EVAL, progress_file=False)
    ckpt = killed_at_step_25(tc, tmp_path)
    raw = bytearray(ckpt.read_bytes())
    if damage == "flip":
        # a byte inside the model's first weights: torch.load still opens the file
        w = torch.load(ckpt, weights_only=True)["model"]["h.0.mlp.c_fc.weight"]
        at = raw.find(w.contiguous().numpy().tobytes()[:32])
        assert at > 0
        raw[at + 9] ^= 0x04
        ckpt.write_bytes(bytes(raw))
    else:
        ckpt.write_bytes(bytes(raw[: len(raw) // 3]))
    with caplog.at_level("WARNING", logger="icl_diversity"):
        resumed = train(MODEL, tc, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False)
    assert "restarts from step 0" in caplog.text
    assert (tmp_path / "rolling.pt.corrupt").exists()
    # a clean restart: the same run as one never interrupted
    np.testing.assert_array_equal(straight["loss"], resumed["loss"])
    for a, b in zip(straight["model"].state_dict().values(), resumed["model"].state_dict().values()):
        assert torch.equal(a, b)


def test_checkpoint_of_another_config_is_not_resumed(tmp_path):
    tc = TrainConfig(batch_size=16, steps=40, lr=3e-3, eval_every=10, checkpoint_every=10)
    ckpt = killed_at_step_25(tc, tmp_path)
    other = TrainConfig(batch_size=16, steps=40, lr=1e-3, eval_every=10, checkpoint_every=10)
    fresh = train(MODEL, other, PROBLEM, POOL, EVAL, progress_file=False)
    from_ckpt = train(MODEL, other, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False)
    np.testing.assert_array_equal(fresh["loss"], from_ckpt["loss"])


def test_divergence_stops_with_the_step():
    tc = TrainConfig(batch_size=16, steps=50, lr=3e-3, eval_every=10, checkpoint_every=10,
                     max_loss=1e-6)
    with pytest.raises(TrainingDiverged, match="step 0"):
        train(MODEL, tc, PROBLEM, POOL, EVAL, progress_file=False)


def test_nan_data_stops_training():
    bad = np.full_like(POOL, np.nan)
    tc = TrainConfig(batch_size=16, steps=50, lr=3e-3, eval_every=10, checkpoint_every=10)
    with pytest.raises(TrainingDiverged, match="diverged at step 0: loss nan"):
        train(MODEL, tc, PROBLEM, bad, EVAL, progress_file=False)


def test_infinite_M_draws_fresh_tasks(monkeypatch):
    import icl_diversity.train as train_module
    from icl_diversity import tasks
    drawn, original = {}, tasks.draw_tasks

    def recording_draw(n, D, pool, task_rng, task_scale=1.0, prior="gaussian"):
        ws, idx = original(n, D, pool, task_rng, task_scale, prior)
        drawn.setdefault(pool is None, []).append(ws)
        return ws, idx
    monkeypatch.setattr(tasks, "draw_tasks", recording_draw)
    monkeypatch.setattr(train_module, "train_batch", tasks.train_batch)
    tc = TrainConfig(batch_size=16, steps=20, lr=3e-3, eval_every=10, checkpoint_every=10)
    out = train(MODEL, tc, PROBLEM, None, EVAL, progress_file=False)
    assert np.isfinite(out["loss"]).all()
    ws = np.concatenate(drawn[True])
    assert set(drawn) == {True} and ws.shape == (20 * 16, 3)
    assert len(np.unique(ws.round(6), axis=0)) == len(ws)     # every sequence a new task
    # ... while a pool of 4 gives at most 4 distinct tasks
    drawn.clear()
    train(MODEL, tc, PROBLEM, POOL, EVAL, progress_file=False)
    assert len(np.unique(np.concatenate(drawn[False]), axis=0)) <= 4


def test_infinite_M_under_the_laplace_prior_trains_on_laplace_tasks(monkeypatch):
    """The problem's prior reaches M = inf training: the fresh tasks have Laplace tails."""
    import icl_diversity.train as train_module
    from scipy import stats
    from icl_diversity import tasks
    drawn, original = [], tasks.draw_tasks

    def recording_draw(n, D, pool, task_rng, task_scale=1.0, prior="gaussian"):
        ws, idx = original(n, D, pool, task_rng, task_scale, prior)
        drawn.append((prior, ws))
        return ws, idx
    monkeypatch.setattr(tasks, "draw_tasks", recording_draw)
    monkeypatch.setattr(train_module, "train_batch", tasks.train_batch)
    tc = TrainConfig(batch_size=256, steps=8, lr=3e-3, eval_every=4, checkpoint_every=4)
    train(MODEL, tc, dict(PROBLEM, prior="laplace"), None, EVAL, progress_file=False)
    assert {prior for prior, _ in drawn} == {"laplace"}
    ws = np.concatenate([w for _, w in drawn]).ravel()     # 8 * 256 * 3 entries
    assert abs(ws.var() - 1.0) < 0.1 and stats.kurtosis(ws) > 2.0     # Gaussian: 0
