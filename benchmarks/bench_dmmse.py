"""Wall time and peak memory of dmmse_predict (or smoothed_dmmse_predict) at paper
scale (not a test).

    .venv/bin/python benchmarks/bench_dmmse.py                 # M = 2^20, 4096 sequences
    .venv/bin/python benchmarks/bench_dmmse.py --smoothing-var 0.03   # smoothed dMMSE
    .venv/bin/python benchmarks/bench_dmmse.py --n 256 --repeats 3
    .venv/bin/python benchmarks/bench_dmmse.py --backend torch      # the torch code
    PYTHONPATH=src python3 benchmarks/bench_dmmse.py --device cuda --seq-block 256 --chunk 65536

Peak memory is the process's maximum resident set size (ru_maxrss), which covers
torch's allocations as well as numpy's; the baseline before the first call is
printed too, so the increase due to dmmse_predict can be read off.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import torch

from icl_diversity.baselines import dmmse_predict, smoothed_dmmse_predict
from icl_diversity.tasks import eval_set, task_pool


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # Linux: KiB


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096, help="sequences")
    ap.add_argument("--M", type=int, default=2 ** 20, help="pool size")
    ap.add_argument("--D", type=int, default=8)
    ap.add_argument("--K", type=int, default=16)
    ap.add_argument("--noise-var", type=float, default=0.25)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=None, help="chunk_size (default: the function's)")
    ap.add_argument("--seq-block", type=int, default=None, help="seq_block (default: the function's)")
    ap.add_argument("--device", default="cpu", help="where the arithmetic runs, e.g. cuda")
    ap.add_argument("--backend", default="auto", choices=["auto", "native", "torch"])
    ap.add_argument("--smoothing-var", type=float, default=None,
                    help="time smoothed dMMSE with this s^2 instead of dMMSE")
    ap.add_argument("--pretrain", action="store_true",
                    help="evaluate on tasks from the pool (T_Pretrain) instead of T_True")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    pool = task_pool(args.M, args.D, seed=102)
    s = eval_set(args.D, args.K, args.noise_var, args.n, seed=104,
                 pool=pool if args.pretrain else None, M=args.M if args.pretrain else None)
    kwargs = {"dtype": getattr(torch, args.dtype)}
    if args.chunk:
        kwargs["chunk_size"] = args.chunk
    if args.seq_block:
        kwargs["seq_block"] = args.seq_block
    kwargs["device"] = args.device
    kwargs["backend"] = args.backend
    smoothed = args.smoothing_var is not None
    name = f"smoothed dMMSE (s^2={args.smoothing_var:g})" if smoothed else "dMMSE"
    predict = (lambda *a, **kw: smoothed_dmmse_predict(*a, args.smoothing_var, **kw)) if smoothed \
        else dmmse_predict
    print(f"{name}: M={args.M} D={args.D} K={args.K} n={args.n} dtype={args.dtype} "
          f"threads={args.threads} device={args.device} backend={args.backend} set={'T_Pretrain' if args.pretrain else 'T_True'}")
    print(f"peak RSS before: {maxrss_mib():.0f} MiB")

    times = []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        pred = predict(s["xs"], s["ys"], pool, args.noise_var, **kwargs)
        times.append(time.perf_counter() - t0)
        print(f"  repeat {r}: {times[-1]:.2f} s")
    assert np.all(np.isfinite(pred))
    triples = args.n * args.K * args.M
    med = statistics.median(times)
    print(f"median wall time: {med:.2f} s over {args.repeats} repeat(s) "
          f"({1e9 * med / triples:.3f} ns per (sequence, position, task))")
    print(f"peak RSS: {maxrss_mib():.0f} MiB")
    if args.device.startswith("cuda"):
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
    # a cheap sanity number: loss vs noiseless target, so runs can be compared
    target = np.einsum("nkd,nd->nk", s["xs"], s["ws"])
    print(f"{name} L/D vs w.x: {((pred - target) ** 2).mean() / args.D:.6f}")


if __name__ == "__main__":
    main()
