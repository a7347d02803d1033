"""Fig 4's fit range is always explicit: up to a configured M (the paper: 2^10), or below a
named group's threshold; never every M silently."""
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT
from icl_diversity import config as cfg
from icl_diversity.config import Setting
from icl_diversity.figures import fig_dynamics


def test_the_paper_study_fits_t_star_over_M_up_to_2_to_the_10():
    paper = cfg.load_config(ROOT / "studies" / "paper.yaml")
    assert cfg.fig4_fit(paper) == {"max_M": 1024}
    # its Fig 4 group trains one batch size: no threshold of its own to fit below
    group = paper["sweeps"][paper["figures"]["fig4"]]
    assert len(group["batch_size"]) == 1


def test_the_default_fits_below_its_own_groups_threshold():
    assert cfg.fig4_fit(cfg.load_config()) == {"below": "batch"}


def test_a_fig4_group_without_a_threshold_and_no_fit_range_is_refused():
    study = yaml.safe_load((ROOT / "studies" / "paper.yaml").read_text())
    del study["analysis"]["dynamics"]
    path = ROOT / "studies" / "paper.yaml"
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    config = cfg.merge_study(base, study, source=str(path))
    with pytest.raises(cfg.ConfigError, match="fit_max_M"):
        cfg.validate(config)
    study["analysis"]["dynamics"] = {"fit_max_M": 1024, "fit_below": "batch"}
    with pytest.raises(cfg.ConfigError, match="not both"):
        cfg.validate(cfg.merge_study(base, study))


def dip_curves(setting):
    steps, rows = np.arange(0, 101, 10), []
    for M in [2.0, 4.0, 8.0, 16.0, 32.0, np.inf]:
        t_star = 5 * M if M < 11 else 90
        for t in steps:
            rows.append(dict(eval_set="true", metric="delta_ridge", position=0, setting=setting.name,
                             seed=0, M=M, step=t, value=1 + (t - t_star) ** 2 / 1e3, stderr=0.0,
                             stuck=False))
    return pd.DataFrame(rows)


def fitted_and_not(fig):
    ax = fig.axes[1]
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    filled = [d for d in dots if d.get_markerfacecolor() != "none"]
    hollow = [d for d in dots if d.get_markerfacecolor() == "none"]
    return list(filled[0].get_xdata()), list(hollow[0].get_xdata()), ax.get_title()


def test_fig4_fits_up_to_the_configured_M_whatever_the_threshold():
    import matplotlib.pyplot as plt
    s = Setting("nano", 8, 100, 0.0)
    thr = pd.DataFrame([dict(group="g", seed="all", status="found", log2_threshold=2.5,
                             ci_low=2.2, ci_high=2.8)])
    fig = fig_dynamics(dip_curves(s), [s], "batch_size", thr, fit_max_M=8)
    filled, hollow, title = fitted_and_not(fig)
    assert filled == [2, 4, 8] and hollow == [16, 32]
    assert "fit over" in title and "2^{3}" in title
    plt.close(fig)


def test_fig4_without_a_threshold_or_range_fits_nothing():
    import matplotlib.pyplot as plt
    s = Setting("nano", 8, 100, 0.0)
    fig = fig_dynamics(dip_curves(s), [s], "batch_size", None)
    filled, hollow, title = fitted_and_not(fig)
    assert filled == [] and hollow == [2, 4, 8, 16, 32]
    assert "nothing fitted" in title
    plt.close(fig)
