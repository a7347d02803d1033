"""The threshold finder and the learning-dynamics helpers on synthetic curves whose
answers are known exactly."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from icl_diversity.config import Setting
from icl_diversity.threshold import (bootstrap_threshold, choose_crossing, crossover_threshold,
                                     power_law_fit, replicate_crossings, sign_changes,
                                     step_of_minimum, threshold_table)

LOG2_M = np.arange(1.0, 9.0)   # M = 2 .. 256


def test_single_crossing_is_interpolated_linearly_in_log2_M():
    small = np.full(8, 0.5)
    # larger batch: further from Ridge below the threshold, closer above; diff = +0.3 at
    # log2 M = 4 and -0.1 at 5, so the line crosses zero 3/4 of the way: 4.75
    large = small + np.array([0.3, 0.3, 0.3, 0.3, -0.1, -0.2, -0.2, -0.2])
    t = crossover_threshold(LOG2_M, small, large)
    assert t.status == "found" and t.n_crossings == 1 and t.n_significant == 1
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


def test_two_clean_down_crossings_are_reported_as_several():
    diff = np.array([0.2, 0.2, -0.2, -0.2, 0.2, 0.3, -0.2, -0.2])   # + - + -: three changes
    t = choose_crossing(LOG2_M, diff, np.full(8, 0.1))
    assert t.n_crossings == 3 and t.n_significant == 2 and t.status == "several"
    # the better split: sum(z before) - sum(z after) is 4 + 3 = 7 at the first crossing
    # (between 2 and 3) and 5 + 4 = 9 at the second (0.3 to -0.2 between 6 and 7: 6.6)
    assert t.log2_M == pytest.approx(6.6)


def test_exact_zeros_and_nans():
    # a zero run between + and - counts once, at its middle; NaNs are skipped
    assert sign_changes(LOG2_M, [1, 0, 0, -1, -1, np.nan, -1, -1]) == [(2.5, -1)]
    assert sign_changes(LOG2_M, [0, 1, 1, 1, 1, 1, 1, 0]) == []
    assert sign_changes(LOG2_M, [1, np.nan, -1, -1, -1, -1, -1, -1]) == [(2.0, -1)]


# A noisy world: 10 M values; below log2 M = 4 every batch sits on dMMSE (true diff 0),
# then the larger batch is further from Ridge (+0.05) until the threshold at 6.5, then
# closer (-0.05). Each point carries Gaussian noise of standard error 0.01.
NOISY_X = np.arange(1.0, 11.0)
TRUE_DIFF = np.where(NOISY_X < 4, 0.0, np.where(NOISY_X < 6.5, 0.05, -0.05))


def test_noise_at_small_M_never_gives_a_spurious_low_threshold():
    rng = np.random.default_rng(0)
    low, results = 0, []
    for _ in range(500):
        diff = TRUE_DIFF + 0.01 * rng.standard_normal(len(NOISY_X))
        t = choose_crossing(NOISY_X, diff, np.full(len(NOISY_X), 0.01))
        # the first down-crossing is often in the noise (the old rule's answer)
        first = [at for at, direction in sign_changes(NOISY_X, diff) if direction < 0][0]
        low += first < 4
        results.append(t)
    assert low > 100, "the test must contain noise crossings at small M to mean anything"
    assert all(t.found and 6 <= t.log2_M <= 7 for t in results)


def test_pure_noise_has_no_significant_crossing():
    rng = np.random.default_rng(1)
    statuses = [choose_crossing(NOISY_X, 0.01 * rng.standard_normal(10), np.full(10, 0.01)).status
                for _ in range(300)]
    # a significant crossing needs a point with z >= 2 and a later one with z <= -2 with
    # no significant point between: rare in pure noise, never the rule
    assert statuses.count("found") + statuses.count("several") < 0.15 * len(statuses)
    assert "not significant" in statuses


def test_a_crossing_inside_the_noise_is_not_significant():
    diff = np.array([0.01, -0.01, 0.005, -0.3, -0.3])
    t = choose_crossing(np.arange(5.0), diff, np.full(5, 0.01))
    # the z-scores before the crossings are 1, -1, 0.5: none significant
    assert t.status == "not significant" and np.isnan(t.log2_M)
    assert 0 < t.best_crossing < 3


def _runs(true_diff, n_seeds, N, rng, seed_sd=0.0, noise=0.05, shared_sd=0.0):
    """Per-sequence deltas (seeds, M, N) of a small- and a large-data curve whose mean
    difference is true_diff, with per-seed offsets of sd seed_sd drawn for each curve
    and of sd shared_sd common to both curves of a seed (a shared initialisation)."""
    shared = shared_sd * rng.standard_normal((n_seeds, len(true_diff), 1))
    base = 0.5 + shared + np.zeros((n_seeds, len(true_diff), N))
    small = base + seed_sd * rng.standard_normal((n_seeds, len(true_diff), 1)) \
        + noise * rng.standard_normal(base.shape)
    large = base + true_diff[None, :, None] + seed_sd * rng.standard_normal(
        (n_seeds, len(true_diff), 1)) + noise * rng.standard_normal(base.shape)
    return small, large


def test_replicate_crossings_agree_with_choose_crossing_row_by_row():
    rng = np.random.default_rng(8)
    diffs = TRUE_DIFF + 0.02 * rng.standard_normal((400, len(NOISY_X)))
    diffs[:40] = np.round(diffs[:40], 2)          # exact zeros: the zero-run rule
    diffs[40:60] = 0.01 * rng.standard_normal((20, len(NOISY_X)))   # mostly not significant
    diffs[60:70] = np.abs(diffs[60:70])           # no down-crossing at all
    for se in (np.full(len(NOISY_X), 0.01), np.zeros(len(NOISY_X))):
        chosen, best, has_down = replicate_crossings(NOISY_X, diffs, se)
        for d, c, b, h in zip(diffs, chosen, best, has_down):
            t = choose_crossing(NOISY_X, d, se)
            assert c == pytest.approx(t.log2_M, nan_ok=True)
            assert b == pytest.approx(t.best_crossing, nan_ok=True)
            assert h == (t.status != "none found")
    assert np.isnan(chosen).any() and np.isfinite(chosen).any() and not has_down.all()


LINEAR = 0.02 * (6.3 - NOISY_X)     # crosses at 6.3; the seed offsets per M move it


def test_threshold_over_seeds_is_the_mean_of_theirs_with_a_t_interval_and_shared_noise():
    """Checked against the obvious slow computation: each seed's threshold from its own
    curve, and the covariance of the seeds' thresholds over the same sequence resamples
    (every replicate through the reference chooser)."""
    rng = np.random.default_rng(9)
    small, large = _runs(LINEAR, 4, 300, rng, seed_sd=0.004, noise=0.05, shared_sd=0.1)
    b = bootstrap_threshold(NOISY_X, small, large, n_boot=200, seed=3)
    runs = large - small
    se = runs.std(axis=2, ddof=1) / np.sqrt(300)
    xs = np.array([choose_crossing(NOISY_X, r.mean(axis=1), s).log2_M for r, s in zip(runs, se)])
    assert b["threshold"].status == "found" and b["seeds_used"] == b["seeds_crossing"] == 4
    assert b["threshold"].log2_M == pytest.approx(xs.mean())
    assert [t.log2_M for t, _ in b["per_seed"]] == pytest.approx(xs)
    assert b["sd_seeds"] == pytest.approx(xs.std(ddof=1))
    weights = np.random.default_rng(3).multinomial(300, np.full(300, 1 / 300), size=200) / 300
    reps = np.array([[choose_crossing(NOISY_X, runs[s] @ w, se[s]) for s in range(4)] for w in weights])
    values = np.array([[t.log2_M if t.found else t.best_crossing for t in row] for row in reps])
    cov = np.cov(values.T)
    shared = cov[~np.eye(4, dtype=bool)].mean()
    assert b["se_sequences"] ** 2 == pytest.approx(max(shared, 0.0))
    assert b["found_fraction"] == pytest.approx(np.mean([all(t.found for t in row) for row in reps]))
    v = xs.var(ddof=1) / 4 + max(shared, 0.0)
    df = v ** 2 / ((xs.var(ddof=1) / 4) ** 2 / 3)
    half = max(stats.t.ppf(0.975, df) * np.sqrt(v), stats.t.ppf(0.975, 3) * xs.std(ddof=1) / 2)
    assert b["df"] == pytest.approx(df)
    assert (b["ci_low"], b["ci_high"]) == pytest.approx((xs.mean() - half, xs.mean() + half))
    assert b["interval"] == "seeds and sequences"
    # each seed's own interval: sequence noise only, normal, from the same replicates
    for s, (t, own) in enumerate(b["per_seed"]):
        sd = values[:, s].std(ddof=1)
        assert own["interval"] == "sequences only (one seed)"
        assert (own["ci_low"], own["ci_high"]) == pytest.approx((t.log2_M - 1.96 * sd, t.log2_M + 1.96 * sd),
                                                                rel=1e-3)


def test_more_seed_spread_gives_a_wider_interval_and_fewer_seeds_a_wider_t():
    widths = {}
    for seed_sd in (0.0, 0.004):
        for n_seeds in (3, 8):
            rng = np.random.default_rng(10)
            small, large = _runs(LINEAR, n_seeds, 300, rng, seed_sd=seed_sd, noise=0.05)
            b = bootstrap_threshold(NOISY_X, small, large, n_boot=100)
            assert b["threshold"].found
            widths[seed_sd, n_seeds] = b["ci_high"] - b["ci_low"]
    assert widths[0.004, 3] > 1.5 * widths[0.0, 3]
    assert widths[0.004, 3] > 1.5 * widths[0.004, 8]


def test_a_seed_that_does_not_cross_leaves_the_threshold_undetermined():
    """A mean over the seeds that cross would be biased toward them: the threshold over
    seeds is undetermined, says how many crossed, and has no interval; each seed keeps
    its own result."""
    rng = np.random.default_rng(11)
    small, large = _runs(LINEAR, 3, 300, rng, noise=0.05)
    large[2] = small[2] + 0.05 * rng.standard_normal(small[2].shape)   # seed 2: no difference
    b = bootstrap_threshold(NOISY_X, small, large, n_boot=100)
    assert b["threshold"].status == "undetermined (2 of 3 seeds cross)" and not b["threshold"].found
    assert np.isnan(b["threshold"].log2_M) and np.isnan(b["ci_low"]) and b["interval"] == "none"
    assert (b["seeds_used"], b["seeds_crossing"]) == (3, 2)
    assert [t.found for t, _ in b["per_seed"]] == [True, True, False]
    assert b["found_fraction"] < 0.5
    # no threshold over seeds, so no bracket; the seeds that cross keep theirs
    assert np.isnan(b["bracket_low"]) and np.isnan(b["bracket_high"])
    assert [np.isfinite(own["bracket_low"]) for _, own in b["per_seed"]] == [True, True, False]


def test_the_bracket_is_each_seeds_trained_M_around_its_crossing_and_over_seeds_their_span():
    rng = np.random.default_rng(13)
    at = np.array([3.5, 5.5])               # seed 0 crosses between 2^3 and 2^4, seed 1 2^5 and 2^6
    small = 0.5 + 0.01 * rng.standard_normal((2, len(LOG2_M), 200))
    step = np.where(LOG2_M[None, :] < at[:, None], 0.1, -0.1)[:, :, None]
    large = 0.5 + step + 0.01 * rng.standard_normal(small.shape)
    b = bootstrap_threshold(LOG2_M, small, large, n_boot=100)
    assert b["threshold"].found
    assert [(own["bracket_low"], own["bracket_high"]) for _, own in b["per_seed"]] == [(3.0, 4.0), (5.0, 6.0)]
    assert (b["bracket_low"], b["bracket_high"]) == (3.0, 6.0)
    # a run left out (NaN) is no bracket end: seed 1 without 2^5 crosses between 2^4 and 2^6
    small[1, 4] = np.nan
    b = bootstrap_threshold(LOG2_M, small, large, n_boot=100)
    assert (b["per_seed"][1][1]["bracket_low"], b["per_seed"][1][1]["bracket_high"]) == (4.0, 6.0)


def test_a_bent_curve_puts_its_crossing_outside_the_interval_but_inside_the_bracket():
    """The interval covers the runs' noise, not the straight line drawn between the two
    trained M around the crossing: a tanh crossing at 5.3 sampled every second octave is
    interpolated at about 5.58 between 2^5 and 2^7, with an interval far narrower than
    that error. The bracket is what holds the truth."""
    x = np.array([1.0, 3.0, 5.0, 7.0, 9.0])
    small, large = _runs(0.2 * np.tanh(-(x - 5.3) / 0.7), 1, 2000, np.random.default_rng(14), noise=0.02)
    b = bootstrap_threshold(x, small, large, n_boot=200)
    assert b["threshold"].status == "found"
    assert b["threshold"].log2_M == pytest.approx(5.58, abs=0.02)
    assert not b["ci_low"] <= 5.3 <= b["ci_high"]
    assert (b["bracket_low"], b["bracket_high"]) == (5.0, 7.0)


def test_one_seed_gets_a_sequences_only_interval_that_says_so():
    rng = np.random.default_rng(12)
    small, large = _runs(LINEAR, 1, 300, rng, noise=0.05)
    b = bootstrap_threshold(NOISY_X, small, large, n_boot=200)
    t, own = b["per_seed"][0]
    assert b["threshold"] == t and b["interval"] == "sequences only (one seed)"
    assert b["ci_low"] < t.log2_M < b["ci_high"] and b["seeds_used"] == 1
    # one seed's sequence noise: about se / slope = 0.05 sqrt(2 / 300) / 0.02 octaves
    assert (b["ci_high"] - b["ci_low"]) / (2 * 1.96) == pytest.approx(0.05 * np.sqrt(2 / 300) / 0.02,
                                                                       rel=0.4)


def test_bootstrap_resamples_a_seed_as_a_pair_of_curves():
    """Seed-to-seed offsets shared by both curves of a seed (their common initialisation
    and batch stream) cancel in the difference, so they must not count as its noise:
    each seed's standard errors are those of its per-sequence differences, and the
    crossing stays significant. Treating each curve's seeds on their own would put the
    shared spread (0.05 here, against a difference of 0.02) into every standard error
    and find nothing."""
    rng = np.random.default_rng(5)
    diff = np.where(NOISY_X < 6.5, 0.02, -0.02)
    small, large = _runs(diff, 4, 400, rng, noise=0.05, shared_sd=0.05)
    b = bootstrap_threshold(NOISY_X, small, large, n_boot=300)
    assert b["threshold"].found and b["found_fraction"] > 0.9
    assert 6 <= b["ci_low"] <= b["threshold"].log2_M <= b["ci_high"] <= 7
    assert np.median(b["stderr"]) == pytest.approx(0.05 * np.sqrt(2 / 400), rel=0.1)


def test_bootstrap_leaves_out_nan_runs():
    rng = np.random.default_rng(4)
    small, large = _runs(TRUE_DIFF, 2, 300, rng)
    reference = bootstrap_threshold(NOISY_X, small, large, n_boot=100)
    large[1, 9] = np.nan     # one stuck run at the largest M
    large[0, 0] = 50.0       # ... and a wild one, then marked stuck too
    large[0, 0] = np.nan
    b = bootstrap_threshold(NOISY_X, small, large, n_boot=100)
    assert b["threshold"].found and b["seeds_used"] == 2
    assert b["threshold"].log2_M == pytest.approx(reference["threshold"].log2_M, abs=0.3)
    assert np.isnan(b["diff"][[0, 1], [0, 9]]).all() and np.isfinite(b["diff"]).sum() == 18


def test_a_seed_with_every_run_left_out_is_not_used():
    rng = np.random.default_rng(13)
    small, large = _runs(LINEAR, 2, 300, rng)
    large[1] = np.nan
    b = bootstrap_threshold(NOISY_X, small, large, n_boot=100)
    assert b["seeds_used"] == 1 and b["threshold"].found
    assert b["interval"] == "sequences only (one seed)"
    assert b["per_seed"][1][0].status == "none found"


def _table_rows(settings, seeds, value):
    rows = []
    for s in settings:
        for seed in seeds:
            for m in np.append(2.0 ** LOG2_M, np.inf):
                for es in ("true", "pretrain"):
                    rows.append(dict(estimator="PT", M=m, eval_set=es, metric="delta_ridge",
                                     target="-", position=0, value=value(s, seed, m), stderr=0.0,
                                     setting=s.name, seed=seed, stuck=False))
    return pd.DataFrame(rows)


def test_threshold_table_one_row_per_group_fixed_axes_and_seed():
    settings = [Setting("tiny", b, 100, wd) for b in (32, 64, 128) for wd in (0.0, 0.1)]
    seeds = [0, 1]

    def curve(s, seed, M):
        # b32 constant; b64 crosses b32 downward between log2 M = 3 and 4 (at 3.5),
        # only for weight decay 0; b128 is irrelevant (not one of the two smallest)
        if np.isinf(M):
            return 0.0       # M = inf never enters the threshold
        if s.batch_size == 32:
            return 0.5
        if s.batch_size == 64 and s.weight_decay == 0.0:
            return 0.5 + (0.1 if np.log2(M) <= 3 else -0.1)
        return 0.9

    rng = np.random.default_rng(5)
    deltas = {}

    def sequence_deltas(name, seed, M):
        key = (name, seed, M)
        if key not in deltas:
            deltas[key] = curve(Setting.parse(name), seed, M) + 0.01 * rng.standard_normal(200)
        return deltas[key]

    table = threshold_table(_table_rows(settings, seeds, curve),
                            {"batch": ("batch_size", settings, seeds),
                             "single": ("batch_size", settings[:1], [0])},
                            sequence_deltas, n_boot=100)
    assert len(table) == 2 * 3 + 1       # (all, seed 0, seed 1) x two decays, + single
    batch = table[table["group"] == "batch"]
    assert sorted(batch["seed"]) == ["0", "0", "1", "1", "all", "all"]
    wd0 = batch[(batch["weight_decay"] == 0.0)].set_index("seed")
    assert (wd0["status"] == "found").all()
    assert wd0["log2_threshold"].to_numpy() == pytest.approx(3.5, abs=0.1)
    assert (wd0["ci_low"] <= wd0["log2_threshold"]).all() and (wd0["log2_threshold"] <= wd0["ci_high"]).all()
    assert wd0.loc["all", "n_seeds"] == 2 and wd0.loc["0", "n_seeds"] == 1
    assert (wd0.loc["all", "vary_small"], wd0.loc["all", "vary_large"]) == (32, 64)
    assert pd.isna(wd0.loc["all", "batch_size"]) and wd0.loc["all", "steps"] == 100
    assert list(wd0["interval"]) == ["seeds and sequences", "sequences only (one seed)",
                                     "sequences only (one seed)"]
    assert list(wd0["seeds_used"]) == [2, 1, 1] and list(wd0["seeds_crossing"]) == [2, 1, 1]
    assert (wd0[["stuck_small", "stuck_large"]] == 0).all().all()
    assert (wd0["bracket_low"] == 3.0).all() and (wd0["bracket_high"] == 4.0).all()
    assert (batch[batch["weight_decay"] == 0.1]["status"] == "none found").all()
    assert batch[batch["weight_decay"] == 0.1][["bracket_low", "bracket_high"]].isna().all().all()
    assert table[table["group"] == "single"]["status"].item() == "needs two values of batch_size"


def step_curve(s, seed, M):
    """Batch 32 flat at 0.5; batch 64 above it up to 2^5, below it past 2^5 (a crossing at 2^5.5)."""
    if s.batch_size == 32 or np.isinf(M):
        return 0.5
    return 0.5 + (0.1 if np.log2(M) <= 5 else -0.1)


def test_threshold_table_leaves_out_stuck_runs():
    settings = [Setting("tiny", b, 100, 0.0) for b in (32, 64)]

    pt = _table_rows(settings, [0, 1], step_curve)
    # seed 1 of b64 is stuck at M = 2^7 and 2^8, where its deltas would say "no crossing"
    stuck = (pt["setting"] == settings[1].name) & (pt["seed"] == 1) & (pt["M"] >= 128)
    pt.loc[stuck, "stuck"] = True

    def sequence_deltas(name, seed, M):
        v = step_curve(Setting.parse(name), seed, M)
        if name == settings[1].name and seed == 1 and M >= 128:
            v = 5.0
        return np.full(50, v) + 0.001 * np.arange(50) / 50

    t = threshold_table(pt, {"batch": ("batch_size", settings, [0, 1])}, sequence_deltas, n_boot=50)
    assert (t["status"] == "found").all(), t
    assert t["log2_threshold"].to_numpy() == pytest.approx(5.5)
    # and the rows say what they left out: two runs of the large-batch curve, seed 1's
    t = t.set_index("seed")
    assert list(t["stuck_large"]) == [2, 0, 2] and list(t["stuck_small"]) == [0, 0, 0]
    assert t.loc["all", "n_seeds"] == 2 and t.loc["all", "seeds_used"] == 2


def test_threshold_table_counts_a_seed_stuck_everywhere_as_planned_but_not_used():
    settings = [Setting("tiny", b, 100, 0.0) for b in (32, 64)]

    pt = _table_rows(settings, [0, 1], step_curve)
    pt.loc[(pt["setting"] == settings[0].name) & (pt["seed"] == 1), "stuck"] = True

    def sequence_deltas(name, seed, M):
        return np.full(50, step_curve(Setting.parse(name), seed, M)) + 0.01 * np.sin(np.arange(50) + M)

    t = threshold_table(pt, {"batch": ("batch_size", settings, [0, 1])}, sequence_deltas,
                        n_boot=50).set_index("seed")
    assert t.loc["all", "n_seeds"] == 2 and t.loc["all", "seeds_used"] == 1
    assert t.loc["all", "stuck_small"] == len(LOG2_M) and t.loc["all", "stuck_large"] == 0
    assert t.loc["all", "status"] == "found" and t.loc["all", "interval"] == "sequences only (one seed)"
    assert t.loc["1", "status"] == "none found" and t.loc["1", "seeds_used"] == 0


def test_step_of_minimum_interior_and_at_an_end():
    steps = np.arange(0, 100, 10)
    assert step_of_minimum(steps, (steps - 40.0) ** 2) == (40.0, True)
    assert step_of_minimum(steps, -steps) == (90.0, False)
    assert step_of_minimum(steps, steps) == (0.0, False)


def test_power_law_fit_recovers_the_exponent():
    M = 2.0 ** np.arange(1, 11)
    b, c, lo, hi = power_law_fit(M, 30 * M ** 0.47)
    assert b == pytest.approx(0.47) and c == pytest.approx(30)
    assert lo == pytest.approx(0.47) and hi == pytest.approx(0.47)    # exact data: no width
    assert power_law_fit(M[:1], M[:1]) is None
    assert power_law_fit([], []) is None
    assert np.isnan(power_law_fit(M[:2], M[:2])[2])


def test_power_law_interval_covers_the_exponent_about_95_percent_of_the_time():
    rng = np.random.default_rng(6)
    M = 2.0 ** np.arange(1, 9)
    hits = 0
    for _ in range(400):
        b, c, lo, hi = power_law_fit(M, 30 * M ** 0.47 * np.exp(0.2 * rng.standard_normal(8)))
        hits += lo <= 0.47 <= hi
    assert 0.91 <= hits / 400 <= 0.99
