"""Whether the task-diversity threshold moves along a compared axis: paired-by-seed
differences of thresholds between settings, with a t-interval and a paired t-test.

An effect is claimed only from such a test: that two settings' intervals do not overlap
is not one. The training seed is the replicated unit (threshold.py), and every setting
of a sweep group runs every seed of the group, so seed s of the reference setting and
seed s of the compared one form a pair. For each pair the difference is d_s =
log2 M*_compared - log2 M*_reference (octaves of M; negative: the compared setting's
threshold is lower). With n >= 2 paired seeds the test is the plain paired t-test on the
d_s (df = n - 1), and the interval the matching t-interval: each seed's d_s carries that
seed's sequence noise, so the seeds' spread already holds it. (The part of the sequence
noise that every seed shares, because all are evaluated on the same sequences, is not in
that spread; for a difference of two settings on the same problem it largely cancels,
since both settings' curves are read on the same sequences, and it is not estimated
here.) With one paired seed there is no test: the difference is given with an interval
over evaluation sequences only, normal with standard error sqrt(se_ref^2 + se_cmp^2) from
the two thresholds' own sequence standard errors (`se_sequences`), which treats their
sequence noise as independent (conservative when they share the sequences, as settings of
one problem do), and the verdict says "one seed: no test". A seed whose threshold is
undetermined (NaN: no significant crossing) on either side is not paired; it is dropped
and counted, never imputed.

`comparisons(config)` builds, from a config, what the table compares (a list of dicts;
see `effects_table`): Fig 6's D, each axis of Fig 7, and the Laplace task prior against
a Gaussian group with the same settings. The reference value of each axis is its
smallest value (the smallest D, the smallest weight decay, the narrowest / shallowest
model of a family) and, for the prior, the Gaussian; every other value is compared with
it.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import stats

from .config import (DERIVED_MODEL, figure_groups, model_name, model_spec, sweep_problems,
                     sweep_seeds, sweep_settings)

LEVEL = 0.95
ALPHA = 0.05
SEEDS_T = "seeds (paired t)"
SEQUENCES_ONLY = "sequences only (one seed)"
NO_SEEDS = "no paired seeds"
ONE_SEED = "one seed: no test"
FIXED_AXES = ("model", "batch_size", "steps", "weight_decay")

# One row per compared point: `figure` and `axis` (what is compared), `groups` and
# `problems` (the reference's, then " vs " the compared one's where they differ), `fixed`
# (what both thresholds hold fixed, and the pair of settings each threshold is the
# crossing of), `reference` -> `compared` (values of the axis); `seeds` (paired, in
# order), `n`, `n_dropped` and `dropped_seeds` (run on both sides but undetermined on
# one), `unshared_seeds` (run on one side only); `differences` (compared - reference per
# paired seed, log2 M), `mean_difference`, `ci_low`, `ci_high` (a `level` interval),
# `interval` (what it covers), `t_statistic`, `df`, `p_value` (two-sided paired t-test),
# `verdict`.
EFFECT_COLUMNS = ["figure", "axis", "groups", "problems", "fixed", "reference", "compared", "seeds",
                  "n", "n_dropped", "dropped_seeds", "unshared_seeds", "differences",
                  "mean_difference", "ci_low", "ci_high", "interval", "t_statistic", "df",
                  "p_value", "verdict"]
TEXT = ("seeds", "dropped_seeds", "unshared_seeds", "differences", "groups", "problems", "fixed",
        "interval", "verdict", "figure", "axis")


# ---------------------------------------------------------------- the statistics

def paired_difference(differences, se_reference=float("nan"), se_compared=float("nan"),
                      level: float = LEVEL, alpha: float = ALPHA) -> dict:
    """The mean of paired differences with its `level` interval, the two-sided paired
    t-test and a verdict. With one difference, no test: a normal interval from the two
    sequence standard errors (`se_reference`, `se_compared`; used only then)."""
    d = np.asarray(differences, dtype=float)
    n = len(d)
    out = dict(n=n, mean_difference=np.nan, ci_low=np.nan, ci_high=np.nan, interval="none",
               t_statistic=np.nan, df=np.nan, p_value=np.nan)
    q = (1 + level) / 2
    if n == 0:
        return dict(out, verdict=NO_SEEDS)
    mean = float(d.mean())
    if n == 1:
        se = math.sqrt(se_reference ** 2 + se_compared ** 2)
        half = stats.norm.ppf(q) * se
        ok = math.isfinite(half)
        return dict(out, mean_difference=mean, ci_low=mean - half if ok else np.nan,
                    ci_high=mean + half if ok else np.nan, interval=SEQUENCES_ONLY if ok else "none",
                    verdict=ONE_SEED)
    se = float(d.std(ddof=1)) / math.sqrt(n)
    df = n - 1
    if se > 0:
        t = mean / se
        p = float(2 * stats.t.sf(abs(t), df))
    else:   # every seed moved by exactly the same amount
        t = math.copysign(math.inf, mean) if mean != 0 else np.nan
        p = 0.0 if mean != 0 else 1.0
    half = float(stats.t.ppf(q, df)) * se
    verdict = ("lower" if mean < 0 else "higher") if p < alpha else "no significant change"
    return dict(out, mean_difference=mean, ci_low=mean - half, ci_high=mean + half, interval=SEEDS_T,
                t_statistic=float(t), df=float(df), p_value=p, verdict=verdict)


# ---------------------------------------------------------------- the table

def _cell(x):
    """A table cell as a hashable, comparable value: None for a missing one."""
    if x is None or (not isinstance(x, str) and pd.isna(x)):
        return None
    if isinstance(x, str):
        return x
    return float(x)


def _value_text(x) -> str:
    return x if isinstance(x, str) else f"{float(x):g}"


def _seed_thresholds(rows: pd.DataFrame, seeds: list) -> dict:
    """{seed: (log2 threshold, sequence standard error)} of one threshold's rows: its
    per-seed rows, or, for a group of one seed, its row over all seeds (that seed's). A
    threshold with no per-seed rows in a group of several seeds (threshold_table writes
    none when there is nothing to cross, e.g. one value of the swept axis) is
    undetermined for every seed."""
    per_seed = rows[rows["seed"].astype(str) != "all"]
    if len(per_seed):
        return {int(float(r.seed)): (float(r.log2_threshold), float(r.se_sequences))
                for r in per_seed.itertuples()}
    pooled = rows[rows["seed"].astype(str) == "all"]
    if len(seeds) == 1 and len(pooled):
        r = pooled.iloc[0]
        return {int(seeds[0]): (float(r["log2_threshold"]), float(r["se_sequences"]))}
    return {int(s): (np.nan, np.nan) for s in seeds}


def _fixed_text(cells: dict, comparison: dict, family) -> str:
    """What a threshold holds fixed, besides the compared axis, and the pair of values of
    the swept axis whose crossing it is."""
    axis, by = comparison["axis"], comparison["by"]
    parts = []
    for a in FIXED_AXES:
        if a == cells["vary"] or cells[a] is None or (by == "column" and a == axis):
            continue
        parts.append(f"model family {family}" if a == "model" and by == "model"
                     else f"{a} {_value_text(cells[a])}")
    if cells["vary_small"] is not None:
        parts.append(f"threshold of {cells['vary']} {_value_text(cells['vary_small'])} "
                     f"vs {_value_text(cells['vary_large'])}")
    return ", ".join(parts)


IDENTITY = ["problem", "vary", "vary_small", "vary_large", *FIXED_AXES]


def _points(thresholds: pd.DataFrame, comparison: dict) -> dict:
    """{pairing key: {axis value: (group, problem, fixed text, {seed: (x, se)})}}: the
    comparison's thresholds, grouped by what they must share to be compared. The first
    group (in the comparison's order) to hold a (key, value) is the one used."""
    axis, by = comparison["axis"], comparison["by"]
    values = comparison.get("values", {})
    out = {}
    for group, seeds in comparison["groups"].items():
        rows = thresholds[thresholds["group"] == group]
        for key, members in rows.groupby(IDENTITY, dropna=False, sort=False):
            cells = dict(zip(IDENTITY, (_cell(k) for k in key)))
            if by == "column":
                value, family = cells[axis], None
            elif cells[by] in values:
                value, family = values[cells[by]]
            else:
                continue
            if value is None:
                continue
            shared = dict(cells)
            if by == "column":
                del shared[axis]
            else:
                shared[by] = family
            pair_key = tuple(sorted(shared.items()))
            out.setdefault(pair_key, {}).setdefault(
                value, (group, cells["problem"], _fixed_text(cells, comparison, family),
                        _seed_thresholds(members, seeds)))
    return out


def _seed_text(seeds) -> str:
    return ", ".join(str(s) for s in seeds)


def effects_table(thresholds: pd.DataFrame, comparisons: list[dict], level: float = LEVEL,
                  alpha: float = ALPHA) -> pd.DataFrame:
    """Paired-by-seed differences of thresholds (the thresholds table: threshold.py's
    `threshold_table`) between each value of a compared axis and the axis' reference
    value, one row per comparison, point of the fixed axes and compared value
    (EFFECT_COLUMNS; the module docstring says how a row is tested).

    Each comparison is a dict: `figure`, `axis`; `groups`, {group: its seeds}; `reference`,
    the axis value compared against; `by`, where a threshold row's axis value is read:
    "column" (the row's column named `axis`, e.g. weight_decay), "model" or "problem"
    (`values` maps the row's model / problem name to [axis value, family], the family
    being what the row must share with the reference besides its other columns: the
    model family without this axis, the problem without its D or prior). Two thresholds
    are compared when they agree on everything else: problem, fixed axes, the swept axis
    and the two values of it whose crossing the threshold is."""
    rows = []
    for comparison in comparisons:
        reference = comparison["reference"]
        for points in _points(thresholds, comparison).values():
            ref_value = next((v for v in points if v == reference), None)
            if ref_value is None:
                continue
            ref_group, ref_problem, ref_fixed, ref_seeds = points[ref_value]
            others = [v for v in points if v != reference]
            for value in sorted(others, key=lambda v: (isinstance(v, str), v)):
                group, problem, fixed, cmp_seeds = points[value]
                common = sorted(set(ref_seeds) & set(cmp_seeds))
                paired = [s for s in common
                          if np.isfinite(ref_seeds[s][0]) and np.isfinite(cmp_seeds[s][0])]
                dropped = [s for s in common if s not in paired]
                unshared = sorted(set(ref_seeds) ^ set(cmp_seeds))
                d = [cmp_seeds[s][0] - ref_seeds[s][0] for s in paired]
                se = (ref_seeds[paired[0]][1], cmp_seeds[paired[0]][1]) if len(paired) == 1 else ()
                stat = paired_difference(d, *se, level=level, alpha=alpha)
                rows.append(dict(
                    figure=comparison["figure"], axis=comparison["axis"],
                    groups=ref_group if group == ref_group else f"{ref_group} vs {group}",
                    problems=ref_problem if problem == ref_problem else f"{ref_problem} vs {problem}",
                    fixed=ref_fixed if fixed == ref_fixed else f"{ref_fixed} vs {fixed}",
                    reference=reference, compared=value, seeds=_seed_text(paired),
                    n_dropped=len(dropped), dropped_seeds=_seed_text(dropped),
                    unshared_seeds=_seed_text(unshared),
                    differences=", ".join(f"{x:.3f}" for x in d), **stat))
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS).astype({"n": "Int64", "n_dropped": "Int64"})


def read_effects(path) -> pd.DataFrame:
    """The effects table as written, its text columns as text; raises ValueError, naming
    the file, when a column is missing."""
    table = pd.read_csv(path, dtype={c: str for c in TEXT}, keep_default_na=False,
                        na_values={c: [""] for c in EFFECT_COLUMNS if c not in TEXT})
    missing = [c for c in EFFECT_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: effects table lacks columns {missing}")
    return table


# ---------------------------------------------------------------- in words

def _num(x, spec=".2f") -> str:
    text = format(float(x), spec)
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _value_words(x) -> str:
    """An axis value from the table (a number, or text such as "0.0" or "laplace")."""
    try:
        return f"{float(x):g}"
    except (TypeError, ValueError):
        return str(x)


def effect_sentence(row) -> str:
    """One row of the effects table in words, the verdict first, e.g. "weight_decay 1 vs 0
    (group decay; ...): no significant change on 3 paired seeds (p = 0.099); mean
    difference -0.37 octaves of M, 95% CI [-0.91, 0.17]." (`row`: a mapping of its
    columns)."""
    head = (f"{row['axis']} {_value_words(row['compared'])} vs {_value_words(row['reference'])} "
            f"({row['figure']}; group {row['groups']}; {row['fixed']})")
    n = int(row["n"])
    dropped = int(row["n_dropped"])
    note = (f"; {dropped} seed(s) dropped, no threshold on one side or both (seed {row['dropped_seeds']})"
            if dropped else "")
    if n == 0:
        return f"{head}: no paired seeds{note}: no test."
    mean = f"{_num(row['mean_difference'], '+.2f')} octaves of M"
    interval = (f"[{_num(row['ci_low'])}, {_num(row['ci_high'])}]"
                if pd.notna(row["ci_low"]) else "unavailable")
    if n == 1:
        return (f"{head}: {row['verdict']} (seed {row['seeds']}); difference {mean}, 95% interval "
                f"over evaluation sequences only {interval}{note}.")
    p = float(row["p_value"])
    p_text = f"p = {p:.2g}" if p >= 0.001 else "p < 0.001"
    verdict = row["verdict"]
    if verdict != "no significant change":
        verdict = f"significantly {verdict}"
    return (f"{head}: {verdict} on {n} paired seeds ({p_text}); mean difference {mean}, 95% CI "
            f"{interval}{note}.")


def effect_label(row) -> str:
    """One row of the effects table as a figure labels its compared value, on two short
    lines: the mean paired difference (octaves of M, compared - reference) with its 95%
    interval, then p and the seeds, e.g. "-0.37 [-0.91, 0.17]\np = 0.097, 3 seeds";
    "+0.21\none seed: no test"; or "no paired seeds\n(2 dropped)". A seed dropped (no
    threshold on one side) is counted."""
    n = int(row["n"])
    dropped = int(row["n_dropped"])
    if n == 0:
        return "no paired seeds" + (f"\n({dropped} dropped)" if dropped else "")
    note = f", {dropped} dropped" if dropped else ""
    mean = f"{float(row['mean_difference']):+.2f}"
    if n == 1:
        return f"{mean}\none seed: no test{note}"
    p = float(row["p_value"])
    p_text = f"p = {p:.2g}" if p >= 0.001 else "p < 0.001"
    return (f"{mean} [{_num(row['ci_low'])}, {_num(row['ci_high'])}]\n"
            f"{p_text}, {n} seeds{note}")


def figure_effects(effects, figure: str):
    """The effects table's rows that `figure` draws (None or an empty table: none)."""
    if effects is None or not len(effects):
        return None
    rows = effects[effects["figure"] == figure]
    return rows if len(rows) else None


# ---------------------------------------------------------------- from the config

def _model_axis_values(config: dict, group: str, axis: str) -> dict:
    """{model: [its width or depth, its family]}: the family is the named model with only
    the other axis applied (small_w128_d8 -> small_d8 for the width)."""
    out = {}
    for s in sweep_settings(config, group):
        spec = model_spec(config, s.model)
        base = DERIVED_MODEL.fullmatch(s.model)[1]
        other = {"n_embd": "n_layer", "n_layer": "n_embd"}[axis]
        out[s.model] = [spec[axis], model_name(config, base, **{other: spec[other]})]
    return out


def _distinct(values) -> list:
    return sorted(set(values))


def _laplace_pairs(config: dict) -> list[tuple[str, str]]:
    """(Gaussian group, Laplace group): for each group whose problems all have a
    non-Gaussian prior, the Gaussian group with the same swept axis, all of its settings
    and the Gaussian counterpart of each of its problems; of several, the one with the
    fewest settings, then by name."""
    sweeps = config["sweeps"]
    pairs = []
    for group in sorted(sweeps):
        problems = sweep_problems(config, group)
        if not problems or any(p.prior == "gaussian" for p in problems):
            continue
        settings = {s.name for s in sweep_settings(config, group)}
        wanted = {replace(p, prior="gaussian").name for p in problems}
        candidates = [g for g in sorted(sweeps)
                      if g != group and sweeps[g]["vary"] == sweeps[group]["vary"]
                      and all(p.prior == "gaussian" for p in sweep_problems(config, g))
                      and wanted <= {p.name for p in sweep_problems(config, g)}
                      and settings <= {s.name for s in sweep_settings(config, g)}]
        if candidates:
            best = min(candidates, key=lambda g: (len(sweep_settings(config, g)), g))
            pairs.append((best, group))
    return pairs


def comparisons(config: dict) -> list[dict]:
    """What the effects table compares in a study (`effects_table` describes each dict):
    Fig 6's D over its groups, each Fig 7 axis within its group and the Laplace prior
    against its Gaussian group (`_laplace_pairs`); an axis with fewer than two values
    compares nothing and is left out. The reference value is the smallest (D, weight
    decay, width, depth) or the Gaussian prior."""
    figures = config.get("figures") or {}
    out = []
    if "fig6" in figures:
        groups = list(dict.fromkeys(figure_groups(figures["fig6"])))
        values = {p.name: [p.D, p.prior] for g in groups for p in sweep_problems(config, g)}
        Ds = _distinct(v for v, _ in values.values())
        if len(Ds) > 1:
            out.append(dict(figure="fig6", axis="D", by="problem", reference=Ds[0], values=values,
                            groups={g: sweep_seeds(config, g) for g in groups}))
    for axis, group in (figures.get("fig7") or {}).items():
        seeds = {group: sweep_seeds(config, group)}
        if axis == "weight_decay":
            decays = _distinct(s.weight_decay for s in sweep_settings(config, group))
            if len(decays) > 1:
                out.append(dict(figure="fig7", axis=axis, by="column", reference=decays[0], groups=seeds))
            continue
        values = _model_axis_values(config, group, axis)
        for family in _distinct(f for _, f in values.values()):
            sizes = _distinct(v for v, f in values.values() if f == family)
            if len(sizes) > 1:
                out.append(dict(figure="fig7", axis=axis, by="model", reference=sizes[0], groups=seeds,
                                values={m: vf for m, vf in values.items() if vf[1] == family}))
    for gaussian, laplace in _laplace_pairs(config):
        values = {}
        for p in sweep_problems(config, laplace):
            counterpart = replace(p, prior="gaussian")
            values[counterpart.name] = ["gaussian", counterpart.name]
            values[p.name] = [p.prior, counterpart.name]
        out.append(dict(figure="appendix_laplace", axis="prior", by="problem", reference="gaussian",
                        values=values, groups={gaussian: sweep_seeds(config, gaussian),
                                               laplace: sweep_seeds(config, laplace)}))
    return out
