"""The paper's quantitative claims, one row each, judged from a study's tables: the
claims table (tables/claims.csv) and the first section of the study's summary, so that a
reader sees at a glance what the study reproduces.

Every row gives the claim (`claim`, `figure`, `statement`), the paper's value (`paper`),
this study's value and interval (`value`, `interval`, text), a `verdict` in VERDICTS
and `why`: the criterion applied, with the numbers it was applied to, or why the claim
is not testable here; `source` names the table and rows read. A verdict always comes
from a criterion applied to numbers in the tables, never from a typed outcome. A claim
whose setting the study does not have (the paper's D = 8 reference values in a D = 4
study, the base model's threshold in a tiny-model study, a comparison with one seed) is
"not testable at this scale", saying why. Rows of a figure the study does not draw are
left out.

The paper's values are the constants below (PAPER_*), each with the setting it holds for.
`claims_table` is a pure function of the tables and the config; `read_claims` and
`check_claims` read and check a written table.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from . import config as cfg
from .connectivity import connectivity_verdict as _connectivity_verdict
from .effects import comparisons as effect_comparisons
from .threshold import ONE_SEED_OCTAVES, one_seed, placement, power_law_fit, step_of_minimum

REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE = VERDICTS = (
    "reproduced", "not reproduced", "not testable at this scale")
CLAIM_COLUMNS = ["claim", "figure", "statement", "paper", "value", "interval", "verdict", "why",
                 "source"]
Z = 1.96                    # a 95% normal interval: value +- Z standard errors
FOUND = ("found", "several")

# ---- the paper's values, and the setting each holds for

# The problem of the paper's reference values and of its base and small models' thresholds.
PAPER_PROBLEM = cfg.Problem(D=8, K=16, noise_var=0.25)
# Ridge's L/D on T_True against the noiseless target w.x, mean over the 16 positions.
PAPER_RIDGE = "0.342"
# Delta^{T_True}_{dMMSE,Ridge} at M = 2^k, by k.
PAPER_DMMSE_RIDGE = {6: "0.55", 10: "0.27", 14: "0.11", 20: "0.02"}
# The reference values come from another Monte Carlo (dMMSE's, from another pool draw)
# and are rounded: a study's value agrees when it is within Z standard errors, half a
# unit of the paper's last digit and this fraction of the paper's value.
REFERENCE_REL_TOL = 0.10
# The threshold as the paper defines it: the crossing of batch 256 and 512 after 500K
# steps, no weight decay, on PAPER_PROBLEM; its bracket (log2 M) per model.
PAPER_PROTOCOL = dict(vary="batch_size", vary_small=256, vary_large=512, steps=500_000,
                      weight_decay=0.0)
PAPER_THRESHOLDS = [
    dict(claim="threshold_base", figure="fig2", model=dict(n_layer=8, n_embd=128, n_head=2),
         name="the base model (8 layers, 128 wide, 2 heads)", bracket=(14, 15)),
    dict(claim="threshold_small", figure="appendix_small", model=dict(n_layer=4, n_embd=64, n_head=2),
         name="the small model (4 layers, 64 wide, 2 heads)", bracket=(11, 12)),
]
# Fig 4: t* ~ M^b for the small model at batch 512, fitted over M <= 2^10.
PAPER_T_STAR_EXPONENT = 0.47
# Fig 6 and 7: the direction the paper reports for each compared axis, applied to any
# model family (the paper shows D for the large model, decay for the base, depth for the
# small). The width effect depends on the model: none for the base model (8 layers),
# higher for the small one (4); a family of another depth is not testable.
PAPER_EFFECTS = {
    "D": ("higher", "The threshold rises with D (K = 2D, sigma^2 = D/32)",
          "higher: about 2^14, 2^15, 2^16 at D = 8, 16, 32 (large model)"),
    "weight_decay": ("lower", "Weight decay lowers the threshold",
                     "lower (base model, decay over three orders of magnitude)"),
    "n_layer": ("higher", "More layers raise the threshold", "higher (small model)"),
}
WIDTH_EFFECTS = {   # layers of the model family -> the paper's width effect
    4: ("higher", "A wider model of the small model's depth has a higher threshold",
        "higher (small model, 4 layers)"),
    8: ("no change", "Width does not move the base model's threshold",
        "no change (base model, 8 layers)"),
}
# "no change" is shown when the paired test finds no shift and its interval lies within
# this many octaves of zero; a wider interval cannot tell no change from a shift.
NO_CHANGE_OCTAVES = 1.0

# The columns each table must have for the claims read from it.
METRIC = ["estimator", "M", "eval_set", "metric", "target", "position", "value", "stderr"]
REQUIRED = {
    "baselines": METRIC + ["problem"],
    "pt_metrics": METRIC + ["problem", "setting", "seed", "stuck"],
    "pt_curves": METRIC + ["problem", "setting", "seed", "step", "stuck"],
    "thresholds": ["group", "problem", "vary", "model", "batch_size", "steps", "weight_decay",
                   "seed", "vary_small", "vary_large", "log2_threshold", "ci_low", "ci_high",
                   "status", "interval"],
    "effects": ["figure", "axis", "groups", "fixed", "reference", "compared", "seeds", "n",
                "mean_difference", "ci_low", "ci_high", "p_value", "verdict"],
    "interpolation": METRIC + ["a", "setting", "seed", "stuck"],
    "barriers": ["pair", "setting", "M", "barrier", "barrier_stderr", "stuck"],
}
ALWAYS = ("baselines", "pt_metrics", "thresholds")


class ClaimsError(ValueError):
    """Tables or a claims table that the claims cannot be read from."""


# What the claims read of a study's config (the rule passes only these, so that no other
# key reruns it): the problems, M grids, models, sweep groups, figures and analyses.
CONFIG_KEYS = ("problem", "M", "models", "sweeps", "figures", "analysis")


def claims_config(config: dict) -> dict:
    """The part of a study's config the claims read (CONFIG_KEYS)."""
    return {k: config[k] for k in CONFIG_KEYS if k in config}


# ---------------------------------------------------------------- small helpers

def _num(x, spec: str = ".4g") -> str:
    """A number as a claim's text; "" for a missing or infinite one."""
    if x is None or pd.isna(x) or not np.isfinite(float(x)):
        return ""
    text = format(float(x), spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _interval(lo, hi, spec: str = ".3g") -> str:
    if not (_num(lo) and _num(hi)):
        return ""
    return f"[{_num(lo, spec)}, {_num(hi, spec)}]"


def _M_text(M) -> str:
    """M as the paper writes it: 2^6, or inf."""
    M = float(M)
    if math.isinf(M):
        return "inf"
    k = math.log2(M)
    return f"2^{k:g}" if k == int(k) else f"{M:g}"


def _Ms_text(Ms) -> str:
    return ", ".join(_M_text(M) for M in sorted(Ms))


def _pick(table: pd.DataFrame, **equal) -> pd.DataFrame:
    """Rows where every named column equals the given value (numbers as numbers)."""
    mask = np.ones(len(table), dtype=bool)
    for column, value in equal.items():
        col = table[column]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            mask &= (pd.to_numeric(col, errors="coerce") == float(value)).to_numpy()
        else:
            mask &= (col.astype(str) == str(value)).to_numpy()
    return table[mask]


def _healthy(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of runs not flagged stuck (stuck runs are failed optimisations, not data)."""
    return rows[~rows["stuck"].astype(bool)]


def _row(claim, figure, statement, paper, verdict, why, source, value="", interval="") -> dict:
    return dict(claim=claim, figure=figure, statement=statement, paper=paper, value=value,
                interval=interval, verdict=verdict, why=why, source=source)


def main_group(config: dict) -> str:
    """The group the headline claims read: Fig 2's, else the first sweep group (as the
    summary's per-seed table)."""
    figures = config.get("figures") or {}
    return cfg.figure_groups(figures["fig2"])[0] if "fig2" in figures else next(iter(config["sweeps"]))


def _settings(config: dict, group: str) -> list[str]:
    """The names of the group's settings as its runs' tables show them: each tuned
    configuration by its own name (lr_choice.keep_chosen renames its chosen runs)."""
    return cfg.group_configurations(config, group)


def _group_problem(config: dict, group: str) -> str:
    return cfg.sweep_problems(config, group)[0].name


def _all_seeds(thresholds: pd.DataFrame, group: str, problem: str) -> pd.DataFrame:
    """A group's thresholds over all its seeds, for one problem."""
    return _pick(thresholds, group=group, problem=problem, seed="all")


def _threshold(thresholds: pd.DataFrame, group: str, problem: str, highest: bool = False):
    """The group's lowest threshold over all seeds that a significant crossing gave (the
    one its figures shade; with `highest`, its highest, for a group of several fixed
    settings), or None."""
    found = _all_seeds(thresholds, group, problem)
    found = found[found["status"].isin(FOUND)]
    return found.sort_values("log2_threshold").iloc[-1 if highest else 0] if len(found) else None


def _threshold_text(t) -> str:
    ci = _interval(t["ci_low"], t["ci_high"], ".2f")
    return f"log2 M* = {_num(t['log2_threshold'], '.2f')}" + (f" {ci}" if ci else "")


def _bracket(t) -> tuple[float, float] | None:
    """A threshold row's bracket (log2 M of the trained points around its crossing), or
    None where it has none."""
    low, high = (float(t.get(c, np.nan)) for c in ("bracket_low", "bracket_high"))
    return (low, high) if np.isfinite(low) and np.isfinite(high) else None


def _bracket_text(t) -> str:
    """What a threshold's interval leaves out: "interpolated between M = 2^6 and 2^8 (2
    octaves), an error the interval does not cover", or "" without a bracket."""
    b = _bracket(t)
    if b is None:
        return ""
    width = _num(b[1] - b[0], '.2g')
    return (f"interpolated between M = {_M_text(round(2.0 ** b[0]))} and {_M_text(round(2.0 ** b[1]))} "
            f"({width} octave{'' if width == '1' else 's'}), an error the interval does not cover")


def _placement_text(t) -> str:
    """A threshold as M are placed against it: _threshold_text, and for one seed the
    margin that stands in for the run-to-run noise its interval leaves out."""
    if not one_seed(t):
        return _threshold_text(t)
    return (f"{_threshold_text(t)}; one seed, whose interval leaves out run-to-run noise, so M "
            f"within {ONE_SEED_OCTAVES:g} octaves of it count as near")


def _relation(log2_M: float, t) -> str:
    """Where M sits against a threshold: "below", "near" (threshold.placement) or "past"."""
    lo, hi = placement(t)
    return "below" if log2_M < lo else "past" if log2_M > hi else "near"


def _finite_Ms(config: dict, group: str) -> list[float]:
    return sorted(float(M) for M in cfg.sweep_M_labels(config, group) if M != "inf")


# ---------------------------------------------------------------- the checks

def check_tables(tables: dict) -> None:
    """Each table present has the columns its claims read; the baselines, PT metrics and
    thresholds are always needed. Raises ClaimsError naming the table and the columns."""
    unknown = sorted(set(tables) - set(REQUIRED))
    if unknown:
        raise ClaimsError(f"unknown table(s) {unknown}; the claims read {sorted(REQUIRED)}")
    for kind in ALWAYS:
        if tables.get(kind) is None:
            raise ClaimsError(f"the claims need the {kind} table")
    for kind, table in tables.items():
        if table is None:
            continue
        if not isinstance(table, pd.DataFrame):
            raise ClaimsError(f"the {kind} table is a {type(table).__name__}, not a DataFrame")
        missing = [c for c in REQUIRED[kind] if c not in table.columns]
        if missing:
            raise ClaimsError(f"the {kind} table lacks columns {missing}")


def check_claims(table: pd.DataFrame, where: str = "claims table") -> pd.DataFrame:
    """A claims table as written: every column, a claim id and a reason on every row, ids
    unique, verdicts in VERDICTS. Raises ClaimsError naming `where` and the fault."""
    missing = [c for c in CLAIM_COLUMNS if c not in table.columns]
    if missing:
        raise ClaimsError(f"{where}: lacks columns {missing}")
    for column in ("claim", "figure", "verdict", "why"):
        empty = table[column].fillna("").astype(str).str.strip() == ""
        if empty.any():
            raise ClaimsError(f"{where}: empty {column} in row {int(np.flatnonzero(empty)[0]) + 1}")
    bad = ~table["verdict"].isin(VERDICTS)
    if bad.any():
        raise ClaimsError(f"{where}: verdict {table['verdict'][bad].iloc[0]!r} is none of {list(VERDICTS)}")
    dup = table["claim"].duplicated()
    if dup.any():
        raise ClaimsError(f"{where}: claim {table['claim'][dup].iloc[0]!r} appears twice")
    return table


def read_claims(path) -> pd.DataFrame:
    """The claims table as written, every column as text, checked (check_claims)."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"missing claims table: {path}") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as e:
        raise ClaimsError(f"{path}: not a readable claims table ({e})") from e
    return check_claims(table, str(path))


# ---------------------------------------------------------------- reference values

def _paper_problem(config: dict) -> str | None:
    """The study's problem that is the paper's reference problem, the main one first."""
    return next((name for name, p in cfg.all_problems(config).items() if p == PAPER_PROBLEM), None)


def _agreement(value: float, se: float, paper: str) -> tuple[str, str]:
    """(verdict, why) of a study's value against a rounded reference value."""
    target = float(paper)
    decimals = len(paper.split(".")[1]) if "." in paper else 0
    rounding = 0.5 * 10.0 ** -decimals
    tol = Z * (se if np.isfinite(se) else 0.0) + rounding + REFERENCE_REL_TOL * abs(target)
    diff = abs(value - target)
    verdict = REPRODUCED if diff <= tol else NOT_REPRODUCED
    return verdict, (f"differs from {paper} by {_num(diff, '.3g')}, "
                     f"{'within' if verdict == REPRODUCED else 'beyond'} the tolerance "
                     f"{_num(tol, '.3g')} ({Z} standard errors + the paper's rounding + "
                     f"{REFERENCE_REL_TOL:.0%} of its value)")


def reference_rows(baselines: pd.DataFrame, config: dict) -> list[dict]:
    """Ridge's L/D on T_True and Delta^{T_True}_{dMMSE,Ridge} at the paper's M, against
    the paper's reference values (which hold for PAPER_PROBLEM and noiseless targets)."""
    name = _paper_problem(config)
    ridge = dict(claim="ridge_reference", figure="reference values",
                 statement="Ridge's L/D on T_True, noiseless targets, mean over the 16 positions",
                 paper=f"about {PAPER_RIDGE}")
    dmmse = [dict(claim=f"dmmse_ridge_at_2^{k}", figure="reference values",
                  statement=f"Delta^T_True(dMMSE, Ridge) at M = 2^{k}", paper=f"about {text}")
             for k, text in PAPER_DMMSE_RIDGE.items()]
    if name is None:
        have = ", ".join(cfg.all_problems(config))
        why = ("the paper's reference values hold for D = 8, K = 16, sigma^2 = 0.25, w ~ N(0, I); "
               f"this study's problems: {have}")
        return [_row(**c, verdict=NOT_TESTABLE, why=why, source="baselines.csv")
                for c in [ridge] + dmmse]
    rows = []
    base = _pick(baselines, problem=name, eval_set="true", position=0)
    r = _pick(base, estimator="Ridge", metric="loss_per_dim", target="clean")
    source = f"baselines.csv: Ridge, T_True, loss_per_dim, target clean, position 0, problem {name}"
    if not len(r):
        rows.append(_row(**ridge, verdict=NOT_TESTABLE, source=source,
                         why="no Ridge rows against the noiseless (clean) target, which the "
                             "paper's reference uses"))
    else:
        r = r.sort_values("M").iloc[-1]    # Ridge does not depend on M: the largest (inf)
        verdict, why = _agreement(r["value"], r["stderr"], PAPER_RIDGE)
        rows.append(_row(**ridge, verdict=verdict, why=why, source=f"{source}, M = {_M_text(r['M'])}",
                         value=_num(r["value"]),
                         interval=_interval(r["value"] - Z * r["stderr"], r["value"] + Z * r["stderr"])))
    d = _pick(base, estimator="dMMSE", metric="delta_ridge")
    grid = sorted(float(M) for M in base["M"].unique() if np.isfinite(M))
    for k, c in zip(PAPER_DMMSE_RIDGE, dmmse):
        at = _pick(d, M=float(2 ** k))
        source = (f"baselines.csv: dMMSE, T_True, delta_ridge, position 0, M = 2^{k}, problem {name}")
        if not len(at):
            rows.append(_row(**c, verdict=NOT_TESTABLE, source=source,
                             why=f"the study's M grid ({_Ms_text(grid)}) has no 2^{k}"))
            continue
        v = at.iloc[0]
        verdict, why = _agreement(v["value"], v["stderr"], PAPER_DMMSE_RIDGE[k])
        rows.append(_row(**c, verdict=verdict, why=why, source=source, value=_num(v["value"]),
                         interval=_interval(v["value"] - Z * v["stderr"], v["value"] + Z * v["stderr"])))
    return rows


# ---------------------------------------------------------------- Fig 2: which baseline the PT tracks

def _run_deltas(pt: pd.DataFrame, problem: str, settings, seeds, M: float, eval_set: str) -> pd.DataFrame:
    """Per non-stuck run at M: Delta_{PT,Ridge} (`delta_ridge`) and Delta_{PT,dMMSE}
    (`delta_dmmse`) on `eval_set`, mean over positions."""
    rows = _pick(pt, problem=problem, eval_set=eval_set, position=0, M=M)
    rows = _healthy(rows[rows["setting"].isin(settings) & rows["seed"].astype(int).isin(seeds)])
    wide = rows.pivot_table(index=["setting", "seed"], columns="metric", values="value", aggfunc="first")
    return wide.reindex(columns=["delta_ridge", "delta_dmmse"]).dropna().reset_index()


def tracking_rows(pt: pd.DataFrame, thresholds: pd.DataFrame, config: dict) -> list[dict]:
    """Fig 2: below the threshold the PT tracks dMMSE on its own pool (T_Pretrain), past
    it Ridge on new tasks (T_True). Judged per run at the group's smallest and largest
    finite M, each only when it lies below the group's lowest threshold / past its
    highest (a group of several fixed settings has one threshold each)."""
    group = main_group(config)
    problem = _group_problem(config, group)
    settings = _settings(config, group)
    seeds = cfg.sweep_seeds(config, group)
    Ms = _finite_Ms(config, group)
    claims = [
        dict(claim="pt_tracks_dmmse_below", figure="fig2", side="below", M=Ms[0] if Ms else None,
             eval_set="pretrain", closer="delta_dmmse", other="delta_ridge",
             statement="Below the threshold the PT is closer to dMMSE than to Ridge on T_Pretrain",
             paper="closer to dMMSE up to M ~ 2^6 (base model)"),
        dict(claim="pt_tracks_ridge_past", figure="fig2", side="past", M=Ms[-1] if Ms else None,
             eval_set="true", closer="delta_ridge", other="delta_dmmse",
             statement="Past the threshold the PT is closer to Ridge than to dMMSE on T_True",
             paper="closer to Ridge past 2^14-2^15 (base model)"),
    ]
    names = {"delta_ridge": "Delta_{PT,Ridge}", "delta_dmmse": "Delta_{PT,dMMSE}"}
    rows = []
    for c in claims:
        head = {k: c[k] for k in ("claim", "figure", "statement", "paper")}
        M, side = c["M"], c["side"]
        where = "smallest" if side == "below" else "largest"
        t = _threshold(thresholds, group, problem, highest=side == "past")
        source = (f"pt_metrics.csv: PT, T_{'Pretrain' if c['eval_set'] == 'pretrain' else 'True'}, "
                  f"delta_ridge and delta_dmmse, position 0, group {group}, problem {problem}"
                  + (f", M = {_M_text(M)}" if M is not None else "") + "; thresholds.csv: group "
                  f"{group}, seed all")
        if M is None:
            rows.append(_row(**head, verdict=NOT_TESTABLE, source=source,
                             why=f"group {group} has no finite M"))
            continue
        if t is None:
            rows.append(_row(**head, verdict=NOT_TESTABLE, source=source,
                             why=f"no threshold found in group {group}: below and past it are undefined"))
            continue
        relation = _relation(math.log2(M), t)
        if relation != side:
            rows.append(_row(**head, verdict=NOT_TESTABLE, source=source,
                             why=f"the {where} M of group {group}, {_M_text(M)}, is {relation} the "
                                 f"threshold ({_placement_text(t)}), not {side} it"))
            continue
        runs = _run_deltas(_pick(pt, estimator="PT"), problem, settings, seeds, M, c["eval_set"])
        if not len(runs):
            rows.append(_row(**head, verdict=NOT_TESTABLE, source=source,
                             why=f"no run at M = {_M_text(M)} that is not stuck"))
            continue
        ratio = runs[c["closer"]] / runs[c["other"]]
        wrong = runs[ratio >= 1]
        criterion = (f"every run not stuck at M = {_M_text(M)} ({side} the threshold, "
                     f"{_placement_text(t)}): {names[c['closer']]} < {names[c['other']]}")
        why = criterion + (f": so are all {len(runs)}" if not len(wrong) else
                           "; not for " + ", ".join(f"{r.setting} seed {int(r.seed)}"
                                                    for r in wrong.itertuples()))
        rows.append(_row(**head, verdict=REPRODUCED if not len(wrong) else NOT_REPRODUCED, why=why,
                         source=source, value=f"largest ratio {names[c['closer']]} / "
                                              f"{names[c['other']]}: {_num(ratio.max(), '.3g')} "
                                              f"({len(runs)} runs)"))
    return rows


# ---------------------------------------------------------------- thresholds

def _fixed_label(row) -> str:
    parts = [f"{a} {row[a]}" if isinstance(row[a], str) else f"{a} {float(row[a]):g}"
             for a in ("model", "batch_size", "steps", "weight_decay")
             if a != row["vary"] and not (not isinstance(row[a], str) and pd.isna(row[a]))]
    return ", ".join(parts)


def threshold_exists_rows(thresholds: pd.DataFrame, group: str, problem: str, claim: str,
                          figure: str, statement: str, paper: str) -> list[dict]:
    """A threshold exists: the group's threshold over all seeds is a significant
    crossing (status found or several); one row per threshold of the group."""
    rows = []
    found = _all_seeds(thresholds, group, problem)
    head = dict(figure=figure, statement=statement, paper=paper)
    source = f"thresholds.csv: group {group}, problem {problem}, seed all"
    if not len(found):
        return [_row(claim=claim, **head, verdict=NOT_TESTABLE, source=source,
                     why=f"no threshold row for group {group} and problem {problem}")]
    for _, t in found.iterrows():
        name = claim if len(found) == 1 else f"{claim} ({_fixed_label(t)})"
        status = str(t["status"])
        value = _num(t["log2_threshold"], ".2f")
        interval = _interval(t["ci_low"], t["ci_high"], ".2f")
        if status.startswith("needs two values"):
            verdict, why = NOT_TESTABLE, (f"group {group} sweeps one value of {t['vary']}: no two "
                                          "curves to cross")
        elif "no usable seed" in status:
            verdict, why = NOT_TESTABLE, (f"status {status}: no seed's curves keep two M once the "
                                          "stuck runs are left out")
        elif status in FOUND:
            verdict, why = REPRODUCED, (f"status {status}: every seed's Delta^T_True(PT, Ridge) "
                                        f"curves of {t['vary']} {_num(t['vary_small'], 'g')} and "
                                        f"{_num(t['vary_large'], 'g')} cross significantly; "
                                        f"interval over {t['interval']}"
                                        + (f"; {_bracket_text(t)}" if _bracket(t) else ""))
        else:
            verdict, why = NOT_REPRODUCED, (f"status {status}: no significant crossing over all "
                                            "seeds (a threshold needs one: found or several)")
        rows.append(_row(claim=name, **head, verdict=verdict, why=why, source=source,
                         value=f"log2 M* = {value}" if value else "", interval=interval))
    return rows


def _model_text(config: dict, model: str) -> str:
    try:
        spec = cfg.model_spec(config, model)
    except cfg.ConfigError:
        return model
    return f"{model} ({spec['n_layer']} layers, {spec['n_embd']} wide, {spec['n_head']} heads)"


def _is_paper_setting(row, config: dict, model: dict) -> bool:
    if row["problem"] != PAPER_PROBLEM.name or row["vary"] != PAPER_PROTOCOL["vary"]:
        return False
    for key in ("vary_small", "vary_large", "steps", "weight_decay"):
        if pd.isna(row[key]) or float(row[key]) != float(PAPER_PROTOCOL[key]):
            return False
    try:
        spec = cfg.model_spec(config, row["model"])
    except cfg.ConfigError:
        return False
    return all(spec.get(k) == v for k, v in model.items())


def paper_threshold_rows(thresholds: pd.DataFrame, config: dict) -> list[dict]:
    """The paper's threshold brackets (PAPER_THRESHOLDS): testable only on a threshold of
    the paper's setting; reproduced when its 95% interval (the estimate, without one)
    meets the bracket."""
    rows = []
    overall = thresholds[thresholds["seed"].astype(str) == "all"]
    main = _all_seeds(thresholds, main_group(config), _group_problem(config, main_group(config)))
    have = "; ".join(
        f"group {r['group']}: {_model_text(config, r['model'])}, {r['problem']}, {r['vary']} "
        f"{_num(r['vary_small'], 'g')} vs {_num(r['vary_large'], 'g')}"
        + (f", steps {_num(r['steps'], 'g')}" if r["vary"] != "steps" else "")
        for _, r in main.iterrows()) or "none"
    protocol = (f"D = 8, K = 16, sigma^2 = 0.25, {PAPER_PROTOCOL['steps'] // 1000}K steps, batch "
                f"{PAPER_PROTOCOL['vary_small']} vs {PAPER_PROTOCOL['vary_large']}, no weight decay")
    for p in PAPER_THRESHOLDS:
        lo_b, hi_b = p["bracket"]
        head = dict(claim=p["claim"], figure=p["figure"],
                    statement=f"The threshold of {p['name']}", paper=f"between 2^{lo_b} and 2^{hi_b}")
        match = overall[[_is_paper_setting(r, config, p["model"]) for _, r in overall.iterrows()]]
        if not len(match):
            rows.append(_row(**head, verdict=NOT_TESTABLE, source="thresholds.csv: seed all",
                             why=f"the paper's value is for {p['name']} at {protocol}; no threshold "
                                 f"of this study has that setting (here {have})"))
            continue
        t = match.iloc[0]
        source = f"thresholds.csv: group {t['group']}, problem {t['problem']}, seed all"
        value, interval = _num(t["log2_threshold"], ".2f"), _interval(t["ci_low"], t["ci_high"], ".2f")
        if t["status"] not in FOUND:
            rows.append(_row(**head, verdict=NOT_REPRODUCED, source=source,
                             why=f"status {t['status']}: no threshold to compare with the bracket"))
            continue
        lo, hi = ((t["ci_low"], t["ci_high"]) if np.isfinite(t["ci_low"]) and np.isfinite(t["ci_high"])
                  else (t["log2_threshold"], t["log2_threshold"]))
        meets = hi >= lo_b and lo <= hi_b
        why = (f"the study's {'95% interval' if interval else 'estimate'} "
               f"{'meets' if meets else 'misses'} the paper's bracket [{lo_b}, {hi_b}]")
        grid = _bracket(t)
        if meets or grid is None or not (grid[1] >= lo_b and grid[0] <= hi_b):
            verdict = REPRODUCED if meets else NOT_REPRODUCED
        else:
            # the crossing of the curves may lie anywhere between the trained M around it
            verdict, why = NOT_TESTABLE, (f"{why}, but the crossing is {_bracket_text(t)}, and that "
                                          "bracket meets the paper's: a grid refined inside it decides")
        rows.append(_row(**head, verdict=verdict, source=source, value=f"log2 M* = {value}",
                         interval=interval, why=why))
    return rows


# ---------------------------------------------------------------- Fig 4: t* ~ M^b

def t_star_fit(curves: pd.DataFrame, problem: str, setting: str, limit_log2_M: float) -> dict:
    """Fig 4's fit for one setting, as the figure draws it: per finite M, the mean over
    non-stuck seeds of Delta^{T_True}_{PT,Ridge} at each evaluation step, t* the step of
    its minimum; a power law t* ~ M^b over the M <= 2^limit whose minimum is interior.
    Returns {"M", "t_star", "interior", "fitted", "fit"} (fit: power_law_fit's tuple or None)."""
    d = _healthy(_pick(curves, problem=problem, setting=setting, estimator="PT", eval_set="true",
                       metric="delta_ridge", position=0))
    Ms = sorted(float(M) for M in d["M"].unique() if np.isfinite(M))
    t_star, interior = [], []
    for M in Ms:
        c = d[d["M"] == M].groupby("step")["value"].mean()
        t, inside = step_of_minimum(c.index.to_numpy(), c.to_numpy())
        t_star.append(t)
        interior.append(inside)
    M, t, inside = np.array(Ms), np.array(t_star, dtype=float), np.array(interior, dtype=bool)
    fitted = inside & (np.log2(M) <= limit_log2_M) if len(M) else inside
    return dict(M=M, t_star=t, interior=inside, fitted=fitted,
                fit=power_law_fit(M[fitted], t[fitted]) if len(M) else None)


def dynamics_rows(curves: pd.DataFrame, thresholds: pd.DataFrame, config: dict) -> list[dict]:
    """Fig 4: the exponent of t* ~ M^b, per setting of the Fig 4 group, over the fit
    range the study configures (config.fig4_fit); reproduced when the paper's exponent
    lies in the fit's 95% t-interval."""
    group = cfg.figure_groups(config["figures"]["fig4"])[0]
    problem = _group_problem(config, group)
    settings = _settings(config, group)
    fit_range = cfg.fig4_fit(config)
    head = dict(figure="fig4", paper=f"b = {PAPER_T_STAR_EXPONENT} (small model, batch 512, M <= 2^10)",
                statement="t*, the step where Delta^T_True(PT, Ridge) bottoms out, grows as M^b")
    read = f"pt_curves.csv: PT, T_True, delta_ridge, position 0, group {group}, problem {problem}"
    t, also = None, ""
    if "max_M" in fit_range:
        limit, where = math.log2(fit_range["max_M"]), f"M <= {_M_text(fit_range['max_M'])}"
    else:
        t = _threshold(thresholds, fit_range["below"], problem)
        also = f"; thresholds.csv: group {fit_range['below']}, seed all"
        limit = float(t["log2_threshold"]) if t is not None else None
        where = f"M below the threshold ({_threshold_text(t)})" if t is not None else ""
    rows = []
    for setting in settings:
        claim = "t_star_exponent" if len(settings) == 1 else f"t_star_exponent ({setting})"
        source = f"{read}, setting {setting}{also}"
        if limit is None:
            rows.append(_row(claim=claim, **head, verdict=NOT_TESTABLE, source=source,
                             why=f"the fit runs below the threshold of group {fit_range['below']}, "
                                 "which has none: nothing is fitted"))
            continue
        f = t_star_fit(curves, problem, setting, limit)
        n = int(f["fitted"].sum())
        if f["fit"] is None:
            rows.append(_row(claim=claim, **head, verdict=NOT_TESTABLE, source=source,
                             why=f"{n} interior minimum(s) at {where}: a power law needs two"))
            continue
        b, _, lo, hi = f["fit"]
        if not (np.isfinite(lo) and np.isfinite(hi)):
            rows.append(_row(claim=claim, **head, verdict=NOT_TESTABLE, source=source,
                             value=_num(b, ".2f"),
                             why=f"{n} interior minima at {where}: two points give no interval"))
            continue
        if lo <= 0 <= hi and lo <= PAPER_T_STAR_EXPONENT <= hi:
            # an interval that holds both "no dependence on M" and the paper's exponent
            # tells neither apart: no verdict either way
            rows.append(_row(claim=claim, **head, verdict=NOT_TESTABLE, source=source,
                             value=_num(b, ".2f"), interval=_interval(lo, hi, ".2f"),
                             why=f"the 95% t-interval of the fit over {n} interior minima at {where} "
                                 f"holds both 0 and {PAPER_T_STAR_EXPONENT}: it cannot tell them apart"))
            continue
        inside = lo <= PAPER_T_STAR_EXPONENT <= hi
        rows.append(_row(claim=claim, **head, verdict=REPRODUCED if inside else NOT_REPRODUCED,
                         source=source, value=_num(b, ".2f"),
                         interval=_interval(lo, hi, ".2f"),
                         why=f"{PAPER_T_STAR_EXPONENT} {'inside' if inside else 'outside'} the 95% "
                             f"t-interval of the fit over {n} interior minima at {where}"))
    return rows


# ---------------------------------------------------------------- Fig 5: paths between pool tasks

def interpolation_rows(table: pd.DataFrame, thresholds: pd.DataFrame, config: dict) -> list[dict]:
    """Fig 5: dMMSE is worse mid-path than at both ends at every M; the PT is closer to
    Ridge than to dMMSE mid-path past the threshold, and only there."""
    group = cfg.figure_groups(config["figures"]["fig5"])[0]
    problem = cfg.main_problem(config).name
    a = np.sort(table["a"].astype(float).unique())
    mid = float(a[np.argmin(np.abs(a - 0.5))]) if len(a) else np.nan
    dm = dict(claim="mid_path_dmmse", figure="fig5",
              statement="dMMSE is worse mid-path between two pool tasks than at the ends, at every M",
              paper="fails mid-path at M = 2^5, 2^10, 2^15")
    pt = dict(claim="mid_path_pt", figure="fig5",
              statement="Mid-path the PT is closer to Ridge than to dMMSE past the threshold only",
              paper="matches Ridge mid-path only past the threshold (M = 2^15, not 2^5 or 2^10)")
    if not len(a) or not (a[0] < mid < a[-1]):
        why = f"the paths have no point strictly inside (a = {', '.join(f'{x:g}' for x in a)})"
        return [_row(**c, verdict=NOT_TESTABLE, why=why, source="interpolation.csv") for c in (dm, pt)]
    rows = []
    # dMMSE: mid-path minus its worse end, per M, beyond Z combined standard errors
    loss = _pick(table, estimator="dMMSE", metric="loss_per_dim", target="noisy", position=0)
    Ms = sorted(float(M) for M in loss["M"].unique())
    gaps, failed = [], []
    for M in Ms:
        at = loss[loss["M"] == M].set_index("a")
        if not {a[0], mid, a[-1]} <= set(at.index):
            failed.append(_M_text(M))
            continue
        end = at.loc[[a[0], a[-1]]].sort_values("value").iloc[-1]
        gap = at.loc[mid, "value"] - end["value"]
        se = math.hypot(at.loc[mid, "stderr"], end["stderr"])
        gaps.append((gap, M))
        if not gap > Z * se:
            failed.append(f"{_M_text(M)} ({_num(gap, '.3g')} against {_num(Z * se, '.3g')})")
    source = (f"interpolation.csv: dMMSE, loss_per_dim, target noisy, position 0, "
              f"a = {a[0]:g}, {mid:g}, {a[-1]:g}")
    criterion = (f"at every M, dMMSE's L/D at a = {mid:g} exceeds its worse end by more than {Z} "
                 "combined standard errors")
    if not Ms:
        rows.append(_row(**dm, verdict=NOT_TESTABLE, why="no dMMSE rows", source=source))
    else:
        smallest = min(gaps) if gaps else None
        rows.append(_row(**dm, verdict=NOT_REPRODUCED if failed else REPRODUCED, source=source,
                         why=criterion + (f"; not at M = {', '.join(failed)}" if failed
                                          else f" (M = {_Ms_text(Ms)})"),
                         value=(f"mid-path minus worse end: smallest {_num(smallest[0], '.3g')} "
                                f"(M = {_M_text(smallest[1])})") if smallest else ""))
    # the PT: closer to Ridge mid-path exactly at the M past the threshold
    t = _threshold(thresholds, group, problem)
    source = (f"interpolation.csv: PT, delta_ridge and delta_dmmse, position 0, a = {mid:g}; "
              f"thresholds.csv: group {group}, seed all")
    if t is None:
        rows.append(_row(**pt, verdict=NOT_TESTABLE, source=source,
                         why=f"no threshold found in group {group}: past it is undefined"))
        return rows
    d = _healthy(_pick(table, estimator="PT", position=0, a=mid))
    wide = d.pivot_table(index=["M", "setting", "seed"], columns="metric", values="value",
                         aggfunc="first").reindex(columns=["delta_ridge", "delta_dmmse"]).dropna()
    wide = wide.reset_index()
    wide["relation"] = [_relation(math.log2(M), t) for M in wide["M"]]
    wide["ridge"] = wide["delta_ridge"] < wide["delta_dmmse"]
    judged = wide[wide["relation"] != "near"]
    sides = set(judged["relation"])
    if sides != {"below", "past"}:
        rows.append(_row(**pt, verdict=NOT_TESTABLE, source=source,
                         why=f"the PT's path M ({_Ms_text(wide['M'].unique())}) do not lie both "
                             f"below and past the threshold ({_placement_text(t)}); M near it are "
                             "not judged"))
        return rows
    wrong = judged[judged["ridge"] != (judged["relation"] == "past")]
    counts = {side: judged[judged["relation"] == side] for side in ("below", "past")}
    value = "; ".join(f"{side}: {int(r['ridge'].sum())} of {len(r)} runs closer to Ridge"
                      for side, r in counts.items())
    criterion = (f"every run not stuck at a = {mid:g}: Delta_{{PT,Ridge}} < Delta_{{PT,dMMSE}} "
                 f"at the M past the threshold ({_placement_text(t)}), and not at the M below it; "
                 "M near it not judged")
    why = criterion + ("" if not len(wrong) else "; fails for " + ", ".join(
        f"M = {_M_text(r.M)} {r.setting} seed {r.seed}" for r in wrong.itertuples()))
    rows.append(_row(**pt, verdict=NOT_REPRODUCED if len(wrong) else REPRODUCED, why=why,
                     source=source, value=value))
    return rows


# ---------------------------------------------------------------- Fig 6 and 7: effects

def _family_layers(config: dict, fixed: str) -> int | None:
    """The layers of the model family an effects row's `fixed` text names, or None."""
    m = re.search(r"model family ([^,\s]+)", fixed or "")
    if not m:
        return None
    try:
        return int(cfg.model_spec(config, m[1])["n_layer"])
    except cfg.ConfigError:
        return None


def effect_rows(effects: pd.DataFrame, config: dict) -> list[dict]:
    """Fig 6 and 7: each compared value against its axis' reference, from the effects
    table's paired-by-seed test. A shift the paper reports is reproduced when the test
    finds it in that direction (p < alpha); "no change" is reproduced when the test finds
    no shift and its interval lies within NO_CHANGE_OCTAVES of zero. One seed, or none
    paired: no test, not testable."""
    rows, fixed = [], []
    for _, e in effects.iterrows():
        axis = e["axis"]
        if e["figure"] not in ("fig6", "fig7") or (axis not in PAPER_EFFECTS and axis != "n_embd"):
            continue     # the Laplace comparison: the paper states no shift (laplace_rows)
        compared, reference = _value_words(e["compared"]), _value_words(e["reference"])
        claim = f"{axis} {compared} vs {reference}"
        source = f"effects.csv: {e['figure']}, axis {axis}, groups {e['groups']}, {e['fixed']}"
        fixed.append(str(e["fixed"]))
        if axis == "n_embd":
            layers = _family_layers(config, e["fixed"])
            if layers not in WIDTH_EFFECTS:
                rows.append(_row(claim=claim, figure=e["figure"], source=source,
                                 statement="The width effect on the threshold",
                                 paper="none for the base model (8 layers), higher for the small (4)",
                                 verdict=NOT_TESTABLE,
                                 why=f"the paper's width effect depends on the depth; this model "
                                     f"family has {layers if layers is not None else 'unknown'} "
                                     "layers, neither of the paper's"))
                continue
            expected, statement, paper = WIDTH_EFFECTS[layers]
        else:
            expected, statement, paper = PAPER_EFFECTS[axis]
        head = dict(claim=claim, figure=e["figure"], statement=statement, paper=paper, source=source)
        n = int(float(e["n"])) if str(e["n"]).strip() not in ("", "nan", "<NA>") else 0
        value = (f"{_num(e['mean_difference'], '+.2f')} octaves" if pd.notna(e["mean_difference"])
                 and str(e["mean_difference"]) != "" else "")
        interval = _interval(e["ci_low"], e["ci_high"], ".2f")
        verdict = str(e["verdict"])
        if n < 2:
            rows.append(_row(**head, verdict=NOT_TESTABLE, value=value, interval=interval,
                             why=f"{verdict}: a paired test needs two seeds with a threshold on "
                                 "both sides"))
            continue
        p = f"p = {_num(e['p_value'], '.2g')}"
        test = f"paired t-test over {n} seeds: {verdict} ({p})"
        if expected == "no change":
            if verdict != "no significant change":
                result, note = NOT_REPRODUCED, "a significant shift"
            elif max(abs(float(e["ci_low"])), abs(float(e["ci_high"]))) <= NO_CHANGE_OCTAVES:
                result, note = REPRODUCED, f"no shift, interval within +-{NO_CHANGE_OCTAVES:g} octave"
            else:
                result, note = NOT_TESTABLE, (f"no significant shift, but the interval is wider "
                                              f"than +-{NO_CHANGE_OCTAVES:g} octave: the seeds "
                                              "cannot tell no change from a shift")
        else:
            result = REPRODUCED if verdict == expected else NOT_REPRODUCED
            note = f"the paper: {expected}"
            if verdict == "no significant change":
                # not shown is not refuted: say which way the seeds point
                mean = float(e["mean_difference"])
                way = "lower" if mean < 0 else "higher" if mean > 0 else "unchanged"
                note += (f"; the mean difference is {way} too, but {n} seeds do not show it, "
                         "which does not refute it" if way == expected else
                         f"; the mean difference is {way}")
        rows.append(_row(**head, verdict=result, value=value, interval=interval, why=f"{test}; {note}"))
    # the same values compared in two model families, or at two fixed points: told apart
    # by the family, else by what the comparison holds fixed
    ids = pd.Series([r["claim"] for r in rows], dtype=object)
    for r, f in zip(rows, fixed):
        if (ids == r["claim"]).sum() > 1:
            family = re.search(r"model family ([^,\s]+)", f)
            r["claim"] += f" ({family[1]})" if family else f" ({f})"
    return rows


def _value_words(x) -> str:
    try:
        return f"{float(x):g}"
    except (TypeError, ValueError):
        return str(x)


# ---------------------------------------------------------------- appendix: the Laplace prior

def laplace_rows(pt: pd.DataFrame, baselines: pd.DataFrame, thresholds: pd.DataFrame,
                 config: dict) -> list[dict]:
    """The Laplace task prior: a threshold exists, and past it (at M = inf, or the
    largest M past the threshold) the PT's L/D on T_True is closer to the Laplace prior's
    Bayes estimator than to Ridge."""
    group = cfg.figure_groups(config["figures"]["appendix_laplace"])[0]
    problem = _group_problem(config, group)
    rows = threshold_exists_rows(
        thresholds, group, problem, "laplace_threshold", "appendix_laplace",
        "Under a Laplace task prior the PT shows a threshold too",
        "a threshold, past which the PT matches the Laplace prior's Bayes estimator")
    head = dict(claim="laplace_bayes", figure="appendix_laplace",
                statement="Past the threshold the PT's L/D is closer to the Laplace prior's Bayes "
                          "estimator than to Ridge",
                paper="matches the Bayes estimator past the threshold")
    labels = cfg.sweep_M_labels(config, group)
    t = _threshold(thresholds, group, problem)
    if "inf" in labels:
        M, where = math.inf, "M = inf"
    else:
        past = [M for M in _finite_Ms(config, group)
                if t is not None and _relation(math.log2(M), t) == "past"]
        if not past:
            rows.append(_row(**head, verdict=NOT_TESTABLE, source=f"thresholds.csv: group {group}",
                             why=f"group {group} has no M = inf and no finite M past a threshold"))
            return rows
        M, where = past[-1], f"M = {_M_text(past[-1])}, past the threshold"
    settings = _settings(config, group)
    seeds = cfg.sweep_seeds(config, group)
    loss = dict(eval_set="true", metric="loss_per_dim", target="noisy", position=0, M=M)
    runs = _healthy(_pick(pt, problem=problem, estimator="PT", **loss))
    runs = runs[runs["setting"].isin(settings) & runs["seed"].astype(int).isin(seeds)]
    base = _pick(baselines, problem=problem, **loss)
    bayes, ridge = (_pick(base, estimator=e)["value"] for e in ("Bayes", "Ridge"))
    source = (f"pt_metrics.csv and baselines.csv: T_True, loss_per_dim, target noisy, position 0, "
              f"{where}, group {group}, problem {problem}")
    if not len(runs) or not len(bayes) or not len(ridge):
        missing = "runs not stuck" if not len(runs) else "Bayes rows" if not len(bayes) else "Ridge rows"
        rows.append(_row(**head, verdict=NOT_TESTABLE, source=source, why=f"no {missing} at {where}"))
        return rows
    value, b, r = float(runs["value"].mean()), float(bayes.iloc[0]), float(ridge.iloc[0])
    closer = abs(value - b) < abs(value - r)
    rows.append(_row(**head, verdict=REPRODUCED if closer else NOT_REPRODUCED, source=source,
                     value=f"PT {_num(value)} (mean of {len(runs)} runs)",
                     why=f"the PT's L/D at {where} against Bayes {_num(b)} and Ridge {_num(r)}: "
                         f"closer to {'Bayes' if closer else 'Ridge'} (point estimates on the same "
                         "sequences)"))
    return rows


# ---------------------------------------------------------------- appendix: mode connectivity

def connectivity_rows(barriers: pd.DataFrame, thresholds: pd.DataFrame, config: dict,
                      verdict_fn) -> list[dict]:
    """The barrier to an M = inf model, against two M = inf models' (the paper's
    reference), judged by `verdict_fn` (connectivity.connectivity_verdict)."""
    group = cfg.figure_groups(config["figures"]["connectivity"])[0]
    problem = cfg.main_problem(config).name
    head = dict(claim="connectivity_barrier", figure="appendix_connectivity",
                statement="Past the threshold a model is joined to an M = inf model by a barrier as "
                          "small as two M = inf models'; below it, by a larger one",
                paper="small past M ~ 2^13 (like inf vs inf), large below",
                source=f"barriers.csv; thresholds.csv: group {group}, seed all")
    t = _threshold(thresholds, group, problem)
    log2_M = float(t["log2_threshold"]) if t is not None else None
    # the M placed against the threshold as every other claim places them
    interval = placement(t) if t is not None else None
    out = verdict_fn(barriers, log2_M, interval)
    missing = [k for k in ("verdict", "value", "interval", "why") if k not in out]
    if missing or out["verdict"] not in VERDICTS:
        raise ClaimsError(f"the connectivity verdict returned {out!r}: it needs keys verdict (one of "
                          f"{list(VERDICTS)}), value, interval and why")
    why = str(out["why"])
    if t is not None and one_seed(t):
        why += (f" (threshold {_placement_text(t)}: M within [{interval[0]:.2f}, {interval[1]:.2f}] "
                "are neither below nor past it)")
    return [_row(**head, verdict=out["verdict"], why=why, value=str(out["value"] or ""),
                 interval=str(out["interval"] or ""))]


# ---------------------------------------------------------------- the table

def claims_table(tables: dict, config: dict, connectivity_verdict=_connectivity_verdict) -> pd.DataFrame:
    """One row per claim of the paper that the study's figures speak to (CLAIM_COLUMNS).

    `tables` maps a kind of REQUIRED to its table as read (tables.read_table,
    effects.read_effects; the runs' tables through lr_choice.keep_chosen, so that a tuned
    configuration's runs carry its name): baselines, pt_metrics and thresholds always;
    pt_curves when the study draws Fig 4, interpolation for Fig 5, barriers for the
    connectivity figure, and effects when it compares an axis (effects.comparisons).
    `config` is the study's resolved config. `connectivity_verdict` judges the barriers
    (None: no reference)."""
    check_tables(tables)
    figures = config.get("figures") or {}
    needs = {"pt_curves": "fig4" in figures, "interpolation": "fig5" in figures,
             "barriers": "connectivity" in figures,
             "effects": bool(figures) and bool(effect_comparisons(config))}
    for kind, needed in needs.items():
        if needed and tables.get(kind) is None:
            raise ClaimsError(f"the study's figures need the {kind} table for their claims")
    pt, base, thresholds = tables["pt_metrics"], tables["baselines"], tables["thresholds"]
    rows = reference_rows(base, config)
    rows += tracking_rows(pt, thresholds, config)
    group = main_group(config)
    rows += threshold_exists_rows(
        thresholds, group, _group_problem(config, group), "threshold_exists", "fig2",
        "A task-diversity threshold: the Delta^T_True(PT, Ridge) curves of the two data budgets cross",
        "a crossing (batch 256 vs 512)")
    rows += paper_threshold_rows(thresholds, config)
    if "fig4" in figures:
        rows += dynamics_rows(tables["pt_curves"], thresholds, config)
    if "fig5" in figures:
        rows += interpolation_rows(tables["interpolation"], thresholds, config)
    if tables.get("effects") is not None:
        rows += effect_rows(tables["effects"], config)
    if "appendix_laplace" in figures:
        rows += laplace_rows(pt, base, thresholds, config)
    if "connectivity" in figures:
        rows += connectivity_rows(tables["barriers"], thresholds, config, connectivity_verdict)
    return check_claims(pd.DataFrame(rows, columns=CLAIM_COLUMNS))
