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

RATES = Path(__file__).resolve().parents[1] / "src" / "icl_diversity" / "data" / "rates.csv"
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0, help="rough time per repeat")
    ap.add_argument("--out", type=Path, default=RATES)
    ap.add_argument("--only", nargs="*", metavar="MODEL:BATCH", help="e.g. 8/128/2:256 (default: the whole grid)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
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
