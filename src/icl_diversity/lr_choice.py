"""The learning rate as a sweep axis: which candidate each configuration keeps.

A group's `lr` list trains each of its configurations (a setting without its learning
rate: model, batch size, steps and weight decay) at every candidate, at every M and
seed (config.tuned_lrs: a configuration tuned in one group is tuned in every group that
trains it). Per configuration and problem:

- a candidate is *stable* when none of its runs diverged (the training loss became NaN
  or exceeded `train.max_loss`; a candidate's training job records that in the run's
  train_loss.csv instead of failing, train.diverged_outputs) and none is stuck on the
  plateau (pt_metrics' `stuck`);
- among the stable candidates, the one with the lowest final training loss is chosen:
  the mean over the configuration's runs (every M and seed) of the last logged training
  loss (the last row of each run's train_loss.csv); on an exact tie, the larger
  learning rate;
- with no stable candidate, nothing is chosen: the configuration gets no threshold, and
  the thresholds table's status says why.

Divergence is judged against `train.max_loss`, an execution knob: a candidate recorded
as diverged stays so in the store whatever a later study's limit.

`lr_choice.csv` has one row per problem, configuration and candidate (CHOICE_COLUMNS).
The thresholds, figures and summary read the runs' tables through `keep_chosen`, which
keeps a configuration's chosen candidate's rows under the configuration's name and drops
the other candidates', so a tuned group reads like one trained at one learning rate per
configuration; a group without an `lr` list reads as it always did.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .config import Setting

# n_stuck counts the stuck runs that did not diverge (a diverged run is stuck too: its
# predictions are the zero predictor's)
CHOICE_COLUMNS = ["problem", "configuration", "lr", "setting", "n_runs", "n_diverged", "n_stuck",
                  "final_loss", "stable", "chosen", "reason"]
RUN_COLUMNS = ["problem", "setting", "seed", "M", "diverged", "diverged_step", "stuck", "final_loss"]


def read_train_loss(path) -> dict:
    """A run's train_loss.csv as the choice reads it: whether the run diverged (a
    `diverged` column with a true row, which only a candidate that diverged writes), the
    step it diverged at, and its final loss (the last row's; NaN for a diverged run).
    Raises ValueError naming the file when it is missing columns, empty or not finite."""
    path = Path(path)
    try:
        table = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError, pd.errors.ParserError) as e:
        raise ValueError(f"{path}: not a readable train_loss.csv ({e})") from e
    missing = [c for c in ("step", "loss") if c not in table.columns]
    if missing or table.empty:
        raise ValueError(f"{path}: a train_loss.csv needs rows and the columns step and loss "
                         f"(missing: {missing or 'rows'})")
    if "diverged" in table.columns:
        flags = table["diverged"].astype(str).str.lower()
        if not flags.isin(["true", "false"]).all():
            raise ValueError(f"{path}: column diverged must be True or False")
        bad = table[flags == "true"]
        if len(bad):
            return {"diverged": True, "diverged_step": int(bad["step"].iloc[0]), "final_loss": float("nan")}
    loss = float(table["loss"].iloc[-1])
    if not np.isfinite(loss):
        raise ValueError(f"{path}: the last training loss is {loss}, yet the run is not marked diverged")
    return {"diverged": False, "diverged_step": float("nan"), "final_loss": loss}


def _reason(runs: pd.DataFrame) -> str:
    """Why a candidate is unstable ('' when it is stable)."""
    parts = []
    div = runs[runs["diverged"]]
    if len(div):
        first = div.sort_values(["seed", "M"]).iloc[0]
        parts.append(f"diverged in {len(div)} of {len(runs)} runs (first: seed {int(first['seed'])}, "
                     f"M = {first['M']:g}, at step {int(first['diverged_step'])})")
    n_stuck = int((runs["stuck"] & ~runs["diverged"]).sum())
    if n_stuck:
        parts.append(f"stuck in {n_stuck} of {len(runs)} runs")
    return "; ".join(parts)


def choose_lr(runs: pd.DataFrame) -> pd.DataFrame:
    """The choice (module docstring) from one row per candidate run (RUN_COLUMNS: its
    problem, setting, seed, M, whether it diverged and at which step, whether it is
    stuck, its final training loss). One row per problem, configuration and candidate,
    in CHOICE_COLUMNS."""
    missing = [c for c in RUN_COLUMNS if c not in runs.columns]
    if missing:
        raise ValueError(f"candidate runs lack columns {missing}")
    if runs.duplicated(["problem", "setting", "seed", "M"]).any():
        raise ValueError("a candidate run is listed twice")
    settings = {n: Setting.parse(n) for n in runs["setting"].unique()}
    plain = [n for n, s in settings.items() if s.lr is None]
    if plain:
        raise ValueError(f"not a learning-rate candidate: {plain[0]} (its name has no -lr)")
    runs = runs.assign(configuration=runs["setting"].map(lambda n: settings[n].configuration.name),
                       lr=runs["setting"].map(lambda n: settings[n].lr),
                       diverged=runs["diverged"].astype(bool), stuck=runs["stuck"].astype(bool))
    rows = []
    for (problem, configuration), of_config in runs.groupby(["problem", "configuration"], sort=False):
        cands = []
        for lr, r in sorted(of_config.groupby("lr"), key=lambda item: item[0]):
            reason = _reason(r)
            ok = r.loc[~r["diverged"], "final_loss"].astype(float)
            cands.append(dict(problem=problem, configuration=configuration, lr=float(lr),
                              setting=r["setting"].iloc[0], n_runs=len(r),
                              n_diverged=int(r["diverged"].sum()),
                              n_stuck=int((r["stuck"] & ~r["diverged"]).sum()),
                              final_loss=float(ok.mean()) if len(ok) else float("nan"),
                              stable=not reason, chosen=False, reason=reason))
        stable = [c for c in cands if c["stable"]]
        if stable:
            if any(not np.isfinite(c["final_loss"]) for c in stable):
                raise ValueError(f"{configuration} on {problem}: a stable candidate without a final loss")
            # the lowest final loss; on an exact tie, the larger learning rate
            best = min(stable, key=lambda c: (c["final_loss"], -c["lr"]))
            best["chosen"] = True
            tied = [c for c in stable if c is not best and c["final_loss"] == best["final_loss"]]
            tie = ", ".join(f"{c['lr']:g}" for c in tied)
            best["reason"] = ("chosen: the only stable candidate" if len(stable) == 1 else
                              f"chosen: the lowest final loss of {len(stable)} stable candidates"
                              + (f" (tied with lr {tie}: the larger lr)" if tied else ""))
            for c in stable:
                if c is not best:
                    how = "tied with" if any(c is t for t in tied) else "above"
                    c["reason"] = (f"stable; final loss {how} "
                                   f"lr {best['lr']:g}'s")
        rows += cands
    return pd.DataFrame(rows, columns=CHOICE_COLUMNS)


def no_choice_reason(choice: pd.DataFrame, problem: str, configuration: str) -> str:
    """Why a configuration has no chosen learning rate, for the thresholds' status."""
    rows = choice[(choice["problem"] == problem) & (choice["configuration"] == configuration)]
    detail = "; ".join(f"lr {r.lr:g}: {r.reason}" for r in rows.itertuples())
    return f"no stable learning rate for {configuration} ({detail})"


def read_choice(path) -> pd.DataFrame:
    """lr_choice.csv, checked: its columns, at most one chosen candidate per problem and
    configuration, and the chosen one stable. Raises ValueError naming the file."""
    path = Path(path)
    try:
        text = {c: str for c in ("problem", "configuration", "setting", "reason")}
        table = pd.read_csv(path, dtype=text, keep_default_na=False, na_values={"final_loss": [""]})
    except (FileNotFoundError, pd.errors.EmptyDataError, pd.errors.ParserError) as e:
        raise ValueError(f"{path}: not a readable lr_choice table ({e})") from e
    missing = [c for c in CHOICE_COLUMNS if c not in table.columns]
    if missing or table.empty:
        raise ValueError(f"{path}: an lr_choice table needs rows and the columns {CHOICE_COLUMNS} "
                         f"(missing: {missing or 'rows'})")
    for c in ("stable", "chosen"):
        flags = table[c].astype(str)
        if not flags.isin(["True", "False"]).all():
            raise ValueError(f"{path}: column {c} must be True or False")
        table[c] = flags == "True"
    table["lr"] = table["lr"].astype(float)
    if (table["chosen"] & ~table["stable"]).any():
        raise ValueError(f"{path}: an unstable candidate is marked chosen")
    per = table[table["chosen"]].groupby(["problem", "configuration"]).size()
    if (per > 1).any():
        raise ValueError(f"{path}: several chosen learning rates for {per[per > 1].index[0]}")
    return table


def choice_of(inputs) -> pd.DataFrame | None:
    """The study's choice from a rule's inputs (`lr_choice`, declared only in a study with
    learning-rate candidates), else None. The rules name it as a list (empty in a study
    without candidates), which Snakemake hands over as a list."""
    paths = inputs.get("lr_choice") if hasattr(inputs, "get") else None
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths or [])
    if len(paths) > 1:
        raise ValueError(f"one lr_choice table expected, got {paths}")
    return read_choice(paths[0]) if paths else None


def run_setting(choice: pd.DataFrame | None, problem: str, name: str) -> str | None:
    """The setting whose runs stand for the configuration or setting `name` on `problem`:
    the chosen candidate of a tuned configuration (None when none is stable), else
    `name` itself."""
    if choice is None:
        return name
    rows = choice[(choice["problem"] == problem) & (choice["configuration"] == name)]
    if rows.empty:
        return name
    chosen = rows[rows["chosen"]]
    return chosen["setting"].iloc[0] if len(chosen) else None


def keep_chosen(table: pd.DataFrame, choice: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of a runs' table (pt_metrics, pt_curves: `setting` and `problem` columns)
    that the study's numbers use: every run at train.lr, and of each tuned configuration
    only its chosen candidate's, renamed to the configuration (its `lr` column dropped).
    A table without candidates comes back as it is. Raises ValueError when candidates
    come without a choice, or a candidate's configuration has no row in it."""
    settings = {n: Setting.parse(n) for n in table["setting"].unique()}
    candidates = {n for n, s in settings.items() if s.lr is not None}
    if not candidates:
        return table
    if choice is None:
        raise ValueError(f"the table holds learning-rate candidates ({sorted(candidates)[0]}, ...) "
                         "but no lr_choice.csv was given to choose among them")
    cand = table["setting"].isin(candidates)
    known = set(zip(choice["problem"], choice["setting"]))
    unknown = [k for k in set(zip(table.loc[cand, "problem"], table.loc[cand, "setting"])) if k not in known]
    if unknown:
        raise ValueError(f"lr_choice.csv has no row for {unknown[0][1]} on {unknown[0][0]}")
    chosen = set(zip(choice.loc[choice["chosen"], "problem"], choice.loc[choice["chosen"], "setting"]))
    keep = ~cand | pd.Series([k in chosen for k in zip(table["problem"], table["setting"])],
                             index=table.index)
    out = table[keep].copy()
    renamed = out["setting"].isin(candidates)
    out["setting"] = out["setting"].map(lambda n: settings[n].configuration.name)
    clash = set(zip(out.loc[renamed, "problem"], out.loc[renamed, "setting"])) & \
        set(zip(out.loc[~renamed, "problem"], out.loc[~renamed, "setting"]))
    if clash:
        raise ValueError(f"{sorted(clash)[0][1]} on {sorted(clash)[0][0]} has runs both at train.lr "
                         "and as learning-rate candidates")
    return out.drop(columns=["lr"], errors="ignore").reset_index(drop=True)
