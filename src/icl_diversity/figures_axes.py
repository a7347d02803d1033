"""Figures across sweep axes: Fig 6 (the threshold as the dimension D grows, with K and
the noise tied to D) and Fig 7 (the threshold and the loss against weight decay, width
and depth). Built on the conventions and helpers of figures.py; the thresholds come
from the thresholds table (rows over all seeds), never from a typed number.
"""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
from matplotlib.transforms import blended_transform_factory
import numpy as np
import pandas as pd

from .config import DERIVED_MODEL, Setting
from .effects import effect_label
from .figures import (axis_name, figure_legend, format_M_axis, legend_entries, plain_log_y, plot_vs_M,
                      select, setting_colors, setting_labels, shade_past_thresholds, stuck_note)

DELTA_TRUE_RIDGE = r"$\Delta^{T_{\mathrm{True}}}_{\mathrm{PT,\,Ridge}}$"
FIXED_AXES = ("model", "batch_size", "steps", "weight_decay")


def pooled_thresholds(thresholds: pd.DataFrame) -> pd.DataFrame:
    """The rows over all seeds, with `found` (a significant crossing)."""
    rows = thresholds[thresholds["seed"].astype(str) == "all"].copy()
    rows["found"] = rows["status"].isin(["found", "several"])
    return rows


def plot_thresholds(ax, x, rows: pd.DataFrame, label: str, **style) -> None:
    """Thresholds (log2 M) at positions x: filled with their 95% interval where a
    significant crossing was found, open at the best (not significant) crossing
    otherwise, and a note at the top of the panel where the curves never cross on the
    group's M grid (no point to draw, but not a missing result)."""
    x = np.asarray(x, dtype=float)
    found = rows["found"].to_numpy()
    y = np.where(found, rows["log2_threshold"], rows["best_crossing"]).astype(float)
    lo, hi = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
    err = np.array([np.where(found, y - lo, np.nan), np.where(found, hi - y, np.nan)])
    if found.any():
        ax.errorbar(x[found], y[found], err[:, found], marker="o", capsize=3, label=label, **style)
    ax.plot(x[~found], y[~found], ls="none", marker="o", mfc="none", color=style.get("color"))
    top = blended_transform_factory(ax.transData, ax.transAxes)
    for xi in x[~found & ~np.isfinite(y)]:
        ax.text(xi, 0.97, "no crossing\non the grid", transform=top, ha="center", va="top",
                fontsize=7, color=style.get("color"))


def threshold_axis(ax) -> None:
    ax.set_ylabel(r"threshold $\log_2 M^*$")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: rf"$2^{{{v:g}}}$"))


REFERENCE_LABEL = "reference;\n" + r"$\Delta$: $\log_2 M^*$ minus its," + "\npaired by seed"


def draw_effects(ax, effects: pd.DataFrame | None, x_of) -> dict:
    """The effects table's paired differences on a threshold panel: at the foot, under
    each compared value, its difference to the axis' reference in log2 M (effects.
    effect_label: mean over paired seeds with its 95% interval and p, or "one seed: no
    test"), and "reference" under the reference. Rows at one value (several families or
    fixed settings) are stacked, each led by what tells it from the others. `x_of` maps
    an axis value to its x (None: not drawn). Room is made at the foot of the panel, so
    that no box hides a point (the top stays free for plot_thresholds' notes). Returns
    the panel legend's style that keeps it above the labels (none drawn: {})."""
    if effects is None or not len(effects):
        return {}
    parts = [str(f).split(", ") for f in effects["fixed"]]
    common = set.intersection(*(set(p) for p in parts))
    foot = blended_transform_factory(ax.transData, ax.transAxes)
    box = dict(boxstyle="round,pad=0.25", fc="white", ec="0.6", alpha=0.9)
    by_x = {}
    for row, fixed in zip(effects.to_dict("records"), parts):
        x = x_of(row["compared"])
        if x is None:
            continue
        context = ", ".join(p for p in fixed if p not in common)
        label = effect_label(row) if int(row["n"]) == 0 else r"$\Delta$ " + effect_label(row)
        by_x.setdefault(x, []).append(f"{context}:\n{label}" if context else label)
    if not by_x:
        return {}
    for reference in effects["reference"].unique():
        x = x_of(reference)
        if x is not None:
            by_x.setdefault(x, []).insert(0, REFERENCE_LABEL)
    lines = 1
    for x, labels in by_x.items():
        text = "\n".join(labels)
        lines = max(lines, text.count("\n") + 1)
        ax.text(x, 0.02, text, transform=foot, ha="center", va="bottom", fontsize=6.5, bbox=box)
    lo, hi = ax.get_ylim()
    room = min(0.1 * (lines + 1), 0.8)
    ax.set_ylim(lo - (hi - lo) * room, hi)
    band = room / (1 + room)
    return dict(bbox_to_anchor=(0, band, 1, 1 - band))     # "best" within the points' part


# ---------------------------------------------------------------- Fig 6

def dimension_panels(groups: dict) -> list[tuple[str, str, dict]]:
    """(group, problem name, problem params) of every problem of the Fig 6 groups, by D."""
    panels = [(g, name, spec) for g, info in groups.items() for name, spec in info["problems"].items()]
    return sorted(panels, key=lambda p: (p[2]["D"], p[0]))


def fig_dimension(pt: pd.DataFrame, baselines: pd.DataFrame, thresholds: pd.DataFrame,
                  groups: dict, effects: pd.DataFrame | None = None):
    """Fig 6. Top: Delta^{T_True}_{PT,Ridge} vs M for each D (one curve per setting,
    shaded past the threshold). Bottom left: the threshold vs D with its interval (and
    a guide M* proportional to D); bottom right: at each D's largest finite M,
    Delta^{T_True}_{PT,Ridge} and Delta^{T_True}_{dMMSE,Ridge} vs D.

    `groups` maps each group to its group_params (settings, vary, problems, M).
    `effects` (the effects table's Fig 6 rows, if the study compares D) labels each D
    with its paired difference to the smallest D (draw_effects)."""
    panels = dimension_panels(groups)
    n = len(panels)
    # top: one panel per D, each two grid columns wide; bottom: two panels, n columns each
    mosaic = [[f"D{i}" for i in range(n) for _ in (0, 1)], ["left"] * n + ["right"] * n]
    fig, named = plt.subplot_mosaic(mosaic, figsize=(3.6 * max(n, 2), 7.4), layout="constrained")
    axes, bottom = [named[f"D{i}"] for i in range(n)], [named["left"], named["right"]]
    pooled = pooled_thresholds(thresholds)
    curves, guide, all_settings = {}, [], {}
    for ax, (g, problem, spec) in zip(axes, panels):
        settings = [Setting.parse(n) for n in groups[g]["settings"]]
        labels, colors = setting_labels(settings, groups[g]["vary"]), setting_colors(settings)
        rows = select(pt, problem=problem, eval_set="true", metric="delta_ridge", position=0)
        rows = rows[rows["setting"].isin(labels)]
        for s in settings:
            plot_vs_M(ax, select(rows, setting=s.name), rows["M"].unique(), labels[s.name],
                      color=colors[s.name])
        plain_log_y(ax)
        format_M_axis(ax, rows["M"].unique())
        mine = pooled[(pooled["group"] == g) & (pooled["problem"] == problem)]
        shade_past_thresholds(ax, mine)
        ax.set_title(f"D = {spec['D']}, K = {spec['K']}, " + rf"$\sigma^2$ = {spec['noise_var']:g}")
        ax.set_ylabel(DELTA_TRUE_RIDGE)
        all_settings.update({s.name: s for s in settings})
        curves[g, problem] = (spec["D"], rows)
        guide += [(spec["D"], t.log2_threshold) for t in mine[mine["found"]].itertuples()]
    # one legend for the top row, right of it: inside a panel it covered the curves where
    # they cross (its threshold entries are long)
    entries = legend_entries(axes)
    if entries:
        fig.legend(list(entries.values()), [textwrap.fill(k, 28) for k in entries],
                   loc="outside right upper", frameon=False, fontsize=7)
    draw_threshold_vs_D(bottom[0], pooled, panels, guide, effects)
    draw_largest_M_vs_D(bottom[1], curves, baselines, panels, groups)
    stuck_note(fig, pd.concat([rows for _, rows in curves.values()]), list(all_settings.values()),
               next(iter(groups.values()))["vary"])
    return fig


def draw_threshold_vs_D(ax, pooled: pd.DataFrame, panels, guide,
                        effects: pd.DataFrame | None = None) -> None:
    """One series per combination of the fixed axes (e.g. one model and step count), and
    the paired differences between the D (draw_effects)."""
    D_of = {problem: spec["D"] for _, problem, spec in panels}
    rows = pooled[pooled["problem"].isin(D_of) & pooled["group"].isin({g for g, _, _ in panels})]
    rows = rows.assign(D=rows["problem"].map(D_of)).sort_values("D")
    fixed = [c for c in FIXED_AXES if rows[c].notna().any()]
    for i, (key, series) in enumerate(rows.groupby(fixed, dropna=False)):
        label = ", ".join(f"{axis_name(c)} {float(k):g}" if pd.api.types.is_number(k) else
                          f"{axis_name(c)} {k}" for c, k in zip(fixed, np.atleast_1d(key)))
        plot_thresholds(ax, np.log2(series["D"]), series, label, color=f"C{i}")
    if guide:
        D0, t0 = min(guide)
        Ds = np.array(sorted(D_of.values()), dtype=float)
        ax.plot(np.log2(Ds), t0 + np.log2(Ds / D0), ls=":", color="0.4", label=r"$M^* \propto D$")
    Ds = sorted(set(D_of.values()))
    ax.set_xticks(np.log2(Ds), [str(d) for d in Ds])
    ax.set_xlim(np.log2(Ds[0]) - 0.5, np.log2(Ds[-1]) + 0.5)
    ax.set_xlabel("dimension D")
    threshold_axis(ax)
    below = {} if effects is None else draw_effects(
        ax, effects[effects["axis"] == "D"], lambda v: np.log2(_number(v)) if _number(v) else None)
    ax.set_title("open: best crossing, not significant", fontsize=8)
    figure_legend(ax.figure, ax, inside="best", note="no crossing found", fontsize=7, **below)


def draw_largest_M_vs_D(ax, curves, baselines: pd.DataFrame, panels, groups) -> None:
    """Delta^{T_True}_{PT,Ridge} per setting (mean over seeds, stuck runs left out) and
    Delta^{T_True}_{dMMSE,Ridge} at the largest finite M of each D."""
    points = {}
    for (g, problem), (D, rows) in curves.items():
        finite = rows[np.isfinite(rows["M"])]
        if finite.empty:
            continue
        M = finite["M"].max()
        at = finite[(finite["M"] == M) & ~finite["stuck"].astype(bool)]
        for setting, r in at.groupby("setting"):
            points.setdefault(f"PT, {setting}", []).append((D, r["value"].mean(), M))
        dm = select(baselines, problem=problem, estimator="dMMSE", eval_set="true",
                    metric="delta_ridge", position=0, M=M)
        points.setdefault("dMMSE", []).extend((D, v, M) for v in dm["value"])
    for i, (label, pts) in enumerate(sorted(points.items())):
        D, v, M = (np.array(a, dtype=float) for a in zip(*sorted(set(pts))))
        style = dict(color="tab:red", ls="--", marker="s") if label == "dMMSE" else dict(marker="o", color=f"C{i}")
        ax.plot(np.log2(D), v, label=label.replace("dMMSE", r"$\Delta_{\mathrm{dMMSE,\,Ridge}}$"), **style)
    Ds = sorted({spec["D"] for _, _, spec in panels})
    ax.set_xticks(np.log2(Ds), [str(d) for d in Ds])
    ax.set_xlim(np.log2(Ds[0]) - 0.5, np.log2(Ds[-1]) + 0.5)
    ax.set_xlabel("dimension D")
    ax.set_ylabel(r"$\Delta^{T_{\mathrm{True}}}$ to Ridge at the largest finite M")
    plain_log_y(ax)
    figure_legend(ax.figure, ax, inside="best", note="no data", fontsize=7)


# ---------------------------------------------------------------- Fig 7

AXIS_LABELS = {"weight_decay": "weight decay", "n_embd": "embedding size (width)",
               "n_layer": "layers (depth)"}


def axis_value(axis: str, model: str, weight_decay: float, models: dict) -> tuple[str, float]:
    """(model family, value of the axis) of one point of a Fig 7 sweep: the family is the
    named model a width/depth was derived from (small_w128 -> small)."""
    if axis == "weight_decay":
        return model, weight_decay
    return DERIVED_MODEL.fullmatch(model)[1], models[model][axis]


def axis_points(info: dict, axis: str) -> pd.DataFrame:
    """Each setting of a Fig 7 group with its family, axis value and value of the
    group's threshold axis (`vary`)."""
    rows = []
    for name in info["settings"]:
        s = Setting.parse(name)
        family, value = axis_value(axis, s.model, s.weight_decay, info["models"])
        rows.append(dict(setting=name, family=family, value=value, vary_value=getattr(s, info["vary"])))
    return pd.DataFrame(rows)


def fig_capacity(pt: pd.DataFrame, thresholds: pd.DataFrame, axes: dict,
                 effects: pd.DataFrame | None = None):
    """Fig 7: one column per swept axis (weight decay, width, depth). Top: the threshold
    (log2 M, with its interval) vs the axis value, one series per model family; bottom:
    L/D on T_True (noisy y) at the group's largest finite M vs the axis value, one line
    per family and value of the group's threshold axis. Values sit at evenly spaced
    positions labelled with the value (weight decay 0 has no place on a log axis).

    `axes` maps each axis to its group's group_params plus `models` (name -> spec).
    `effects` (the effects table's Fig 7 rows, if the study compares an axis) labels each
    compared value with its paired difference to the axis' reference (draw_effects)."""
    fig, grid = plt.subplots(2, len(axes), figsize=(4.2 * len(axes), 6.8), squeeze=False,
                             layout="constrained")
    pooled = pooled_thresholds(thresholds)
    axes = {axis: axes[axis] for axis in AXIS_LABELS if axis in axes}    # the paper's order
    for c, (axis, info) in enumerate(axes.items()):
        points = axis_points(info, axis)
        values = sorted(points["value"].unique())
        pos = {v: i for i, v in enumerate(values)}
        (problem,) = info["problems"]
        rows = with_axis_values(pooled, info, problem, axis)
        per_seed = with_axis_values(thresholds[thresholds["seed"].astype(str) != "all"], info, problem, axis)
        crossed = False
        for i, (family, series) in enumerate(rows.sort_values("value").groupby("family")):
            plot_thresholds(grid[0, c], series["value"].map(pos), series, f"{family}", color=f"C{i}")
            crossed |= plot_seed_thresholds(grid[0, c], per_seed[per_seed["family"] == family], pos,
                                            f"C{i}", "_nolegend_" if crossed else "one seed's crossing")
        threshold_axis(grid[0, c])
        below = {}
        if effects is not None:
            mine = effects[(effects["axis"] == axis) & (effects["groups"] == info["group"])]
            below = draw_effects(grid[0, c], mine, lambda v: pos.get(_number(v)))
        grid[0, c].set_title(f"threshold vs {AXIS_LABELS[axis]}\n(open: best crossing, not significant)",
                             fontsize=9)
        draw_loss_vs_axis(grid[1, c], pt, points, problem, pos, info)
        for ax in grid[:, c]:
            ax.set_xticks(range(len(values)), [f"{v:g}" for v in values])
            ax.set_xlim(-0.5, len(values) - 0.5)
            ax.set_xlabel(AXIS_LABELS[axis])
            if ax is grid[0, c]:
                figure_legend(fig, ax, inside="best", fontsize=7, note="no threshold found", **below)
            else:
                figure_legend(fig, ax, inside="best", fontsize=7, note="no run at this M left the plateau")
    return fig


def _number(value):
    """An axis value from the effects table as a number (None: not one)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def with_axis_values(thresholds: pd.DataFrame, info: dict, problem: str, axis: str) -> pd.DataFrame:
    """The group's threshold rows on `problem`, with each row's family and axis value."""
    rows = thresholds[(thresholds["group"] == info["group"]) & (thresholds["problem"] == problem)]
    family_value = [axis_value(axis, r.model, r.weight_decay, info["models"]) for r in rows.itertuples()]
    return rows.assign(family=[f for f, _ in family_value], value=[v for _, v in family_value])


def plot_seed_thresholds(ax, rows: pd.DataFrame, pos: dict, color, label: str) -> bool:
    """Each seed's own crossing (small crosses beside the all-seeds point), where an axis
    value has more than one seed: their scatter is the training-seed spread that the
    all-seeds interval has to cover. Whether anything was drawn."""
    rows = rows[rows.groupby("value")["seed"].transform("nunique") > 1]
    y = rows["best_crossing"].astype(float)
    x, y = rows["value"].map(pos)[np.isfinite(y)], y[np.isfinite(y)]
    if len(y):
        ax.plot(x + 0.12, y, ls="none", marker="x", ms=4, color=color, alpha=0.7, label=label)
    return bool(len(y))


def draw_loss_vs_axis(ax, pt: pd.DataFrame, points: pd.DataFrame, problem: str, pos: dict,
                      info: dict) -> None:
    rows = select(pt, problem=problem, eval_set="true", metric="loss_per_dim", target="noisy",
                  position=0)
    M = max(float(m) for m in info["M"] if m != "inf")
    rows = rows[rows["setting"].isin(points["setting"]) & (rows["M"] == M) & ~rows["stuck"].astype(bool)]
    means = rows.groupby("setting")["value"].agg(["mean", "min", "max"])
    table = points.join(means, on="setting").dropna(subset=["mean"])
    for i, ((family, vary_value), line) in enumerate(table.sort_values("value").groupby(["family", "vary_value"])):
        x = line["value"].map(pos)
        ax.plot(x, line["mean"], marker="o", color=f"C{i}",
                label=f"{family}, {axis_name(info['vary'])} {vary_value}")
        ax.fill_between(x, line["min"], line["max"], color=f"C{i}", alpha=0.15, lw=0)
    ax.set_ylabel(rf"L / D on $T_{{\mathrm{{True}}}}$ at M = $2^{{{np.log2(M):g}}}$")
    n_seeds = rows.groupby("setting")["seed"].nunique().max() if len(rows) else 0
    ax.set_title("mean over seeds; band: range over seeds" if n_seeds > 1 else
                 "one training seed: no band (the seed spread is unmeasured here)", fontsize=8)
