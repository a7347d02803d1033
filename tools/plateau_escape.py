"""Does a training setting leave the optimisation plateau, for every seed? Trains one
model per (seed, M) with the package's own `train()` and prints, per run, the step at
which the loss on its own training distribution has closed half the gap from the
plateau (the zero predictor) to Ridge, and the final T_True L/D against Ridge's.

Used to choose the default study (config.yaml) so that no seed is stuck; run it on the
machine type the default must hold on. Each line is printed as soon as its run ends.

    .venv/bin/python tools/plateau_escape.py --batch 64 --steps 6000 --lr 3e-3 \
        --M 256 inf --seeds 0 1 2 --jobs 2
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import time

import numpy as np


def one_run(args, seed, M, batch):
    import torch
    torch.set_num_threads(1)
    from icl_diversity.baselines import ridge_predict
    from icl_diversity.model import ModelConfig
    from icl_diversity.tasks import eval_set, parse_M, task_pool
    from icl_diversity.train import TrainConfig, train

    D, K, noise = args.D, args.K, args.noise_var
    M = parse_M(M)
    pool = None if np.isinf(M) else task_pool(M, D, seed=102)
    true = eval_set(D, K, noise, args.eval_n, seed=104)
    own = true if pool is None else eval_set(D, K, noise, args.eval_n, seed=104, pool=pool, M=M)
    cfg = ModelConfig(n_dims=D, n_points=K, n_layer=args.model[0], n_embd=args.model[1],
                      n_head=args.model[2])
    tc = TrainConfig(batch_size=batch, steps=args.steps, lr=args.lr, eval_every=args.eval_every,
                     checkpoint_every=10 ** 9, seed=seed)
    t0 = time.perf_counter()
    res = train(cfg, tc, {"D": D, "K": K, "noise_var": noise}, pool,
                {"true": true, "pretrain": own}, progress_file=False)
    wall = time.perf_counter() - t0

    def loss(pred, data):
        return float(np.mean((pred - data["ys"]) ** 2) / D)
    plateau = loss(np.zeros_like(own["ys"]), own)
    ridge_own = loss(ridge_predict(own["xs"], own["ys"], noise), own)
    ridge_true = loss(ridge_predict(true["xs"], true["ys"], noise), true)
    own_curve = [loss(p, own) for p in res["eval_preds"]["pretrain"]]
    half = plateau - 0.5 * (plateau - ridge_own)
    escaped = [s for s, v in zip(res["eval_steps"], own_curve) if v < half]
    escape = int(escaped[0]) if escaped else -1
    final_true = loss(res["eval_preds"]["true"][-1], true)
    return (f"b{batch} seed {seed} M {M}: escape step {escape:>6} "
            f"({escape / args.steps if escape >= 0 else float('nan'):.2f} of the run), "
            f"final T_True L/D {final_true:.3f} (Ridge {ridge_true:.3f}, ratio "
            f"{final_true / ridge_true:.3f}), own-set L/D {own_curve[-1]:.3f} "
            f"(plateau {plateau:.3f}), {wall:.0f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[64])
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--D", type=int, default=4)
    ap.add_argument("--K", type=int, default=16)
    ap.add_argument("--noise-var", type=float, default=0.25)
    ap.add_argument("--model", nargs=3, type=int, default=[4, 32, 2], metavar=("LAYERS", "EMBD", "HEADS"))
    ap.add_argument("--M", nargs="+", default=["256", "inf"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--eval-n", type=int, default=1024)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    args = ap.parse_args()
    print(f"model {args.model}, D {args.D}, K {args.K}, noise {args.noise_var}, "
          f"{args.steps} steps, lr {args.lr}", flush=True)
    with cf.ProcessPoolExecutor(args.jobs) as ex:
        futures = [ex.submit(one_run, args, s, M, b) for b in args.batch for M in args.M
                   for s in args.seeds]
        for f in cf.as_completed(futures):
            print(f.result(), flush=True)


if __name__ == "__main__":
    main()
