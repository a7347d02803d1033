"""Coverage of the threshold's 95% interval on simulated studies with a known truth (not a
test; tests/test_threshold_coverage.py runs a smaller version and asserts 90-99%).

    .venv/bin/python benchmarks/threshold_coverage.py                 # 400 studies per cell
    .venv/bin/python benchmarks/threshold_coverage.py --studies 100 --n-boot 100
    .venv/bin/python benchmarks/threshold_coverage.py --method /tmp/old_threshold.py

Prints one row per noise regime and number of seeds: the fraction of studies whose
interval covers the truth (a study without a determined threshold is a miss), the mean
width of the intervals given (octaves) and the fraction of studies left undetermined.
The generative model and the regimes are the test's (its docstring describes them). With
one seed the interval is checked against that seed's own threshold, as it can only cover
sequence noise. `--method FILE` runs the `bootstrap_threshold` of another version of
threshold.py instead (e.g. `git show HEAD~1:src/icl_diversity/threshold.py > FILE`).
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_threshold_coverage import REGIMES, SEED_COUNTS, coverage  # noqa: E402

from icl_diversity.threshold import bootstrap_threshold  # noqa: E402


def load_method(path: str):
    spec = importlib.util.spec_from_file_location("other_threshold", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module        # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.bootstrap_threshold


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=400, help="simulated studies per cell")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates per study")
    p.add_argument("--seeds", type=int, nargs="+", default=[1] + SEED_COUNTS)
    p.add_argument("--method", help="a threshold.py whose bootstrap_threshold to check instead")
    args = p.parse_args()
    method = load_method(args.method) if args.method else bootstrap_threshold
    print(f"{args.method or 'icl_diversity.threshold'}: {args.studies} studies per cell, "
          f"{args.n_boot} bootstrap replicates each; 95% intervals, target coverage 0.90-0.99\n")
    print(f"{'regime':<20} {'seeds':>5} {'coverage':>9} {'width':>7} {'undetermined':>13}  in band")
    start = time.perf_counter()
    for regime in REGIMES:
        for n_seeds in args.seeds:
            c = coverage(regime, n_seeds, args.studies, args.n_boot, seed=1, method=method)
            band = "yes" if 0.90 <= c["coverage"] <= 0.99 else "NO"
            note = "  (own seed's threshold)" if n_seeds == 1 else ""
            print(f"{regime.name:<20} {n_seeds:>5} {c['coverage']:>9.3f} {c['width']:>7.3f} "
                  f"{c['undetermined']:>13.3f}  {band}{note}", flush=True)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
