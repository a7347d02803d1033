"""Transition points read off curves: the task-diversity threshold (the crossover of two
Delta^{T_True}_{PT,Ridge} vs M curves) and, for the learning dynamics, the step t* at
which the distance to Ridge is smallest and a power law t* ~ M^b.

Pure functions on arrays, and `threshold_table`, which applies them to the tidy PT
metrics table (one row per sweep group).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def sign_changes(x, diff) -> list[tuple[float, int]]:
    """Where `diff` (sampled at increasing `x`) changes sign, as (x at the crossing,
    direction): direction -1 when diff goes from positive to negative, +1 the other way.

    The crossing is interpolated linearly between the two grid points that bracket it.
    A run of exact zeros between a positive and a negative point counts once, at the
    middle of the run; zeros at the ends, and NaNs anywhere, are ignored.
    """
    x, diff = np.asarray(x, dtype=float), np.asarray(diff, dtype=float)
    keep = np.isfinite(x) & np.isfinite(diff)
    x, diff = x[keep], diff[keep]
    order = np.argsort(x)
    x, diff = x[order], diff[order]
    nonzero = np.flatnonzero(diff != 0)
    out = []
    for i, j in zip(nonzero[:-1], nonzero[1:]):
        if np.sign(diff[i]) == np.sign(diff[j]):
            continue
        if j == i + 1:   # root of the straight line through (x_i, d_i) and (x_j, d_j)
            at = x[i] + (x[j] - x[i]) * diff[i] / (diff[i] - diff[j])
        else:            # exact zeros in between
            at = float(np.mean(x[i + 1:j]))
        out.append((float(at), -1 if diff[i] > 0 else 1))
    return out


@dataclass(frozen=True)
class Threshold:
    log2_M: float          # NaN when none found
    n_crossings: int       # sign changes of any direction
    status: str            # "found" or "none found"

    @property
    def M(self) -> float:
        return float(2.0 ** self.log2_M)


def crossover_threshold(log2_M, delta_small, delta_large) -> Threshold:
    """The task-diversity threshold from Delta^{T_True}_{PT,Ridge} at each finite M for
    the smaller (`delta_small`) and larger (`delta_large`) value of the swept axis
    (batch size or steps: more data either way).

    The paper's logic fixes the direction: below the threshold more data makes the PT
    more dMMSE-like, so the larger-data curve is FURTHER from Ridge (diff =
    delta_large - delta_small > 0); above it, more Ridge-like (diff < 0). The threshold
    is the first crossing where diff goes from + to - as M grows; the first, because at
    large M both curves approach Ridge and noise can add spurious crossings there.
    Crossings in the other direction are counted in `n_crossings` but never returned.
    """
    diff = np.asarray(delta_large, dtype=float) - np.asarray(delta_small, dtype=float)
    changes = sign_changes(log2_M, diff)
    down = [at for at, direction in changes if direction < 0]
    if not down:
        return Threshold(float("nan"), len(changes), "none found")
    return Threshold(down[0], len(changes), "found")


THRESHOLD_COLUMNS = ["group", "vary", "model", "batch_size", "steps", "weight_decay",
                     "vary_small", "vary_large", "log2_threshold", "threshold_M",
                     "n_crossings", "status"]


def threshold_table(pt_metrics: pd.DataFrame, groups: dict) -> pd.DataFrame:
    """One row per sweep group and combination of its fixed axes (model, weight decay
    and whichever of batch size / steps is not swept): the crossover, in
    Delta^{T_True}_{PT,Ridge} (mean over positions) vs finite M, of the curves of the
    two smallest values of the swept axis.

    `groups` maps group name -> (vary, list of Setting). The swept axis' own column is
    left empty; `vary_small` / `vary_large` say which two curves were compared.
    """
    d = pt_metrics[(pt_metrics["eval_set"] == "true") & (pt_metrics["metric"] == "delta_ridge")
                   & (pt_metrics["position"] == 0) & np.isfinite(pt_metrics["M"])]
    rows = []
    for group, (vary, settings) in groups.items():
        fixed = [a for a in ("model", "batch_size", "steps", "weight_decay") if a != vary]
        combos = {}
        for s in settings:
            combos.setdefault(tuple(getattr(s, a) for a in fixed), []).append(s)
        for key, members in combos.items():
            row = dict(group=group, vary=vary, **dict(zip(fixed, key)))
            values = sorted({getattr(s, vary) for s in members})
            if len(values) < 2:
                rows.append(dict(row, n_crossings=0, status=f"needs two values of {vary}"))
                continue
            small, large = values[:2]
            by_value = {getattr(s, vary): s.name for s in members}
            curves = [d[d["setting"] == by_value[v]].set_index("M")["value"] for v in (small, large)]
            both = pd.concat(curves, axis=1, join="inner").sort_index()
            t = crossover_threshold(np.log2(both.index.to_numpy(float)),
                                    both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy())
            rows.append(dict(row, vary_small=small, vary_large=large, log2_threshold=t.log2_M,
                             threshold_M=t.M, n_crossings=t.n_crossings, status=t.status))
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


def power_law_fit(x, y) -> tuple[float, float] | None:
    """Least-squares fit of log y = log c + b log x; returns (b, c), or None when fewer
    than two distinct positive points are available."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = x[ok], y[ok]
    if len(np.unique(x)) < 2:
        return None
    b, log_c = np.polyfit(np.log(x), np.log(y), 1)
    return float(b), float(np.exp(log_c))
