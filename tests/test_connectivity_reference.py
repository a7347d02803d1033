"""The mode-connectivity reference: which models it joins (config.connectivity_seeds,
reference_runs) and the verdict on the paper's claim (connectivity.connectivity_verdict)."""
import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT
from icl_diversity import config as cfg
from icl_diversity.connectivity import REFERENCE_Z, connectivity_verdict, reference_band

BASE = cfg.fill_defaults(yaml.safe_load((ROOT / "config.yaml").read_text()))


def default_with(**connectivity):
    c = copy.deepcopy(BASE)
    c["analysis"]["connectivity"].update(connectivity)
    return c


def test_a_one_seed_group_adds_one_inf_run_per_setting_at_the_next_seed():
    own, ref = cfg.connectivity_seeds(BASE)
    assert own == [0] and ref == [0, 1]
    runs = cfg.reference_runs(BASE)
    settings = [s.name for s in cfg.sweep_settings(BASE, "batch")]
    assert runs == [(cfg.main_problem(BASE).name, s, 1, "inf") for s in settings]
    # none of them is a run of the sweep: the thresholds never see the extra seed
    assert not set(runs) & set(cfg.all_runs(BASE))


def test_the_reference_seed_can_be_chosen_and_must_differ_from_the_groups():
    assert cfg.connectivity_seeds(default_with(reference_seed=7)) == ([0], [0, 7])
    with pytest.raises(cfg.ConfigError, match="reference_seed"):
        cfg.check(default_with(reference_seed=0))


def test_a_group_with_several_seeds_uses_its_own_and_trains_nothing_more():
    c = copy.deepcopy(BASE)
    c["sweeps"]["batch"]["seed"] = [0, 1, 2]
    assert cfg.connectivity_seeds(c) == ([0, 1, 2], [0, 1, 2])
    assert cfg.reference_runs(c) == []


def test_no_connectivity_figure_no_reference():
    c = copy.deepcopy(BASE)
    del c["figures"]["connectivity"]
    assert cfg.connectivity_seeds(c) == ([], []) and cfg.reference_runs(c) == []


def barriers(rows):
    """A barriers table from (pair, setting, M, barrier, stderr, stuck) tuples."""
    return pd.DataFrame([dict(pair=p, setting=s, M=float(M), M_b=np.inf, seed_a=0, seed_b=1,
                              loss_a=1.0, loss_b=1.0, barrier=b, barrier_stderr=se, t_max=0.5,
                              stuck=stuck) for p, s, M, b, se, stuck in rows])


def claim_table(below=0.5, past=0.02, reference=0.02, se=0.005, settings=("A",)):
    """Barriers at M = 2, 4 (below a threshold at log2 M = 3) and 16, 32 (past it)."""
    rows = []
    for s in settings:
        rows += [("inf_vs_inf", s, np.inf, reference, se, False)]
        rows += [("M_vs_other_inf", s, M, below, se, False) for M in (2, 4)]
        rows += [("M_vs_other_inf", s, M, past, se, False) for M in (16, 32)]
        rows += [("M_vs_inf", s, M, 0.0, 0.0, False) for M in (2, 4, 16, 32)]   # never read
    return barriers(rows)


def test_the_band_is_the_reference_barriers_plus_minus_their_standard_errors():
    t = barriers([("inf_vs_inf", "A", np.inf, 0.1, 0.01, False),
                  ("inf_vs_inf", "A", np.inf, 0.2, 0.02, False),
                  ("inf_vs_inf", "B", np.inf, 0.001, 0.01, False),
                  ("M_vs_other_inf", "A", 2, 9.0, 0.01, False)])
    assert reference_band(t, "A") == pytest.approx((0.1 - REFERENCE_Z * 0.01, 0.2 + REFERENCE_Z * 0.02))
    assert reference_band(t, "B") == pytest.approx((0.0, 0.001 + REFERENCE_Z * 0.01))  # floored at 0
    assert reference_band(t.iloc[3:]) is None


def test_small_past_and_large_below_is_reproduced():
    v = connectivity_verdict(claim_table(), 3.0)
    assert v["verdict"] == "reproduced", v
    assert "0.02" in v["value"] and "0.5" in v["value"] and "A: [" in v["interval"]


def test_a_large_barrier_past_the_threshold_is_not_reproduced_and_named():
    v = connectivity_verdict(claim_table(past=0.2), 3.0)
    assert v["verdict"] == "not reproduced" and "past the threshold, above" in v["why"]
    assert "[16, 32]" in v["why"]


def test_a_small_barrier_below_the_threshold_is_not_reproduced():
    v = connectivity_verdict(claim_table(below=0.03), 3.0)
    assert v["verdict"] == "not reproduced" and "below the threshold, within" in v["why"]


def test_a_barrier_within_noise_of_the_band_counts_as_within():
    # 0.045 is above the band's top (0.02 + 1.96 * 0.005 = 0.0298) but not by 1.96 se
    assert connectivity_verdict(claim_table(past=0.035), 3.0)["verdict"] == "reproduced"
    assert connectivity_verdict(claim_table(past=0.045), 3.0)["verdict"] == "not reproduced"


def test_each_setting_is_judged_against_its_own_reference():
    t = claim_table(settings=("A", "B"))
    B = t["setting"] == "B"
    t.loc[B & (t["pair"] == "inf_vs_inf"), "barrier"] = 0.3
    t.loc[B & (t["pair"] == "M_vs_other_inf") & (t["M"] > 8), "barrier"] = 0.25
    # B's barriers past the threshold are small against B's own reference (large against A's)
    assert connectivity_verdict(t, 3.0)["verdict"] == "reproduced"
    # and 0.28 below it is within B's band, though far above A's
    t.loc[B & (t["pair"] == "M_vs_other_inf") & (t["M"] < 8), "barrier"] = 0.28
    assert connectivity_verdict(t, 3.0)["verdict"] == "not reproduced"


def test_stuck_paths_are_left_out():
    t = claim_table(past=0.3)
    t.loc[t["pair"].eq("M_vs_other_inf") & (t["M"] == 16), "stuck"] = True
    assert connectivity_verdict(t, 3.0)["verdict"] == "not reproduced"
    t.loc[t["pair"].eq("M_vs_other_inf") & (t["M"] > 8), "stuck"] = True
    assert connectivity_verdict(t, 3.0)["verdict"] == "not testable at this scale"


@pytest.mark.parametrize("table,threshold,interval,needle", [
    (claim_table().query("pair != 'inf_vs_inf'"), 3.0, None, "no inf-vs-inf reference"),
    (claim_table(), None, None, "no threshold"),
    (claim_table(), float("nan"), None, "no threshold"),
    (claim_table(), 4.5, (3.0, 6.0), "past the threshold's interval"),   # 32 = 2^5 < 2^6
    (claim_table(), 1.5, (0.5, 2.5), "below the threshold's interval"),  # 2 = 2^1 > 2^0.5
])
def test_what_cannot_be_judged_says_why(table, threshold, interval, needle):
    v = connectivity_verdict(table, threshold, interval)
    assert v["verdict"] == "not testable at this scale" and needle in v["why"], v


def test_the_interval_not_the_estimate_splits_past_from_below():
    # threshold 3 with interval [1.5, 4.5]: M = 2 (log2 1) below, 32 (log2 5) past; 4, 16 out
    t = claim_table()
    t.loc[t["pair"].eq("M_vs_other_inf") & (t["M"] == 4.0), "barrier"] = 0.02    # small below 2^3
    t.loc[t["pair"].eq("M_vs_other_inf") & (t["M"] == 16.0), "barrier"] = 0.5    # large past it
    assert connectivity_verdict(t, 3.0)["verdict"] == "not reproduced"
    assert connectivity_verdict(t, 3.0, (1.5, 4.5))["verdict"] == "reproduced"
