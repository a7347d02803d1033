"""Adaptive refinement of a sweep group's M grid around its task-diversity threshold.

A group that asks for it (`refine: {coarse, rounds, width, points}` in its sweep) is
trained first at its coarse grid. After that, and after each refinement round, the
threshold of each of its curve pairs (a problem and a combination of the fixed axes: the
two settings whose Delta^{T_True}_{PT,Ridge} curves cross) is estimated exactly as
tables/thresholds.csv estimates it (threshold.threshold_table: the same chooser and
interval), and `decide` says what happens next:

- "no significant crossing on the coarse grid": no seed crosses; nothing to refine; stop;
- "refining where some seeds cross": the threshold over seeds is undetermined because
  only some seeds cross (the thresholds table's "undetermined (k of S seeds cross)"). A
  seed's curve may cross between two coarse points without a significant point on one
  side of its crossing (every M is its own run, whose fluctuation can hide a crossing
  on a coarse grid), and a new point can show it. Where that seed crosses is unknown,
  so the next M split the widest gaps between trained M inside the span of the crossing
  seeds' brackets (gap_points), not a crossing seed's own bracket, which would refine a
  crossing already found; until every seed crosses, no seed does (the crossing is lost)
  or the rounds are spent;
- "crossing above the grid: extending it": no significant crossing among the trained M,
  but the curves' order at M = inf is the reverse of the order at the largest trained
  M, both significantly (above_grid): the crossing lies above the grid, which the next
  round extends by its own top spacing (one new M); when the rounds are spent before a
  crossing is found, or the extended grid's top no longer shows the order before the
  threshold, the status says up to which M none was found;
- "converged: interval and bracket narrower than W": stop. The interval (the thresholds
  table's) covers the sequence and seed noise, not the straight line drawn between the
  two trained points around a crossing; the *bracket* of a seed (those two points, in
  log2 M) bounds that, so the widest seed's bracket must be narrower than W octaves too.
  With one seed the status adds that the interval leaves out run-to-run noise: every M
  is its own training run, whose fluctuation can move one seed's crossing by more than
  W, and only a seed-level interval covers it;
- "rounds spent": the last round has been trained; stop;
- "no untrained integer M left in the bracket": the grid cannot get finer there; stop;
- "crossing lost after round r (...)": a refinement round made the crossing
  insignificant or undetermined (the thresholds table's status in brackets); stop;
- "refining": train the next M.

The next M lie strictly inside the seeds' own brackets (choose_points): each seed
proposes `points` integers that span its own interval clipped to its own bracket
(next_points), never an M already trained; a proposal weighs as many seeds as hold it
strictly inside their bracket, and the `points` heaviest are trained (ties: nearest the
threshold over all seeds). So the points go where most seeds' crossings are, never into
the gap between two seeds' brackets (which the union of the brackets would hold, and
which refines no seed's crossing), and the cost per round stays `points` M. It is one
list for the whole curve pair, so that every seed is trained at the same M and the
seed-level interval is computed at the same points. Pools are nested prefixes of one
draw (tasks.task_pool), so an integer M between two grid points shares its tasks with
both.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Setting
from .io import atomic_path
from .threshold import Z_SIGNIFICANT, threshold_table

NO_COARSE_CROSSING = "no significant crossing on the coarse grid"
ROUNDS_SPENT = "rounds spent"
BRACKET_EXHAUSTED = "no untrained integer M left in the bracket"
REFINING = "refining"
SEEDS_DISAGREE = "refining where some seeds cross: not every seed crosses yet"
ABOVE_GRID = "crossing above the grid: extending it"


ONE_SEED = "one seed: the interval leaves out run-to-run noise"


def converged(width: float, one_seed: bool = False) -> str:
    """The stop when interval and bracket are narrower than `width`; with one seed the
    status says that its interval covers the evaluation sequences only, so that a
    crossing pinned down inside one run's fluctuation is not read as the threshold."""
    status = f"converged: interval and bracket narrower than {width:g}"
    return f"{status} ({ONE_SEED})" if one_seed else status


def lost(round_: int, status: str) -> str:
    return f"crossing lost after round {round_} ({status})"


def no_crossing_below(top: int) -> str:
    return (f"no significant crossing up to M = {top}; the order at M = inf puts one above it, "
            f"and the rounds are spent")


def above_grid(pt_metrics: pd.DataFrame, small, large, seeds, z: float = Z_SIGNIFICANT) -> int | None:
    """The next M above the trained grid of a curve pair without a significant crossing,
    or None. It is one when the difference Delta_large - Delta_small (Delta =
    Delta^{T_True}_{PT,Ridge}, mean over `seeds`) is significantly positive at the
    largest trained finite M (before the threshold: more data is more dMMSE-like) and
    significantly negative at M = inf (past it), each by z standard errors of the two
    curves' points taken as independent (runs evaluated on the same sequences are
    positively correlated, so this is conservative). Stuck runs are left out; a seed
    without both runs at a point leaves that point undecided. The next M is the largest
    trained one times its spacing to the one below (at least an octave)."""
    final = pt_metrics[(pt_metrics["eval_set"] == "true") & (pt_metrics["metric"] == "delta_ridge")
                       & (pt_metrics["position"] == 0) & ~pt_metrics["stuck"].astype(bool)]
    seeds = [str(s) for s in seeds]

    def z_of(M) -> float:
        diffs, variances = [], []
        for seed in seeds:
            at = final[(final["seed"].astype(str) == seed) & (final["M"].astype(float) == float(M))]
            one = {name: at[at["setting"] == name] for name in (small.name, large.name)}
            if any(len(rows) != 1 for rows in one.values()):
                return math.nan
            diffs.append(float(one[large.name]["value"].iloc[0] - one[small.name]["value"].iloc[0]))
            variances.append(sum(float(rows["stderr"].iloc[0]) ** 2 for rows in one.values()))
        se = math.sqrt(sum(variances)) / len(seeds)
        return float(np.mean(diffs)) / se if se > 0 else math.copysign(math.inf, np.mean(diffs))

    trained = trained_M(final, [small, large])
    if not trained or not z_of(math.inf) <= -z or not z_of(trained[-1]) >= z:
        return None
    spacing = math.log2(trained[-1]) - math.log2(trained[-2]) if len(trained) > 1 else 1.0
    return int(round(2.0 ** (math.log2(trained[-1]) + max(spacing, 1.0))))


def _finite(x) -> float | None:
    """A float for JSON: None for NaN."""
    return None if x is None or not np.isfinite(x) else float(x)


def trained_M(pt_metrics: pd.DataFrame, settings) -> list[int]:
    """The finite M at which both settings of a curve pair have runs in the table."""
    per = [{float(m) for m in pt_metrics.loc[pt_metrics["setting"] == s.name, "M"] if np.isfinite(m)}
           for s in settings]
    return sorted(int(m) for m in set.intersection(*per))


def next_points(bracket, interval, trained, points: int) -> list[int]:
    """Up to `points` new integer M strictly inside the bracket (log2 M of two trained
    points). The targets (log2 M) span the interval clipped to the bracket, ends
    included where the interval ends inside the bracket, so that a crossing inside the
    interval is bracketed by the new points (one point: the middle of the clipped
    interval; an unknown interval: the whole bracket). Each is rounded to the nearest
    integer inside the bracket that is neither trained nor already chosen."""
    a, b = bracket
    lo, hi = interval
    if not (np.isfinite(lo) and np.isfinite(hi)) or min(hi, b) <= max(lo, a):
        lo, hi = a, b
    lo, hi = max(lo, a), min(hi, b)
    if points == 1:
        targets = [(lo + hi) / 2]
    else:
        # an end clipped to the bracket is a trained point: place no target on it
        clipped = (lo == a, hi == b)
        targets = list(np.linspace(lo, hi, points + sum(clipped)))
        targets = targets[int(clipped[0]):len(targets) - int(clipped[1])]
    low, high = int(round(2.0 ** a)), int(round(2.0 ** b))
    free = [m for m in range(low + 1, high) if m not in set(trained)]
    chosen = []
    for target in targets:
        left = [m for m in free if m not in chosen]
        if not left:
            break
        chosen.append(min(left, key=lambda m: (abs(math.log2(m) - target), m)))
    return sorted(chosen)


def choose_points(brackets: dict, intervals: dict, trained, points: int, centre: float) -> list[int]:
    """Up to `points` new integer M for a curve pair whose seeds have their own
    `brackets` and `intervals` (seed -> (low, high) in log2 M). Each seed proposes
    next_points(its bracket, its interval); a proposal's weight is the number of seeds
    whose bracket holds it strictly; the heaviest are taken, ties broken by nearness to
    `centre` (log2 M; the threshold over all seeds), then by the smaller M."""
    brackets = {s: b for s, b in brackets.items() if np.isfinite(b[0]) and np.isfinite(b[1])}
    proposed = {m for s, b in brackets.items()
                for m in next_points(b, intervals.get(s, (math.nan, math.nan)), trained, points)}

    def weight(m):
        return sum(a < math.log2(m) < b for a, b in brackets.values())

    ranked = sorted(proposed, key=lambda m: (-weight(m), abs(math.log2(m) - centre)
                                             if np.isfinite(centre) else 0.0, m))
    return sorted(ranked[:points])


def gap_points(span, trained, points: int) -> list[int]:
    """Up to `points` new integer M inside `span` (log2 M): each the untrained integer
    nearest the middle (in log2 M) of the widest gap between trained M and the span's
    ends, that gap then split at it (ties: the lower gap)."""
    a, b = span
    edges = sorted({a, b} | {math.log2(m) for m in trained if a < math.log2(m) < b})
    gaps = list(zip(edges, edges[1:]))
    chosen: list[int] = []
    while gaps and len(chosen) < points:
        gaps.sort(key=lambda g: (-(g[1] - g[0]), g[0]))
        lo, hi = gaps.pop(0)
        free = [m for m in range(int(round(2.0 ** lo)) + 1, int(round(2.0 ** hi)))
                if m not in set(trained) and m not in chosen]
        if not free:
            continue
        m = min(free, key=lambda m: (abs(math.log2(m) - (lo + hi) / 2), m))
        chosen.append(m)
        gaps += [(lo, math.log2(m)), (math.log2(m), hi)]
    return sorted(chosen)


def decide(pt_metrics: pd.DataFrame, vary: str, settings, seeds, sequence_deltas, *, round_: int,
           rounds: int, width: float, points: int, n_boot: int = 1000,
           previous: dict | None = None) -> dict:
    """The decision after `round_` refinement rounds (0: the coarse grid) for one curve
    pair: `settings` (the two values of `vary`) with `seeds`, from their runs in
    `pt_metrics` and their per-sequence deltas (the inputs of threshold_table).

    `previous` is the pair's decision after the round before; once it has stopped, its
    decision stands (no run has been added since). Returns a dict: status, stopped,
    round (this decision's), stopped_round, the threshold (log2_threshold, ci_low,
    ci_high, interval, threshold_status: the thresholds table's own fields), bracket
    ([low, high] in log2 M, over seeds), trained_M and next_M (empty unless refining).
    """
    if previous is not None and previous["stopped"]:
        return dict(previous, round=round_)
    small, large = sorted(settings, key=lambda s: getattr(s, vary))
    row = threshold_table(pt_metrics, {"pair": (vary, [small, large], list(seeds))}, sequence_deltas,
                          n_boot=n_boot)
    overall = row[row["seed"] == "all"].iloc[0]
    # each seed's own crossing (with one seed, the row over all seeds is that seed's)
    own = row[row["seed"] != "all"] if len(seeds) > 1 else row
    labels = list(own["seed"]) if len(seeds) > 1 else [str(seeds[0])]
    per_seed_ci = dict(zip(labels, zip(own["ci_low"], own["ci_high"])))
    trained = trained_M(pt_metrics, [small, large])
    found = overall["status"] in ("found", "several")
    out = dict(round=round_, log2_threshold=_finite(overall["log2_threshold"]),
               ci_low=_finite(overall["ci_low"]), ci_high=_finite(overall["ci_high"]),
               interval=str(overall["interval"]), threshold_status=str(overall["status"]),
               bracket=[_finite(overall["bracket_low"]), _finite(overall["bracket_high"])]
               if found else [None, None], resolution=None, trained_M=trained, next_M=[])
    # each crossing seed's bracket: its runs (not stuck) just below and above its crossing
    crossing = {seed: (low, high) for seed, t, low, high
                in zip(labels, own["log2_threshold"], own["bracket_low"], own["bracket_high"])
                if np.isfinite(t) and np.isfinite(low) and np.isfinite(high)}
    sides = crossing if found else {}

    def stop(status):
        return dict(out, status=status, stopped=True, stopped_round=round_)

    if not found and len(seeds) > 1 and crossing:
        # only some seeds cross: refine where they do, the bracket spanning theirs
        out["bracket"] = [min(b[0] for b in crossing.values()), max(b[1] for b in crossing.values())]
        if round_ >= rounds:
            return stop(ROUNDS_SPENT)
        nxt = gap_points(out["bracket"], trained, points)
        if not nxt:
            return stop(BRACKET_EXHAUSTED)
        return dict(out, status=SEEDS_DISAGREE, stopped=False, stopped_round=None, next_M=nxt)
    if not found:
        if previous is not None and previous["status"] != ABOVE_GRID:
            return stop(lost(round_, overall["status"]))
        up = above_grid(pt_metrics, small, large, seeds)
        if up is None:
            return stop(NO_COARSE_CROSSING if previous is None else
                        f"no significant crossing up to M = {max(trained, default=0)}, "
                        f"the grid extended above the coarse one")
        if round_ >= rounds:
            return stop(no_crossing_below(trained[-1]))
        return dict(out, status=ABOVE_GRID, stopped=False, stopped_round=None, next_M=[up])
    ci = (overall["ci_low"], overall["ci_high"])
    # the interval covers the noise; the interpolation between the two trained points
    # around a seed's crossing is exact only for straight curves, so the widest of those
    # brackets must be narrower than `width` too
    resolution = max((s[1] - s[0] for s in sides.values()), default=math.nan)
    out["resolution"] = _finite(resolution)
    if np.isfinite(ci[0]) and np.isfinite(ci[1]) and ci[1] - ci[0] < width and resolution < width:
        return stop(converged(width, one_seed=len(seeds) == 1))
    if round_ >= rounds:
        return stop(ROUNDS_SPENT)
    if None in out["bracket"]:
        return stop(BRACKET_EXHAUSTED)
    nxt = choose_points(sides, per_seed_ci, trained, points, overall["log2_threshold"])
    if not nxt:
        return stop(BRACKET_EXHAUSTED)
    return dict(out, status=REFINING, stopped=False, stopped_round=None, next_M=nxt)


def write_decision(path, decision: dict) -> None:
    """A round's decision as JSON, written atomically (NaN as null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(decision, indent=1, allow_nan=False) + "\n")


def read_decision(path, group: str, round_: int) -> dict:
    """A decision file written by write_decision, checked to be `group`'s after `round_`
    rounds; a damaged or foreign file raises ValueError naming it."""
    try:
        decision = json.loads(Path(path).read_text())
        ok = decision["group"] == group and decision["round"] == round_ and isinstance(decision["pairs"], list)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a refinement decision ({e})") from e
    if not ok:
        raise ValueError(f"{path}: holds group {decision.get('group')!r} round {decision.get('round')!r}, "
                         f"expected group {group!r} round {round_}")
    return decision


# What the thresholds table adds for a refined group (empty for a fixed grid), the same
# on every row of a curve pair: why its refinement stopped and the rounds whose runs were
# trained (its last bracket is the table's own bracket_low, bracket_high).
REFINE_COLUMNS = ["refinement", "refine_rounds"]
FIXED_AXES = ("model", "batch_size", "steps", "weight_decay")


def refine_columns(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of `table` with empty REFINE_COLUMNS added where it lacks them."""
    table = table.copy()
    for c, dtype in zip(REFINE_COLUMNS, (object, "Int64"), strict=True):
        if c not in table.columns:
            table[c] = pd.Series(index=table.index, dtype=dtype)
    return table


def with_refinement(table: pd.DataFrame, decision: dict) -> pd.DataFrame:
    """Threshold rows (threshold_table's, with a `problem` column) with REFINE_COLUMNS
    filled in for the curve pairs of `decision`, a refined group's last decision; the
    rows of other groups are returned as they are."""
    table = refine_columns(table)
    vary = decision["vary"]
    for pair in decision["pairs"]:
        small = Setting.parse(pair["settings"][0])
        rows = (table["group"] == decision["group"]) & (table["problem"] == pair["problem"])
        for axis in FIXED_AXES:
            if axis != vary:
                rows &= table[axis].astype(float if axis != "model" else str) == \
                    (getattr(small, axis) if axis == "model" else float(getattr(small, axis)))
        if not rows.any():
            raise ValueError(f"no threshold row for the curve pair {pair['settings']} of group "
                             f"{decision['group']!r} ({pair['problem']})")
        table.loc[rows, "refinement"] = pair["status"]
        table.loc[rows, "refine_rounds"] = pair["stopped_round"] if pair["stopped"] else decision["round"]
    return table
