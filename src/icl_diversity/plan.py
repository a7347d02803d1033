"""What a config will cost, before anything runs: the training jobs, the compute per
device type (from steps/s measured by benchmarks/measure_rates.py, in
src/icl_diversity/data/rates.csv), and the storage it will write.

    python -m icl_diversity.plan                       # config.yaml
    python -m icl_diversity.plan studies/paper.yaml

Storage is computed from the formats the workflow writes (per run: the predictions at
every evaluation step on eval.curve_sequences sequences and at the end on all, the
model, the tables); CSV row widths are measured by formatting rows of this config.
Compute counts training (forward, backward, Adam at the measured rate) and each run's
evaluations (forward passes at the same FLOP/s); a model never measured on a device gets
the rate its FLOPs per step give at the FLOP/s of the nearest measured model, marked as
estimated. The baselines (dMMSE over every pool, smoothed dMMSE's tuning, the
Laplace-prior Bayes estimator) are counted on the CPU from the CPU seconds per unit of
work in src/icl_diversity/data/baseline_rates.csv (benchmarks/measure_rates.py
--baselines). A device without any measured rate (on this project's machines: CUDA) gets
no hours: the plan prints the training and evaluation FLOPs instead, to divide by that
device's measured rate.
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import config as cfg
from .tasks import M_label
from .train import LOSS_ROWS

ROOT = Path(__file__).resolve().parents[2]
RATES = Path(__file__).resolve().parent / "data" / "rates.csv"   # package data
BASELINE_RATES = RATES.with_name("baseline_rates.csv")           # package data
MEASURE = "benchmarks/measure_rates.py"                           # what writes both
# Gibbs sweeps the Laplace-prior Bayes estimator discards before averaging
# (workflow/scripts/laplace_bayes.py's BURN_IN; tests/test_plan_baselines.py checks they agree)
LAPLACE_BURN_IN = 200
F32, F64, I64 = 4, 8, 8


def load_config(path=None) -> dict:
    """The config as the workflow sees it: a study merged onto config.yaml, schema
    defaults filled in, checks run."""
    return cfg.load_config(path)


def n_params(model: dict, D: int, K: int) -> int:
    """Parameters of the transformer (model.py): read-in, positions, blocks, final
    LayerNorm, read-out."""
    E, L = model["n_embd"], model["n_layer"]
    block = 2 * 2 * E + (E * 3 * E + 3 * E) + (E * E + E) + (E * 4 * E + 4 * E) + (4 * E * E + E)
    return (D + 1) * E + 2 * K * E + L * block + 2 * E + E


def n_evaluations(steps: int, eval_every: int) -> int:
    """Steps 0, eval_every, ... below `steps`, and the last step."""
    return math.ceil(steps / eval_every) + 1


def _problem(config: dict, problem) -> dict:
    """A run's problem as a dict (D, K, ...): the given Problem, else the top-level one."""
    return dict(config["problem"]) if problem is None else problem.params()


def csv_row_bytes(config: dict, setting, problem=None) -> dict[str, float]:
    """Bytes per row of curve.csv / metrics.csv and of train_loss.csv, measured by
    formatting rows of this config's shape (random values, the real step numbers)."""
    import pandas as pd
    from .metrics import run_tables
    from .train import loss_table
    rng = np.random.default_rng(0)
    pb = _problem(config, problem)
    K, D, S = pb["K"], pb["D"], 8
    sets = {n: {"xs": rng.standard_normal((S, K, D)), "ys": rng.standard_normal((S, K)),
                "ws": rng.standard_normal((S, D))} for n in ("true", "pretrain")}
    base = {f"{n}_{e}": rng.standard_normal((S, K)) for n in sets for e in ("Ridge", "dMMSE")}
    pt = {"steps": np.array([0, setting.steps]),
          **{f"{n}_curve": rng.standard_normal((2, S, K)) for n in sets},
          **{n: rng.standard_normal((S, K)) for n in sets}}
    _, final, _ = run_tables(pt, sets, base, D, 0.5, M=float(2 ** 10), setting=setting.name, seed=0,
                             **setting.fields())
    loss = pd.DataFrame(loss_table(rng.random(setting.steps).astype(np.float32), config["train"]["lr"]))
    return {"metrics": len(final.to_csv(index=False)) / len(final),
            "loss": len(loss.to_csv(index=False)) / len(loss)}


def run_storage(config: dict, setting, finite_M: bool, rows: dict, problem=None) -> dict[str, float]:
    """Bytes one training run writes (outputs), and its transient peak (the rolling
    checkpoint with its logs, removed when the run completes)."""
    pb, ev = _problem(config, problem), config["eval"]
    K, N = pb["K"], ev["n_sequences"]
    S = N if ev.get("curve_sequences", "all") == "all" else ev["curve_sequences"]
    E = n_evaluations(setting.steps, config["train"]["eval_every"])
    P = n_params(cfg.model_spec(config, setting.model), pb["D"], K)
    metrics_per_set = 4 if finite_M else 3        # losses (noisy, clean), Delta to Ridge (and dMMSE)
    return {
        "predictions.npz": E * I64 + 2 * E * S * K * F32 + 2 * N * K * F32,
        "model.pt": P * F32 + 8_000,                  # + the archive's records and the config
        "curve.csv": E * 2 * metrics_per_set * rows["metrics"],
        "metrics.csv": 2 * metrics_per_set * (K + 1) * rows["metrics"],
        "train_loss.csv": math.ceil(setting.steps / math.ceil(setting.steps / LOSS_ROWS)) * rows["loss"],
        "sequence_deltas.npz": N * F64,
        "transient checkpoint + logs": 3 * P * F32 + E * (I64 + 2 * S * K * F32) + setting.steps * F32,
    }


def shared_storage(config: dict, problem=None, M_labels=None) -> float:
    """Pools, evaluation sets and baselines of one problem (shared by every run of a
    given M): the top-level problem and M grid unless given."""
    pb, N = _problem(config, problem), config["eval"]["n_sequences"]
    K, D = pb["K"], pb["D"]
    labels = M_labels if M_labels is not None else [M_label(M) for M in config["M"]]
    finite = [int(M) for M in labels if M != "inf"]
    eval_set = N * (K * D + K + D) * F32 + N * I64
    baselines = sum(2 * (2 if M != "inf" else 1) * N * K * F64 for M in labels)
    if pb.get("prior") == "laplace":   # its Bayes estimator's predictions and their errors
        baselines += 2 * N * K * F64
    return sum(M * D * F32 for M in finite) + (1 + len(finite)) * eval_set + baselines


@dataclass
class Rate:
    steps_per_s: float
    note: str        # "" measured as is; else how it was derived


def load_rates(path=RATES):
    import pandas as pd
    return pd.read_csv(path) if Path(path).exists() else pd.DataFrame(
        columns=["device", "model", "batch", "steps_per_s", "threads", "measured_on", "date", "D", "K"])


def rate_for(rates, device: str, model: dict, batch: int) -> Rate | None:
    """The measured rate of (device, model, batch); else the nearest measured batch of
    the model, scaled by batch size (time per step taken proportional to the batch);
    None when the model was never measured on the device."""
    key = f"{model['n_layer']}/{model['n_embd']}/{model['n_head']}"
    rows = rates[(rates["device"] == device) & (rates["model"] == key)]
    if rows.empty:
        return None
    exact = rows[rows["batch"] == batch]
    if len(exact):
        return Rate(float(exact["steps_per_s"].iloc[0]), "")
    near = rows.iloc[int(np.argmin(np.abs(np.log(rows["batch"].to_numpy() / batch))))]
    return Rate(float(near["steps_per_s"]) * near["batch"] / batch, f"scaled from batch {near['batch']}")


def forward_flops(model: dict, D: int, K: int) -> float:
    """Matrix-multiply FLOPs (2 per multiply-add) of one sequence's forward pass over its
    T = 2K tokens: the read-in, each block's attention projections (4 E^2) and MLP
    (8 E^2), the read-out, and attention's scores and weighted sum (2 T^2 E each per
    layer, computed in full and then masked)."""
    return weight_flops(model, D, K) + attention_flops(model, K)


def weight_flops(model: dict, D: int, K: int) -> float:
    """The forward pass's products with weight matrices, over one sequence's 2K tokens."""
    E, L = model["n_embd"], model["n_layer"]
    return 2.0 * ((D + 1) * E + L * 12 * E * E + E) * 2 * K


def attention_flops(model: dict, K: int) -> float:
    """Attention's scores (Q K^T) and weighted sum (A V), every head, every layer."""
    T = 2 * K
    return 2 * 2.0 * T * T * model["n_embd"] * model["n_layer"]


def step_flops(model: dict, batch: int, D: int, K: int) -> float:
    """One training step: forward and backward (twice the forward) over the batch."""
    return 3.0 * forward_flops(model, D, K) * batch


def _parse_model(key: str) -> dict:
    L, E, H = (int(v) for v in key.split("/"))
    return dict(n_layer=L, n_embd=E, n_head=H)


def estimated_rate(rates, device: str, model: dict, batch: int, D: int, K: int) -> Rate | None:
    """rate_for's rate; else, for a model never measured on the device, the rate its
    training FLOPs per step give at the FLOP/s of the measured (model, batch) nearest to
    it in FLOPs per step (marked as estimated); None when the device has no rate at all.
    A measured row's FLOPs are taken at the D and K it was measured on (rates.csv)."""
    r = rate_for(rates, device, model, batch)
    if r is not None:
        return r
    rows = rates[rates["device"] == device]
    if rows.empty:
        return None
    want = step_flops(model, batch, D, K)

    def measured_at(row, key, default):     # the problem a rate was measured on (rates.csv D, K)
        v = row.get(key) if hasattr(row, "get") else None
        return int(v) if v is not None and v == v else default
    have = np.array([step_flops(_parse_model(r["model"]), int(r["batch"]), measured_at(r, "D", D),
                                measured_at(r, "K", K)) for _, r in rows.iterrows()])
    i = int(np.argmin(np.abs(np.log(have / want))))
    near = rows.iloc[i]
    return Rate(float(near["steps_per_s"]) * have[i] / want,
                f"estimated by FLOPs from {near['model']} at batch {near['batch']}")


def evaluation_flops(config: dict, model: dict, steps: int, D: int, K: int) -> float:
    """Forward passes a run makes to evaluate itself: the curve sequences of both sets at
    every evaluation step, and every sequence of both at the end."""
    ev = config["eval"]
    N = ev["n_sequences"]
    S = N if ev.get("curve_sequences", "all") == "all" else ev["curve_sequences"]
    E = n_evaluations(steps, config["train"]["eval_every"])
    return forward_flops(model, D, K) * 2 * (E * S + N)


def run_flops(config: dict, model: dict, steps: int, batch: int, D: int, K: int) -> float:
    """Matrix-multiply FLOPs of one run: its training steps and its evaluations."""
    return steps * step_flops(model, batch, D, K) + evaluation_flops(config, model, steps, D, K)


def setting_flops(config: dict, setting, problem) -> float:
    """run_flops of one run of `setting` (config.Setting) on `problem` (config.Problem)."""
    return run_flops(config, cfg.model_spec(config, setting.model), setting.steps, setting.batch_size,
                     problem.D, problem.K)


# ---- the baselines (CPU only: the workflow computes them on the CPU)

# How a baseline's work per unit grows with D, for a D it was never measured at: dMMSE
# weighs each pool task with a D-long dot product per position (and smoothed dMMSE the
# same, on transformed inputs); a Gibbs sweep factorises a D x D matrix per chain.
D_POWER = {"dmmse_true": 1, "dmmse_pretrain": 1, "smoothed_tuning": 1, "laplace_gibbs": 3}


@dataclass
class BaselineRate:
    seconds_per_unit: float
    note: str        # "" measured as is; else how it was derived


def load_baseline_rates(path=BASELINE_RATES):
    """The baselines' measured rates (benchmarks/measure_rates.py --baselines); an empty
    table when the file does not exist. A file the plan cannot use is refused, naming it
    and what is wrong."""
    import pandas as pd
    columns = ["estimator", "D", "K", "noise_var", "M", "n", "seconds_per_unit", "unit", "threads",
               "measured_on", "date", "method"]
    if not Path(path).exists():
        return pd.DataFrame(columns=columns)
    rates = pd.read_csv(path, dtype={"M": str})
    missing = [c for c in ("estimator", "D", "M", "seconds_per_unit", "measured_on") if c not in rates.columns]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)} (written by {MEASURE} --baselines)")
    unknown = sorted(set(rates["estimator"]) - set(D_POWER))
    if unknown:
        raise ValueError(f"{path}: unknown estimator {', '.join(map(str, unknown))} (known: {', '.join(D_POWER)})")
    values = pd.to_numeric(rates["seconds_per_unit"], errors="coerce")
    bad = rates[~(np.isfinite(values) & (values > 0))]
    if len(bad):
        raise ValueError(f"{path}: seconds_per_unit must be a positive number, got "
                         f"{bad['seconds_per_unit'].iloc[0]!r} ({bad['estimator'].iloc[0]}, D = {bad['D'].iloc[0]})")
    return rates.assign(seconds_per_unit=values)


def baseline_rate(rates, estimator: str, D: int, M=None) -> BaselineRate | None:
    """CPU seconds per unit of `estimator`'s work at (D, M): the row measured at D and the
    M nearest to M (log scale; M = None: the largest measured); a D never measured takes
    the nearest measured D's, scaled by (D / D')^D_POWER and marked as estimated; None
    when the estimator was never measured."""
    rows = rates[rates["estimator"] == estimator]
    if rows.empty:
        return None
    Ds = rows["D"].astype(int).to_numpy()
    near_D = int(Ds[np.argmin(np.abs(np.log(Ds / D)))])
    rows = rows[Ds == near_D]
    Ms = rows["M"].astype(float).to_numpy()
    finite = np.isfinite(Ms)
    if M is None or not finite.any():
        i = int(np.argmax(Ms))
    else:
        i = int(np.argmin(np.where(finite, np.abs(np.log(np.where(finite, Ms, 1.0) / float(M))), np.inf)))
    row = rows.iloc[i]
    rate = float(row["seconds_per_unit"])
    if near_D != D:
        power = D_POWER[estimator]
        return BaselineRate(rate * (D / near_D) ** power,
                            f"estimated from D = {near_D}, scaled by (D / {near_D})^{power}")
    exact = M is None or not finite.any() or float(M) == Ms[i]
    return BaselineRate(rate, "" if exact else f"at M = {row['M']}")


def baseline_work(config: dict, problem, M_labels) -> list[tuple[str, str, float]]:
    """The units of work of one problem's baselines: (estimator, M, units). At each finite
    M: dMMSE on both evaluation sets, and smoothed dMMSE over the smoothing grid on the
    tuning set and then at the chosen s^2 on both evaluation sets (counted at the tuning's
    rate), per (sequence, position that weighs the pool, pool task); for a Laplace-prior
    problem, its Bayes estimator's Gibbs sweeps (burn-in included) per (sequence,
    position). Ridge (M = inf, and beside every dMMSE) is a D x D solve per (sequence,
    position): not counted."""
    ev, pb = config["eval"], _problem(config, problem)
    N, K = ev["n_sequences"], pb["K"]
    smoothed = ev["n_tuning"] * len(ev["smoothing_grid"]) + 2 * N
    work = []
    for M in M_labels:
        if M == "inf":
            continue
        weighed = (K - 1) * int(M)
        work += [("dmmse_true", M, N * weighed), ("dmmse_pretrain", M, N * weighed),
                 ("smoothed_tuning", M, smoothed * weighed)]
    if pb.get("prior") == "laplace":
        work.append(("laplace_gibbs", "inf", N * K * (LAPLACE_BURN_IN + ev["laplace_sweeps"])))
    return work


def baseline_seconds(config: dict, problem, M_labels, rates) -> tuple[dict, dict]:
    """CPU seconds of one problem's baselines by kind ({"dMMSE", "smoothed dMMSE",
    "Laplace Bayes"}: seconds, None where a rate is missing), and the notes of the rates
    that were not measured as they are used."""
    kinds = {"dmmse_true": "dMMSE", "dmmse_pretrain": "dMMSE", "smoothed_tuning": "smoothed dMMSE",
             "laplace_gibbs": "Laplace Bayes"}
    seconds, notes = {}, {}
    D = _problem(config, problem)["D"]
    for estimator, M, units in baseline_work(config, problem, M_labels):
        kind = kinds[estimator]
        r = baseline_rate(rates, estimator, D, None if M == "inf" else M)
        if r is None:
            seconds[kind] = None
            continue
        if kind in seconds and seconds[kind] is None:
            continue
        seconds[kind] = seconds.get(kind, 0.0) + units * r.seconds_per_unit
        if r.note:
            notes.setdefault(f"{estimator} D={D}", set()).add(r.note)
    return seconds, notes


def shown(path) -> str:
    """A path relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if ROOT in path.parents else str(path)


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000


def human_hours(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def refine_lines(config: dict) -> list[str]:
    """Per refined group: the most its refinement trains (the coarse grid plus every
    round's points, which the job counts below include) and what the top-level M grid
    would train instead."""
    lines = []
    for group in config["sweeps"]:
        spec = cfg.sweep_refine(config, group)
        if spec is None:
            continue
        pairs = len(cfg.refine_pairs(config, group))
        per_M = 2 * len(cfg.sweep_seeds(config, group))         # both curves, every seed
        coarse = pairs * per_M * len(cfg.sweep_M_labels(config, group))
        added = len(cfg.refine_runs_at_most(config, group))
        fixed = pairs * per_M * len(config["M"])
        most = coarse + added
        lines.append(f"  refined group {group}: at most {most} runs (coarse grid {coarse}, then "
                     f"{spec['rounds']} rounds x {spec['points']} M x {pairs} curve pair(s) x {per_M} "
                     f"runs: {added})" + (f"; on the top-level grid of {len(config['M'])} M it would "
                                          f"train {fixed}, {fixed - most} more" if fixed > most else ""))
    return lines


def analysis_lines(config: dict) -> list[str]:
    """The choices a study makes before any number is fitted, stated so that a dry run of
    the study says them: Fig 4's fit range, and the configurations whose learning rate is
    tuned (each candidate is a run at every M and seed, counted in the jobs above)."""
    lines = []
    if "fig4" in (config.get("figures") or {}):
        fit = cfg.fig4_fit(config)
        dyn = (config.get("analysis") or {}).get("dynamics") or {}
        where = (f"over M <= {fit['max_M']} (analysis.dynamics.fit_max_M)" if "max_M" in fit else
                 f"below the all-seeds threshold of group {fit['below']} (analysis.dynamics.fit_below"
                 + ("" if "fit_below" in dyn else "; by default Fig 4's own group") + ")")
        lines.append(f"  Fig 4 fits t* ~ M^alpha {where}")
    tuned = cfg.tuned_lrs(config)
    if tuned:
        by_list = {}
        for name, lrs in tuned.items():
            by_list.setdefault(lrs, []).append(name)
        for lrs, names in by_list.items():
            lines.append(f"  learning rate tuned over {', '.join(f'{lr:g}' for lr in lrs)} for "
                         f"{len(names)} configuration(s): {', '.join(names)}")
        lines.append("    per configuration, of the rates none of whose runs diverged or got stuck, the one "
                     "with the lowest mean final training loss is kept (tables/lr_choice.csv)")
    return lines


def plan(config: dict, rates, rates_path=RATES, baseline_rates=None, baseline_rates_path=BASELINE_RATES,
         study: str = "this study") -> str:
    """The plan's text: jobs, compute (training with its evaluations per device, the
    baselines on the CPU, and the totals), storage."""
    if baseline_rates is None:
        baseline_rates = load_baseline_rates(baseline_rates_path)
    # (problem, setting, seed, M): the sweep's runs and the connectivity reference's, and
    # the most a refined group's rounds can add (config.refine_runs_at_most)
    runs = cfg.all_runs(config) + cfg.reference_runs(config) + cfg.refine_runs_at_most(config)
    problems = cfg.all_problems(config)
    settings = {s.name: s for s in cfg.all_settings(config)}
    # one line per (problem, setting) that has runs, in the order runs are listed
    pairs = list(dict.fromkeys((p, s) for p, s, _, _ in runs))
    devices = sorted(set(rates["device"]) | {"cpu", "cuda"})
    n_problems = len({p for p, _ in pairs})
    lines = [f"{len(runs)} training jobs ({len(settings)} settings x seeds x values of M"
             + (f", over {n_problems} problems" if n_problems > 1 else "") + ")"]
    lines += refine_lines(config) + analysis_lines(config) + [""]

    def label(p, s):
        return s if n_problems == 1 else f"{s} [{p}]"
    width = max([28] + [len(label(p, s)) + 1 for p, s in pairs])
    header = (f"{'setting':{width}s} {'jobs':>5s}  " + "  ".join(f"{d + ' per job':>16s}" for d in devices)
              + f"  {'FLOPs per job':>14s}")
    lines += ["compute (training steps and the run's evaluations, at the measured steps/s; one job "
              "at a time per device):", header]
    totals = dict.fromkeys(devices, 0.0)
    unmeasured, notes = set(), {}
    flops = 0.0
    # what the learning-rate candidates add over one rate per configuration: of a
    # configuration's n candidates, n - 1 are extra (the same FLOPs at each rate)
    tuned = cfg.tuned_lrs(config)
    lr_extra, lr_jobs, lr_extra_jobs = dict.fromkeys(devices, 0.0), 0, 0.0
    for p, name in pairs:
        s, pb = settings[name], problems[p]
        model = cfg.model_spec(config, s.model)
        jobs = sum(1 for r in runs if r[:2] == (p, name))
        job_flops = setting_flops(config, s, pb)
        flops += jobs * job_flops
        extra = 0.0 if s.lr is None else 1 - 1 / len(tuned[s.configuration.name])
        lr_jobs += jobs if s.lr is not None else 0
        lr_extra_jobs += jobs * extra
        cells = []
        for d in devices:
            r = estimated_rate(rates, d, model, s.batch_size, pb.D, pb.K)
            if r is None:
                cells.append(f"{'unmeasured':>16s}")
                unmeasured.add(d)
                continue
            # evaluation runs at the step's FLOP/s (forward passes only)
            flop_rate = r.steps_per_s * step_flops(model, s.batch_size, pb.D, pb.K)
            per_job = s.steps / r.steps_per_s + evaluation_flops(config, model, s.steps, pb.D, pb.K) / flop_rate
            totals[d] += jobs * per_job
            lr_extra[d] += jobs * per_job * extra
            mark = "" if not r.note else ("~" if r.note.startswith("scaled") else "≈")
            if r.note:
                notes[f"{d} {s.model} b{s.batch_size}"] = r.note
            cells.append(f"{human_hours(per_job) + mark:>16s}")
        lines.append(f"{label(p, name):{width}s} {jobs:5d}  " + "  ".join(cells) + f"  {job_flops:14.3g}")
    lines.append(f"{'total (job time)':{width}s} {len(runs):5d}  " + "  ".join(
        f"{'unmeasured' if d in unmeasured else human_hours(totals[d]):>16s}" for d in devices)
        + f"  {flops:14.3g}")
    if lr_jobs:
        added = ", ".join(f"{d} {'unmeasured' if d in unmeasured else human_hours(lr_extra[d])}"
                          for d in devices)
        lines.append(f"  learning-rate candidates: {lr_jobs} of the {len(runs)} jobs, {round(lr_extra_jobs)} "
                     f"more than one rate per configuration would train; those add {added} of job time")
    lines += ["  ~ rate scaled from another batch size of the same model (time per step ~ batch)"]
    estimated = [f"      {k}: {v}" for k, v in notes.items() if v.startswith("estimated")]
    if estimated:
        lines += ["  ≈ rate estimated from another model's measured FLOP/s on the device "
                  "(training FLOPs per step):"] + estimated
    lines += ["  FLOPs: matrix-multiply FLOPs of the training steps (forward and backward) and of "
              "the evaluations (forward)",
              f"  rates: {shown(rates_path)} (" + "; ".join(
                  f"{d}: {', '.join(sorted(set(rates[rates['device'] == d]['measured_on'])))}"
                  for d in sorted(set(rates["device"]))) + ")", ""]

    # the baselines, per problem, at every M its pools and baselines are made for
    lines.append("baselines (on the CPU, one core, at the measured CPU seconds per unit of work):")
    kinds = ("dMMSE", "smoothed dMMSE", "Laplace Bayes")
    pwidth = max([24] + [len(p) + 1 for p in problems])
    lines.append(f"{'problem':{pwidth}s} {'pools':>5s}  " + "  ".join(f"{k:>14s}" for k in kinds)
                 + f"  {'total':>12s}")
    baselines, baseline_notes, missing = 0.0, {}, set()
    for p, problem in problems.items():
        M_labels = cfg.problem_M_labels(config, p)
        seconds, problem_notes = baseline_seconds(config, problem, M_labels, baseline_rates)
        baseline_notes.update(problem_notes)
        missing |= {k for k, v in seconds.items() if v is None}
        known = sum(v for v in seconds.values() if v is not None)
        baselines += known
        cells = [("unmeasured" if seconds[k] is None else human_hours(seconds[k])) if k in seconds else "-"
                 for k in kinds]
        mark = "≈" if any(v.startswith("estimated") for n in problem_notes.values() for v in n) else ""
        lines.append(f"{p:{pwidth}s} {sum(M != 'inf' for M in M_labels):5d}  "
                     + "  ".join(f"{c:>14s}" for c in cells) + f"  {human_hours(known) + mark:>12s}")
    lines.append(f"  dMMSE on both evaluation sets at every finite M; smoothed dMMSE over "
                 f"{len(config['eval']['smoothing_grid'])} values of s^2 on {config['eval']['n_tuning']} "
                 "tuning sequences, then at the chosen one on both sets; the Laplace prior's Gibbs "
                 f"sweeps ({LAPLACE_BURN_IN} burn-in + {config['eval']['laplace_sweeps']}); Ridge: not counted "
                 "(a D x D solve per sequence and position)")
    near_M = sorted({int(n[len("at M = "):]) for v in baseline_notes.values() for n in v if n.startswith("at M = ")})
    if near_M:
        lines.append("  an M not measured takes the rate per unit of the nearest measured M (log scale): "
                     f"M = {', '.join(map(str, near_M))}")
    estimated_D = {k: [n for n in v if n.startswith("estimated")] for k, v in baseline_notes.items()}
    if any(estimated_D.values()):
        lines.append("  ≈ a D never measured: the nearest measured D's rate, scaled by D (dMMSE) or "
                     "D^3 (Gibbs):")
        lines += [f"      {k}: {'; '.join(v)}" for k, v in estimated_D.items() if v]
    lines += ["  rates: " + shown(baseline_rates_path) + " (" + "; ".join(
                  sorted(set(baseline_rates["measured_on"]))) + ")",
              "  not counted: pools, evaluation sets, PT metrics, Fig 5 and connectivity analyses, "
              "tables and figures", ""]

    # the totals: what the README quotes for the paper study (tools/readme_plan.py)
    lines.append(f"totals ({study}):")
    if "cpu" in unmeasured or missing:
        what = ", ".join(sorted(missing | ({"training"} if "cpu" in unmeasured else set())))
        lines.append(f"  CPU: unmeasured ({what}): run {MEASURE} (--baselines for the baselines)")
    else:
        lines.append(f"  CPU: {human_hours(totals['cpu'] + baselines)} on one core (training and evaluation "
                     f"{human_hours(totals['cpu'])}, baselines {human_hours(baselines)})")
    for d in (d for d in devices if d != "cpu"):
        name = "GPU" if d == "cuda" else d
        if d in unmeasured:
            lines += [f"  {name} hours: unmeasured ({shown(rates_path)} holds no {d} rate). Training and evaluation",
                      f"    are {flops:.3g} FLOPs: divide them by the FLOP/s the device trains these models at,",
                      f"    or run `python {MEASURE} --device {d}` on it: it adds {d} rows, from which",
                      f"    this plan then gives {d} hours as it does the CPU's. The baselines run on the CPU."]
        else:
            lines.append(f"  {name}: {human_hours(totals[d])} on one {d} device for training and evaluation "
                         f"({flops:.3g} FLOPs), and the baselines' {human_hours(baselines)} on the CPU")
    lines.append("")

    total, transient = 0.0, 0.0
    lines.append("storage (outputs per run, by setting):")
    for p, name in pairs:
        s, problem = settings[name], problems[p]
        rows = csv_row_bytes(config, s, problem)
        per = {is_finite: run_storage(config, s, is_finite, rows, problem) for is_finite in (True, False)}
        for r in runs:
            if r[:2] == (p, name):
                total += sum(v for k, v in per[r[3] != "inf"].items() if not k.startswith("transient"))
        big = per[True]
        outputs = sum(v for k, v in big.items() if not k.startswith("transient"))
        transient = max(transient, big["transient checkpoint + logs"])
        detail = ", ".join(f"{k} {human_bytes(v)}" for k, v in big.items() if not k.startswith("transient"))
        lines.append(f"  {label(p, name)}: {human_bytes(outputs)} per run ({detail})")
    # each problem's pools, sets and baselines, at the union of its runs' M (and the
    # top-level problem always, at the top-level grid: the workflow makes it regardless)
    main = cfg.main_problem(config).name
    shared = 0.0
    for p, problem in problems.items():
        labels = {r[3] for r in runs if r[0] == p} | ({M_label(M) for M in config["M"]} if p == main else set())
        shared += shared_storage(config, problem, sorted(labels))
    lines += [f"  pools, evaluation sets, baselines: {human_bytes(shared)}",
              f"  total written: {human_bytes(total + shared)} (+ figures and logs, a few MB); "
              f"a running job also holds up to {human_bytes(transient)} of rolling checkpoint and logs"]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m icl_diversity.plan", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", nargs="?", default=str(ROOT / "config.yaml"))
    ap.add_argument("--rates", default=str(RATES), help=f"measured steps/s ({MEASURE})")
    ap.add_argument("--baseline-rates", default=str(BASELINE_RATES),
                    help=f"the baselines' measured CPU seconds per unit of work ({MEASURE} --baselines)")
    args = ap.parse_args(argv)
    print(f"plan for {args.config}")
    print(plan(load_config(args.config), load_rates(args.rates), args.rates,
               load_baseline_rates(args.baseline_rates), args.baseline_rates, study=shown(args.config)))


def totals(text: str) -> list[str]:
    """The totals block of a plan's text (its header and lines)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("totals ("))
    end = lines.index("", start)
    return lines[start:end]


if __name__ == "__main__":
    sys.exit(main())
