"""Pretraining one transformer on one task pool: Adam(W) with the triangle schedule,
batches made on the device from (seed, step), rolling checkpoints, periodic evaluation.

A run resumed from its rolling checkpoint ends with the same weights and records as an
uninterrupted one: the data is a function of the step, the checkpoint holds the model
and the optimiser state, and what the run records as it goes (the loss of every step,
the predictions on the curve sequences at every evaluation) sits in append-only logs
beside the checkpoint, which holds only their length and digest (runlog.py). So neither
the checkpoint nor the memory grows with the number of steps.

The loop never waits for the device within a step: losses stay on the device and are
read (and checked for NaN and divergence) every `check_every` steps and before every
checkpoint; evaluation runs on the device too.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .batches import BatchStream
from .checkpoint import CorruptCheckpoint, load_checkpoint, save_checkpoint
from .model import ICLTransformer, ModelConfig, build_model
from .runlog import AppendLog, LogMismatch
from .tasks import model_init_seed

log = logging.getLogger("icl_diversity")

# TrainConfig fields that change how a run executes, never what it computes: a
# checkpoint made under other values is resumed.
EXECUTION_KNOBS = ("checkpoint_every", "max_loss", "check_every")
LOSS_ROWS = 10_000      # train_loss.csv has at most this many rows (means over equal windows)


@dataclass
class TrainConfig:
    batch_size: int
    steps: int
    lr: float
    weight_decay: float = 0.0
    eval_every: int = 1000
    checkpoint_every: int = 1000
    max_loss: float = 1e4
    data_seed: int = 101
    model_seed: int = 100
    seed: int = 0           # the run's training seed (sweep axis): keys init and batches
    curve_sequences: int | None = None  # per evaluation set, predicted at every evaluation (None: all)
    check_every: int = 100  # steps between reads of the losses (each waits for the device)


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf or exceeded max_loss: at `step` (0-based), with `loss`;
    `logged` holds the loss of every step before the window it happened in."""

    def __init__(self, message: str, step: int = -1, loss: float = float("nan"),
                 logged: np.ndarray | None = None):
        super().__init__(message)
        self.step, self.loss = step, loss
        self.logged = np.zeros(0, np.float32) if logged is None else logged


def triangle_lr(step: int, steps: int, peak: float) -> float:
    """Linear warm-up over the first half of the steps, linear decay over the second;
    never exactly 0, so no step is wasted."""
    half = steps / 2
    return peak * min((step + 1) / half, (steps - step) / half)


def make_optimizer(model: ICLTransformer, tc: TrainConfig) -> torch.optim.Optimizer:
    if tc.weight_decay > 0:
        return torch.optim.AdamW(model.param_groups(tc.weight_decay), lr=tc.lr,
                                 betas=(0.9, 0.999), eps=1e-8)
    return torch.optim.Adam(model.parameters(), lr=tc.lr, betas=(0.9, 0.999), eps=1e-8)


@torch.no_grad()
def predict(model: torch.nn.Module, xs: torch.Tensor, ys: torch.Tensor, batch: int = 2048) -> torch.Tensor:
    """Predictions (N, K), float32, on the device the inputs are on, in batches."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(xs[i:i + batch], ys[i:i + batch]).float() for i in range(0, len(xs), batch)])
    model.train(was_training)
    return out


def predict_numpy(model: torch.nn.Module, xs: np.ndarray, ys: np.ndarray,
                  batch: int = 2048) -> np.ndarray:
    """predict() on numpy sequences (the model's device): (N, K) float32 numpy."""
    device = next(model.parameters()).device
    return predict(model, torch.from_numpy(np.ascontiguousarray(xs)).to(device),
                   torch.from_numpy(np.ascontiguousarray(ys)).to(device), batch).cpu().numpy()


def _fingerprint(model_cfg: ModelConfig, tc: TrainConfig, problem: dict, pool) -> dict:
    """What a checkpoint must match to be resumed (anything else starts afresh)."""
    pool_hash = "none" if pool is None else hashlib.sha256(np.ascontiguousarray(pool).tobytes()).hexdigest()
    train = {k: v for k, v in asdict(tc).items() if k not in EXECUTION_KNOBS}
    return {"model": model_cfg.to_dict(), "train": train,
            "problem": {k: problem[k] for k in sorted(problem)}, "pool_sha256": pool_hash}


def curve_size(tc: TrainConfig, eval_sets: dict) -> int:
    """How many sequences of each evaluation set (the first ones) are predicted at every
    evaluation step. The sets are i.i.d. draws, so their first S are a random sample."""
    n = min(len(data["xs"]) for data in eval_sets.values())
    if tc.curve_sequences is None:
        return n
    if not 1 <= tc.curve_sequences <= n:
        raise ValueError(f"curve_sequences = {tc.curve_sequences} must be between 1 and the "
                         f"number of evaluation sequences ({n})")
    return tc.curve_sequences


def log_paths(checkpoint_path) -> dict[str, Path]:
    """The run's append-only logs, beside its rolling checkpoint."""
    path = Path(checkpoint_path)
    return {"evals": path.with_name(path.name + ".evals"), "loss": path.with_name(path.name + ".loss")}


def _resume(ckpt_path, fingerprint, model, opt, logs) -> int:
    """Load the rolling checkpoint and continue its logs when they match this run;
    returns the step to start from (0: a fresh start, with empty logs)."""
    ckpt = None
    if ckpt_path is not None and ckpt_path.exists():
        try:
            ckpt = load_checkpoint(ckpt_path, map_location=next(model.parameters()).device)
        except CorruptCheckpoint as e:
            # set aside (not deleted: it may be wanted for a post-mortem); start afresh
            aside = ckpt_path.with_name(ckpt_path.name + ".corrupt")
            os.replace(ckpt_path, aside)
            log.warning("%s; moved it to %s and training restarts from step 0", e, aside)
    if ckpt is not None and ckpt.get("fingerprint") != fingerprint:
        log.warning("ignoring checkpoint %s: it was made with a different config", ckpt_path)
    elif ckpt is not None:
        try:
            for name, run_log in logs.items():
                run_log.resume(ckpt["state"]["logs"][name])
        except LogMismatch as e:
            log.warning("%s; training restarts from step 0", e)
        else:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            torch.set_rng_state(ckpt["torch_rng"])
            log.info("resumed from %s at step %d", ckpt_path, ckpt["state"]["step"])
            return ckpt["state"]["step"]
    for run_log in logs.values():
        run_log.start()
    return 0


def train(model_cfg: ModelConfig, tc: TrainConfig, problem: dict, pool: np.ndarray | None,
          eval_sets: dict[str, dict], checkpoint_path=None, device: str = "cpu",
          progress_file=None, compile: bool = False, bf16: bool = False, on_step=None) -> dict:
    """Train one model. Returns the model, the evaluation steps (E,), the predictions
    on the curve sequences at each of them per evaluation set (E, S, K), the final
    predictions on every sequence (N, K), and the loss of every step.

    `on_step(step)` is called after every optimiser step (tests use it to simulate a kill).
    """
    fingerprint = _fingerprint(model_cfg, tc, problem, pool)
    n_curve, K = curve_size(tc, eval_sets), problem["K"]
    model = build_model(model_cfg, model_init_seed(tc.model_seed, tc.seed)).to(device)
    opt = make_optimizer(model, tc)
    sets = {name: {k: torch.as_tensor(data[k], device=device) for k in ("xs", "ys")}
            for name, data in eval_sets.items()}
    with contextlib.ExitStack() as stack:
        if checkpoint_path:
            ckpt_path = Path(checkpoint_path)
            paths = log_paths(ckpt_path)
        else:   # nothing to resume: the logs live in a folder removed at the end
            ckpt_path, paths = None, log_paths(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "run")
        logs = {"evals": AppendLog(paths["evals"], [("step", "<i8")] + [(name, "<f4", (n_curve, K)) for name in sets]),
                "loss": AppendLog(paths["loss"], "<f4")}
        for run_log in logs.values():
            stack.callback(run_log.close)
        step = _resume(ckpt_path, fingerprint, model, opt, logs)
        final = _loop(model, opt, tc, problem, pool, sets, n_curve, logs, step, device, fingerprint,
                      ckpt_path, progress_file, compile, bf16, on_step)
        try:   # the logs as written: a log changed during the run leaves no result
            evals, loss = logs["evals"].read(), logs["loss"].read()
        except LogMismatch as e:
            kept = (f"; the rolling checkpoint {ckpt_path} is kept: a rerun resumes from it (or "
                    "starts afresh if the log's part before it changed too)") if ckpt_path else ""
            raise LogMismatch(f"{e}{kept}") from e
        return {"model": model, "eval_steps": evals["step"],
                "curve_preds": {name: evals[name] for name in sets},
                "final_preds": {name: preds.cpu().numpy() for name, preds in final.items()},
                "loss": loss, "fingerprint": fingerprint}


def _loop(model, opt, tc, problem, pool, sets, n_curve, logs, step, device, fingerprint,
          ckpt_path, progress_file, compile, bf16, on_step) -> dict:
    """The training loop from `step` to the end; returns the final predictions on
    every evaluation sequence (device tensors)."""
    D = problem["D"]
    batches = BatchStream(tc.batch_size, D, problem["K"], problem["noise_var"], tc.data_seed, pool,
                          problem.get("task_scale", 1.0), problem.get("x_scale", 1.0), tc.seed, device,
                          problem.get("prior", "gaussian"))
    step_fn = torch.compile(model) if compile else model
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16 and str(device).startswith("cuda"))
    bar = tqdm(total=tc.steps, initial=step, file=progress_file, ascii=True,
               mininterval=5.0 if progress_file is not None else 0.5, desc="train",
               disable=progress_file is False)
    postfix = {}            # the bar's: the last window's mean loss, the last evaluation's loss

    def checkpoint():
        save_checkpoint(ckpt_path, {
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "state": {"step": step, "logs": {name: run_log.state() for name, run_log in logs.items()}},
            "torch_rng": torch.get_rng_state(), "fingerprint": fingerprint,
            "model_config": model.cfg.to_dict()})

    def evaluate(full=False):
        """Predict, and log the curve sequences' predictions; returns all predictions made."""
        preds = {name: predict(model, s["xs"] if full else s["xs"][:n_curve],
                               s["ys"] if full else s["ys"][:n_curve]) for name, s in sets.items()}
        record = np.zeros(1, logs["evals"].dtype)
        record["step"] = step
        for name, p in preds.items():
            record[name] = p[:n_curve].cpu().numpy()
        logs["evals"].append(record)
        name = next(iter(sets))
        eval_ld = float(((preds[name][:n_curve] - sets[name]["ys"][:n_curve]) ** 2).mean()) / D
        postfix["eval_LD"] = f"{eval_ld:.4f}"
        bar.set_postfix(postfix, refresh=False)
        return preds

    losses = torch.zeros(min(tc.check_every, tc.steps), device=device)   # this window's, on the device
    window_start, t0 = step, time.perf_counter()

    def read_losses():
        """The one wait for the device per window: log the window's losses, stop on a
        NaN or a loss above max_loss."""
        values = losses[:step - window_start].cpu().numpy()
        bad = ~np.isfinite(values) | (values > tc.max_loss)
        if bad.any():
            at = int(np.argmax(bad))
            bar.close()
            raise TrainingDiverged(f"training diverged at step {window_start + at}: loss "
                                   f"{values[at]} (limit {tc.max_loss}); lower train.lr or check the data",
                                   step=window_start + at, loss=float(values[at]), logged=logs["loss"].read())
        logs["loss"].append(values)
        postfix["loss"] = f"{values.mean():.4f}"
        bar.set_postfix(postfix, refresh=False)
        bar.update(len(values))

    model.train()
    while step < tc.steps:
        if step % tc.eval_every == 0:
            evaluate()
        lr = triangle_lr(step, tc.steps, tc.lr)
        for group in opt.param_groups:
            group["lr"] = lr
        xs, ys = batches(step)
        with autocast:
            loss = F.mse_loss(step_fn(xs, ys).float(), ys)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[step - window_start] = loss.detach()
        step += 1
        due = step % tc.checkpoint_every == 0 and step < tc.steps and ckpt_path is not None
        if due or step == tc.steps or step - window_start == tc.check_every:
            read_losses()
            window_start = step
        if due:
            checkpoint()
        if on_step is not None:
            on_step(step)
    final = evaluate(full=True)
    bar.close()
    log.info("finished at step %d (%.1fs in this session)", tc.steps, time.perf_counter() - t0)
    return final


def stored_predictions(result: dict) -> dict[str, np.ndarray]:
    """predictions.npz of a run: `steps` (E,), `{set}_curve` (E, S, K) and `{set}` (N, K)."""
    return {"steps": result["eval_steps"],
            **{f"{name}_curve": preds for name, preds in result["curve_preds"].items()},
            **result["final_preds"]}


def loss_table(loss: np.ndarray, peak_lr: float, max_rows: int = LOSS_ROWS) -> dict[str, np.ndarray]:
    """train_loss.csv's columns: the loss averaged over windows of w consecutive steps
    (w = 1, every step, for runs of at most `max_rows` steps), the step ending each
    window (1-based) and the learning rate of that step."""
    steps = len(loss)
    width = -(-steps // max_rows)
    starts = np.arange(0, steps, width)
    ends = np.append(starts[1:], steps)
    sums = np.add.reduceat(np.asarray(loss, dtype=np.float64), starts)
    return {"step": ends, "loss": sums / (ends - starts),
            "lr": np.array([triangle_lr(e - 1, steps, peak_lr) for e in ends])}


def diverged_outputs(model_cfg: ModelConfig, tc: TrainConfig, problem: dict, pool,
                     eval_sets: dict[str, dict], error: TrainingDiverged) -> dict:
    """What a learning-rate candidate whose training diverged leaves as its run (instead
    of failing its job, so that a study can record the candidate as unstable,
    lr_choice.py):

    - `loss`: train_loss.csv's columns for the steps logged before the divergence, and a
      last row at the step that diverged (1-based, as loss_table counts) with its loss,
      the only row whose `diverged` column is true;
    - `predictions`: predictions.npz's arrays, of the zero predictor (all zeros: what a
      model that learned nothing predicts, so its metrics are finite and the run is
      stuck on the plateau), with `diverged` holding the error message;
    - `checkpoint`: model.pt's content with an empty model state: the model config, the
      training fingerprint and the message (load_pretrained refuses it, naming the message).
    """
    logged = loss_table(error.logged, tc.lr) if len(error.logged) else {"step": [], "loss": []}
    steps = [int(e) for e in logged["step"]] + [error.step + 1]
    loss = {"step": steps, "loss": [float(v) for v in logged["loss"]] + [error.loss],
            "lr": [triangle_lr(e - 1, tc.steps, tc.lr) for e in steps],      # the run's schedule
            "diverged": [False] * (len(steps) - 1) + [True]}
    n_curve, K = curve_size(tc, eval_sets), problem["K"]
    steps = np.array(list(range(0, tc.steps, tc.eval_every)) + [tc.steps])
    predictions = {"steps": steps, "diverged": np.array(str(error))}
    for name, data in eval_sets.items():
        predictions[f"{name}_curve"] = np.zeros((len(steps), n_curve, K), np.float32)
        predictions[name] = np.zeros((len(data["xs"]), K), np.float32)
    fingerprint = _fingerprint(model_cfg, tc, problem, pool)
    return {"loss": loss, "predictions": predictions,
            "checkpoint": {"model": {}, "diverged": str(error), "model_config": model_cfg.to_dict(),
                           "fingerprint": fingerprint}}


def final_checkpoint(model: ICLTransformer, fingerprint: dict) -> dict:
    """What `model.pt` holds: enough to load and to explain the model."""
    return {"model": model.state_dict(), "model_config": model.cfg.to_dict(),
            "fingerprint": fingerprint}


def remove_checkpoint(path, root=None) -> None:
    """Remove a finished run's rolling checkpoint and its logs, and the folders above
    it up to (not including) `root` that it leaves empty."""
    if not path:
        return
    path = Path(path)
    for leftover in (path, *log_paths(path).values()):
        if leftover.exists():
            os.remove(leftover)
    if root is None:
        return
    root = Path(root).resolve()
    folder = path.parent.resolve()
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:      # not empty: another run's checkpoint lives there
            break
        folder = folder.parent
