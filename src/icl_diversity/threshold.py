"""Transition points read off curves: the task-diversity threshold (the crossover of two
Delta^{T_True}_{PT,Ridge} vs M curves) and, for the learning dynamics, the step t* at
which the distance to Ridge is smallest and a power law t* ~ M^b.

Pure functions on arrays, and `threshold_table`, which applies them to the tidy PT
metrics table and the runs' per-sequence deltas (rows per sweep group and seed, with
bootstrap intervals).
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd


def _crossings(x, diff) -> list[tuple[float, int, int, int]]:
    """Sign changes of `diff` as (x at the crossing, direction, i, j), where i < j are
    the indices (in sorted, finite order) of the nonzero points that bracket it."""
    nonzero = np.flatnonzero(diff != 0)
    out = []
    for i, j in zip(nonzero[:-1], nonzero[1:]):
        if np.sign(diff[i]) == np.sign(diff[j]):
            continue
        if j == i + 1:   # root of the straight line through (x_i, d_i) and (x_j, d_j)
            at = x[i] + (x[j] - x[i]) * diff[i] / (diff[i] - diff[j])
        else:            # exact zeros in between
            at = float(np.mean(x[i + 1:j]))
        out.append((float(at), -1 if diff[i] > 0 else 1, int(i), int(j)))
    return out


def _finite_sorted(x, *columns):
    x = np.asarray(x, dtype=float)
    columns = [np.asarray(c, dtype=float) for c in columns]
    keep = np.isfinite(x) & np.isfinite(columns[0])
    order = np.argsort(x[keep])
    return [x[keep][order]] + [c[keep][order] for c in columns]


def sign_changes(x, diff) -> list[tuple[float, int]]:
    """Where `diff` (sampled at increasing `x`) changes sign, as (x at the crossing,
    direction): direction -1 when diff goes from positive to negative, +1 the other way.

    The crossing is interpolated linearly between the two grid points that bracket it.
    A run of exact zeros between a positive and a negative point counts once, at the
    middle of the run; zeros at the ends, and NaNs anywhere, are ignored.
    """
    x, diff = _finite_sorted(x, diff)
    return [(at, direction) for at, direction, _, _ in _crossings(x, diff)]


@dataclass(frozen=True)
class Threshold:
    log2_M: float          # NaN unless a significant crossing was found
    n_crossings: int       # sign changes of any direction
    n_significant: int     # significant down-crossings
    status: str            # "found", "several", "not significant" or "none found"
    best_crossing: float = float("nan")   # the best down-crossing, significant or not

    @property
    def M(self) -> float:
        return float(2.0 ** self.log2_M)

    @property
    def found(self) -> bool:
        return self.status in ("found", "several")


Z_SIGNIFICANT = 2.0    # |diff| / its standard error at which a point's sign counts


def choose_crossing(log2_M, diff, stderr, z: float = Z_SIGNIFICANT) -> Threshold:
    """The task-diversity threshold from diff = Delta_large - Delta_small (Delta =
    Delta^{T_True}_{PT,Ridge}, large/small = more/less data) at each finite M, with the
    standard error of each diff.

    Below the threshold more data makes the PT more dMMSE-like, so diff > 0; above it
    more Ridge-like, diff < 0. At small M every curve sits on dMMSE and the sign of diff
    is noise, and at large M both approach Ridge: crossings there are not thresholds.
    A point's sign counts only when |diff| >= z * stderr. A down-crossing (+ to -) is
    *significant* when the nearest significant point before it is positive and the
    nearest one after it is negative; a noise crossing at small M fails this, because
    the significant positive region comes after it. Of several significant crossings,
    the one that best splits the z-scores into positive before and negative after
    (largest sum(z before) - sum(z after)) is returned, with status "several".
    """
    x, d, se = _finite_sorted(log2_M, diff, stderr)
    changes = _crossings(x, d)
    down = [c for c in changes if c[1] < 0]
    if not down:
        return Threshold(float("nan"), len(changes), 0, "none found")
    with np.errstate(divide="ignore", invalid="ignore"):
        # no standard error (noise-free curves): every nonzero point counts, with weight 1
        zs = np.where(se > 0, d / se, np.sign(d) * z)
    zs = np.nan_to_num(zs)
    sign = np.where(zs >= z, 1, np.where(zs <= -z, -1, 0))

    def significant(i, j):
        before, after = sign[:i + 1][sign[:i + 1] != 0], sign[j:][sign[j:] != 0]
        return len(before) > 0 and before[-1] == 1 and len(after) > 0 and after[0] == -1

    def split_score(at):
        return zs[x < at].sum() - zs[x > at].sum()

    sig = [c for c in down if significant(c[2], c[3])]
    best = max(sig or down, key=lambda c: split_score(c[0]))
    if not sig:
        return Threshold(float("nan"), len(changes), 0, "not significant", best[0])
    return Threshold(best[0], len(changes), len(sig), "found" if len(sig) == 1 else "several",
                     best[0])


def crossover_threshold(log2_M, delta_small, delta_large) -> Threshold:
    """The threshold of two noise-free curves (every nonzero difference counts)."""
    diff = np.asarray(delta_large, dtype=float) - np.asarray(delta_small, dtype=float)
    return choose_crossing(log2_M, diff, np.zeros_like(diff))


THRESHOLD_COLUMNS = ["group", "problem", "vary", "model", "batch_size", "steps", "weight_decay", "seed",
                     "n_seeds", "vary_small", "vary_large", "log2_threshold", "ci_low", "ci_high",
                     "threshold_M", "found_fraction", "best_crossing", "n_crossings",
                     "n_significant", "status"]


@contextmanager
def _quiet():
    """numpy's all-NaN-slice warnings, silenced (an all-NaN M is dropped on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def bootstrap_threshold(log2_M, small, large, n_boot: int = 1000, z: float = Z_SIGNIFICANT,
                        seed: int = 0, level: float = 0.95) -> dict:
    """The threshold of two curves given per run and per evaluation sequence, with a
    bootstrap interval.

    `small` and `large` are (n_seeds, n_M, N) arrays: Delta^{T_True}_{PT,Ridge} of each
    evaluation sequence for each training seed (NaN rows for runs left out, e.g. stuck
    ones) at each finite M; both curves are evaluated on the same N sequences. A curve
    is the mean over its seeds. Each replicate resamples the sequences (the same draw
    for every run, since they share the evaluation set) and, when there are several
    seeds, the seeds with replacement: one draw across M, since a seed's runs at
    different M share their initialisation and batch stream, and one draw for both
    curves, since seed s of the small- and of the large-data curve share them too (the
    seed, a pair of curves, is the unit that is replicated). Drawing each curve's seeds
    independently would treat that shared part of the seed-to-seed spread as noise in
    the difference. The standard errors the chooser uses are the replicates' standard
    deviations; the interval is the central `level` of the replicates' thresholds, over
    those that found one.
    """
    small, large = (np.asarray(a, dtype=np.float64) for a in (small, large))
    n_seeds, n_M, N = small.shape
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(N, np.full(N, 1.0 / N), size=n_boot) / N     # (B, N)
    per_run = {name: np.einsum("bn,smn->bsm", weights, np.nan_to_num(a))   # (B, seeds, M)
               for name, a in (("small", small), ("large", large))}
    pick = rng.integers(0, n_seeds, size=(n_boot, n_seeds)) if n_seeds > 1 else None
    curves, point = {}, {}
    for name, a in (("small", small), ("large", large)):
        valid = np.isfinite(a).all(axis=2)                                  # (seeds, M)
        reps = np.where(valid[None], per_run[name], np.nan)
        if pick is not None:
            reps = np.take_along_axis(reps, pick[:, :, None], axis=1)
        with _quiet():
            curves[name] = np.nanmean(reps, axis=1)                          # (B, M)
            point[name] = np.nanmean(np.where(valid, a.mean(axis=2), np.nan), axis=0)
    diff_reps = curves["large"] - curves["small"]
    diff = point["large"] - point["small"]
    with _quiet():
        se = np.nanstd(diff_reps, axis=0, ddof=1)
    t = choose_crossing(log2_M, diff, se, z)
    found = np.array([r.log2_M for r in (choose_crossing(log2_M, dr, se, z) for dr in diff_reps)
                      if r.found])
    lo, hi = (np.quantile(found, [(1 - level) / 2, (1 + level) / 2]) if len(found)
              else (np.nan, np.nan))
    return dict(threshold=t, ci_low=float(lo), ci_high=float(hi),
                found_fraction=len(found) / n_boot, diff=diff, stderr=se)


def threshold_table(pt_metrics: pd.DataFrame, groups: dict, sequence_deltas,
                    n_boot: int = 1000) -> pd.DataFrame:
    """Thresholds with bootstrap intervals: per sweep group and combination of its fixed
    axes (model, weight decay and whichever of batch size / steps is not swept), the
    crossing of the Delta^{T_True}_{PT,Ridge} vs finite-M curves of the two smallest
    values of the swept axis; one row over all seeds (`seed` = "all") and, when the
    group has several seeds, one per seed.

    `groups` maps group -> (vary, list of Setting, list of seeds); `sequence_deltas(
    setting, seed, M)` returns the run's per-sequence deltas (N,). Runs flagged `stuck`
    in `pt_metrics` are left out. The swept axis' own column is left empty.
    """
    final = pt_metrics[(pt_metrics["eval_set"] == "true") & (pt_metrics["metric"] == "delta_ridge")
                       & (pt_metrics["position"] == 0)]
    stuck = {(r.setting, int(r.seed), float(r.M)) for r in final.itertuples() if r.stuck}
    rows = []
    for group, (vary, settings, seeds) in groups.items():
        fixed = [a for a in ("model", "batch_size", "steps", "weight_decay") if a != vary]
        combos = {}
        for s in settings:
            combos.setdefault(tuple(getattr(s, a) for a in fixed), []).append(s)
        for key, members in combos.items():
            row = dict(group=group, vary=vary, **dict(zip(fixed, key)))
            values = sorted({getattr(s, vary) for s in members})
            if len(values) < 2:
                rows.append(dict(row, seed="all", n_seeds=len(seeds), n_crossings=0,
                                 n_significant=0, status=f"needs two values of {vary}"))
                continue
            small, large = values[:2]
            by_value = {getattr(s, vary): s.name for s in members}
            Ms = sorted({float(m) for m in final.loc[final["setting"].isin(
                [by_value[small], by_value[large]]), "M"] if np.isfinite(m)})

            def stack(name, seed_list):
                out = []
                for seed in seed_list:
                    per_M = []
                    for M in Ms:
                        d = np.asarray(sequence_deltas(name, seed, M), dtype=float)
                        per_M.append(np.full_like(d, np.nan) if (name, seed, M) in stuck else d)
                    out.append(per_M)
                return np.array(out)      # (seeds, M, N)

            subsets = [("all", list(seeds))] + ([(str(s), [s]) for s in seeds] if len(seeds) > 1 else [])
            for label, seed_list in subsets:
                b = bootstrap_threshold(np.log2(Ms), stack(by_value[small], seed_list),
                                        stack(by_value[large], seed_list), n_boot=n_boot)
                t = b["threshold"]
                rows.append(dict(row, seed=label, n_seeds=len(seed_list), vary_small=small,
                                 vary_large=large, log2_threshold=t.log2_M, ci_low=b["ci_low"],
                                 ci_high=b["ci_high"], threshold_M=t.M,
                                 found_fraction=b["found_fraction"], best_crossing=t.best_crossing,
                                 n_crossings=t.n_crossings, n_significant=t.n_significant,
                                 status=t.status))
    ints = {c: "Int64" for c in ("batch_size", "steps", "vary_small", "vary_large")}
    return pd.DataFrame(rows, columns=THRESHOLD_COLUMNS).astype(ints)


def step_of_minimum(steps, values) -> tuple[float, bool]:
    """(t*, interior): the step where a learning curve is smallest, and whether that
    minimum lies strictly inside the curve (a minimum at the first or last evaluation
    is no evidence of a dip)."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    steps, values = steps[ok], values[ok]
    if len(values) == 0:
        return float("nan"), False
    i = int(np.argmin(values))
    return float(steps[i]), 0 < i < len(values) - 1


def power_law_fit(x, y, level: float = 0.95) -> tuple[float, float, float, float] | None:
    """Least-squares fit of log y = log c + b log x; returns (b, c, b_low, b_high) with a
    `level` t-interval for the exponent (NaN with only two points), or None when fewer
    than two distinct positive points are available."""
    from scipy import stats
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = x[ok], y[ok]
    if len(np.unique(x)) < 2:
        return None
    lx, ly = np.log(x), np.log(y)
    b, log_c = np.polyfit(lx, ly, 1)
    n = len(x)
    if n < 3:
        return float(b), float(np.exp(log_c)), float("nan"), float("nan")
    resid = ly - (b * lx + log_c)
    se = np.sqrt(resid @ resid / (n - 2) / np.sum((lx - lx.mean()) ** 2))
    half = stats.t.ppf((1 + level) / 2, n - 2) * se
    return float(b), float(np.exp(log_c)), float(b - half), float(b + half)
