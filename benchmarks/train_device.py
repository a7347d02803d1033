"""Throughput of the workflow's own `train()` (evaluation and checkpoints included) on
a device, e.g. a GPU: prints steps/s overall and after a warm-up (torch.compile's
compilation, CUDA's start-up), and the time a paper-length run would take at the latter.

    .venv/bin/python benchmarks/train_device.py --device cuda --steps 3000
    .venv/bin/python benchmarks/train_device.py --device cuda --steps 3000 --bf16 --compile
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from icl_diversity.model import ModelConfig
from icl_diversity.tasks import eval_set, task_pool
from icl_diversity.train import TrainConfig, train


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--model", nargs=3, type=int, default=[8, 128, 2], metavar=("LAYERS", "EMBD", "HEADS"))
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--M", type=int, default=2 ** 10)
    ap.add_argument("--eval-n", type=int, default=2 ** 14)
    ap.add_argument("--curve", type=int, default=256, help="curve sequences per evaluation set")
    ap.add_argument("--warmup", type=int, default=500, help="steps left out of the steady rate")
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--paper-steps", type=int, default=500_000)
    args = ap.parse_args()

    D, K, noise = 8, 16, 0.25
    pool = task_pool(args.M, D, seed=102)
    sets = {"true": eval_set(D, K, noise, args.eval_n, seed=104),
            "pretrain": eval_set(D, K, noise, args.eval_n, seed=104, pool=pool, M=args.M)}
    cfg = ModelConfig(n_dims=D, n_points=K, n_layer=args.model[0], n_embd=args.model[1],
                      n_head=args.model[2])
    tc = TrainConfig(batch_size=args.batch, steps=args.steps, lr=1e-3,
                     eval_every=args.eval_every, checkpoint_every=5 * args.eval_every,
                     curve_sequences=args.curve)
    cuda = args.device.startswith("cuda")
    warm = {}

    def after_warmup(step):
        if step == args.warmup:
            if cuda:
                torch.cuda.synchronize()
            warm["t"] = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = train(cfg, tc, {"D": D, "K": K, "noise_var": noise}, pool, sets,
                    checkpoint_path=Path(tmp) / "ckpt.pt", device=args.device,
                    bf16=args.bf16, compile=args.compile, on_step=after_warmup)
        if cuda:
            torch.cuda.synchronize()
        t_end = time.perf_counter()
        el = t_end - t0
    rate = args.steps / el
    steady = (args.steps - args.warmup) / (t_end - warm["t"])
    print(f"{args.device}{' bf16' if args.bf16 else ''}{' compiled' if args.compile else ''}: "
          f"model {'/'.join(map(str, args.model))}, batch {args.batch}, M={args.M}: "
          f"{args.steps} steps in {el:.1f} s = {rate:.1f} steps/s overall, {steady:.1f} steps/s after "
          f"step {args.warmup} (evaluation of 2 x {args.curve} sequences every {args.eval_every} steps, "
          f"of 2 x {args.eval_n} at the end, and checkpoints included)")
    print(f"  loss first/last: {res['loss'][0]:.3f} / {res['loss'][-1]:.3f}")
    print(f"  a {args.paper_steps}-step run at the steady rate: {args.paper_steps / steady / 3600:.2f} h")


if __name__ == "__main__":
    main()
