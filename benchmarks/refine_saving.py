"""What adaptive refinement of M would save a study's groups, from the plan: the named
groups of a study (by default studies/paper.yaml's Fig 7 groups) planned twice, on their
fixed grid and refined, with nothing else in the study, and each plan's training jobs and
CPU hours printed side by side.

The refined variant trains every `--every`-th octave of the group's finite grid first,
then at most `--rounds` rounds of `--points` new M per curve pair: the plan's worst case.
Refinement cannot be combined with learning-rate candidates (a candidate's lr is chosen
only after training), so both variants drop every group's `lr` list and train at the
study's learning rate; the saving is for that protocol, and the script says so.

    .venv/bin/python benchmarks/refine_saving.py
    .venv/bin/python benchmarks/refine_saving.py studies/paper.yaml --groups decay width depth --every 2
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from icl_diversity import config as cfg  # noqa: E402
from icl_diversity import plan  # noqa: E402
from icl_diversity.tasks import M_label  # noqa: E402


def variants(study: dict, groups: list[str], every: int, rounds: int, width: float,
             points: int) -> tuple[dict, dict, list[str]]:
    """(fixed, refined) study files holding only `groups`, and the groups whose lr list
    was dropped."""
    missing = [g for g in groups if g not in study.get("sweeps", {})]
    if missing:
        raise SystemExit(f"no sweep group {missing} in the study (it has {sorted(study.get('sweeps', {}))})")
    fixed = {k: v for k, v in copy.deepcopy(study).items() if k not in ("figures", "analysis")}
    fixed["sweeps"] = {g: study["sweeps"][g] for g in groups}
    dropped = [g for g in groups if "lr" in fixed["sweeps"][g]]
    for g in groups:
        fixed["sweeps"][g] = {k: v for k, v in fixed["sweeps"][g].items() if k != "lr"}
    fixed["figures"] = {}
    refined = copy.deepcopy(fixed)
    for g, sweep in refined["sweeps"].items():
        grid = [M for M in sweep.pop("M", study.get("M", [])) if M_label(M) != "inf"]
        coarse = sorted(grid, key=float)[::every]
        sweep["refine"] = {"coarse": coarse, "rounds": rounds, "width": width, "points": points}
    return fixed, refined, dropped


def planned(study: dict, folder: Path, name: str, rates) -> tuple[int, list[str], str]:
    """(training jobs, totals lines, refine lines) of `study`'s plan."""
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study))
    config = cfg.load_config(path)
    text = plan.plan(config, rates, study=name)
    runs = cfg.all_runs(config) + cfg.reference_runs(config) + cfg.refine_runs_at_most(config)
    return len(runs), plan.totals(text), "\n".join(plan.refine_lines(config))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", nargs="?", default="studies/paper.yaml")
    ap.add_argument("--groups", nargs="+", default=["decay", "width", "depth"])
    ap.add_argument("--every", type=int, default=2, help="coarse grid: every n-th M of the finite grid")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--points", type=int, default=1)
    args = ap.parse_args(argv)
    study = yaml.safe_load((ROOT / args.study).read_text())
    fixed, refined, dropped = variants(study, args.groups, args.every, args.rounds, args.width, args.points)
    rates = plan.load_rates()
    with tempfile.TemporaryDirectory() as tmp:
        n_fixed, t_fixed, _ = planned(fixed, Path(tmp), "fixed", rates)
        n_refined, t_refined, lines = planned(refined, Path(tmp), "refined", rates)
    print(f"{args.study}, groups {', '.join(args.groups)}"
          + (f" (lr candidates dropped from {', '.join(dropped)}: trained at the study's lr)" if dropped else ""))
    print(f"fixed grid: {n_fixed} training jobs")
    print("\n".join(t_fixed))
    print(f"refined (one finite M in {args.every} of the grid first, then at most {args.rounds} rounds x "
          f"{args.points} M; the worst case): {n_refined} training jobs")
    print(lines)
    print("\n".join(t_refined))
    print(f"training jobs, refined / fixed: {n_refined / n_fixed:.3f}")


if __name__ == "__main__":
    main()
