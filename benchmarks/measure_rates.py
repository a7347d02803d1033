"""Training steps/s of each (model, batch size) the presets use, measured on this
machine, written to src/icl_diversity/data/rates.csv: what `python -m icl_diversity.plan` turns into
compute estimates. Forward, backward and Adam on batches made by the workflow's
BatchStream, medians of repeats. On the CPU the time is the process's CPU time (one
thread: what an idle core's wall clock shows), so a machine busy with other jobs does
not slow the numbers down; on CUDA, wall time after a synchronize.

    .venv/bin/python benchmarks/measure_rates.py                  # CPU, 1 thread
    .venv/bin/python benchmarks/measure_rates.py --device cuda    # on a GPU machine

Each row is written as soon as it is measured, replacing the row of the same device,
model and batch (rows of other devices and models are kept).

    .venv/bin/python benchmarks/measure_rates.py --baselines      # the baselines (CPU)

measures the baselines instead, into src/icl_diversity/data/baseline_rates.csv: CPU
seconds per unit of work, one thread, for every (D, K, sigma^2) of BASELINE_PROBLEMS and M
of BASELINE_M: dMMSE on T_True and on T_Pretrain sequences and smoothed dMMSE over the
default smoothing grid on tuning sequences (the workflow's code: the native kernel when
it builds, float64), per (sequence, position, pool task); and the Laplace-prior Bayes
estimator's Gibbs sampler per (sequence, position, sweep). A row replaces the row of the
same estimator, D, K and M.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from icl_diversity.batches import BatchStream
from icl_diversity.model import ModelConfig, build_model

DATA = Path(__file__).resolve().parents[1] / "src" / "icl_diversity" / "data"
RATES = DATA / "rates.csv"
BASELINE_RATES = DATA / "baseline_rates.csv"
# (layers, width, heads, D, batch sizes): the presets' models at the batches they train
GRID = [((1, 16, 2), 3, [8, 16]),               # smoke: nano
        ((4, 32, 2), 4, [64, 128]),             # default: tiny
        ((4, 64, 2), 8, [512]),                 # paper Fig 4: small
        ((8, 128, 2), 8, [256, 512, 1024])]     # paper Figs 2, 3: base


def steps_per_second(net, opt, batches, device) -> float:
    cuda = str(device).startswith("cuda")
    clock = time.perf_counter if cuda else time.process_time
    for i, (xs, ys) in enumerate(batches):
        if i == 3:                      # after a warm-up
            if cuda:
                torch.cuda.synchronize()
            t = clock()
        loss = F.mse_loss(net(xs, ys), ys)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if cuda:
        torch.cuda.synchronize()
    return (len(batches) - 3) / (clock() - t)


def measure(model, D, batch, device, steps, repeats):
    cfg = ModelConfig(D, 16, *model)
    stream = BatchStream(batch, D, 16, 0.25, 0, None, device=device)
    batches = [stream(s) for s in range(steps + 3)]
    net = build_model(cfg, 0).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    return statistics.median(steps_per_second(net, opt, batches, device) for _ in range(repeats))


# The baselines' problems (D, K, sigma^2): the default and laptop studies' D = 4, the
# paper's D = 8 and Fig 6's D = 16 and 32 (K = 2D, sigma^2 = D/32); the Laplace prior's
# at D = 4 and 8 (laptop_laplace, paper). BASELINE_M: a mid-sized pool and the paper's
# largest, which holds most of a study's dMMSE work.
BASELINE_PROBLEMS = [(4, 16, 0.25), (8, 16, 0.25), (16, 32, 0.5), (32, 64, 1.0)]
LAPLACE_PROBLEMS = [(4, 16, 0.25), (8, 16, 0.25)]
BASELINE_M = [2 ** 10, 2 ** 20]
SEQ_BLOCK = 16          # the native kernel's block of sequences: measure whole blocks


def cpu_seconds(fn) -> float:
    """CPU time of fn() (one thread: what an idle core's wall clock shows)."""
    t = time.process_time()
    fn()
    return time.process_time() - t


def timed(make, size: int, seconds: float, repeats: int) -> tuple[int, float]:
    """(size, median CPU seconds) of make(size)(), where make builds the inputs and returns
    the call to time; size is scaled up (in whole multiples) until a call takes about
    `seconds`. A first call that already does counts as a repeat."""
    times = [cpu_seconds(make(size))]
    if times[0] < seconds / 2:
        size *= max(1, min(64, round(seconds / max(times[0], 1e-9))))
        times = []
    call = make(size)
    times += [cpu_seconds(call) for _ in range(repeats - len(times))]
    return size, statistics.median(times)


def measure_dmmse(D, K, noise_var, M, seconds, repeats, grid, method) -> list[dict]:
    """CPU seconds per (sequence, position, pool task) of dMMSE on T_True and T_Pretrain
    sequences, and of smoothed dMMSE over `grid` on tuning sequences (the positions
    1..K-1 are the ones that weigh the pool)."""
    from icl_diversity.baselines import dmmse_predict, tune_smoothing_var, tuning_set
    from icl_diversity.tasks import eval_set, task_pool
    pool = task_pool(M, D, seed=102)

    def true_set(n):
        s = eval_set(D, K, noise_var, n, seed=104)
        return lambda: dmmse_predict(s["xs"], s["ys"], pool, noise_var)

    def pretrain_set(n):
        s = eval_set(D, K, noise_var, n, seed=104, pool=pool, M=M)
        return lambda: dmmse_predict(s["xs"], s["ys"], pool, noise_var)

    def tuning(n):
        s = tuning_set(D, K, noise_var, n, seed=104)
        return lambda: tune_smoothing_var(s["xs"], s["ys"], pool, noise_var, grid)
    rows = []
    for estimator, make, passes in (("dmmse_true", true_set, 1), ("dmmse_pretrain", pretrain_set, 1),
                                    ("smoothed_tuning", tuning, len(grid))):
        n, secs = timed(make, SEQ_BLOCK, seconds, repeats)
        rows.append(dict(estimator=estimator, D=D, K=K, noise_var=noise_var, M=M, n=n,
                         seconds_per_unit=float(f"{secs / (n * (K - 1) * M * passes):.4g}"),
                         unit="(sequence, position, pool task)", method=method))
    return rows


def measure_laplace(D, K, noise_var, seconds, repeats, method) -> dict:
    """CPU seconds per (sequence, position, sweep) of the Laplace-prior Gibbs sampler
    (laplace_batch_means: one chain per sequence and position, all in one batch)."""
    import numpy as np
    from icl_diversity.laplace import laplace_batch_means
    from icl_diversity.tasks import eval_set
    n = 1024                       # 16K chains at K = 16: numpy's per-call cost spread thin
    s = eval_set(D, K, noise_var, n, seed=104)

    def gibbs(sweeps):
        return lambda: laplace_batch_means(s["xs"], s["ys"], noise_var, rng=np.random.default_rng(0),
                                           n_samples=sweeps, n_batches=2, burn_in=0)
    sweeps, secs = timed(gibbs, 4, seconds, repeats)
    return dict(estimator="laplace_gibbs", D=D, K=K, noise_var=noise_var, M="inf", n=n,
                seconds_per_unit=float(f"{secs / (n * K * sweeps):.4g}"),
                unit="(sequence, position, sweep)", method=method)


def measure_baselines(args) -> None:
    from icl_diversity import config as cfg
    from icl_diversity.baselines import resolve_backend
    grid = cfg.load_config(Path(__file__).resolve().parents[1] / "config.yaml")["eval"]["smoothing_grid"]
    backend = resolve_backend("auto")
    stamp = dict(threads=args.threads, measured_on=f"{cpu_name()}, {args.threads} thread(s)",
                 date=datetime.date.today().isoformat())
    method = (f"benchmarks/measure_rates.py --baselines: CPU time, median of {args.repeats}, "
              f"dMMSE backend {backend}, float64")
    for D, K, noise_var in BASELINE_PROBLEMS:
        for M in BASELINE_M:
            for row in measure_dmmse(D, K, noise_var, M, args.seconds, args.repeats, grid, method):
                save_baseline({**row, **stamp}, args.baselines_out)
                print(f"{row['estimator']} D={D} K={K} M={M}: {row['seconds_per_unit'] * 1e9:.3f} ns "
                      f"per {row['unit']} ({row['n']} sequences) -> {args.baselines_out}", flush=True)
    for D, K, noise_var in LAPLACE_PROBLEMS:
        row = measure_laplace(D, K, noise_var, args.seconds, args.repeats,
                              f"benchmarks/measure_rates.py --baselines: CPU time, median of {args.repeats}")
        save_baseline({**row, **stamp}, args.baselines_out)
        print(f"laplace_gibbs D={D} K={K}: {row['seconds_per_unit'] * 1e6:.3f} us per {row['unit']} "
              f"-> {args.baselines_out}", flush=True)


def save_baseline(row: dict, path: Path) -> None:
    """Add or replace the row of (estimator, D, K, M) in the baselines' table."""
    columns = ["estimator", "D", "K", "noise_var", "M", "n", "seconds_per_unit", "unit", "threads",
               "measured_on", "date", "method"]
    table = pd.read_csv(path, dtype={"M": str}) if path.exists() else pd.DataFrame(columns=columns)
    row = {**row, "M": str(row["M"])}
    same = ((table["estimator"] == row["estimator"]) & (table["D"] == row["D"])
            & (table["K"] == row["K"]) & (table["M"] == row["M"]))
    table = pd.concat([table[~same], pd.DataFrame([row])[columns]], ignore_index=True)
    table = table.assign(_M=table["M"].astype(float)).sort_values(["estimator", "D", "_M"])
    table.drop(columns="_M").to_csv(path, index=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0, help="rough time per repeat")
    ap.add_argument("--out", type=Path, default=RATES)
    ap.add_argument("--only", nargs="*", metavar="MODEL:BATCH", help="e.g. 8/128/2:256 (default: the whole grid)")
    ap.add_argument("--baselines", action="store_true",
                    help="measure the baselines (CPU) instead of training, into --baselines-out")
    ap.add_argument("--baselines-out", type=Path, default=BASELINE_RATES)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.baselines:
        if args.device != "cpu":
            raise SystemExit("--baselines: the workflow computes the baselines on the CPU; "
                             f"--device {args.device} is not used for them")
        return measure_baselines(args)
    device_name = (torch.cuda.get_device_name() if args.device.startswith("cuda")
                   else f"{cpu_name()}, {args.threads} thread(s)")
    only = set(args.only or [])
    for model, D, batches in GRID:
        for batch in batches:
            key = "/".join(map(str, model))
            if only and f"{key}:{batch}" not in only:
                continue
            probe = measure(model, D, batch, args.device, steps=3, repeats=1)
            steps = max(5, min(2000, int(probe * args.seconds)))
            rate = measure(model, D, batch, args.device, steps, args.repeats)
            row = dict(device=args.device.split(":")[0], model=key, batch=batch,
                       steps_per_s=round(rate, 3), threads=args.threads, measured_on=device_name,
                       date=datetime.date.today().isoformat(), D=D, K=16)
            save(row, args.out)
            print(f"{row['device']} model {key} batch {batch}: {rate:.2f} steps/s "
                  f"(median of {args.repeats} x {steps} steps) -> {args.out}", flush=True)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def save(row: dict, path: Path) -> None:
    """Add or replace the row of (device, model, batch) in the table."""
    table = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=list(row))
    same = (table["device"] == row["device"]) & (table["model"] == row["model"]) & (table["batch"] == row["batch"])
    table = pd.concat([table[~same], pd.DataFrame([row])], ignore_index=True)
    table.sort_values(["device", "model", "batch"]).to_csv(path, index=False)


if __name__ == "__main__":
    main()
