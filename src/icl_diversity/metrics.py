"""Losses and distances between estimators, as tidy (long) tables.

Conventions, shared by every CSV the workflow writes:
- `loss_per_dim`: squared error / D, against `target` = "noisy" (y) or "clean" (w.x).
- `delta_ridge`, `delta_dmmse`: Delta_{A,B} = mean over sequences of (f_A - f_B)^2 / D,
  where A is the row's estimator and B is Ridge or dMMSE; `target` is "-".
- `position` is 1..K for one position, and 0 for the mean over all K positions.
- `stderr` is the Monte-Carlo standard error over sequences.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def per_position(sq_err: np.ndarray, D: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(N, K) squared errors -> per-position mean/D, its stderr, the overall mean/D and its stderr."""
    sq = np.asarray(sq_err, dtype=np.float64) / D
    N = sq.shape[0]
    mean_k = sq.mean(axis=0)
    se_k = sq.std(axis=0, ddof=1) / np.sqrt(N) if N > 1 else np.full_like(mean_k, np.nan)
    per_seq = sq.mean(axis=1)   # sequences are independent; positions within one are not
    se = per_seq.std(ddof=1) / np.sqrt(N) if N > 1 else np.nan
    return mean_k, se_k, float(per_seq.mean()), float(se)


def metric_rows(values: np.ndarray, D: int, **labels) -> list[dict]:
    """Rows for one (N, K) array of squared differences: K per-position rows + the mean."""
    mean_k, se_k, mean, se = per_position(values, D)
    rows = [dict(labels, position=0, value=mean, stderr=se)]
    rows += [dict(labels, position=k + 1, value=float(m), stderr=float(s))
             for k, (m, s) in enumerate(zip(mean_k, se_k))]
    return rows


# The estimators every other is compared with, and the metric of that distance.
REFERENCES = (("Ridge", "delta_ridge"), ("dMMSE", "delta_dmmse"))


def estimator_keys(name: str, present) -> list[tuple[str, str, str]]:
    """(estimator, metric, target) of the row groups estimator_rows writes for `name`
    when the estimators `present` are given: its losses, and its distance to each
    reference present (each group has positions 0..K)."""
    return ([(name, "loss_per_dim", target) for target in ("noisy", "clean")]
            + [(name, metric, "-") for ref, metric in REFERENCES if ref in present and ref != name])


def estimator_rows(preds: dict[str, np.ndarray], eval_data: dict, D: int, estimators=None,
                   **labels) -> list[dict]:
    """Loss rows (noisy and clean targets) for each estimator in `estimators` (default:
    all of `preds`), and its distance to Ridge and dMMSE when those are in `preds`."""
    ys = np.asarray(eval_data["ys"], dtype=np.float64)
    clean = np.einsum("nkd,nd->nk", eval_data["xs"].astype(np.float64),
                      eval_data["ws"].astype(np.float64))
    rows = []
    for name in estimators or preds:
        f = np.asarray(preds[name], dtype=np.float64)
        for target, t in (("noisy", ys), ("clean", clean)):
            rows += metric_rows((f - t) ** 2, D, estimator=name, metric="loss_per_dim",
                                target=target, **labels)
        for ref, metric in REFERENCES:
            if ref in preds and ref != name:
                rows += metric_rows((f - np.asarray(preds[ref], np.float64)) ** 2, D,
                                    estimator=name, metric=metric, target="-", **labels)
    return rows


def gap_closed(pred: np.ndarray, ys: np.ndarray, ridge: np.ndarray) -> float:
    """How far training has come on one evaluation set: the fraction of the gap from
    the plateau (the zero predictor, where a transformer that has not learned anything
    in context sits) to Ridge that the predictions `pred` have closed. 0 on the plateau,
    about 1 at Ridge, above 1 when better than Ridge (dMMSE-like on a small pool)."""
    ys = np.asarray(ys, dtype=np.float64)
    plateau = np.mean(ys ** 2)
    loss = np.mean((np.asarray(pred, np.float64) - ys) ** 2)
    ridge_loss = np.mean((np.asarray(ridge, np.float64) - ys) ** 2)
    return float((plateau - loss) / (plateau - ridge_loss))


def plateau_guard(steps, gaps, guard: float) -> dict:
    """Run-level health from the gap closed at each evaluation step (on the run's own
    training distribution): `escape_step`, the first step with half the gap closed (NaN
    if never), the final `gap_closed`, and `stuck` when that is below `guard`: such a
    run is a failed optimisation, not a data point."""
    steps, gaps = np.asarray(steps), np.asarray(gaps, dtype=float)
    escaped = steps[gaps >= 0.5]
    return {"gap_closed": float(gaps[-1]),
            "escape_step": float(escaped[0]) if len(escaped) else float("nan"),
            "stuck": bool(gaps[-1] < guard)}


COLUMNS = ["estimator", "M", "eval_set", "metric", "target", "position", "value", "stderr"]


def to_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    front = [c for c in COLUMNS if c in df.columns]
    return df[front + [c for c in df.columns if c not in front]]


def _rows_at(step, pt_preds: dict, sets: dict, baselines: dict, D: int, gap: float, **labels) -> list[dict]:
    """Rows of the PT at one step on each evaluation set (with its distances to the
    baselines present in `baselines`, keyed "{set}_{estimator}")."""
    rows = []
    for name, data in sets.items():
        preds = {"PT": pt_preds[name]}
        preds.update({est: baselines[f"{name}_{est}"] for est in ("Ridge", "dMMSE")
                      if f"{name}_{est}" in baselines})
        rows += estimator_rows(preds, data, D, estimators=["PT"], eval_set=name, step=int(step),
                               gap_closed=gap, **labels)
    return rows


def run_tables(pt: dict, sets: dict, baselines: dict, D: int, guard: float, **labels):
    """One training run against the baselines: (curve, final, health).

    `pt` is what the run stored: `steps` (E,), `{set}_curve` (E, S, K), the predictions
    on the first S sequences of each set at every evaluation step, and `{set}` (N, K),
    on every sequence at the last one. The curve has every metric's mean over positions
    (position 0) at every step on those S sequences; the final table every position on
    all N. The plateau guard reads the run's own training distribution (T_Pretrain;
    T_True at M = inf, where a small-pool model is rightly worse than the zero
    predictor): its escape step from the curve, its verdict from every sequence.
    """
    S = pt["pretrain_curve"].shape[1]
    curve_sets = {name: {k: v[:S] for k, v in data.items()} for name, data in sets.items()}
    curve_baselines = {k: v[:S] for k, v in baselines.items()}
    gaps = [gap_closed(p, curve_sets["pretrain"]["ys"], curve_baselines["pretrain_Ridge"])
            for p in pt["pretrain_curve"]]
    final_gap = gap_closed(pt["pretrain"], sets["pretrain"]["ys"], baselines["pretrain_Ridge"])
    health = plateau_guard(pt["steps"], gaps[:-1] + [final_gap], guard)
    rows = [row for e, step in enumerate(pt["steps"])
            for row in _rows_at(step, {name: pt[f"{name}_curve"][e] for name in sets}, curve_sets,
                                curve_baselines, D, gaps[e], **labels) if row["position"] == 0]
    columns = dict(escape_step=health["escape_step"], stuck=health["stuck"])
    curve = to_frame(rows).assign(**columns)
    final = to_frame(_rows_at(pt["steps"][-1], pt, sets, baselines, D, final_gap, **labels)).assign(**columns)
    return curve, final, health


# ---- what each per-run and per-M table promises: its row groups, (estimator,
# eval_set, metric, target), each with positions 0..K (a curve: position 0, at every
# evaluation step). The readers check a file against these (tables.read_table).

EVAL_SETS = ("true", "pretrain")


def run_keys(M) -> list[tuple[str, str, str, str]]:
    """A run's metrics.csv (and its curve.csv at each step), as run_tables writes them:
    the PT on both evaluation sets, against Ridge, and against dMMSE where there is a
    pool (finite M; at M = inf dMMSE is Ridge and has no predictions of its own)."""
    present = ["PT", "Ridge"] + (["dMMSE"] if np.isfinite(float(M)) else [])
    return [(e, s, m, t) for s in EVAL_SETS for e, m, t in estimator_keys("PT", present)]


def baseline_keys(M) -> list[tuple[str, str, str, str]]:
    """The baselines' metrics.csv at M (workflow/scripts/baselines.py): Ridge, and at
    finite M dMMSE and smoothed dMMSE, each against the others of Ridge and dMMSE."""
    present = ["Ridge"] + (["dMMSE", "smoothed_dMMSE"] if np.isfinite(float(M)) else [])
    return [(e, s, m, t) for s in EVAL_SETS for name in present
            for e, m, t in estimator_keys(name, present)]


def bayes_keys() -> list[tuple[str, str, str, str]]:
    """The Laplace-prior Bayes estimator's metrics.csv (workflow/scripts/laplace_bayes.py):
    on T_True only, against Ridge."""
    return [(e, "true", m, t) for e, m, t in estimator_keys("Bayes", ["Bayes", "Ridge"])]


def interpolation_keys(runs) -> list[tuple[str, str, str, str, str, str]]:
    """Fig 5's metrics at one M and one value of a (workflow/scripts/interpolation_eval.py),
    with the setting and seed of each group: Ridge and dMMSE (setting and seed "-"), and
    the PT of each run (setting, seed) in `runs`, against both."""
    present = ["Ridge", "dMMSE"]
    return ([(e, "interpolation", m, t, "-", "-") for name in present
             for e, m, t in estimator_keys(name, present)]
            + [(e, "interpolation", m, t, setting, str(seed)) for setting, seed in runs
               for e, m, t in estimator_keys("PT", ["PT"] + present)])


def evaluation_steps(steps: int, eval_every: int) -> list[int]:
    """The steps a run of `steps` steps is evaluated at (train._loop): every
    `eval_every`-th step from 0, and the last."""
    return list(range(0, steps, eval_every)) + [steps]
