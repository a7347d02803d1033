"""How much of a training step is spent outside forward/backward/optimiser: the
workflow's `train()` loop against the bare core (the same model, forward, backward and
Adam step on batches made beforehand), on the CPU. Prints medians and the share.

    .venv/bin/python benchmarks/step_overhead.py                  # tiny model, batch 64
    .venv/bin/python benchmarks/step_overhead.py --model 8 128 2 --batch 256 --D 8 --steps 30
    .venv/bin/python benchmarks/step_overhead.py --full-run        # one default-size run

It uses only the `train()` interface that every version of the workflow has, so the
same script measures an older checkout (PYTHONPATH=/path/to/old/src) for a before/after.
On the CPU it times the process's CPU time (one thread: what an idle core's wall clock
would show), so the numbers hold on a machine busy with other jobs; on CUDA, wall time.
--full-run times one training run of the default study's size (tiny model, batch 64,
6000 steps, D = 4, M = 32, 2 x 4096 evaluation sequences every 500 steps, rolling
checkpoints every 500 steps) end to end.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from icl_diversity.model import ModelConfig, build_model
from icl_diversity.tasks import eval_set, task_pool
from icl_diversity.train import TrainConfig, make_optimizer, train, triangle_lr


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def clock(device) -> float:
    return time.perf_counter() if str(device).startswith("cuda") else time.process_time()


def core_seconds_per_step(cfg, tc, batches, device):
    """Forward, backward and the optimiser step only, on batches already on the device."""
    model = build_model(cfg, 0).to(device)
    opt = make_optimizer(model, tc)
    sync(device)
    t = clock(device)
    for step, (xs, ys) in enumerate(batches):
        for group in opt.param_groups:
            group["lr"] = triangle_lr(step, len(batches), tc.lr)
        loss = F.mse_loss(model(xs, ys), ys)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return (clock(device) - t) / len(batches)


def loop_seconds_per_step(cfg, tc, problem, pool, sets, device):
    """The workflow's train() on the same problem; evaluation only at the first and
    last step, on a tiny set, so what is left is the per-step loop."""
    t = clock(device)
    train(cfg, tc, problem, pool, sets, progress_file=False, **({} if device == "cpu" else {"device": device}))
    sync(device)
    return (clock(device) - t) / tc.steps


def overhead(args):
    D, K = args.D, 16
    problem = {"D": D, "K": K, "noise_var": 0.25}
    cfg = ModelConfig(n_dims=D, n_points=K, n_layer=args.model[0], n_embd=args.model[1],
                      n_head=args.model[2])
    pool = task_pool(args.M, D, seed=102)
    sets = {"true": eval_set(D, K, 0.25, 8, seed=104),
            "pretrain": eval_set(D, K, 0.25, 8, seed=104, pool=pool, M=args.M)}
    tc = TrainConfig(batch_size=args.batch, steps=args.steps, lr=1e-3, eval_every=args.steps,
                     checkpoint_every=args.steps)
    gen = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(args.steps):
        xs = torch.randn(args.batch, K, D, generator=gen)
        ws = torch.from_numpy(pool)[torch.randint(0, args.M, (args.batch,), generator=gen)]
        ys = torch.einsum("bkd,bd->bk", xs, ws) + 0.5 * torch.randn(args.batch, K, generator=gen)
        batches.append((xs.to(args.device), ys.to(args.device)))
    core, loop = [], []
    for _ in range(args.repeats):           # interleaved, so drift in machine load hits both
        core.append(core_seconds_per_step(cfg, tc, batches, args.device))
        loop.append(loop_seconds_per_step(cfg, tc, problem, pool, sets, args.device))
    c, l = statistics.median(core), statistics.median(loop)
    print(f"model {'/'.join(map(str, args.model))}, batch {args.batch}, D={D}, K={K}, "
          f"{args.device}, {args.threads} thread(s), {args.repeats} repeats x {args.steps} steps (medians)")
    print(f"  core (forward/backward/Adam): {1e3 * c:8.3f} ms/step")
    print(f"  train() loop:                 {1e3 * l:8.3f} ms/step")
    print(f"  outside forward/backward/optimiser: {1e3 * (l - c):.3f} ms/step = "
          f"{100 * (l - c) / l:.1f}% of a step")


def full_run(args):
    D, K, M = 4, 16, 32
    problem = {"D": D, "K": K, "noise_var": 0.25}
    cfg = ModelConfig(n_dims=D, n_points=K, n_layer=4, n_embd=32, n_head=2)
    pool = task_pool(M, D, seed=102)
    sets = {"true": eval_set(D, K, 0.25, 4096, seed=104),
            "pretrain": eval_set(D, K, 0.25, 4096, seed=104, pool=pool, M=M)}
    tc = TrainConfig(batch_size=64, steps=6000, lr=3e-3, eval_every=500, checkpoint_every=500)
    with tempfile.TemporaryDirectory() as tmp:
        t = clock(args.device)
        out = train(cfg, tc, problem, pool, sets, checkpoint_path=Path(tmp) / "ckpt.pt",
                    progress_file=False)
        el = clock(args.device) - t
    print(f"one default-size run (tiny, batch 64, 6000 steps, D=4, M=32, 2 x 4096 evaluation "
          f"sequences every 500 steps, checkpoints every 500), {args.threads} thread(s): "
          f"{el:.1f} s of CPU time = {tc.steps / el:.1f} steps/s; final loss {np.mean(out['loss'][-100:]):.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", nargs=3, type=int, default=[4, 32, 2], metavar=("LAYERS", "EMBD", "HEADS"))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--D", type=int, default=4)
    ap.add_argument("--M", type=int, default=32)
    ap.add_argument("--steps", type=int, default=300, help="timed steps per repeat")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--full-run", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    full_run(args) if args.full_run else overhead(args)


if __name__ == "__main__":
    main()
