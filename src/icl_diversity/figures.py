"""The paper's figures from the tidy tables (see metrics.py for their columns).

Conventions shared by every figure:
- M is drawn on a log2 axis; M = inf gets its own tick, `INF_GAP` octaves past the
  largest finite M, behind a break mark.
- Losses are against the noisy targets y (the paper's L); position 0 is the mean over
  the K positions.
- dMMSE at M = inf is Ridge (the pool prior becomes N(0, task_scale^2 I)), so the
  baselines table has no dMMSE rows there; `with_inf_dmmse` fills them in.
"""
from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import provenance  # noqa: E402
from .connectivity import reference_band  # noqa: E402
from .effects import effect_label  # noqa: E402
from .io import atomic_path  # noqa: E402
from .threshold import SEQUENCES_ONLY, placement, power_law_fit, step_of_minimum  # noqa: E402

INF_GAP = 2.0   # log2 units between the largest finite M and the inf tick
EVAL_SETS = {"pretrain": r"$T_{\mathrm{Pretrain}}$", "true": r"$T_{\mathrm{True}}$"}
PANELS = {   # column of a vs-M figure -> (metric, target, y label)
    "loss": ("loss_per_dim", "noisy", "L / D  (noisy y)"),
    "delta_dmmse": ("delta_dmmse", "-", r"$\Delta_{\mathrm{PT,\,dMMSE}}$"),
    "delta_ridge": ("delta_ridge", "-", r"$\Delta_{\mathrm{PT,\,Ridge}}$"),
}
BASELINE_STYLE = {"dMMSE": dict(color="tab:red", ls="--", marker="s"),
                  "smoothed_dMMSE": dict(color="tab:purple", ls="-.", marker="v"),
                  "Ridge": dict(color="black", ls=":", marker="D"),
                  # the Bayes estimator of a non-Gaussian task prior (Laplace), on T_True only
                  "Bayes": dict(color="tab:green", ls="-", marker="*")}
BASELINE_LABELS = {"smoothed_dMMSE": "smoothed dMMSE", "Bayes": "Bayes (task prior)"}
VARY_NAMES = {"batch_size": "batch", "steps": "steps"}


def estimator_label(estimator: str) -> str:
    """An estimator as legends name it (smoothed_dMMSE -> smoothed dMMSE)."""
    return BASELINE_LABELS.get(estimator, estimator)


def axis_name(column: str) -> str:
    """A sweep axis as legends name it (batch_size -> batch, weight_decay -> weight decay)."""
    return VARY_NAMES.get(column, column.replace("_", " "))

plt.rcParams.update({"font.size": 10, "axes.titlesize": 10, "legend.fontsize": 8,
                     "axes.grid": True, "grid.alpha": 0.3})


# ---------------------------------------------------------------- tables

def select(table: pd.DataFrame, **equal) -> pd.DataFrame:
    """Rows where every named column equals the given value."""
    mask = np.ones(len(table), dtype=bool)
    for column, value in equal.items():
        mask &= (table[column] == value).to_numpy()
    return table[mask]


def with_inf_dmmse(table: pd.DataFrame) -> pd.DataFrame:
    """Add the M = inf rows that equal Ridge's: dMMSE's own rows (baselines table) and
    Delta_{X,dMMSE} = Delta_{X,Ridge} (PT tables)."""
    inf = table[np.isinf(table["M"])]
    extra = [inf[inf["estimator"] == "Ridge"].assign(estimator="dMMSE"),
             inf[(inf["metric"] == "delta_ridge") & (inf["estimator"] != "dMMSE")]
             .assign(metric="delta_dmmse")]
    have = set(map(tuple, inf[["estimator", "metric"]].drop_duplicates().to_numpy()))
    extra = [e[[(a, b) not in have for a, b in zip(e["estimator"], e["metric"])]] for e in extra]
    return pd.concat([table, *extra], ignore_index=True)


def setting_labels(settings, vary: str) -> dict[str, str]:
    """Legend label per setting name: just the swept value when nothing else differs."""
    others = [a for a in ("model", "batch_size", "steps", "weight_decay") if a != vary]
    if all(len({getattr(s, a) for s in settings}) == 1 for a in others):
        if vary == "steps":
            return {s.name: f"PT, {s.steps:,} steps" for s in settings}
        return {s.name: f"PT, {axis_name(vary)} {getattr(s, vary)}" for s in settings}
    return {s.name: f"PT, {s.name}" for s in settings}


def setting_colors(settings) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {s.name: cmap(i % 10) for i, s in enumerate(settings)}


# ---------------------------------------------------------------- the M axis

def pow2(M: float) -> str:
    """M as a mathtext label: $2^{k}$, or $\\infty$."""
    if np.isinf(M):
        return r"$\infty$"
    # an M between powers of two (a refined grid's) as the integer it is
    return rf"$2^{{{np.log2(M):g}}}$" if float(np.log2(M)).is_integer() else f"${M:g}$"


def M_positions(M, M_grid) -> np.ndarray:
    """x coordinate of each M: log2 M, and INF_GAP past the grid's largest finite M for inf."""
    M, M_grid = np.asarray(M, dtype=float), np.asarray(M_grid, dtype=float)
    x_inf = np.log2(M_grid[np.isfinite(M_grid)].max()) + INF_GAP
    return np.where(np.isfinite(M), np.log2(np.where(np.isfinite(M), M, 1.0)), x_inf)


def format_M_axis(ax, M_grid) -> None:
    """Ticks 2^k at the grid's finite M that are powers of two (thinned to <= 8; every
    octave of the grid's range when it holds fewer than two), unlabelled minor ticks at
    the others (a refined grid's), an inf tick, and a break."""
    M_grid = np.unique(np.asarray(M_grid, dtype=float))
    finite = M_grid[np.isfinite(M_grid)]
    octaves = np.log2(finite)[np.log2(finite) == np.round(np.log2(finite))]
    if len(octaves) < 2:
        octaves = np.arange(np.floor(np.log2(finite.min())), np.ceil(np.log2(finite.max())) + 1)
    ticks = list(octaves[:: max(1, int(np.ceil(len(octaves) / 8)))])
    ax.set_xticks(sorted(set(np.log2(finite)) - set(ticks)), minor=True)
    labels = [pow2(2.0 ** t) for t in ticks]
    if np.isinf(M_grid).any():
        x_inf = M_positions([np.inf], M_grid)[0]
        ticks.append(x_inf)
        labels.append(pow2(np.inf))
        # a "//" break on the x axis between the finite grid and inf
        x_break = x_inf - INF_GAP / 2
        kw = dict(transform=ax.get_xaxis_transform(), color="0.3", clip_on=False, lw=1)
        for dx in (-0.1, 0.1):
            ax.plot([x_break + dx - 0.08, x_break + dx + 0.08], [-0.025, 0.025], **kw)
        ax.axvline(x_break, color="0.6", lw=0.8, ls=(0, (2, 2)), zorder=0)
    ax.set_xticks(ticks, labels)
    ax.set_xlim(np.log2(finite.min()) - 0.5, max(ticks) + 0.5)
    ax.set_xlabel("number of pretraining tasks M")


def plain_log_y(ax) -> None:
    """Log y axis labelled 0.3, 0.5, 1 rather than 3x10^-1. Minor ticks are labelled
    too: all of them on an axis spanning under a decade, 2x and 5x under three. An axis
    with no positive data (every run on it stuck, say) stays linear."""
    ys = np.concatenate([np.asarray(line.get_ydata(), dtype=float).ravel() for line in ax.lines]
                        or [np.array([])])
    if not (np.isfinite(ys) & (ys > 0)).any():
        return
    ax.set_yscale("log")

    def minor(v, _):
        lo, hi = ax.get_ylim()
        decades = np.log10(hi / lo)
        mantissa = round(v / 10 ** np.floor(np.log10(v) + 1e-9))
        return f"{v:.4g}" if decades < 1 or (decades < 3 and mantissa in (2, 5)) else ""
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.4g}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(minor))


def seed_summary(rows: pd.DataFrame, by: str) -> pd.DataFrame:
    """Mean over training seeds of `value` at each `by` (M, step or position), leaving
    out runs flagged `stuck`, with the band drawn around it: the range (min to max) over
    seeds when there are two or more, else +-1 Monte-Carlo standard error. Tables
    without seeds (the baselines) count as one seed."""
    if "stuck" in rows:
        rows = rows[~rows["stuck"].astype(bool)]
    g = rows.groupby(by)
    out = pd.DataFrame({"value": g["value"].mean(), "lo": g["value"].min(), "hi": g["value"].max(),
                        "n": g["value"].size()})
    one = out["n"] == 1
    se = g["stderr"].mean()
    out.loc[one, "lo"] = out["value"][one] - se[one]
    out.loc[one, "hi"] = out["value"][one] + se[one]
    return out.reset_index()


def stuck_rows(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["stuck"].astype(bool)] if "stuck" in rows else rows.iloc[:0]


def plot_vs_M(ax, rows: pd.DataFrame, M_grid, label: str, **style) -> None:
    """One curve of value vs M: the mean over seeds through the finite M with its band
    (seed_summary), a lone marker with a bar at inf (the break is not a line segment),
    and an open marker for every run stuck on the plateau."""
    if not len(rows):    # nothing to draw (e.g. no Bayes rows for a Gaussian prior): no legend entry
        return
    summary = seed_summary(rows, "M").sort_values("M")
    x = M_positions(summary["M"], M_grid)
    finite = np.isfinite(summary["M"]).to_numpy()
    style = dict(dict(marker="o", ms=4, lw=1.5), **style)
    ax.plot(x[finite], summary["value"][finite], label=label, **style)
    band = dict(color=style.get("color"), alpha=0.18, lw=0)
    ax.fill_between(x[finite], summary["lo"][finite], summary["hi"][finite], **band)
    if (~finite).any():
        inf = summary[~finite]
        ax.errorbar(x[~finite], inf["value"], [inf["value"] - inf["lo"], inf["hi"] - inf["value"]],
                    **dict(style, ls="none", capsize=2))
    bad = stuck_rows(rows)
    if len(bad):
        ax.plot(M_positions(bad["M"], M_grid), bad["value"], ls="none", marker="o", ms=7,
                mfc="none", mew=1.3, color=style.get("color"))


def stuck_note(fig, rows: pd.DataFrame, settings, vary: str) -> None:
    """A red line above the figure naming its runs stuck on the plateau, if any."""
    labels = setting_labels(settings, vary)
    bad = stuck_rows(rows[rows["setting"].isin(labels)])[["setting", "seed", "M"]].drop_duplicates()
    if not len(bad):
        return
    parts = []
    for setting, runs in bad.groupby("setting", sort=False):
        seeds = [f"seed {seed} at M = " + ", ".join(pow2(M) for M in sorted(r["M"]))
                 for seed, r in runs.groupby("seed")]
        parts.append(f"{labels[setting]} ({'; '.join(seeds)})")
    text = (f"open markers / dotted: {len(bad)} run(s) stuck on the plateau, left out of means, "
            f"bands and thresholds: " + "; ".join(parts))
    width = int(fig.get_figwidth() * 17)     # characters of 8 pt text per line
    fig.text(0.5, 1.0, textwrap.fill(text, width), ha="center", va="bottom", fontsize=8,
             color="tab:red")


def found_thresholds(thresholds: pd.DataFrame) -> pd.DataFrame:
    """The thresholds over all seeds that a significant crossing gave."""
    seed = thresholds["seed"].astype(str) if "seed" in thresholds else pd.Series("all", thresholds.index)
    return thresholds[thresholds["status"].isin(["found", "several"]) & (seed == "all")]


def threshold_label(t) -> str:
    """"M ~ 2^x [low, high] between M = a and b": the interval to two decimals as the
    summary writes it (one decimal turned a refined group's [7.28, 7.31] into [7.3,
    7.3]), and the bracket, the trained M the crossing is interpolated between, which
    the interval does not cover."""
    ci = (rf" [{t.ci_low:.2f}, {t.ci_high:.2f}]" if np.isfinite(getattr(t, "ci_low", np.nan))
          else "")
    low, high = (float(getattr(t, c, np.nan)) for c in ("bracket_low", "bracket_high"))
    bracket = (f" between M = {round(2.0 ** low)} and {round(2.0 ** high)}"
               if np.isfinite(low) and np.isfinite(high) else "")
    return rf"$M\approx2^{{{t.log2_threshold:.2f}}}$" + ci + bracket


def shade_past_thresholds(ax, thresholds: pd.DataFrame) -> None:
    """Grey region from each threshold (over all seeds) to the right edge, a dash-dot
    line at it and a hatched strip over its bootstrap interval."""
    for t in found_thresholds(thresholds).itertuples():
        x = t.log2_threshold
        ax.axvspan(x, ax.get_xlim()[1], color="0.5", alpha=0.15, lw=0, zorder=0,
                   label=rf"past threshold $M\approx2^{{{x:.1f}}}$")
        ax.axvline(x, color="0.4", lw=1, ls="-.", zorder=0)
        if np.isfinite(getattr(t, "ci_low", np.nan)):
            # one seed's interval covers its evaluation sequences only
            one = getattr(t, "interval", "") == SEQUENCES_ONLY
            ax.axvspan(t.ci_low, t.ci_high, facecolor="none", edgecolor="0.5", hatch="//",
                       lw=0, zorder=0, label="95% interval of the threshold"
                       + (" (one seed: sequences only)" if one else ""))


def draws_data(artist) -> bool:
    """Whether a legend handle shows something: a line with a finite point, a
    collection with a path, an errorbar whose parts do; patches (spans) always."""
    if isinstance(artist, (tuple, list)):          # an errorbar's container and its parts
        return any(draws_data(a) for a in artist if a is not None)
    if isinstance(artist, matplotlib.lines.Line2D):
        x, y = (np.asarray(v, dtype=float) for v in artist.get_data())
        return bool((np.isfinite(x) & np.isfinite(y)).any()) if x.size and y.size else False
    if isinstance(artist, matplotlib.collections.Collection):
        return len(artist.get_paths()) > 0 or len(artist.get_offsets()) > 0
    return True


def legend_entries(axes) -> dict:
    """label -> handle of the labelled artists of `axes` that draw data, each label once
    (the first panel's handle first)."""
    entries = {}
    for a in axes:
        for handle, label in zip(*a.get_legend_handles_labels()):
            if draws_data(handle):
                entries.setdefault(label, handle)
    return entries


def figure_legend(fig, ax, inside: str | None = None, note: str | None = None, **style) -> None:
    """The one legend helper of every figure: it names only curves that are drawn with
    data (a baseline with no rows, plotted empty, gets no entry), each label once.
    By default one legend for the whole figure, below the panels: `ax`'s curves, then
    those that only other panels draw (e.g. a baseline evaluated on T_True only). With
    `inside` (a matplotlib legend loc): a legend inside panel `ax` of its own curves,
    or `note` in its middle when it draws none."""
    if inside is None:
        entries = legend_entries([ax] + [a for a in fig.axes if a is not ax])
        if entries:
            fig.legend(list(entries.values()), list(entries), loc="outside lower center",
                       **dict(dict(ncol=min(len(entries), 6), frameon=False, fontsize=9), **style))
        return
    entries = legend_entries([ax])
    if entries:
        ax.legend(list(entries.values()), list(entries), loc=inside, **style)
    elif note:
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", color="0.4")


# ---------------------------------------------------------------- figures

def fig_vs_M(pt: pd.DataFrame, baselines: pd.DataFrame, thresholds: pd.DataFrame,
             settings, vary: str, columns=("loss", "delta_dmmse", "delta_ridge"),
             inf_dmmse_is_ridge: bool = True, effects: pd.DataFrame | None = None):
    """Rows T_Pretrain / T_True; one column per entry of `columns` (see PANELS): PT per
    setting, and the baselines in the loss column, vs M. Fig 2 and Fig 3. Under a
    non-Gaussian task prior dMMSE at M = inf is not Ridge: pass inf_dmmse_is_ridge=False
    and it is left out there. `effects` (the effects table's rows for this figure, e.g.
    the Laplace prior against the Gaussian) adds a line per row under the title: the
    paired difference of the thresholds (effects.effect_label)."""
    if inf_dmmse_is_ridge:
        pt, baselines = with_inf_dmmse(pt), with_inf_dmmse(baselines)
    labels, colors = setting_labels(settings, vary), setting_colors(settings)
    M_grid = pd.concat([pt["M"], baselines["M"]]).unique()
    fig, axes = plt.subplots(2, len(columns), figsize=(3.6 * len(columns), 6.6),
                             squeeze=False, sharex=True, layout="constrained")
    for r, (eval_set, set_label) in enumerate(EVAL_SETS.items()):
        for c, column in enumerate(columns):
            metric, target, ylabel = PANELS[column]
            ax = axes[r, c]
            for s in settings:
                plot_vs_M(ax, select(pt, setting=s.name, eval_set=eval_set, metric=metric,
                                     target=target, position=0),
                          M_grid, labels[s.name], color=colors[s.name])
            if column == "loss":
                for est, style in BASELINE_STYLE.items():
                    plot_vs_M(ax, select(baselines, estimator=est, eval_set=eval_set,
                                         metric=metric, target=target, position=0),
                              M_grid, estimator_label(est), **style)
            else:
                plain_log_y(ax)
            format_M_axis(ax, M_grid)
            shade_past_thresholds(ax, thresholds)
            ax.set_ylabel(ylabel)
            ax.set_title(f"evaluated on {set_label}")
            if r == 0:
                ax.set_xlabel("")
    figure_legend(fig, axes[0, 0])
    stuck_note(fig, pt, settings, vary)
    title = "task-diversity threshold: " + (", ".join(
        threshold_label(t) for t in found_thresholds(thresholds).itertuples()) or "none found")
    width = int(fig.get_figwidth() * 11)     # characters of the title's text per line
    for row in ([] if effects is None else effects.to_dict("records")):
        title += "\n" + textwrap.fill(
            f"{row['axis']} {row['compared']} vs {row['reference']}, threshold difference (octaves "
            f"of M, paired by seed): " + effect_label(row).replace("\n", ", "), width)
    fig.suptitle(title)
    return fig


def fig_dynamics(curves: pd.DataFrame, settings, vary: str, thresholds: pd.DataFrame | None = None,
                 fit_max_M: float | None = None):
    """Delta^{T_True}_{PT,Ridge} vs training step, one panel per setting, one curve per
    M (colour = log2 M, M = inf dashed black); right panel t* (step of the minimum) vs
    M on log-log axes, with a power law t* ~ M^alpha (and its 95% interval) fitted to the
    interior minima over M <= fit_max_M when given (the paper: 2^10), else below the
    threshold in `thresholds` (the dip-then-rise is a below-threshold effect; minima past
    it are flat and noisy), else to none: the fit range is never every M by default. Fig 4."""
    d = select(curves, eval_set="true", metric="delta_ridge", position=0)
    labels, colors = setting_labels(settings, vary), setting_colors(settings)
    M_all = np.sort(d["M"].unique())
    finite = M_all[np.isfinite(M_all)]
    # one colour per finite M, in order of log2 M, shown as a discrete colour bar
    cmap = plt.get_cmap("viridis", len(finite))
    norm = matplotlib.colors.BoundaryNorm(np.arange(len(finite) + 1) - 0.5, len(finite))
    fig, axes = plt.subplots(1, len(settings) + 1, figsize=(4.2 * (len(settings) + 1), 3.8),
                             squeeze=False, layout="constrained")
    axes = axes[0]
    mean_curves = {}
    for ax, s in zip(axes, settings):
        for M in M_all:
            runs = select(d, setting=s.name, M=M)
            c = seed_summary(runs, "step").sort_values("step")
            mean_curves[s.name, M] = c
            style = (dict(color="black", ls="--", label=r"$M=\infty$") if np.isinf(M)
                     else dict(color=cmap(norm(np.searchsorted(finite, M)))))
            ax.plot(c["step"], c["value"], lw=1.3, **style)
            ax.fill_between(c["step"], c["lo"], c["hi"], color=style["color"], alpha=0.12, lw=0)
            stuck_lines(ax, runs, "step", style["color"])
        plain_log_y(ax)
        ax.set_xlabel("training step")
        ax.set_ylabel(r"$\Delta^{T_{\mathrm{True}}}_{\mathrm{PT,\,Ridge}}$")
        ax.set_title(labels[s.name])
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm, cmap), ax=list(axes[:-1]),
                       ticks=np.arange(len(finite)))
    bar.ax.set_yticklabels([pow2(M) for M in finite])
    bar.set_label("M")

    ax = axes[-1]
    found = found_thresholds(thresholds) if thresholds is not None else pd.DataFrame()
    threshold = found["log2_threshold"].min() if len(found) else np.nan
    if fit_max_M is not None:
        limit, where = np.log2(fit_max_M), rf"fit over $M \leq 2^{{{np.log2(fit_max_M):g}}}$"
    elif np.isfinite(threshold):
        limit, where = threshold, "fit below the threshold"
    else:
        limit, where = -np.inf, "no threshold found: nothing fitted"
    for s in settings:
        t_star = [(M, *step_of_minimum(mean_curves[s.name, M]["step"], mean_curves[s.name, M]["value"]))
                  for M in finite]
        M, t, interior = (np.array(v) for v in zip(*t_star))
        fitted = interior.astype(bool) & (np.log2(M) <= limit)
        fit = power_law_fit(M[fitted], t[fitted])
        if fit is None:
            note = "too few interior minima in the fit range"
        else:
            b, k, lo, hi = fit
            ax.plot(M[fitted], k * M[fitted] ** b, "-", color=colors[s.name], lw=1)
            ci = f" [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else ""
            note = rf"$t^* \propto M^{{{b:.2f}}}$" + ci
        # the setting's legend entry on its fitted points, or on its open ones when none is
        label = f"{labels[s.name]}: {note}"
        ax.plot(M[fitted], t[fitted], "o", color=colors[s.name],
                label=label if fitted.any() else "_nolegend_")
        ax.plot(M[~fitted], t[~fitted], "o", mfc="none", color=colors[s.name],
                label="_nolegend_" if fitted.any() else label)
    if np.isfinite(threshold):
        ax.axvline(2.0 ** threshold, color="0.4", lw=1, ls="-.",
                   label=rf"threshold $M\approx2^{{{threshold:.1f}}}$")
    ax.set_xscale("log", base=2)
    plain_log_y(ax)
    ax.set_xlabel("number of pretraining tasks M")
    ax.set_ylabel(r"$t^*$ (step of the minimum)")
    ax.set_title(f"{where}; open markers: not fitted\n(minimum at an end, or outside the range)",
                 fontsize=8)
    # below the panels: inside the right one, its long entries hid t* points
    figure_legend(fig, ax, ncol=4)
    stuck_note(fig, d, settings, vary)
    return fig


def positions_M(M_values) -> list[float]:
    """A few M to show: smallest, middle and largest finite M, and inf if present."""
    M = np.sort(np.unique(np.asarray(M_values, dtype=float)))
    finite = M[np.isfinite(M)]
    pick = [finite[0], finite[len(finite) // 2], finite[-1]] if len(finite) else []
    pick += [np.inf] if np.isinf(M).any() else []
    return list(dict.fromkeys(pick))


def fig_positions(pt: pd.DataFrame, baselines: pd.DataFrame, settings, vary: str):
    """L/D (noisy y) on T_True vs context position k, one panel per chosen M: PT per
    setting, dMMSE (finite M) and Ridge."""
    labels, colors = setting_labels(settings, vary), setting_colors(settings)
    Ms = positions_M(pt["M"])
    fig, axes = plt.subplots(1, len(Ms), figsize=(3.4 * len(Ms), 3.8), sharey=True,
                             squeeze=False, layout="constrained")
    for ax, M in zip(axes[0], Ms):
        def curve(table, label, **style):
            c = select(table, M=M, eval_set="true", metric="loss_per_dim", target="noisy")
            c = seed_summary(c[c["position"] > 0], "position").sort_values("position")
            ax.plot(c["position"], c["value"], label=label,
                    **dict(dict(marker="o", ms=3, lw=1.3), **style))
            ax.fill_between(c["position"], c["lo"], c["hi"], color=style.get("color"),
                            alpha=0.15, lw=0)
        for s in settings:
            curve(select(pt, setting=s.name), labels[s.name], color=colors[s.name])
        for est, style in BASELINE_STYLE.items():
            curve(select(baselines, estimator=est), estimator_label(est), **style)
        ax.set_title(f"M = {pow2(M)}")
        ax.set_xlabel("context position k")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[0, 0].set_ylabel(r"L / D on $T_{\mathrm{True}}$  (noisy y)")
    figure_legend(fig, axes[0, 0])
    stuck_note(fig, pt[pt["M"].isin(Ms)], settings, vary)
    return fig


def stuck_lines(ax, rows: pd.DataFrame, by: str, color) -> None:
    """A thin dotted line per run stuck on the plateau (left out of the mean curve)."""
    for _, bad in stuck_rows(rows).groupby("seed"):
        bad = bad.sort_values(by)
        ax.plot(bad[by], bad["value"], lw=0.8, ls=":", color=color)


def threshold_relation(M: float, thresholds: pd.DataFrame) -> str:
    """Where M sits against the group's threshold: "below", "near" (threshold.placement:
    inside its 95% interval, half an octave either side without one, two for one seed)
    or "past" it."""
    found = found_thresholds(thresholds)
    if not len(found):
        return "no threshold found"
    t = found.sort_values("log2_threshold").iloc[0]
    lo, hi = placement(t)
    where = "below" if np.log2(M) < lo else "past" if np.log2(M) > hi else "near"
    return rf"{where} the threshold $2^{{{t.log2_threshold:.1f}}}$"


def fig_interpolation(table: pd.DataFrame, thresholds: pd.DataFrame, settings, vary: str):
    """Fig 5: L/D (noisy y, mean over positions) vs a along paths between two pool tasks,
    one panel per M: PT per setting (mean over seeds, band), dMMSE and Ridge."""
    labels, colors = setting_labels(settings, vary), setting_colors(settings)
    loss = select(table, metric="loss_per_dim", target="noisy", position=0)
    Ms = sorted(loss["M"].unique())
    fig, axes = plt.subplots(1, len(Ms), figsize=(3.6 * len(Ms), 3.8), sharey=True,
                             squeeze=False, layout="constrained")
    for ax, M in zip(axes[0], Ms):
        def curve(rows, label, **style):
            c = seed_summary(rows, "a").sort_values("a")
            ax.plot(c["a"], c["value"], label=label, **dict(dict(marker="o", ms=3, lw=1.3), **style))
            ax.fill_between(c["a"], c["lo"], c["hi"], color=style.get("color"), alpha=0.15, lw=0)
        for s in settings:
            runs = select(loss, M=M, setting=s.name)
            curve(runs, labels[s.name], color=colors[s.name])
            stuck_lines(ax, runs, "a", color=colors[s.name])
        for est, style in BASELINE_STYLE.items():
            curve(select(loss, M=M, estimator=est, setting="-"), estimator_label(est), **style)
        ax.set_title(f"M = {pow2(M)}, {threshold_relation(M, thresholds)}")
        ax.set_xlabel(r"$a$  (0: along $w_j$, 1: along $w_i$, both pool tasks)")
        ax.set_xlim(0, 1)
    axes[0, 0].set_ylabel("L / D on the path  (noisy y)")
    figure_legend(fig, axes[0, 0])
    stuck_note(fig, select(loss, estimator="PT"), settings, vary)
    return fig


def fig_connectivity(paths: pd.DataFrame, barriers: pd.DataFrame, thresholds: pd.DataFrame,
                     settings, vary: str):
    """Linear mode connectivity. One panel per setting: L/D on T_True (noisy y) along
    the straight line in weight space from the model trained at M (t = 0) to the one
    trained at M = inf (t = 1), same seed, one curve per M (mean over seeds). Right
    panel: the barrier vs M, for those paths, from each model to the M = inf model of
    another seed, and, when the group has two seeds or more, between seeds at the same M;
    the reference (two M = inf models of different seeds) as a grey band; the group's
    threshold shaded as in Fig 2."""
    labels, colors = setting_labels(settings, vary), setting_colors(settings)
    key = ["pair", "setting", "M", "M_b", "seed_a", "seed_b"]
    paths = paths.merge(barriers[key + ["stuck"]], on=key, how="left")
    to_inf = select(paths, pair="M_vs_inf")
    finite = np.sort(to_inf["M"].unique())
    cmap = plt.get_cmap("viridis", max(len(finite), 1))
    fig, axes = plt.subplots(1, len(settings) + 1, figsize=(4.0 * (len(settings) + 1), 3.8),
                             squeeze=False, layout="constrained")
    axes = axes[0]
    for ax, s in zip(axes, settings):
        for k, M in enumerate(finite):
            runs = select(to_inf, setting=s.name, M=M)
            c = seed_summary(runs, "t").sort_values("t")
            ax.plot(c["t"], c["value"], lw=1.3, color=cmap(k))
            ax.fill_between(c["t"], c["lo"], c["hi"], color=cmap(k), alpha=0.12, lw=0)
            stuck_lines(ax, runs.rename(columns={"seed_a": "seed"}), "t", color=cmap(k))
        ax.set_xlabel(r"$t$ (0: model trained at M, 1: at $M=\infty$)")
        ax.set_ylabel(r"L / D on $T_{\mathrm{True}}$  (noisy y)")
        ax.set_title(labels[s.name])
        ax.set_xlim(0, 1)
    if len(finite):
        norm = matplotlib.colors.BoundaryNorm(np.arange(len(finite) + 1) - 0.5, len(finite))
        bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm, cmap), ax=list(axes[:-1]),
                           ticks=np.arange(len(finite)))
        bar.ax.set_yticklabels([pow2(M) for M in finite])
        bar.set_label("M")

    ax = axes[-1]
    rows = barriers.rename(columns={"barrier": "value", "barrier_stderr": "stderr"})
    M_grid = rows["M"].unique()
    for s in settings:
        plot_vs_M(ax, select(rows, setting=s.name, pair="M_vs_inf"), M_grid,
                  f"{labels[s.name]}: M to $M=\\infty$, same seed", color=colors[s.name])
        seeds = select(rows, setting=s.name, pair="seeds")
        if len(seeds):
            plot_vs_M(ax, seeds, M_grid, f"{labels[s.name]}: seed to seed", color=colors[s.name],
                      ls="--", marker="^")
        other = select(rows, setting=s.name, pair="M_vs_other_inf")
        if len(other):
            plot_vs_M(ax, other, M_grid, f"{labels[s.name]}: M to another seed's $M=\\infty$",
                      color=colors[s.name], ls=":", marker="s")
        band = reference_band(barriers, s.name)
        if band is not None:  # the paper's reference: two M = inf models (independent inits)
            ax.axhspan(*band, color=colors[s.name], alpha=0.15, lw=0,
                       label=f"{labels[s.name]}: two $M=\\infty$ models ($\\pm$1.96 se)")
    format_M_axis(ax, M_grid)
    shade_past_thresholds(ax, thresholds)
    ax.set_ylim(bottom=0)     # 0 is a linearly connected pair: the scale starts there
    ax.set_ylabel("loss barrier (L / D above the line)")
    ax.set_title("barrier along the straight line")
    # below the panels: inside, its many long entries hid the barriers they name
    figure_legend(fig, ax, ncol=3, fontsize=8)
    stuck_note(fig, rows.rename(columns={"seed_a": "seed"}), settings, vary)
    return fig


# ---------------------------------------------------------------- files

def save_figure(fig, paths, sidecar_path, inputs, config: dict, title: str) -> None:
    """Write `fig` to each path (format from the suffix), atomically, with the config
    hash in the file's metadata and no timestamp; then the JSON provenance sidecar
    (inputs and outputs with their sha256, config hash, git state)."""
    config_hash = provenance.config_hash(config)
    for path in paths:
        path = str(path)
        if path.endswith(".pdf"):
            metadata = {"Title": title, "Keywords": f"config_hash={config_hash}",
                        "CreationDate": None}
        else:
            metadata = {"Title": title, "config_hash": config_hash}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, metadata=metadata, dpi=150, bbox_inches="tight")
    plt.close(fig)
    provenance.write_json(sidecar_path, provenance.sidecar(inputs, paths, config))
