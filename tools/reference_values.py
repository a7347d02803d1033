"""Reference values of the Bayesian baselines (D = 8, K = 16, sigma^2 = 0.25), against
the noiseless targets w.x, to compare with the "Reference values" of the paper summary.

    .venv/bin/python tools/reference_values.py              # M = 2^6, 2^10, 2^14
    .venv/bin/python tools/reference_values.py --big 512    # adds M = 2^20 on 512 sequences

Prints Ridge L/D on T_True (per position and averaged over the 16 positions) and
Delta^{T_True}_{dMMSE,Ridge} = mean over sequences and positions of
(f_dMMSE - f_Ridge)^2 / D, each with its Monte-Carlo standard error (over sequences:
per-sequence means are i.i.d., so the standard error is their std / sqrt(n)).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from icl_diversity.baselines import dmmse_predict, ridge_predict
from icl_diversity.tasks import eval_set, task_pool

D, K, NOISE = 8, 16, 0.25
PAPER_DELTA = {2 ** 6: 0.55, 2 ** 10: 0.27, 2 ** 14: 0.11, 2 ** 20: 0.02}


def mean_se(per_sequence: np.ndarray):
    return per_sequence.mean(), per_sequence.std(ddof=1) / np.sqrt(len(per_sequence))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096, help="T_True sequences")
    ap.add_argument("--big", type=int, default=0,
                    help="also M = 2^20 on this many sequences (0: skip)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=104)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    s = eval_set(D, K, NOISE, args.n, args.seed)            # T_True: fresh w ~ N(0, I)
    target = np.einsum("nkd,nd->nk", s["xs"].astype(np.float64), s["ws"].astype(np.float64))
    ridge = ridge_predict(s["xs"], s["ys"], NOISE)
    sq = (ridge - target) ** 2 / D                           # (n, K)
    m, se = mean_se(sq.mean(axis=1))
    print(f"T_True, n = {args.n}, D = {D}, K = {K}, sigma^2 = {NOISE}, targets w.x")
    print(f"Ridge L/D (mean over {K} positions): {m:.4f} +- {se:.4f}   (paper ~0.342)")
    per_k = sq.mean(axis=0)
    se_k = sq.std(axis=0, ddof=1) / np.sqrt(args.n)
    print("Ridge L/D per position k=1..K: "
          + " ".join(f"{v:.3f}" for v in per_k) + "   (paper 0.99 at k=1, ~0.039 at k=16)")
    print(f"  k=1: {per_k[0]:.4f} +- {se_k[0]:.4f}, k={K}: {per_k[-1]:.4f} +- {se_k[-1]:.4f}")

    runs = [(2 ** e, args.n) for e in (6, 10, 14)] + ([(2 ** 20, args.big)] if args.big else [])
    for M, n in runs:
        pool = task_pool(M, D, seed=102)
        t0 = time.perf_counter()
        dmmse = dmmse_predict(s["xs"][:n], s["ys"][:n], pool, NOISE)
        delta = ((dmmse - ridge[:n]) ** 2 / D).mean(axis=1)
        m, se = mean_se(delta)
        print(f"Delta_dMMSE,Ridge  M = 2^{int(np.log2(M)):<2d}: {m:.4f} +- {se:.4f} "
              f"(n = {n}, {time.perf_counter() - t0:.0f} s)   paper ~{PAPER_DELTA[M]}")


if __name__ == "__main__":
    main()
