"""Pretraining one transformer on one task pool: Adam(W) with the triangle schedule,
batches keyed by (seed, step), rolling checkpoints, periodic evaluation.

A run resumed from its rolling checkpoint ends with the same weights as an
uninterrupted one: the data is a function of the step, and the checkpoint holds the
model, the optimiser state and everything recorded so far.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .checkpoint import CorruptCheckpoint, load_checkpoint, save_checkpoint
from .model import ICLTransformer, ModelConfig, build_model
from .tasks import model_init_seed, train_batch

log = logging.getLogger("icl_diversity")


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


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf or exceeded max_loss."""


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
def predict(model: torch.nn.Module, xs: np.ndarray, ys: np.ndarray, device="cpu",
            batch: int = 2048) -> np.ndarray:
    """Predictions (N, K) as float32 numpy, in batches."""
    was_training = model.training
    model.eval()
    out = [model(torch.from_numpy(xs[i:i + batch]).to(device),
                 torch.from_numpy(ys[i:i + batch]).to(device)).float().cpu()
           for i in range(0, len(xs), batch)]
    model.train(was_training)
    return torch.cat(out).numpy()


def _fingerprint(model_cfg: ModelConfig, tc: TrainConfig, problem: dict, pool) -> dict:
    """What a checkpoint must match to be resumed (anything else starts afresh)."""
    pool_hash = "none" if pool is None else hashlib.sha256(np.ascontiguousarray(pool).tobytes()).hexdigest()
    # how often to checkpoint and when to give up do not change the result
    train = {k: v for k, v in asdict(tc).items() if k not in ("checkpoint_every", "max_loss")}
    return {"model": model_cfg.to_dict(), "train": train,
            "problem": {k: problem[k] for k in sorted(problem)}, "pool_sha256": pool_hash}


def train(model_cfg: ModelConfig, tc: TrainConfig, problem: dict, pool: np.ndarray | None,
          eval_sets: dict[str, dict], checkpoint_path=None, device: str = "cpu",
          progress_file=None, compile: bool = False, bf16: bool = False, on_step=None) -> dict:
    """Train one model. Returns the model, the evaluation steps, the predictions at each
    evaluation step per evaluation set (E, N, K), and the per-step loss and lr.

    `on_step(step)` is called after every optimiser step (tests use it to simulate a kill).
    """
    fingerprint = _fingerprint(model_cfg, tc, problem, pool)
    model = build_model(model_cfg, model_init_seed(tc.model_seed, tc.seed)).to(device)
    opt = make_optimizer(model, tc)
    state = {"step": 0, "eval_steps": [], "eval_preds": {k: [] for k in eval_sets},
             "loss": [], "lr": []}

    ckpt_path = Path(checkpoint_path) if checkpoint_path else None
    ckpt = None
    if ckpt_path and ckpt_path.exists():
        try:
            ckpt = load_checkpoint(ckpt_path, map_location=device)
        except CorruptCheckpoint as e:
            # set aside (not deleted: it may be wanted for a post-mortem); start afresh
            aside = ckpt_path.with_name(ckpt_path.name + ".corrupt")
            os.replace(ckpt_path, aside)
            log.warning("%s; moved it to %s and training restarts from step 0", e, aside)
    if ckpt is not None:
        if ckpt.get("fingerprint") == fingerprint:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            state = ckpt["state"]
            torch.set_rng_state(ckpt["torch_rng"])
            log.info("resumed from %s at step %d", ckpt_path, state["step"])
        else:
            log.warning("ignoring checkpoint %s: it was made with a different config", ckpt_path)

    def checkpoint():
        if ckpt_path:
            save_checkpoint(ckpt_path, {
                "model": model.state_dict(), "optimizer": opt.state_dict(), "state": state,
                "torch_rng": torch.get_rng_state(), "fingerprint": fingerprint,
                "model_config": model_cfg.to_dict()})

    def evaluate():
        state["eval_steps"].append(state["step"])
        for name, data in eval_sets.items():
            preds = predict(model, data["xs"], data["ys"], device)
            state["eval_preds"][name].append(torch.from_numpy(preds))
        ys = eval_sets[next(iter(eval_sets))]["ys"]
        last = state["eval_preds"][next(iter(eval_sets))][-1].numpy()
        return float(np.mean((last - ys) ** 2) / problem["D"])

    step_fn = torch.compile(model) if compile else model
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16 and device.startswith("cuda"))
    D, K = problem["D"], problem["K"]
    bar = tqdm(total=tc.steps, initial=state["step"], file=progress_file, ascii=True,
               mininterval=5.0 if progress_file is not None else 0.5, desc="train",
               disable=progress_file is False)
    eval_loss, t0 = float("nan"), time.perf_counter()
    model.train()
    while state["step"] < tc.steps:
        step = state["step"]
        if step % tc.eval_every == 0 and (not state["eval_steps"] or state["eval_steps"][-1] != step):
            eval_loss = evaluate()
        lr = triangle_lr(step, tc.steps, tc.lr)
        for group in opt.param_groups:
            group["lr"] = lr
        xs, ys = train_batch(step, tc.batch_size, D, K, problem["noise_var"], tc.data_seed, pool,
                             problem.get("task_scale", 1.0), problem.get("x_scale", 1.0), tc.seed,
                             problem.get("prior", "gaussian"))
        xs, ys = torch.from_numpy(xs).to(device), torch.from_numpy(ys).to(device)
        with autocast:
            loss = F.mse_loss(step_fn(xs, ys).float(), ys)
        loss_value = loss.item()
        if not math.isfinite(loss_value) or loss_value > tc.max_loss:
            bar.close()
            raise TrainingDiverged(f"training diverged at step {step}: loss {loss_value} "
                                   f"(limit {tc.max_loss}); lower train.lr or check the data")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["loss"].append(loss_value)
        state["lr"].append(lr)
        state["step"] = step + 1
        bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr:.2e}", eval_LD=f"{eval_loss:.4f}",
                        refresh=False)
        bar.update(1)
        if state["step"] % tc.checkpoint_every == 0 and state["step"] < tc.steps:
            checkpoint()
        if on_step is not None:
            on_step(state["step"])
    if not state["eval_steps"] or state["eval_steps"][-1] != tc.steps:
        evaluate()
    bar.close()
    log.info("finished at step %d (%.1fs in this session)", tc.steps, time.perf_counter() - t0)
    return {"model": model, "eval_steps": np.array(state["eval_steps"]),
            "eval_preds": {k: torch.stack(v).numpy() for k, v in state["eval_preds"].items()},
            "loss": np.array(state["loss"]), "lr": np.array(state["lr"]),
            "fingerprint": fingerprint}


def final_checkpoint(model: ICLTransformer, fingerprint: dict) -> dict:
    """What `model.pt` holds: enough to load and to explain the model."""
    return {"model": model.state_dict(), "model_config": model.cfg.to_dict(),
            "fingerprint": fingerprint}


def remove_checkpoint(path, root=None) -> None:
    """Remove a finished run's rolling checkpoint, and the folders above it up to (not
    including) `root` that it leaves empty."""
    if not path:
        return
    path = Path(path)
    if path.exists():
        os.remove(path)
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
