"""Training: the schedule, learning, kill-and-resume, divergence."""
import numpy as np
import pytest
import torch

from icl_diversity.model import ModelConfig
from icl_diversity.tasks import eval_set, task_pool
from icl_diversity.train import (TrainConfig, TrainingDiverged, log_paths, loss_table, train,
                                 triangle_lr)

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
    final = out["final_preds"]["pretrain"]
    assert np.mean((final - ys) ** 2) < 0.7 * np.mean(ys ** 2)
    assert list(out["eval_steps"]) == [0, 200, 400, 600]
    assert out["curve_preds"]["true"].shape == (4, 256, 8) and final.shape == (256, 8)


def test_training_seeds_give_different_runs_and_each_is_reproducible():
    tc = [TrainConfig(batch_size=16, steps=20, lr=3e-3, eval_every=10, checkpoint_every=10, seed=s)
          for s in (0, 1, 1)]
    runs = [train(MODEL, t, PROBLEM, POOL, EVAL, progress_file=False) for t in tc]
    np.testing.assert_array_equal(runs[1]["loss"], runs[2]["loss"])
    assert not np.allclose(runs[0]["loss"], runs[1]["loss"])
    # the initial weights differ too: the step-0 predictions do
    assert not np.allclose(runs[0]["curve_preds"]["true"][0], runs[1]["curve_preds"]["true"][0])


class Killed(Exception):
    pass


@pytest.mark.parametrize("weight_decay,seed,check_every,curve", [(0.0, 0, 100, None), (0.01, 3, 7, 32)])
def test_kill_and_resume_equals_uninterrupted(tmp_path, weight_decay, seed, check_every, curve):
    tc = TrainConfig(batch_size=16, steps=60, lr=3e-3, weight_decay=weight_decay,
                     eval_every=10, checkpoint_every=10, seed=seed, check_every=check_every,
                     curve_sequences=curve)
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
    for name in EVAL:
        np.testing.assert_array_equal(straight["curve_preds"][name], resumed["curve_preds"][name])
        np.testing.assert_array_equal(straight["final_preds"][name], resumed["final_preds"][name])
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


def test_logged_losses_and_predictions_are_those_of_a_plain_loop():
    """train() against the obvious loop: the same init, Adam, schedule and batches
    (BatchStream at each step), the loss read at every step. Equal to the bit, whatever
    the cadence of the loss reads."""
    from icl_diversity.batches import BatchStream
    from icl_diversity.model import build_model
    from icl_diversity.tasks import model_init_seed
    from icl_diversity.train import make_optimizer
    tc = TrainConfig(batch_size=16, steps=23, lr=3e-3, eval_every=10, checkpoint_every=10,
                     seed=2, check_every=5, curve_sequences=16)
    out = train(MODEL, tc, PROBLEM, POOL, EVAL, progress_file=False)
    model = build_model(MODEL, model_init_seed(tc.model_seed, tc.seed))
    opt = make_optimizer(model, tc)
    batches = BatchStream(16, 3, 8, 0.25, tc.data_seed, POOL, replicate=tc.seed)
    losses = []
    for step in range(tc.steps):
        for group in opt.param_groups:
            group["lr"] = triangle_lr(step, tc.steps, tc.lr)
        xs, ys = batches(step)
        loss = torch.nn.functional.mse_loss(model(xs, ys), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.testing.assert_array_equal(out["loss"], np.float32(losses))
    with torch.no_grad():
        final = model.eval()(torch.from_numpy(EVAL["true"]["xs"]), torch.from_numpy(EVAL["true"]["ys"]))
    np.testing.assert_array_equal(out["final_preds"]["true"], final.numpy())
    assert list(out["eval_steps"]) == [0, 10, 20, 23]
    # the curve sequences are the first 16; at the last step they are the final rows
    np.testing.assert_array_equal(out["curve_preds"]["true"][-1], final.numpy()[:16])


def killed_at(step, tc, folder):
    """Train with a rolling checkpoint and die after `step`; returns the checkpoint."""
    ckpt = folder / "rolling.pt"

    def kill(s):
        if s == step:
            raise Killed
    with pytest.raises(Killed):
        train(MODEL, tc, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False, on_step=kill)
    return ckpt


def test_rolling_checkpoint_does_not_grow_with_the_steps(tmp_path):
    tc = TrainConfig(batch_size=16, steps=200, lr=3e-3, eval_every=5, checkpoint_every=10)
    early = killed_at(11, tc, tmp_path / "early")       # checkpoint of step 10
    late = killed_at(191, tc, tmp_path / "late")        # checkpoint of step 190
    assert torch.load(early, weights_only=True)["state"]["step"] == 10
    assert torch.load(late, weights_only=True)["state"]["step"] == 190
    assert early.stat().st_size == late.stat().st_size
    # what grows is in the logs beside it: 3 vs 39 evaluations, 10 vs 190 losses (at least)
    logs = {name: (log_paths(early)[name].stat().st_size, log_paths(late)[name].stat().st_size)
            for name in ("evals", "loss")}
    record = 8 + 2 * 256 * 8 * 4
    assert logs["evals"][0] >= 3 * record and logs["evals"][1] >= 39 * record
    assert logs["loss"][0] >= 10 * 4 and logs["loss"][1] >= 190 * 4


@pytest.mark.parametrize("log,damage,message", [
    ("evals", "flip", "differs from what its checkpoint recorded"),
    ("loss", "truncate", "shorter than its checkpoint recorded"),
    ("loss", "remove", "missing"),
])
def test_damaged_log_restarts_training_from_step_0(tmp_path, caplog, log, damage, message):
    tc = TrainConfig(batch_size=16, steps=40, lr=3e-3, eval_every=10, checkpoint_every=10)
    straight = train(MODEL, tc, PROBLEM, POOL, EVAL, progress_file=False)
    path = log_paths(killed_at_step_25(tc, tmp_path))[log]
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[100] ^= 0x10
        path.write_bytes(bytes(raw))
    elif damage == "truncate":
        path.write_bytes(bytes(raw[:40]))        # 10 of the checkpoint's 20 losses
    else:
        path.unlink()
    with caplog.at_level("WARNING", logger="icl_diversity"):
        resumed = train(MODEL, tc, PROBLEM, POOL, EVAL, checkpoint_path=tmp_path / "rolling.pt",
                        progress_file=False)
    assert message in caplog.text and "restarts from step 0" in caplog.text
    np.testing.assert_array_equal(straight["loss"], resumed["loss"])
    np.testing.assert_array_equal(straight["curve_preds"]["true"], resumed["curve_preds"]["true"])


def test_divergence_inside_a_window_names_its_step_and_is_never_checkpointed(tmp_path, monkeypatch):
    from icl_diversity.batches import BatchStream
    original = BatchStream.__call__

    def nan_at_13(self, step):
        xs, ys = original(self, step)
        return xs, ys * float("nan") if step == 13 else ys
    monkeypatch.setattr(BatchStream, "__call__", nan_at_13)
    tc = TrainConfig(batch_size=16, steps=50, lr=3e-3, eval_every=10, checkpoint_every=20,
                     check_every=8)
    ckpt = tmp_path / "rolling.pt"
    with pytest.raises(TrainingDiverged, match="diverged at step 13: loss nan"):
        train(MODEL, tc, PROBLEM, POOL, EVAL, checkpoint_path=ckpt, progress_file=False)
    assert not ckpt.exists()       # the first checkpoint (step 20) comes after the check


def test_curve_sequences_beyond_the_evaluation_set_are_refused():
    tc = TrainConfig(batch_size=16, steps=10, lr=3e-3, curve_sequences=257)
    with pytest.raises(ValueError, match="curve_sequences = 257.*256"):
        train(MODEL, tc, PROBLEM, POOL, EVAL, progress_file=False)


def test_loss_table_keeps_every_step_of_a_short_run_and_window_means_of_a_long_one():
    loss = np.random.default_rng(0).random(25).astype(np.float32)
    every = loss_table(loss, 1.0, max_rows=25)
    np.testing.assert_array_equal(every["step"], np.arange(1, 26))
    np.testing.assert_array_equal(every["loss"], loss.astype(np.float64))
    np.testing.assert_allclose(every["lr"], [triangle_lr(s, 25, 1.0) for s in range(25)])
    means = loss_table(loss, 1.0, max_rows=10)              # windows of 3 steps, the last of 1
    assert list(means["step"]) == [3, 6, 9, 12, 15, 18, 21, 24, 25]
    want = [np.mean(loss[i:i + 3].astype(np.float64)) for i in range(0, 25, 3)]
    np.testing.assert_allclose(means["loss"], want, rtol=1e-12)
    assert means["lr"][-1] == triangle_lr(24, 25, 1.0)


def test_infinite_M_under_the_laplace_prior_trains_on_laplace_tasks(monkeypatch):
    """The problem's prior reaches M = inf training: the fresh tasks have Laplace tails."""
    from scipy import stats
    from icl_diversity.batches import BatchStream
    drawn, original = [], BatchStream.tasks

    def recording_tasks(self, step):
        ws = original(self, step)
        drawn.append((self.prior, ws.numpy().copy()))
        return ws
    monkeypatch.setattr(BatchStream, "tasks", recording_tasks)
    tc = TrainConfig(batch_size=256, steps=8, lr=3e-3, eval_every=4, checkpoint_every=4)
    train(MODEL, tc, dict(PROBLEM, prior="laplace"), None, EVAL, progress_file=False)
    assert {prior for prior, _ in drawn} == {"laplace"}
    ws = np.concatenate([w for _, w in drawn]).ravel()     # 8 * 256 * 3 entries
    assert abs(ws.var() - 1.0) < 0.1 and stats.kurtosis(ws) > 2.0     # Gaussian: 0
