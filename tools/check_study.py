"""Is a finished study robust? Reads a study folder's tables and prints, per seed,
T_True L/D (noisy y) of the PT per setting, dMMSE and Ridge at every M; then checks
what the default study promises:

  - every run at the largest finite M and at M = inf left the plateau (closed half
    its gap to Ridge) within the first 40% of its steps, and ends within 10% of
    Ridge's T_True L/D;
  - at the smallest M the PT is within 10% of dMMSE's T_True L/D;
  - no run is stuck;
  - the threshold over all seeds (the seed-bootstrap crossing of the mean curves) is
    found, and every seed's own crossing lies between the same two grid points as it.

Each seed's own interval resamples only the evaluation sequences: it says how well that
run's crossing is measured, not where another seed's will be, so per-seed intervals are
printed (and whether they overlap) but not required to overlap; the spread between
seeds is what the all-seeds interval and the shared grid octave speak to.

    .venv/bin/python tools/check_study.py results/studies/default
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--escape-by", type=float, default=0.4)
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--problem", help="which problem's runs to check (needed when the "
                    "tables hold several, e.g. D4-K16-noise0.25-laplace)")
    args = ap.parse_args()
    pt = pd.read_csv(args.outdir / "tables" / "pt_metrics.csv", dtype={"problem": str})
    base = pd.read_csv(args.outdir / "tables" / "baselines.csv", dtype={"problem": str})
    thr = pd.read_csv(args.outdir / "tables" / "thresholds.csv",
                      dtype={"seed": str, "problem": str})
    problems = sorted(pt["problem"].unique())
    problem = args.problem or (problems[0] if len(problems) == 1 else None)
    if problem not in problems:
        sys.exit(f"--problem must name one of the runs' problems: {', '.join(problems)}")
    pt, base, thr = (t[t["problem"] == problem] for t in (pt, base, thr))
    print(f"problem {problem}")

    def loss(t):
        return t[(t["eval_set"] == "true") & (t["metric"] == "loss_per_dim")
                 & (t["target"] == "noisy") & (t["position"] == 0)]
    pt_l, base_l = loss(pt), loss(base)
    ridge = base_l[base_l["estimator"] == "Ridge"].set_index("M")["value"]
    dmmse = base_l[base_l["estimator"] == "dMMSE"].set_index("M")["value"]
    dmmse = dmmse[np.isfinite(dmmse.index)]
    Ms = sorted(pt_l["M"].unique())
    finite = [m for m in Ms if np.isfinite(m)]
    failures = []
    pd.set_option("display.width", 200)
    for seed, runs in pt_l.groupby("seed"):
        table = runs.pivot_table(index="M", columns="setting", values="value")
        table["dMMSE"], table["Ridge"] = dmmse.reindex(table.index), ridge.reindex(table.index)
        print(f"\nseed {seed}: T_True L/D (noisy y)\n{table.round(3).to_string()}")
        for r in runs.itertuples():
            name = f"{r.setting} seed {seed} M={r.M:g}"
            if r.stuck:
                failures.append(f"{name}: stuck on the plateau (gap closed {r.gap_closed:.2f})")
            if r.M == max(finite) or np.isinf(r.M):
                esc = r.escape_step / r.steps if np.isfinite(r.escape_step) else np.inf
                when = f"at {esc:.0%} of the steps" if np.isfinite(esc) else "never"
                ratio = r.value / ridge[r.M]
                print(f"  {name}: left the plateau {when}, L/D / Ridge = {ratio:.3f}")
                if esc > args.escape_by:
                    failures.append(f"{name}: left the plateau {when}")
                if ratio > 1 + args.tolerance:
                    failures.append(f"{name}: T_True L/D {ratio:.3f} x Ridge's")
            if r.M == min(finite):
                ratio = r.value / dmmse[r.M]
                print(f"  {name}: L/D / dMMSE = {ratio:.3f}")
                if abs(ratio - 1) > args.tolerance:
                    failures.append(f"{name}: T_True L/D {ratio:.3f} x dMMSE's")
    cols = [c for c in ("group", "seed", "n_seeds", "seeds_used", "stuck_small", "stuck_large",
                        "log2_threshold", "ci_low", "ci_high", "interval", "found_fraction",
                        "status") if c in thr]      # tables written before the seed columns
    print(f"\nthresholds (log2 M)\n{thr[cols].round(2).to_string(index=False)}")
    grid = np.log2(finite)

    def octave(t):
        """The two grid points (log2 M) that bracket a crossing at t."""
        i = int(np.searchsorted(grid, t)) if np.isfinite(t) else 0
        return (grid[i - 1], grid[i]) if 0 < i < len(grid) else None

    for group, rows in thr.groupby("group"):
        pooled, seeds = rows[rows["seed"] == "all"].iloc[0], rows[rows["seed"] != "all"]
        if pooled["status"] not in ("found", "several"):
            failures.append(f"{group}: no significant threshold over all seeds ({pooled['status']})")
            continue
        bracket = octave(pooled["log2_threshold"])
        where = f"between 2^{bracket[0]:g} and 2^{bracket[1]:g}" if bracket else "off the grid"
        print(f"  {group}: all seeds 2^{pooled['log2_threshold']:.2f} "
              f"[{pooled['ci_low']:.2f}, {pooled['ci_high']:.2f}], {where}")
        if len(seeds):
            t = seeds["log2_threshold"]
            print(f"  {group}: per-seed crossings 2^{t.min():.2f} to 2^{t.max():.2f} "
                  f"(spread {t.max() - t.min():.2f} octaves); per-seed intervals "
                  + ("overlap" if seeds["ci_low"].max() <= seeds["ci_high"].min() else "disjoint"))
            for r in seeds.itertuples():
                if r.status not in ("found", "several") or octave(r.log2_threshold) != bracket:
                    failures.append(f"{group} seed {r.seed}: crossing {r.log2_threshold:.2f} "
                                    f"({r.status}) not between the same grid points as all seeds'")
    print("\n" + ("\n".join(f"FAIL {f}" for f in failures) if failures else "all checks pass"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
