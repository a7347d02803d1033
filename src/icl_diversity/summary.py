"""A study's summary page (summary.md, Markdown that reads on GitHub), written from its
tables and benchmark records so that no number in it is ever typed: the sweep, the
paper's claims judged from the tables (claims.py), the thresholds, how refined groups
chose their M (refine.py's decisions, round by round), the paired-by-seed
differences of thresholds along the compared axes (when the study compares any), the PT
against Ridge and dMMSE at each M, the runs left out as stuck, the time each rule took,
the figures and the store keys.

Pure functions from DataFrames and records to Markdown, and `read_benchmarks`, which
reads Snakemake's benchmark files and skips those that do not exist.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .claims import VERDICTS as CLAIM_VERDICTS
from .config import Setting
from .effects import effect_sentence
from .tasks import M_label

DASH = "—"
SETTING_AXES = ("model", "batch_size", "steps", "weight_decay")
STUCK_MARK = "*"


# ---------------------------------------------------------------- formatting

def number(x, spec: str = ".4g") -> str:
    """A number as the summary writes it; a dash for a missing (NaN) one."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x):
        return DASH
    text = format(float(x), spec)
    # a tiny negative that rounds to zero reads as zero, not "-0.000"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def interval_text(low, high) -> str:
    """An interval as the summary writes it, "[low, high]" to two decimals; a dash where
    there is none (a missing low end)."""
    if low is None or pd.isna(low):
        return DASH
    return f"[{number(low, '.2f')}, {number(high, '.2f')}]"


def bracket_text(low, high) -> str:
    """A bracket (log2 M of two trained points) as the M it joins, "[64, 256]"; a dash
    where either end is missing."""
    if any(x is None or pd.isna(x) for x in (low, high)):
        return DASH
    return f"[{M_text(round(2.0 ** float(low)))}, {M_text(round(2.0 ** float(high)))}]"


def plain(x) -> str:
    """An axis value as the config spells it: 8.0 -> "8", 0.0 -> "0", "nano" as is."""
    if isinstance(x, str):
        return x
    if pd.isna(x):
        return DASH
    return f"{float(x):g}"


def M_text(M) -> str:
    """M as a table cell: "16", or "∞"."""
    return "∞" if M_label(M) == "inf" else M_label(M)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def section(title: str, *parts: str) -> str:
    return "\n\n".join([f"## {title}", *[p for p in parts if p]])


# ---------------------------------------------------------------- header

def header(study: str, config_hash: str, groups: dict) -> str:
    """Study name, config hash and what each sweep group sweeps. `groups` maps a group to
    its vary, settings, seeds, problems and M (common.smk: group_params)."""
    runs = {(p, s, seed, M) for g in groups.values() for p in g["problems"] for s in g["settings"]
            for seed in g["seeds"] for M in g["M"]}
    rows = [[f"`{name}`", g["vary"], ", ".join(f"`{s}`" for s in g["settings"]),
             ", ".join(str(s) for s in g["seeds"]), ", ".join(M_text(M) for M in g["M"]),
             ", ".join(f"`{p}`" for p in g["problems"])]
            for name, g in groups.items()]
    intro = (f"Config hash `{config_hash}`. {len(runs)} training runs (problem, setting, seed, M) "
             f"in {len(groups)} sweep group(s). Written by rule `summary` from the study's tables "
             "and benchmark records: regenerate it, do not edit it.")
    return "\n\n".join([f"# Study `{study}`", intro,
                        markdown_table(["group", "varies", "settings", "seeds", "M", "problems"], rows)])


# ---------------------------------------------------------------- the paper's claims

def claims_section(claims: pd.DataFrame) -> str:
    """The claims table (claims.py): each claim of the paper the study speaks to, the
    paper's value and the study's, and the verdict with its criterion."""
    def cell(x) -> str:
        text = str(x).strip()
        return text.replace("|", "\\|") if text else DASH

    counts = claims["verdict"].value_counts()
    tally = ", ".join(f"{int(counts.get(v, 0))} {v}" for v in CLAIM_VERDICTS)
    rows = [[cell(r["figure"]), f"`{cell(r['claim'])}`: {cell(r['statement'])}", cell(r["paper"]),
             cell(r["value"]), cell(r["interval"]), f"**{cell(r['verdict'])}**", cell(r["why"])]
            for _, r in claims.iterrows()]
    return section(
        "Claims",
        f"The paper's quantitative claims that this study's figures speak to, judged from its "
        f"tables by rule `claims` (`tables/claims.csv`, which also names each row's source): "
        f"{tally}, of {len(claims)}. A verdict comes from the criterion its row states; "
        "\"not testable at this scale\" says why.",
        markdown_table(["figure", "claim", "paper", "this study", "interval", "verdict", "why"], rows))


# ---------------------------------------------------------------- stuck runs

def stuck_runs(pt: pd.DataFrame) -> pd.DataFrame:
    """One row per run (problem, setting, seed, M) flagged `stuck` in the PT metrics, with
    the fraction of its gap to Ridge it closed."""
    cols = ["problem", "setting", "seed", "M", "gap_closed"]
    rows = pt[pt["stuck"].astype(bool)]
    return rows[cols].drop_duplicates(["problem", "setting", "seed", "M"]).sort_values(
        ["problem", "setting", "seed", "M"]).reset_index(drop=True)


def stuck_section(pt: pd.DataFrame) -> str:
    bad = stuck_runs(pt)
    if not len(bad):
        return section("Stuck runs", "none: every run left the plateau (eval.plateau_guard).")
    rows = [[f"`{r.problem}`", f"`{r.setting}`", plain(r.seed), M_text(r.M), number(r.gap_closed, ".3f")]
            for r in bad.itertuples()]
    return section("Stuck runs",
                   f"{len(bad)} run(s) closed less of their gap from the plateau to Ridge than "
                   "eval.plateau_guard: drawn as open markers, left out of means and thresholds.",
                   markdown_table(["problem", "setting", "seed", "M", "gap closed"], rows))


# ---------------------------------------------------------------- thresholds

def _matches(setting: Setting, row, vary: str) -> bool:
    """Whether a setting is one of the two a threshold row compares."""
    for axis in SETTING_AXES:
        if axis == vary or pd.isna(row[axis]):
            continue
        want, have = row[axis], getattr(setting, axis)
        if (str(want) != have) if axis == "model" else (float(want) != float(have)):
            return False
    if pd.isna(row["vary_small"]):
        return True
    return float(getattr(setting, vary)) in (float(row["vary_small"]), float(row["vary_large"]))


def threshold_runs(row, group: dict) -> list[tuple]:
    """The runs (problem, setting, seed, M) behind one threshold row: the two compared
    settings of its group, its seeds ("all": the group's), at the group's finite M."""
    settings = [s for s in map(Setting.parse, group["settings"]) if _matches(s, row, group["vary"])]
    seeds = group["seeds"] if str(row["seed"]) == "all" else [int(float(row["seed"]))]
    Ms = [float(M) for M in group["M"] if M_label(M) != "inf"]
    return [(row["problem"], s.name, int(seed), M) for s in settings for seed in seeds for M in Ms]


def threshold_rows(thresholds: pd.DataFrame, pt: pd.DataFrame, groups: dict) -> list[list[str]]:
    """One Markdown row per row of the thresholds table."""
    stuck = {(r.problem, r.setting, int(r.seed), float(r.M)) for r in stuck_runs(pt).itertuples()}
    out = []
    for _, r in thresholds.iterrows():
        fixed = ", ".join(f"{a} {plain(r[a])}" for a in SETTING_AXES if a != r["vary"] and not pd.isna(r[a]))
        compared = (f"{r['vary']} {plain(r['vary_small'])} vs {plain(r['vary_large'])}"
                    if not pd.isna(r["vary_small"]) else r["vary"])
        seed = f"all ({plain(r['n_seeds'])})" if str(r["seed"]) == "all" else str(r["seed"])
        interval = interval_text(r["ci_low"], r["ci_high"])
        runs = threshold_runs(r, groups[r["group"]]) if r["group"] in groups else []
        left_out = f"{sum(run in stuck for run in runs)} of {len(runs)}"
        out.append([f"`{r['group']}`", f"`{r['problem']}`", fixed, compared, seed,
                    number(r["log2_threshold"], ".2f"), interval,
                    bracket_text(r.get("bracket_low"), r.get("bracket_high")),
                    number(r["threshold_M"], ".3g"), plain(r.get("interval", DASH)), r["status"],
                    number(r["found_fraction"], ".2f"), left_out])
    return out


def threshold_section(thresholds: pd.DataFrame, pt: pd.DataFrame, groups: dict) -> str:
    head = ["group", "problem", "fixed", "compared", "seeds", "log2 M*", "95% interval",
            "bracket (M)", "M*", "interval covers", "status", "resamples crossing", "stuck left out"]
    return section(
        "Task-diversity thresholds",
        "Where Delta^{T_True}_{PT,Ridge} vs M of the two compared settings cross (log2 M*): "
        "over all seeds, the mean of the seeds' crossings with a 95% t-interval that adds the "
        "evaluation-sequence noise the seeds share; per seed, an interval over sequences only. "
        "Every M is its own training run, whose fluctuation can move a seed's crossing; the "
        "seeds' spread holds it, an interval over one seed's sequences does not. "
        "Each crossing is interpolated linearly in log2 M between the trained M just below and "
        "above it, the *bracket* (over seeds, the lowest and highest of the seeds'). No "
        "interval covers the error of that straight line: where "
        "the curves bend inside a wide bracket, their crossing can lie anywhere in it, outside "
        "the interval. Only a finer grid there (a refined group) narrows the bracket. "
        "`status`: *found*, one significant crossing (from significantly above to "
        "significantly below); *several*, more than one, of which the one that best splits the "
        "significant differences into positive before it and negative after it is taken (over "
        "seeds: some seed's curve has several); *not significant* or *none found*, no "
        "threshold; *undetermined (k of S seeds cross)*, not every seed crosses. "
        "`resamples crossing` is the fraction of sequence resamples in which every seed "
        "crosses significantly; `stuck left out` counts the runs of the comparison (finite M) "
        "flagged stuck.",
        markdown_table(head, threshold_rows(thresholds, pt, groups)))


# ---------------------------------------------------------------- refinement of M

def refine_rows(decisions: list[dict]) -> list[list[str]]:
    """One Markdown row per refined curve pair and round, up to the round its refinement
    stopped at (a stopped pair's later decisions repeat it)."""
    out = []
    for d in sorted(decisions, key=lambda d: (d["group"], d["round"])):
        for pair in d["pairs"]:
            if pair["stopped"] and pair["stopped_round"] < d["round"]:
                continue
            interval = interval_text(pair["ci_low"], pair["ci_high"])
            out.append([f"`{d['group']}`", f"`{pair['problem']}`",
                        " vs ".join(f"`{s}`" for s in pair["settings"]), str(d["round"]),
                        ", ".join(map(str, pair["trained_M"])), number(pair["log2_threshold"], ".2f"),
                        interval, bracket_text(*pair["bracket"]), pair["status"],
                        ", ".join(map(str, pair["next_M"])) or DASH])
    return out


def refine_section(decisions: list[dict], groups: dict) -> str:
    """The decisions of the refined groups, round by round, and the runs each group
    trained (its settings x seeds x every M it reached, M = inf included)."""
    trained = []
    for g in sorted({d["group"] for d in decisions}):
        group = groups[g]
        n = len(group["settings"]) * len(group["seeds"]) * len(group["M"])
        trained.append(f"`{g}` trained {n} runs: {len(group['settings'])} settings x "
                       f"{len(group['seeds'])} seed(s) x M in {{{', '.join(map(M_text, group['M']))}}}.")
    return section(
        "Refinement of M",
        "Each refined group trained its coarse grid, then after every round a decision "
        "(`refine/{group}/round{r}.json`) estimated the threshold as the thresholds table "
        "does and chose the next M inside the *bracket* (the trained M just below and above "
        "every seed's crossing; where only some seeds cross, the span of theirs, whose widest "
        "gaps between trained M the next M split). A row per round until the pair stopped; "
        "`status` says why it stopped, or `refining` (or that it extends the grid above its "
        "largest M, or refines where only some seeds cross).",
        markdown_table(["group", "problem", "compared", "round", "M trained (finite)", "log2 M*",
                        "95% interval", "bracket (M)", "status", "next M"], refine_rows(decisions)),
        " ".join(trained))


# ---------------------------------------------------------------- threshold differences

def effects_section(effects: pd.DataFrame) -> str:
    """The effects table (effects.py), a row per compared point, and each row in words."""
    def value(x):
        try:
            return f"{float(x):g}"
        except (TypeError, ValueError):
            return str(x)

    rows = [[r["figure"], r["axis"], f"`{r['groups']}`", r["fixed"],
             f"{value(r['compared'])} vs {value(r['reference'])}", plain(r["n"]), r["seeds"] or DASH,
             plain(r["n_dropped"]), r["differences"] or DASH, number(r["mean_difference"], ".2f"),
             interval_text(r["ci_low"], r["ci_high"]), r["interval"], number(r["p_value"], ".2g"),
             r["verdict"]]
            for _, r in effects.iterrows()]
    head = ["figure", "axis", "groups", "fixed", "compared vs reference", "paired seeds",
            "which", "dropped", "differences (log2 M)", "mean", "95% interval", "interval covers", "p",
            "verdict"]
    sentences = "\n".join(f"- {effect_sentence(r)}" for _, r in effects.iterrows())
    return section(
        "Threshold differences along the compared axes",
        "Each value of a compared axis (Fig 6: D; Fig 7: weight decay, width, depth; the "
        "Laplace prior) against the axis' reference (its smallest value; the Gaussian prior), "
        "paired by training seed: per seed, the compared setting's threshold minus the "
        "reference's (log2 M, octaves; negative: lower). With two or more paired seeds, a "
        "paired t-test (two-sided, df = seeds - 1) and its 95% t-interval; with one, no "
        "test, and an interval over evaluation sequences only. A seed without a threshold on "
        "either side is dropped (`dropped`). An effect is claimed only from the test, never "
        "from two intervals that do not overlap.",
        markdown_table(head, rows) if rows else "no compared thresholds in the table.",
        sentences)


# ---------------------------------------------------------------- PT vs the baselines

def scalar_loss(table: pd.DataFrame, problem: str) -> pd.DataFrame:
    """L/D against the noisy y on T_True, mean over positions (position 0), of one problem."""
    return table[(table["problem"] == problem) & (table["eval_set"] == "true")
                 & (table["metric"] == "loss_per_dim") & (table["target"] == "noisy")
                 & (table["position"] == 0)]


def per_seed_rows(pt: pd.DataFrame, baselines: pd.DataFrame, problem: str, group: dict):
    """(header, rows): one row per M of the group; a column per (setting, seed) of the
    group's PT (stuck runs marked), then Ridge and dMMSE at that M."""
    pt, base = scalar_loss(pt, problem), scalar_loss(baselines, problem)
    runs = [(s, int(seed)) for s in group["settings"] for seed in group["seeds"]]
    head = ["M"] + [f"`{s}` seed {seed}" for s, seed in runs] + ["Ridge", "dMMSE"]
    rows = []
    for M in sorted((float(m) for m in group["M"])):
        row = [M_text(M)]
        for s, seed in runs:
            cell = pt[(pt["setting"] == s) & (pt["seed"] == seed) & (pt["M"] == M)]
            row.append(DASH if not len(cell) else
                       number(cell["value"].iloc[0]) + (STUCK_MARK if cell["stuck"].iloc[0] else ""))
        for est in ("Ridge", "dMMSE"):
            cell = base[(base["estimator"] == est) & (base["M"] == M)]
            row.append(number(cell["value"].iloc[0]) if len(cell) else DASH)
        rows.append(row)
    return head, rows


def per_seed_section(pt: pd.DataFrame, baselines: pd.DataFrame, name: str, group: dict) -> str:
    parts = [f"Sweep group `{name}`: L/D against the noisy y on T_True, mean over the K "
             f"positions, at the end of training. {STUCK_MARK}: stuck on the plateau. dMMSE has "
             f"no rows of its own at M = ∞ ({DASH}), where under a Gaussian task prior it is Ridge."]
    for problem in group["problems"]:
        head, rows = per_seed_rows(pt, baselines, problem, group)
        if len(group["problems"]) > 1:
            parts.append(f"### `{problem}`")
        parts.append(markdown_table(head, rows))
    return section("PT against Ridge and dMMSE, per seed", *parts)


# ---------------------------------------------------------------- wall and CPU time

def read_benchmarks(records: list[dict]) -> pd.DataFrame:
    """Snakemake benchmark records, each {"rule", "path"}: one row per record with its wall
    seconds (`s`) and `cpu_time` (means over a file's repeats), NaN and `found` False for a
    file that does not exist (a run finished before benchmarks were kept, say)."""
    rows = []
    for rec in records:
        row = dict(rule=rec["rule"], path=str(rec["path"]), found=Path(rec["path"]).exists(),
                   s=np.nan, cpu_time=np.nan)
        if row["found"]:
            table = pd.read_csv(rec["path"], sep="\t")
            for col in ("s", "cpu_time"):
                if col in table:
                    row[col] = pd.to_numeric(table[col], errors="coerce").mean()
        rows.append(row)
    return pd.DataFrame(rows, columns=["rule", "path", "found", "s", "cpu_time"])


def timing_rows(bench: pd.DataFrame) -> list[list[str]]:
    """Per rule (in order of first appearance) and in all: jobs recorded of those
    expected, total and median wall and CPU seconds."""
    def row(label, b):
        got = b[b["found"]]
        return [label, f"{len(got)} of {len(b)}", number(got["s"].sum(min_count=1), ".1f"),
                number(got["s"].median(), ".1f"), number(got["cpu_time"].sum(min_count=1), ".1f"),
                number(got["cpu_time"].median(), ".1f")]
    rows = [row(f"`{rule}`", b) for rule, b in bench.groupby("rule", sort=False)]
    return rows + [row("all", bench)] if len(bench) else rows


def timing_section(bench: pd.DataFrame) -> str:
    if not len(bench):
        return section("Wall and CPU time per rule", "no benchmarked jobs.")
    head = ["rule", "jobs recorded", "wall total (s)", "wall median (s)", "CPU total (s)",
            "CPU median (s)"]
    return section(
        "Wall and CPU time per rule",
        "From the Snakemake benchmark records of the study's jobs: its training jobs and "
        "analyses, and its problems' baselines (in the store, possibly computed by another "
        "study). A run that another study trained has no job, and so no record, here; records "
        "missing are counted in neither sum.",
        markdown_table(head, timing_rows(bench)))


# ---------------------------------------------------------------- figures and store keys

def figures_section(figures: dict) -> str:
    """One link per figure (relative to the summary: figures/NAME.png), with its group(s)."""
    if not figures:
        return section("Figures", "none configured.")

    def groups(value):
        if isinstance(value, str):
            return f"`{value}`"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return ", ".join(f"{k}: `{g}`" if isinstance(value, dict) else f"`{g}`" for k, g in items)
    lines = [f"- [{name}](figures/{name}.png) ([PDF](figures/{name}.pdf)): sweep group {groups(g)}"
             for name, g in figures.items()]
    return section("Figures", "\n".join(lines))


def store_keys_section(keys: dict) -> str:
    """The 8-hex keys in the store's paths this study uses, and what each stands for."""
    rows = [[f"`{key}`", v["what"], "`" + json.dumps({k: x for k, x in v.items() if k != "what"},
                                                     sort_keys=True) + "`"]
            for key, v in keys.items()]
    return section("Store keys", markdown_table(["key", "what", "settings"], rows))


# ---------------------------------------------------------------- the page

def summary_markdown(study: str, config_hash: str, groups: dict, main_group: str,
                     thresholds: pd.DataFrame, pt: pd.DataFrame, baselines: pd.DataFrame,
                     bench: pd.DataFrame, figures: dict, store_keys: dict,
                     effects: pd.DataFrame | None = None, claims: pd.DataFrame | None = None,
                     decisions: list[dict] | None = None) -> str:
    """The page; `effects`, the effects table, where the study compares any axis;
    `claims`, the claims table, right after the header; `decisions`, the refinement
    decisions (every round's) of the refined groups, where there are any."""
    parts = [header(study, config_hash, groups),
             *([claims_section(claims)] if claims is not None else []),
             threshold_section(thresholds, pt, groups),
             *([refine_section(decisions, groups)] if decisions else []),
             *([effects_section(effects)] if effects is not None else []),
             per_seed_section(pt, baselines, main_group, groups[main_group]),
             stuck_section(pt),
             timing_section(bench),
             figures_section(figures),
             store_keys_section(store_keys)]
    return "\n\n".join(parts) + "\n"
