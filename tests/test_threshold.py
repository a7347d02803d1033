"""The threshold finder and the learning-dynamics helpers on synthetic curves whose
answers are known exactly."""
import numpy as np
import pandas as pd
import pytest

from icl_diversity.config import Setting
from icl_diversity.threshold import (crossover_threshold, power_law_fit, sign_changes,
                                     step_of_minimum, threshold_table)

LOG2_M = np.arange(1.0, 9.0)   # M = 2 .. 256


def test_single_crossing_is_interpolated_linearly_in_log2_M():
    small = np.full(8, 0.5)
    # larger batch: further from Ridge below the threshold, closer above; diff = +0.3 at
    # log2 M = 4 and -0.1 at 5, so the line crosses zero 3/4 of the way: 4.75
    large = small + np.array([0.3, 0.3, 0.3, 0.3, -0.1, -0.2, -0.2, -0.2])
    t = crossover_threshold(LOG2_M, small, large)
    assert t.status == "found" and t.n_crossings == 1
    assert t.log2_M == pytest.approx(4.75)
    assert t.M == pytest.approx(2 ** 4.75)


def test_no_crossing():
    small = np.linspace(0.6, 0.1, 8)
    t = crossover_threshold(LOG2_M, small, small + 0.05)
    assert t.status == "none found" and t.n_crossings == 0 and np.isnan(t.log2_M)


def test_crossing_only_in_the_wrong_direction_is_not_a_threshold():
    # larger batch closer to Ridge first, then further: the opposite of the paper's story
    small = np.full(8, 0.5)
    t = crossover_threshold(LOG2_M, small, small + np.linspace(-0.2, 0.2, 8))
    assert t.status == "none found" and t.n_crossings == 1


def test_crossing_twice_reports_the_first_down_crossing_and_counts_all():
    small = np.full(8, 0.5)
    diff = np.array([0.2, 0.2, -0.2, -0.2, 0.2, 0.2, -0.2, -0.2])   # + - + -: three changes
    t = crossover_threshold(LOG2_M, small, small + diff)
    assert t.n_crossings == 3
    assert t.log2_M == pytest.approx(2.5)


def test_exact_zeros_and_nans():
    # a zero run between + and - counts once, at its middle; NaNs are skipped
    assert sign_changes(LOG2_M, [1, 0, 0, -1, -1, np.nan, -1, -1]) == [(2.5, -1)]
    assert sign_changes(LOG2_M, [0, 1, 1, 1, 1, 1, 1, 0]) == []
    assert sign_changes(LOG2_M, [1, np.nan, -1, -1, -1, -1, -1, -1]) == [(2.0, -1)]


def test_threshold_table_one_row_per_group_and_fixed_axes():
    settings = [Setting("tiny", b, 100, wd) for b in (32, 64, 128) for wd in (0.0, 0.1)]
    rows = []
    for s in settings:
        # b32 constant; b64 crosses b32 downward between log2 M = 3 and 4 (at 3.5),
        # and only for weight decay 0; b128 is irrelevant (not one of the two smallest)
        if s.batch_size == 32:
            v = np.full(8, 0.5)
        elif s.batch_size == 64 and s.weight_decay == 0.0:
            v = 0.5 + np.where(LOG2_M <= 3, 0.1, -0.1)
        else:
            v = np.full(8, 0.9)
        M = np.append(2.0 ** LOG2_M, np.inf)
        v = np.append(v, 0.0)   # M = inf never enters the threshold
        rows += [dict(estimator="PT", M=m, eval_set="true", metric="delta_ridge", target="-",
                      position=0, value=x, stderr=0.0, setting=s.name) for m, x in zip(M, v)]
        rows += [dict(estimator="PT", M=m, eval_set="pretrain", metric="delta_ridge", target="-",
                      position=0, value=-x, stderr=0.0, setting=s.name) for m, x in zip(M, v)]
    table = threshold_table(pd.DataFrame(rows), {"batch": ("batch_size", settings),
                                                 "single": ("batch_size", settings[:1])})
    assert len(table) == 3
    by_wd = table[table["group"] == "batch"].set_index("weight_decay")
    assert by_wd.loc[0.0, "status"] == "found"
    assert by_wd.loc[0.0, "log2_threshold"] == pytest.approx(3.5)
    assert (by_wd.loc[0.0, "vary_small"], by_wd.loc[0.0, "vary_large"]) == (32, 64)
    assert by_wd.loc[0.1, "status"] == "none found"
    assert pd.isna(by_wd.loc[0.0, "batch_size"]) and by_wd.loc[0.0, "steps"] == 100
    assert table[table["group"] == "single"]["status"].item() == "needs two values of batch_size"


def test_step_of_minimum_interior_and_at_an_end():
    steps = np.arange(0, 100, 10)
    assert step_of_minimum(steps, (steps - 40.0) ** 2) == (40.0, True)
    assert step_of_minimum(steps, -steps) == (90.0, False)
    assert step_of_minimum(steps, steps) == (0.0, False)


def test_power_law_fit_recovers_the_exponent():
    M = 2.0 ** np.arange(1, 11)
    b, c = power_law_fit(M, 30 * M ** 0.47)
    assert b == pytest.approx(0.47) and c == pytest.approx(30)
    assert power_law_fit(M[:1], M[:1]) is None
    assert power_law_fit([], []) is None
