"""Wall time and Monte-Carlo error of the Laplace-prior Bayes estimator (not a test).

    .venv/bin/python benchmarks/bench_laplace.py                     # 4096 sequences, D = 8
    .venv/bin/python benchmarks/bench_laplace.py --D 4 --target-se 0.02

Prints the time, the Monte-Carlo standard errors of the predictions (median, RMS, max),
how many chains ran past the first round to meet the target, and the loss L/D against
the noisy y next to Ridge's (on T_True, whose tasks are Gaussian: the Laplace estimator
is not the Bayes estimator there, so it should lose to Ridge slightly). The MC error
inflates the loss by mean(stderr^2) / D on average, printed as well.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from icl_diversity.baselines import ridge_predict
from icl_diversity.laplace import laplace_batch_means
from icl_diversity.tasks import eval_set


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096, help="sequences")
    ap.add_argument("--D", type=int, default=8)
    ap.add_argument("--K", type=int, default=16)
    ap.add_argument("--noise-var", type=float, default=0.25)
    ap.add_argument("--n-samples", type=int, default=1000, help="sweeps per round")
    ap.add_argument("--target-se", type=float, default=0.05,
                    help="per-chain bound on the standard error of every entry of w")
    ap.add_argument("--max-samples", type=int, default=64000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    s = eval_set(args.D, args.K, args.noise_var, args.n, seed=104)
    print(f"Laplace Gibbs: n={args.n} D={args.D} K={args.K} sweeps/round={args.n_samples} "
          f"target_se={args.target_se}")
    t0 = time.perf_counter()
    batches = laplace_batch_means(s["xs"], s["ys"], args.noise_var,
                                  rng=np.random.default_rng(args.seed), n_samples=args.n_samples,
                                  target_se=args.target_se, max_samples=args.max_samples)
    wall = time.perf_counter() - t0
    x = s["xs"].astype(np.float64)
    preds = np.einsum("bnkd,nkd->bnk", batches, x)
    pred = np.nanmean(preds, axis=0)
    se = np.nanstd(preds, axis=0, ddof=1) / np.sqrt(np.isfinite(preds).sum(axis=0))
    rounds = np.isfinite(batches[:, :, :, 0]).sum(axis=0) // 20   # 20 batches a round (the default)
    print(f"wall time: {wall:.1f} s ({1e6 * wall / (args.n * args.K):.1f} us per (sequence, position))")
    print(f"chains beyond round 1: {(rounds > 1).mean():.2%}, most rounds: {rounds.max()}")
    later = se[:, 1:]
    print(f"prediction MC stderr (positions 2..K): median {np.median(later):.4f}, "
          f"RMS {np.sqrt((later ** 2).mean()):.4f}, max {later.max():.4f}")
    D = args.D
    loss = ((pred - s["ys"]) ** 2).mean() / D
    ridge = ((ridge_predict(s["xs"], s["ys"], args.noise_var) - s["ys"]) ** 2).mean() / D
    print(f"L/D on T_True (noisy y): Laplace Bayes {loss:.5f}, Ridge {ridge:.5f}; "
          f"MC inflation of the loss ~ {(se ** 2).mean() / D:.2e}")


if __name__ == "__main__":
    main()
