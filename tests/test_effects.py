"""The effects table: paired-by-seed differences of thresholds along a compared axis,
checked against scipy's paired t-test and a t-interval computed by hand, and the
comparisons a study's config asks for."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from icl_diversity import config as cfg
from icl_diversity.effects import (EFFECT_COLUMNS, NO_SEEDS, ONE_SEED, SEEDS_T, SEQUENCES_ONLY,
                                   comparisons, effect_label, effect_sentence, effects_table,
                                   figure_effects, paired_difference, read_effects)
from icl_diversity.io import write_csv
from icl_diversity.summary import effects_section
from icl_diversity.threshold import THRESHOLD_COLUMNS

PROBLEM = "D3-K8-noise0.25"
DECAY = dict(figure="fig7", axis="weight_decay", by="column", reference=0.0)


def threshold_rows(group="decay", problem=PROBLEM, model="tiny", weight_decay=0.0, seeds=(),
                   pooled=np.nan, se=0.1):
    """The rows of one threshold (batch 64 vs 128): one over all seeds and, with several
    seeds, one per seed (`seeds`: {seed: log2 threshold}), as threshold_table writes them."""
    base = dict(group=group, problem=problem, vary="batch_size", model=model, batch_size=np.nan,
                steps=6000, weight_decay=weight_decay, vary_small=64, vary_large=128)
    rows = [dict(base, seed="all", n_seeds=max(len(seeds), 1), log2_threshold=pooled,
                 se_sequences=se, status="found" if np.isfinite(pooled) else "undetermined")]
    if len(seeds) > 1:
        rows += [dict(base, seed=str(s), n_seeds=1, log2_threshold=x, se_sequences=se,
                      status="found" if np.isfinite(x) else "not significant")
                 for s, x in seeds.items()]
    return rows


def table(*row_lists):
    return pd.DataFrame([r for rows in row_lists for r in rows], columns=THRESHOLD_COLUMNS)


# ---------------------------------------------------------------- the statistics

def test_the_worked_example_drops_of_012_052_047_octaves_give_t_294_and_p_010():
    r = paired_difference([-0.12, -0.52, -0.47])
    assert r["t_statistic"] == pytest.approx(-2.94, abs=0.005) and r["df"] == 2
    assert r["p_value"] == pytest.approx(0.10, abs=0.005)
    assert r["mean_difference"] == pytest.approx(-0.37)
    assert r["verdict"] == "no significant change" and r["interval"] == SEEDS_T


@pytest.mark.parametrize("reference,compared", [
    ([3.1, 4.0, 3.6], [2.9, 3.5, 3.1]),
    ([5.0, 5.5, 4.8, 5.2, 6.0], [5.9, 6.1, 5.5, 6.4, 6.8]),
    ([2.0, 2.5], [2.2, 2.4]),
])
def test_the_paired_test_and_interval_match_scipy_and_a_hand_computation(reference, compared):
    ref, cmp_ = np.array(reference), np.array(compared)
    r = paired_difference(cmp_ - ref)
    scipy = stats.ttest_rel(cmp_, ref)
    assert r["t_statistic"] == pytest.approx(scipy.statistic)
    assert r["p_value"] == pytest.approx(scipy.pvalue)
    # by hand: mean +- t_{0.975, n-1} * sd / sqrt(n)
    d = [c - a for a, c in zip(reference, compared)]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((mean - half, mean + half))
    assert r["df"] == n - 1 and r["n"] == n
    want = ("lower" if mean < 0 else "higher") if scipy.pvalue < 0.05 else "no significant change"
    assert r["verdict"] == want


def test_a_significant_rise_and_a_significant_drop_say_which_way():
    assert paired_difference([0.9, 1.0, 1.1, 1.05])["verdict"] == "higher"
    assert paired_difference([-0.9, -1.0, -1.1, -1.05])["verdict"] == "lower"


def test_one_seed_has_no_test_and_an_interval_over_sequences_only():
    r = paired_difference([-0.4], se_reference=0.3, se_compared=0.4)
    assert r["verdict"] == ONE_SEED and r["interval"] == SEQUENCES_ONLY
    assert math.isnan(r["p_value"]) and math.isnan(r["t_statistic"])
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((-0.4 - 1.959964 * 0.5, -0.4 + 1.959964 * 0.5))


def test_no_difference_is_no_paired_seeds():
    r = paired_difference([])
    assert r["verdict"] == NO_SEEDS and r["n"] == 0 and math.isnan(r["mean_difference"])


# ---------------------------------------------------------------- the table

def test_the_table_pairs_seeds_and_compares_each_decay_with_the_smallest():
    thresholds = table(threshold_rows(weight_decay=0.0, seeds={0: 4.0, 1: 4.5, 2: 4.2}, pooled=4.23),
                       threshold_rows(weight_decay=1.0, seeds={0: 3.88, 1: 3.98, 2: 3.73}, pooled=3.86),
                       threshold_rows(weight_decay=0.1, seeds={0: 4.1, 1: 4.4, 2: 4.3}, pooled=4.27))
    out = effects_table(thresholds, [dict(DECAY, groups={"decay": [0, 1, 2]})])
    assert list(out.columns) == EFFECT_COLUMNS
    assert list(out["compared"]) == [0.1, 1.0] and set(out["reference"]) == {0.0}
    row = out.iloc[1]
    assert row["seeds"] == "0, 1, 2" and row["n"] == 3 and row["n_dropped"] == 0
    assert row["differences"] == "-0.120, -0.520, -0.470"
    scipy = stats.ttest_rel([3.88, 3.98, 3.73], [4.0, 4.5, 4.2])
    assert row["p_value"] == pytest.approx(scipy.pvalue) and row["p_value"] == pytest.approx(0.099, abs=0.001)
    assert row["verdict"] == "no significant change" and row["groups"] == "decay"
    assert "model tiny" in row["fixed"] and "batch_size 64 vs 128" in row["fixed"]
    assert "weight_decay" not in row["fixed"]
    text = effect_sentence(row)
    assert text.startswith("weight_decay 1 vs 0 (fig7; group decay;")
    # the verdict first, then the difference: a point estimate is not read as the finding
    assert text.endswith("128): no significant change on 3 paired seeds (p = 0.099); mean difference "
                         "-0.37 octaves of M, 95% CI [-0.91, 0.17].")


def test_a_significant_shift_is_said_first_and_which_way():
    thresholds = table(threshold_rows(weight_decay=0.0, seeds={0: 4.0, 1: 4.5, 2: 4.2, 3: 4.1}),
                       threshold_rows(weight_decay=1.0, seeds={0: 3.0, 1: 3.9, 2: 3.1, 3: 3.4}))
    row = effects_table(thresholds, [dict(DECAY, groups={"decay": [0, 1, 2, 3]})]).iloc[0]
    p = stats.ttest_rel([3.0, 3.9, 3.1, 3.4], [4.0, 4.5, 4.2, 4.1]).pvalue
    assert row["verdict"] == "lower"
    assert (f": significantly lower on 4 paired seeds (p = {p:.2g}); mean difference -0.85"
            in effect_sentence(row))
    assert 0.001 < p < 0.05


def test_undetermined_seeds_are_dropped_and_counted():
    thresholds = table(threshold_rows(weight_decay=0.0, seeds={0: 4.0, 1: np.nan, 2: 4.2, 3: 4.4}),
                       threshold_rows(weight_decay=1.0, seeds={0: 3.5, 1: 3.9, 2: np.nan, 3: 3.6}))
    row = effects_table(thresholds, [dict(DECAY, groups={"decay": [0, 1, 2, 3]})]).iloc[0]
    assert row["seeds"] == "0, 3" and row["n"] == 2 and row["n_dropped"] == 2
    assert row["dropped_seeds"] == "1, 2" and row["differences"] == "-0.500, -0.800"
    assert row["p_value"] == pytest.approx(stats.ttest_rel([3.5, 3.6], [4.0, 4.4]).pvalue)
    assert "2 seed(s) dropped" in effect_sentence(row)


def test_one_seed_each_side_gives_the_difference_with_a_sequences_only_interval():
    # a group of one seed has only its row over all seeds: that seed's threshold
    thresholds = table(threshold_rows(weight_decay=0.0, pooled=4.0, se=0.3),
                       threshold_rows(weight_decay=1.0, pooled=3.6, se=0.4))
    row = effects_table(thresholds, [dict(DECAY, groups={"decay": [0]})]).iloc[0]
    assert row["n"] == 1 and row["seeds"] == "0" and row["verdict"] == ONE_SEED
    assert row["mean_difference"] == pytest.approx(-0.4) and row["interval"] == SEQUENCES_ONLY
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * 1.959964 * 0.5, rel=1e-5)
    assert effect_sentence(row).endswith(f": {ONE_SEED} (seed 0); difference -0.40 octaves of M, 95% "
                                         "interval over evaluation sequences only [-1.38, 0.58].")


def test_no_paired_seed_when_one_side_never_crosses():
    thresholds = table(threshold_rows(weight_decay=0.0, seeds={0: 4.0, 1: 4.1}),
                       threshold_rows(weight_decay=1.0, seeds={0: np.nan, 1: np.nan}))
    row = effects_table(thresholds, [dict(DECAY, groups={"decay": [0, 1]})]).iloc[0]
    assert row["n"] == 0 and row["n_dropped"] == 2 and row["verdict"] == NO_SEEDS
    assert "no paired seeds" in effect_sentence(row)


def test_widths_are_compared_within_a_model_family_and_priors_across_groups():
    width = dict(figure="fig7", axis="n_embd", by="model", reference=16, groups={"width": [0]},
                 values={"nano": [16, "nano"], "nano_w32": [32, "nano"]})
    prior = dict(figure="appendix_laplace", axis="prior", by="problem", reference="gaussian",
                 groups={"batch": [0, 1], "laplace": [0]},
                 values={PROBLEM: ["gaussian", PROBLEM], f"{PROBLEM}-laplace": ["laplace", PROBLEM]})
    thresholds = table(threshold_rows("width", model="nano", pooled=3.0),
                       threshold_rows("width", model="nano_w32", pooled=2.5),
                       threshold_rows("batch", model="nano", seeds={0: 3.1, 1: 3.3}),
                       threshold_rows("laplace", problem=f"{PROBLEM}-laplace", model="nano", pooled=3.6))
    out = effects_table(thresholds, [width, prior])
    w, p = out.iloc[0], out.iloc[1]
    assert (w["axis"], w["reference"], w["compared"], w["n"]) == ("n_embd", 16, 32, 1)
    assert w["mean_difference"] == pytest.approx(-0.5) and "model family nano" in w["fixed"]
    assert (p["axis"], p["compared"], p["groups"]) == ("prior", "laplace", "batch vs laplace")
    assert p["problems"] == f"{PROBLEM} vs {PROBLEM}-laplace"
    assert p["seeds"] == "0" and p["unshared_seeds"] == "1" and p["mean_difference"] == pytest.approx(0.5)


def test_the_table_reads_back_with_its_text_columns_as_text(tmp_path):
    thresholds = table(threshold_rows(weight_decay=0.0, pooled=4.0),
                       threshold_rows(weight_decay=1.0, pooled=3.6))
    out = effects_table(thresholds, [dict(DECAY, groups={"decay": [0]})])
    write_csv(tmp_path / "effects.csv", out)
    back = read_effects(tmp_path / "effects.csv")
    assert back["seeds"].iloc[0] == "0" and back["differences"].iloc[0] == "-0.400"
    assert effect_sentence(back.iloc[0]) == effect_sentence(out.iloc[0])


def test_a_figures_label_gives_the_difference_its_interval_p_and_seeds():
    thresholds = table(threshold_rows(weight_decay=0.0, seeds={0: 4.0, 1: 4.5, 2: 4.2}, pooled=4.23),
                       threshold_rows(weight_decay=1.0, seeds={0: 3.88, 1: 3.98, 2: 3.73}, pooled=3.86))
    row = effects_table(thresholds, [dict(DECAY, groups={"decay": [0, 1, 2]})]).iloc[0]
    d = np.array([3.88, 3.98, 3.73]) - np.array([4.0, 4.5, 4.2])
    low, high = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    p = stats.ttest_1samp(d, 0.0).pvalue
    assert effect_label(row) == f"{d.mean():+.2f} [{low:.2f}, {high:.2f}]\np = {p:.2g}, 3 seeds"
    assert effect_label(row) == "-0.37 [-0.91, 0.17]\np = 0.099, 3 seeds"


def test_a_figures_label_says_one_seed_no_test_and_counts_dropped_seeds():
    one = effects_table(table(threshold_rows(weight_decay=0.0, pooled=4.0, se=0.3),
                              threshold_rows(weight_decay=1.0, pooled=4.25, se=0.4)),
                        [dict(DECAY, groups={"decay": [0]})]).iloc[0]
    assert effect_label(one) == "+0.25\none seed: no test"
    none = effects_table(table(threshold_rows(weight_decay=0.0, seeds={0: 4.0, 1: 4.1}),
                               threshold_rows(weight_decay=1.0, seeds={0: np.nan, 1: np.nan})),
                         [dict(DECAY, groups={"decay": [0, 1]})]).iloc[0]
    assert effect_label(none) == "no paired seeds\n(2 dropped)"
    some = effects_table(table(threshold_rows(weight_decay=0.0, seeds={0: 4.0, 1: 4.1, 2: 4.3}),
                               threshold_rows(weight_decay=1.0, seeds={0: 3.0, 1: np.nan, 2: 3.4})),
                         [dict(DECAY, groups={"decay": [0, 1, 2]})]).iloc[0]
    assert effect_label(some).startswith("-0.95 [") and effect_label(some).endswith(", 2 seeds, 1 dropped")


def test_figure_effects_picks_a_figures_rows_or_none():
    thresholds = table(threshold_rows(weight_decay=0.0, pooled=4.0),
                       threshold_rows(weight_decay=1.0, pooled=3.6))
    out = effects_table(thresholds, [dict(DECAY, groups={"decay": [0]})])
    assert len(figure_effects(out, "fig7")) == 1
    assert figure_effects(out, "fig6") is None and figure_effects(None, "fig7") is None
    assert figure_effects(out.iloc[:0], "fig7") is None


# ---------------------------------------------------------------- from a config

def test_smoke_axes_compares_D_decay_width_depth_and_the_laplace_prior():
    c = comparisons(cfg.load_config("studies/smoke_axes.yaml"))
    assert [(x["figure"], x["axis"], x["reference"]) for x in c] == [
        ("fig6", "D", 3), ("fig7", "weight_decay", 0.0), ("fig7", "n_embd", 16),
        ("fig7", "n_layer", 1), ("appendix_laplace", "prior", "gaussian")]
    fig6, decay, width, depth, prior = c
    assert fig6["groups"] == {"dim": [0]} and sorted(v[0] for v in fig6["values"].values()) == [3, 6]
    assert width["values"] == {"nano": [16, "nano"], "nano_w32": [32, "nano"]}
    assert depth["values"] == {"nano": [1, "nano"], "nano_d2": [2, "nano"]}
    # the Gaussian group with the Laplace group's settings and fewest others: batch
    assert prior["groups"] == {"batch": [0, 1], "laplace": [0]}


def test_laptop_decay_seeds_compares_decay_1_with_0_on_seeds_0_1_2():
    c = comparisons(cfg.load_config("studies/laptop_decay_seeds.yaml"))
    assert c == [dict(figure="fig7", axis="weight_decay", by="column", reference=0.0,
                      groups={"decay": [0, 1, 2]})]


def test_a_study_without_compared_axes_compares_nothing():
    assert comparisons(cfg.load_config("studies/smoke.yaml")) == []


def test_laptop_laplace_compares_the_laplace_prior_with_its_gaussian_group():
    (c,) = comparisons(cfg.load_config("studies/laptop_laplace.yaml"))
    assert (c["figure"], c["axis"], c["reference"]) == ("appendix_laplace", "prior", "gaussian")
    assert c["groups"] == {"gaussian": [0], "laplace": [0]}
    assert sorted(v[0] for v in c["values"].values()) == ["gaussian", "laplace"]


# ---------------------------------------------------------------- the summary

def test_the_summary_prints_the_effects_table_and_a_sentence_per_row():
    thresholds = table(threshold_rows(weight_decay=0.0, seeds={0: 4.0, 1: 4.5, 2: 4.2}, pooled=4.23),
                       threshold_rows(weight_decay=1.0, seeds={0: 3.88, 1: 3.98, 2: 3.73}, pooled=3.86))
    out = effects_table(thresholds, [dict(DECAY, groups={"decay": [0, 1, 2]})])
    text = effects_section(out)
    assert text.startswith("## Threshold differences along the compared axes")
    assert "| fig7 | weight_decay | `decay` |" in text and "| -0.120, -0.520, -0.470 |" in text
    # how many seeds are paired, then which: one seed 0 must not read as "0 paired seeds"
    assert "| paired seeds | which | dropped |" in text and "| 1 vs 0 | 3 | 0, 1, 2 | 0 |" in text
    assert "- " + effect_sentence(out.iloc[0]) in text


def test_the_page_puts_the_effects_section_right_after_the_thresholds():
    import re

    from icl_diversity.summary import read_benchmarks, summary_markdown
    from test_summary import GROUP, baseline_rows, pt_rows, threshold_table as summary_thresholds

    thresholds = table(threshold_rows(weight_decay=0.0, pooled=4.0),
                       threshold_rows(weight_decay=1.0, pooled=3.6))
    out = effects_table(thresholds, [dict(DECAY, groups={"decay": [0]})])
    args = ("toy", "abc123", {"batch": GROUP}, "batch", summary_thresholds(), pt_rows(), baseline_rows(),
            read_benchmarks([]), {"fig2": "batch"}, {})
    titles = re.findall(r"^#+ (.*)$", summary_markdown(*args, effects=out), re.M)
    assert titles[1:3] == ["Task-diversity thresholds", "Threshold differences along the compared axes"]
    assert "Threshold differences" not in summary_markdown(*args)
