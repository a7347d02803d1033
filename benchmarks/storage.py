"""Storage and memory of a training run at the paper's evaluation settings (D = 8,
K = 16, 2^14 sequences per set, 256 of them on the curves, an evaluation every 1000
steps, a rolling checkpoint every 1000 steps, M = 1024) with a small model, at two
step counts, each in its own process. Prints the rolling checkpoint's size at every
checkpoint, the size of every output the train and pt_metrics rules write (written
with the same functions), the peak RSS, and what icl_diversity.plan predicts for the
same run; then the plan's totals for studies/paper.yaml.

    .venv/bin/python benchmarks/storage.py                  # 2000 and 20000 steps
    .venv/bin/python benchmarks/storage.py --steps 1000 20000
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from icl_diversity import plan
from icl_diversity.baselines import dmmse_predict, ridge_predict
from icl_diversity.checkpoint import save_checkpoint
from icl_diversity.config import Setting
from icl_diversity.io import save_npz, write_csv
from icl_diversity.metrics import run_tables
from icl_diversity.model import ModelConfig
from icl_diversity.tasks import eval_set, task_pool
from icl_diversity.train import TrainConfig, final_checkpoint, loss_table, stored_predictions, train

D, K, N, S, M, EVERY = 8, 16, 2 ** 14, 256, 1024, 1000
PAPER = Path(__file__).resolve().parents[1] / "studies" / "paper.yaml"


def one_run(steps: int, model: list[int], batch: int) -> dict:
    """Train, write the outputs, and return sizes and the peak RSS (this process)."""
    torch.set_num_threads(1)
    problem = {"D": D, "K": K, "noise_var": 0.25}
    pool = task_pool(M, D, seed=102)
    sets = {"true": eval_set(D, K, 0.25, N, seed=104),
            "pretrain": eval_set(D, K, 0.25, N, seed=104, pool=pool, M=M)}
    cfg = ModelConfig(D, K, *model)
    tc = TrainConfig(batch_size=batch, steps=steps, lr=1e-3, eval_every=EVERY, checkpoint_every=EVERY,
                     curve_sequences=S)
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = tmp / "rolling.pt"

        def record_checkpoint(step):
            if step % EVERY == 0 and step < steps:
                sizes.setdefault("checkpoint", {})[step] = ckpt.stat().st_size
        result = train(cfg, tc, problem, pool, sets, checkpoint_path=ckpt, progress_file=False,
                       on_step=record_checkpoint)
        save_npz(tmp / "predictions.npz", **stored_predictions(result))
        write_csv(tmp / "train_loss.csv", pd.DataFrame(loss_table(result["loss"], tc.lr)))
        save_checkpoint(tmp / "model.pt", final_checkpoint(result["model"], result["fingerprint"]))
        sizes["train_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        baselines = {}
        for name, data in sets.items():
            baselines[f"{name}_Ridge"] = ridge_predict(data["xs"], data["ys"], 0.25)
            baselines[f"{name}_dMMSE"] = dmmse_predict(data["xs"], data["ys"], pool, 0.25)
        setting = Setting("m", batch, steps, 0.0)
        curve, final, _ = run_tables(stored_predictions(result), sets, baselines, D, 0.8, M=M,
                                     setting=setting.name, seed=0, **setting.fields())
        write_csv(tmp / "curve.csv", curve)
        write_csv(tmp / "metrics.csv", final)
        save_npz(tmp / "sequence_deltas.npz", true_delta_ridge=np.zeros(N))
        sizes["outputs"] = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.name != "rolling.pt"
                            and not p.name.startswith("rolling.pt.")}
    sizes["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return sizes


def predicted(steps: int, model: list[int], batch: int) -> dict:
    config = plan.load_config(PAPER)
    config["models"] = {"m": dict(n_layer=model[0], n_embd=model[1], n_head=model[2])}
    setting = Setting("m", batch, steps, 0.0)
    return plan.run_storage(config, setting, True, plan.csv_row_bytes(config, setting))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", nargs=2, type=int, default=[2000, 20000])
    ap.add_argument("--model", nargs=3, type=int, default=[1, 16, 2], metavar=("LAYERS", "EMBD", "HEADS"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(one_run(args.child, args.model, args.batch)))
        return
    print(f"paper evaluation settings: D={D}, K={K}, {N} sequences per set, {S} on the curves, "
          f"evaluation and checkpoint every {EVERY} steps, M={M}; model {'/'.join(map(str, args.model))}, "
          f"batch {args.batch}")
    for steps in args.steps:
        out = subprocess.run([sys.executable, __file__, "--child", str(steps), "--model", *map(str, args.model),
                              "--batch", str(args.batch)], capture_output=True, text=True, check=True).stdout
        sizes = json.loads(out.split("RESULT ", 1)[1])
        ckpt = sizes["checkpoint"]
        want = predicted(steps, args.model, args.batch)
        print(f"\n{steps} steps ({plan.n_evaluations(steps, EVERY)} evaluations):")
        print(f"  rolling checkpoint: {min(ckpt.values())} to {max(ckpt.values())} bytes over "
              f"{len(ckpt)} checkpoints (steps {min(ckpt, key=int)}..{max(ckpt, key=int)})")
        for name, size in sizes["outputs"].items():
            print(f"  {name:22s} {size:>12,d} bytes   (plan: {want.get(name, float('nan')):>12,.0f})")
        print(f"  outputs in all: {sum(sizes['outputs'].values()) / 1e6:.2f} MB; peak RSS "
              f"{sizes['train_rss'] / 2 ** 20:.0f} MiB through training and writing its outputs, "
              f"{sizes['peak_rss'] / 2 ** 20:.0f} MiB with the baselines (computed here for pt_metrics)")
    print("\nstudies/paper.yaml according to the plan:")
    config = plan.load_config(PAPER)
    print(plan.plan(config, plan.load_rates()).split("storage", 1)[1].split("\n", 1)[1])


if __name__ == "__main__":
    main()
