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
estimated. The baselines and figures come on top.
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
                             **setting.__dict__)
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
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def plan(config: dict, rates, rates_path=RATES) -> str:
    runs = cfg.all_runs(config)                      # (problem, setting, seed, M)
    problems = cfg.all_problems(config)
    settings = {s.name: s for s in cfg.all_settings(config)}
    # one line per (problem, setting) that has runs, in the order runs are listed
    pairs = list(dict.fromkeys((p, s) for p, s, _, _ in runs))
    devices = sorted(set(rates["device"]) | {"cpu", "cuda"})
    n_problems = len({p for p, _ in pairs})
    lines = [f"{len(runs)} training jobs ({len(settings)} settings x seeds x values of M"
             + (f", over {n_problems} problems" if n_problems > 1 else "") + ")", ""]

    def label(p, s):
        return s if n_problems == 1 else f"{s} [{p}]"
    width = max([28] + [len(label(p, s)) + 1 for p, s in pairs])
    header = f"{'setting':{width}s} {'jobs':>5s}  " + "  ".join(f"{d + ' per job':>16s}" for d in devices)
    lines += ["compute (training steps and the run's evaluations, at the measured steps/s; one job "
              "at a time per device):", header]
    totals = dict.fromkeys(devices, 0.0)
    unmeasured, notes = set(), {}
    for p, name in pairs:
        s, pb = settings[name], problems[p]
        model = cfg.model_spec(config, s.model)
        jobs = sum(1 for r in runs if r[:2] == (p, name))
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
            mark = "" if not r.note else ("~" if r.note.startswith("scaled") else "≈")
            if r.note:
                notes[f"{d} {s.model} b{s.batch_size}"] = r.note
            cells.append(f"{human_hours(per_job) + mark:>16s}")
        lines.append(f"{label(p, name):{width}s} {jobs:5d}  " + "  ".join(cells))
    lines.append(f"{'total (job time)':{width}s} {len(runs):5d}  " + "  ".join(
        f"{'unmeasured' if d in unmeasured else human_hours(totals[d]):>16s}" for d in devices))
    lines += ["  ~ rate scaled from another batch size of the same model (time per step ~ batch)"]
    estimated = [f"      {k}: {v}" for k, v in notes.items() if v.startswith("estimated")]
    if estimated:
        lines += ["  ≈ rate estimated from another model's measured FLOP/s on the device "
                  "(training FLOPs per step):"] + estimated
    lines += ["  not counted: pools, evaluation sets, baselines, tables and figures",
              f"  rates: {shown(rates_path)} (" + "; ".join(
                  f"{d}: {', '.join(sorted(set(rates[rates['device'] == d]['measured_on'])))}"
                  for d in sorted(set(rates["device"]))) + ")", ""]

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
    ap.add_argument("--rates", default=str(RATES), help="measured steps/s (benchmarks/measure_rates.py)")
    args = ap.parse_args(argv)
    print(f"plan for {args.config}")
    print(plan(load_config(args.config), load_rates(args.rates), args.rates))


if __name__ == "__main__":
    sys.exit(main())
