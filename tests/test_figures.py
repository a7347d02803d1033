"""The figures stage: its pure helpers, and on the smoke run the test session shares
(conftest.smoke_workflow, a copy of the workflow outside git) every figure, its
provenance sidecar, the thresholds table, the software record and the report."""
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, snakemake
from icl_diversity import config as cfg
from icl_diversity.figures import M_positions, positions_M, seed_summary, threshold_label, with_inf_dmmse
from icl_diversity.provenance import git_state, sha256

SMOKE = cfg.load_config(ROOT / "studies" / "smoke.yaml")
FIGURES = list(SMOKE["figures"])


# ---------------------------------------------------------------- pure helpers

def test_inf_sits_past_the_largest_finite_M():
    grid = [2, 16, np.inf]
    assert list(M_positions([16, np.inf, 2], grid)) == [4.0, 6.0, 1.0]
    assert positions_M([2, 4, 8, 16, 32, np.inf, 2]) == [2, 8, 32, np.inf]


def test_a_refined_grid_is_labelled_at_its_powers_of_two_and_drawn_at_every_M():
    import matplotlib.pyplot as plt
    from icl_diversity.figures import format_M_axis, pow2
    assert (pow2(32), pow2(45), pow2(np.inf)) == ("$2^{5}$", "$45$", r"$\infty$")
    fig, ax = plt.subplots()
    format_M_axis(ax, [2, 8, 32, 39, 45, 128, np.inf])
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert list(ax.get_xticks()) == [1, 3, 5, 7, 9] and labels[:4] == ["$2^{1}$", "$2^{3}$", "$2^{5}$", "$2^{7}$"]
    np.testing.assert_allclose(ax.get_xticks(minor=True), np.log2([39, 45]))
    plt.close(fig)


def test_threshold_label_keeps_a_narrow_interval_apart():
    t = pd.Series({"log2_threshold": 7.2958, "ci_low": 7.2778, "ci_high": 7.3139})
    assert threshold_label(t) == r"$M\approx2^{7.30}$ [7.28, 7.31]"
    assert threshold_label(pd.Series({"log2_threshold": 5.0, "ci_low": np.nan})) == r"$M\approx2^{5.00}$"
    # the bracket, which the interval does not cover, is named beside it
    t = pd.Series({"log2_threshold": 7.71, "ci_low": 7.64, "ci_high": 7.77, "bracket_low": 6.0,
                   "bracket_high": 8.0})
    assert threshold_label(t) == r"$M\approx2^{7.71}$ [7.64, 7.77] between M = 64 and 256"


def test_git_state_names_the_checked_out_commit():
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()
    state = git_state(ROOT)
    assert state["commit"] == head and isinstance(state["dirty"], bool)
    assert git_state("/") == {"commit": None, "dirty": None}


def test_dmmse_at_inf_is_ridge():
    t = pd.DataFrame(dict(estimator=["Ridge", "Ridge", "PT", "PT"], M=[np.inf, 2.0, np.inf, np.inf],
                          metric=["loss_per_dim", "loss_per_dim", "delta_ridge", "loss_per_dim"],
                          value=[1.0, 2.0, 3.0, 4.0]))
    filled = with_inf_dmmse(t)
    assert len(filled) == 6
    assert filled.query("estimator == 'dMMSE'")[["M", "value"]].values.tolist() == [[np.inf, 1.0]]
    assert filled.query("metric == 'delta_dmmse'")["value"].tolist() == [3.0]
    assert len(with_inf_dmmse(filled)) == 6   # idempotent


# ---------------------------------------------------------------- the smoke run

@pytest.mark.parametrize("name", FIGURES)
def test_each_figure_is_a_non_empty_pdf_and_png_with_the_config_hash(smoke_outdir, name):
    from PIL import Image
    smoke = smoke_outdir
    pdf, png = smoke / "figures" / f"{name}.pdf", smoke / "figures" / f"{name}.png"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5000
    with Image.open(png) as im:
        assert im.format == "PNG" and min(im.size) > 300
        png_hash = im.text["config_hash"]
    side = json.loads((smoke / "figures" / f"{name}.json").read_text())
    assert png_hash == side["config_hash"] and len(png_hash) == 12
    assert f"config_hash={png_hash}".encode() in pdf.read_bytes()


@pytest.mark.parametrize("name", FIGURES)
def test_provenance_sidecar_matches_the_files_on_disk(smoke_workflow, smoke_outdir, name):
    wf, _ = smoke_workflow
    side = json.loads((smoke_outdir / "figures" / f"{name}.json").read_text())
    tables = [Path(f["path"]).name for f in side["inputs"] if f["path"].endswith(".csv")]
    assert tables, "a figure must record the tables it read"
    assert {Path(f["path"]).name for f in side["outputs"]} == {f"{name}.pdf", f"{name}.png"}
    # the study's tables and figures, in the study's folder
    assert all(f["path"].startswith("out/studies/smoke/") for f in side["outputs"]), side["outputs"]
    assert all(f["path"].startswith("out/studies/smoke/tables/") for f in side["inputs"]
               if f["path"].endswith(".csv")), side["inputs"]
    for f in side["inputs"] + side["outputs"]:
        path = wf / f["path"]   # relative paths are relative to the workflow folder
        assert sha256(path) == f["sha256"], f"{path} changed since {name} was drawn"
    assert set(side["git"]) == {"commit", "dirty"}   # None here: the copy is not in git


def test_thresholds_table_has_rows_per_sweep_group_and_seed(smoke_outdir):
    t = pd.read_csv(smoke_outdir / "tables" / "thresholds.csv", dtype={"seed": str})
    assert sorted(set(t["group"])) == sorted(SMOKE["sweeps"])
    assert sorted(t.loc[t["group"] == "batch", "seed"]) == ["0", "1", "all"]
    assert t.loc[t["group"] == "steps", "seed"].tolist() == ["all"]
    # a threshold over seeds (or resamples) that cannot be given says why: "undetermined (...)"
    assert all(s in {"found", "several", "not significant", "none found"}
               or re.fullmatch(r"undetermined \(.+\)", s) for s in t["status"]), set(t["status"])
    found = t[t["status"].isin(["found", "several"])]
    assert np.allclose(2 ** found["log2_threshold"], found["threshold_M"])
    assert ((found["ci_low"] <= found["log2_threshold"]) & (found["log2_threshold"] <= found["ci_high"])).all()
    assert t.loc[~t["status"].isin(["found", "several"]), "log2_threshold"].isna().all()
    assert t["found_fraction"].between(0, 1).all()


def test_seed_summary_means_over_seeds_and_leaves_out_stuck_runs():
    rows = pd.DataFrame(dict(M=[2.0, 2.0, 2.0, 4.0, 8.0], seed=[0, 1, 2, 0, 0],
                             value=[1.0, 3.0, 100.0, 5.0, 7.0], stderr=[0.1, 0.1, 0.1, 0.5, 0.2],
                             stuck=[False, False, True, False, True]))
    s = seed_summary(rows, "M").set_index("M")
    assert list(s.index) == [2.0, 4.0]                 # M = 8 has no run left
    assert s.loc[2.0, ["value", "lo", "hi", "n"]].tolist() == [2.0, 1.0, 3.0, 2]
    # one seed: the band is +-1 standard error
    assert s.loc[4.0, ["value", "lo", "hi", "n"]].tolist() == [5.0, 4.5, 5.5, 1]


def test_software_record(smoke_outdir):
    record = json.loads((smoke_outdir / "provenance" / "software.json").read_text())
    side = json.loads((smoke_outdir / "figures" / f"{FIGURES[0]}.json").read_text())
    assert record["config_hash"] == side["config_hash"]
    for key in ("python", "torch", "numpy", "snakemake", "git_commit", "git_dirty", "cuda_device"):
        assert key in record
    assert record["torch"] and record["snakemake"]


def test_report_builds(smoke_workflow, smoke_outdir):
    wf, _ = smoke_workflow
    report = smoke_outdir / "report.html"
    snakemake("--report", str(report), "--configfile", "studies/smoke.yaml",
              "--config", "outdir=out", cwd=wf)
    html = report.read_text(errors="replace")
    assert report.stat().st_size > 10_000
    for name in FIGURES + ["software.html"]:
        assert name in html


# ---------------------------------------------------------------- what is plotted

def _synthetic(stuck_seed1_at_M4=False):
    from icl_diversity.config import Setting
    settings = [Setting("nano", b, 10, 0.0) for b in (8, 16)]
    Ms = [2.0, 4.0, 8.0, np.inf]
    rows = []
    for s in settings:
        for seed in (0, 1):
            for M in Ms:
                for es in ("true", "pretrain"):
                    for metric, target in (("loss_per_dim", "noisy"), ("loss_per_dim", "clean"),
                                           ("delta_ridge", "-"), ("delta_dmmse", "-")):
                        for pos in range(3):
                            v = 0.1 * s.batch_size / 8 + 0.01 * seed + 0.001 * pos
                            rows.append(dict(estimator="PT", M=M, eval_set=es, metric=metric,
                                             target=target, position=pos, value=v, stderr=0.01,
                                             setting=s.name, seed=seed, step=10, gap_closed=1.0,
                                             escape_step=5.0,
                                             stuck=stuck_seed1_at_M4 and seed == 1 and M == 4.0))
    base = [dict(estimator=e, M=M, eval_set=es, metric="loss_per_dim", target=t, position=pos,
                 value=0.5, stderr=0.01)
            for e in ("Ridge", "dMMSE") for M in Ms for es in ("true", "pretrain")
            for t in ("noisy", "clean") for pos in range(3) if not (e == "dMMSE" and np.isinf(M))]
    thr = pd.DataFrame([dict(group="g", seed="all", status="found", log2_threshold=2.5,
                             ci_low=2.2, ci_high=2.9)])
    return settings, pd.DataFrame(rows), pd.DataFrame(base), thr


def test_fig_vs_M_draws_one_curve_per_setting_at_the_grid_with_the_threshold():
    import matplotlib.pyplot as plt
    from icl_diversity.figures import fig_vs_M
    settings, pt, base, thr = _synthetic()
    fig = fig_vs_M(pt, base, thr, settings, "batch_size")
    axes = np.array(fig.axes).reshape(2, 3)
    for ax in axes.ravel():
        curves = {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}
        assert {"PT, batch 8", "PT, batch 16"} <= set(curves)
        # the finite M at log2 positions 1, 2, 3 (inf is its own marker)
        np.testing.assert_array_equal(curves["PT, batch 8"].get_xdata(), [1.0, 2.0, 3.0])
        # mean over the two seeds: 0.1 + 0.005
        np.testing.assert_allclose(curves["PT, batch 8"].get_ydata(), 0.105)
        vertical = [line for line in ax.lines if len(set(np.atleast_1d(line.get_xdata()))) == 1
                    and len(line.get_xdata()) == 2]
        assert any(np.allclose(line.get_xdata(), 2.5) for line in vertical), "threshold line"
    loss = {line.get_label() for line in axes[1, 0].lines}
    assert {"Ridge", "dMMSE"} <= loss
    assert "2.50" in fig._suptitle.get_text() and "[2.20, 2.90]" in fig._suptitle.get_text()
    plt.close(fig)


def test_legend_names_the_baselines_drawn_and_only_those():
    """A baseline with no rows (no Bayes estimator for a Gaussian prior) gets no legend
    entry; one drawn on T_True only (the Laplace prior's Bayes) gets exactly one."""
    import matplotlib.pyplot as plt
    from icl_diversity.figures import fig_vs_M
    settings, pt, base, thr = _synthetic()

    def legend(fig):
        return [t.get_text() for t in fig.legends[0].get_texts()]
    fig = fig_vs_M(pt, base, thr, settings, "batch_size")
    assert {"Ridge", "dMMSE", "PT, batch 8"} <= set(legend(fig))
    assert "Bayes (task prior)" not in legend(fig) and "smoothed dMMSE" not in legend(fig)
    plt.close(fig)
    bayes = base[(base["estimator"] == "Ridge") & (base["eval_set"] == "true")].assign(
        estimator="Bayes", value=0.45)
    fig = fig_vs_M(pt, pd.concat([base, bayes]), thr, settings, "batch_size")
    assert legend(fig).count("Bayes (task prior)") == 1
    axes = np.array(fig.axes).reshape(2, 3)
    assert "Bayes (task prior)" not in {line.get_label() for line in axes[0, 0].lines}
    assert "Bayes (task prior)" in {line.get_label() for line in axes[1, 0].lines}
    plt.close(fig)


def test_stuck_runs_are_open_markers_and_left_out_of_the_mean():
    import matplotlib.pyplot as plt
    from icl_diversity.figures import fig_vs_M
    settings, pt, base, thr = _synthetic(stuck_seed1_at_M4=True)
    fig = fig_vs_M(pt, base, thr, settings, "batch_size")
    ax = fig.axes[0]
    curve = next(line for line in ax.lines if line.get_label() == "PT, batch 8")
    np.testing.assert_allclose(curve.get_ydata(), [0.105, 0.1, 0.105])    # M = 4: seed 0 only
    open_markers = [line for line in ax.lines if line.get_markerfacecolor() == "none"]
    assert len(open_markers) == 2                                         # one per setting
    assert np.allclose(open_markers[0].get_xdata(), [2.0])
    assert any("stuck on the plateau" in t.get_text() for t in fig.texts)
    plt.close(fig)


def test_fig4_fits_t_star_only_below_the_threshold():
    import matplotlib.pyplot as plt
    from icl_diversity.config import Setting
    from icl_diversity.figures import fig_dynamics
    s = Setting("nano", 8, 100, 0.0)
    steps = np.arange(0, 101, 10)
    rows = []
    for M in [2.0, 4.0, 8.0, 16.0, 32.0, np.inf]:
        # a dip at t* = 5 M below the threshold (2^3.5), a late interior dip past it
        t_star = 5 * M if M < 11 else 90
        for t in steps:
            rows.append(dict(eval_set="true", metric="delta_ridge", position=0, setting=s.name,
                             seed=0, M=M, step=t, value=1 + (t - t_star) ** 2 / 1e3,
                             stderr=0.0, stuck=False))
    thr = pd.DataFrame([dict(group="g", seed="all", status="found", log2_threshold=3.5,
                             ci_low=3.2, ci_high=3.8)])
    fig = fig_dynamics(pd.DataFrame(rows), [s], "batch_size", thr)
    ax = fig.axes[1]      # the t* panel (after the one setting panel)
    filled = [line for line in ax.lines if line.get_marker() == "o" and line.get_markerfacecolor() != "none"]
    hollow = [line for line in ax.lines if line.get_marker() == "o" and line.get_markerfacecolor() == "none"]
    np.testing.assert_array_equal(filled[0].get_xdata(), [2, 4, 8])          # fitted
    np.testing.assert_array_equal(hollow[0].get_xdata(), [16, 32])           # past 2^3.5
    assert "M^{1.00}" in filled[0].get_label()                               # t* = 5 M exactly
    assert any(np.allclose(line.get_xdata(), 2 ** 3.5) for line in ax.lines)  # threshold line
    plt.close(fig)


def test_the_threshold_strip_says_when_its_interval_is_one_seeds_sequences_only():
    import matplotlib.pyplot as plt
    from icl_diversity.figures import shade_past_thresholds
    from icl_diversity.threshold import SEEDS_AND_SEQUENCES, SEQUENCES_ONLY

    def labels(interval):
        fig, ax = plt.subplots()
        ax.set_xlim(0, 10)
        shade_past_thresholds(ax, pd.DataFrame([dict(seed="all", status="found", log2_threshold=6.0,
                                                     ci_low=5.9, ci_high=6.1, interval=interval)]))
        out = [p.get_label() for p in ax.patches]
        plt.close(fig)
        return out
    assert "95% interval of the threshold (one seed: sequences only)" in labels(SEQUENCES_ONLY)
    assert "95% interval of the threshold" in labels(SEEDS_AND_SEQUENCES)
    assert not any("one seed" in label for label in labels(SEEDS_AND_SEQUENCES))
