"""Adaptive refinement of the M grid (refine.py) on simulated studies whose crossing is
known exactly: Delta^{T_True}_{PT,Ridge} of the small batch is flat, that of the large
batch a tanh in log2 M that crosses it at TRUE, each run measured on N sequences."""
import math

import numpy as np
import pandas as pd
import pytest

from icl_diversity.config import Setting
from icl_diversity.refine import (ABOVE_GRID, BRACKET_EXHAUSTED, NO_COARSE_CROSSING, ONE_SEED, REFINING,
                                  ROUNDS_SPENT, SEEDS_DISAGREE, choose_points, converged, decide,
                                  gap_points, next_points, no_crossing_below)
from icl_diversity.threshold import threshold_table

PAIR = [Setting("tiny", 64, 100, 0.0), Setting("tiny", 128, 100, 0.0)]
TRUE = 5.3          # log2 M at which the two curves cross
N = 400


def simulate(coarse, *, rounds, width, points, seeds=(0,), true=TRUE, amplitude=0.2, scale=0.7,
             noise=0.05, seed_shift=0.0, centres=None, n_boot=200, with_inf=False, curves=None):
    """Run the refinement loop as the workflow does (decision r from the runs of the
    coarse grid and of rounds < r); returns the decisions and the deltas of every run.
    with_inf adds each setting's M = inf run (the curves' limit, measured on N sequences).
    curves: seed -> the large batch's mean minus the small one's, as a function of log2 M
    (instead of the tanh)."""
    deltas = {}

    def sequence_deltas(name, seed, M):
        key = (name, int(seed), float(M))
        if key not in deltas:
            s = Setting.parse(name)
            x = math.log2(M)
            centre = centres[seed] if centres else true + seed_shift * (seed - np.mean(seeds))
            shift = curves[seed](x) if curves else amplitude * math.tanh(-(x - centre) / scale)
            mean = 0.5 + (shift if s.batch_size == 128 else 0.0)
            rng = np.random.default_rng([s.batch_size, int(seed), int(M)])
            deltas[key] = mean + noise * rng.standard_normal(N)
        return deltas[key]

    def at_inf(name, seed):
        mean = 0.5 - (amplitude if Setting.parse(name).batch_size == 128 else 0.0)
        return mean + noise * np.random.default_rng([Setting.parse(name).batch_size, int(seed)]).standard_normal(N)

    def row(name, seed, M, d):
        return dict(eval_set="true", metric="delta_ridge", position=0, setting=name, seed=seed,
                    M=float(M), stuck=False, value=float(np.mean(d)), stderr=float(np.std(d) / math.sqrt(N)))

    trained, previous, decisions = list(coarse), None, []
    for r in range(rounds + 1):
        rows = [row(s.name, seed, M, sequence_deltas(s.name, seed, M))
                for s in PAIR for seed in seeds for M in trained]
        if with_inf:
            rows += [row(s.name, seed, math.inf, at_inf(s.name, seed)) for s in PAIR for seed in seeds]
        d = decide(pd.DataFrame(rows), "batch_size", PAIR, list(seeds), sequence_deltas, round_=r,
                   rounds=rounds, width=width, points=points, n_boot=n_boot, previous=previous)
        assert not set(d["next_M"]) & set(trained)
        trained += d["next_M"]
        decisions.append(d)
        previous = d
    return decisions, sequence_deltas


def test_refinement_converges_to_the_known_crossing():
    decisions, _ = simulate([2, 8, 32, 128, 512], rounds=5, width=0.25, points=2, noise=0.02)
    final = decisions[-1]
    assert final["status"] == converged(0.25, one_seed=True) and final["stopped"]
    assert final["log2_threshold"] == pytest.approx(TRUE, abs=0.05)
    assert final["ci_low"] <= TRUE <= final["ci_high"]
    assert final["ci_high"] - final["ci_low"] < 0.25 and final["resolution"] < 0.25
    a, b = final["bracket"]
    assert a < TRUE < b and b - a < 0.25
    # the coarse grid alone is off by more than the stopping width (a straight line
    # between 2^5 and 2^7 through a tanh), which the refinement removes
    assert abs(decisions[0]["log2_threshold"] - TRUE) > 0.25
    assert decisions[0]["status"] == REFINING
    # a decision after the stop stands as it was
    stop = final["stopped_round"]
    assert all(d["status"] == final["status"] and d["next_M"] == [] for d in decisions[stop:])
    assert stop < 5


def test_several_seeds_converge_on_their_mean_crossing_without_the_one_seed_caveat():
    seeds = (0, 1, 2)
    decisions, _ = simulate([2, 8, 32, 128, 512], rounds=5, width=0.25, points=2, noise=0.02,
                            seeds=seeds, seed_shift=0.02)
    final = decisions[-1]
    assert final["status"] == converged(0.25) and "one seed" not in final["status"]
    assert final["interval"] == "seeds and sequences"
    assert final["ci_low"] <= TRUE <= final["ci_high"]
    # one seed's convergence names what its interval leaves out
    one, _ = simulate([2, 8, 32, 128, 512], rounds=5, width=0.25, points=2, noise=0.02)
    assert one[-1]["status"] == converged(0.25, one_seed=True) != converged(0.25)
    assert one[-1]["status"].startswith(converged(0.25)) and ONE_SEED in one[-1]["status"]


def test_the_final_decision_is_the_thresholds_table_row():
    decisions, deltas = simulate([2, 8, 32, 128, 512], rounds=2, width=0.25, points=2, noise=0.02)
    Ms = decisions[-1]["trained_M"]
    rows = [dict(eval_set="true", metric="delta_ridge", position=0, setting=s.name, seed=0, M=float(M),
                 stuck=False, value=0.0) for s in PAIR for M in Ms]
    table = threshold_table(pd.DataFrame(rows), {"g": ("batch_size", PAIR, [0])}, deltas, n_boot=200)
    row = table.iloc[0]
    final = decisions[-1]
    assert (final["log2_threshold"], final["ci_low"], final["ci_high"]) == \
        (row["log2_threshold"], row["ci_low"], row["ci_high"])
    assert final["threshold_status"] == row["status"] and final["interval"] == row["interval"]


@pytest.mark.parametrize("points", [1, 2, 3])
def test_new_points_are_integers_inside_the_bracket_and_never_trained_twice(points):
    decisions, _ = simulate([2, 8, 32, 128, 512], rounds=3, width=0.01, points=points, noise=0.05)
    for before, after in zip(decisions, decisions[1:]):
        new = before["next_M"]
        assert all(isinstance(m, int) for m in new) and len(new) == len(set(new)) <= points
        a, b = before["bracket"]
        assert all(a < math.log2(m) < b for m in new)
        assert not set(new) & set(before["trained_M"])
        assert after["trained_M"] == sorted(before["trained_M"] + new)


def test_it_stops_when_the_rounds_are_spent():
    decisions, _ = simulate([2, 8, 32, 128, 512], rounds=2, width=0.001, points=2, noise=0.05)
    assert [d["status"] for d in decisions] == [REFINING, REFINING, ROUNDS_SPENT]
    assert decisions[-1]["next_M"] == [] and len(decisions[-1]["trained_M"]) == 5 + 2 * 2


@pytest.mark.parametrize("with_inf", [False, True])
def test_it_stops_without_a_significant_crossing_on_the_coarse_grid(with_inf):
    # flat curves: no crossing, and at M = inf no order to extend the grid towards
    decisions, _ = simulate([2, 8, 32, 128, 512], rounds=3, width=0.25, points=2, amplitude=0.0,
                            with_inf=with_inf)
    assert all(d["status"] == NO_COARSE_CROSSING and d["stopped_round"] == 0 for d in decisions)
    assert decisions[0]["threshold_status"] in ("none found", "not significant")
    assert decisions[-1]["trained_M"] == [2, 8, 32, 128, 512]


def bumpy(knots):
    """A difference curve through (log2 M, value) knots, straight between them."""
    xs, ys = zip(*knots)
    return lambda x: float(np.interp(x, xs, ys))


# Two seeds cross once, between 2^4 and 2^8 (positive, then negative); the third has no
# significant positive point on the coarse grid 2, 16, 256 (zero at 2^1, a dip at 2^4),
# so it crosses only where a point inside the others' brackets shows it: at 2^6.
DISAGREE = {0: bumpy([(1, 0.0), (4, -0.05), (4.5, 0.05), (7, 0.05), (8, -0.1)]),
            1: bumpy([(1, -0.05), (4, 0.1), (6.5, 0.0), (8, -0.1)]),
            2: bumpy([(1, -0.05), (4, 0.1), (6.3, 0.0), (8, -0.1)])}


def test_where_only_some_seeds_cross_it_refines_inside_their_brackets_until_all_do():
    decisions, _ = simulate([2, 16, 256], rounds=3, width=0.25, points=1, seeds=(0, 1, 2),
                            curves=DISAGREE, noise=0.02)
    first, second = decisions[0], decisions[1]
    assert first["threshold_status"] == "undetermined (2 of 3 seeds cross)"
    assert first["status"] == SEEDS_DISAGREE and not first["stopped"]
    assert first["bracket"] == [4.0, 8.0] and first["log2_threshold"] is None
    (m,) = first["next_M"]
    assert 4.0 < math.log2(m) < 8.0
    # the new M shows the third seed's crossing: the threshold over seeds is found
    assert second["threshold_status"] in ("found", "several"), second
    assert second["interval"] == "seeds and sequences" and second["log2_threshold"] is not None
    assert second["status"] not in (SEEDS_DISAGREE, NO_COARSE_CROSSING)


def test_where_seeds_disagree_the_points_split_the_widest_gaps_of_the_crossing_seeds_span():
    # nothing trained inside 2^4..2^8: its middle, then the middles of the halves
    assert gap_points((4.0, 8.0), [2, 16, 256], 1) == [64]
    assert gap_points((4.0, 8.0), [2, 16, 256], 3) == [32, 64, 128]
    # a trained M at 2^7.16 (M = 143) leaves 2^4..2^7.16 the widest gap: M = 48 (2^5.58)
    # splits it, not a point in 2^7.16..2^8, the other crossing seed's bracket
    assert gap_points((4.0, 8.0), [2, 16, 143, 256], 1) == [48]
    # no untrained integer left in the span
    assert gap_points((1.0, math.log2(3)), [2, 3], 2) == []
    assert gap_points((1.0, 2.0), [2, 3, 4], 2) == []


def test_seeds_that_keep_disagreeing_stop_when_the_rounds_are_spent_undetermined():
    # the third seed never crosses: flat and insignificant everywhere
    curves = {**DISAGREE, 0: lambda x: 0.0}
    decisions, _ = simulate([2, 16, 256], rounds=2, width=0.25, points=1, seeds=(0, 1, 2),
                            curves=curves, noise=0.02)
    assert [d["status"] for d in decisions] == [SEEDS_DISAGREE, SEEDS_DISAGREE, ROUNDS_SPENT]
    assert all(d["threshold_status"] == "undetermined (2 of 3 seeds cross)" for d in decisions)
    assert len(decisions[-1]["trained_M"]) == 3 + 2
    # two seeds do cross: no decision says that none does
    assert NO_COARSE_CROSSING not in {d["status"] for d in decisions}


def test_a_crossing_above_the_coarse_grid_extends_it_then_is_refined():
    # the crossing (2^5.3) lies above the coarse grid's top (2^5): no crossing among the
    # trained M, but the order at M = inf is reversed, so the grid grows by its spacing
    decisions, _ = simulate([2, 8, 32], rounds=5, width=0.25, points=2, noise=0.02, with_inf=True)
    first, second, final = decisions[0], decisions[1], decisions[-1]
    assert first["status"] == ABOVE_GRID and not first["stopped"] and first["next_M"] == [128]
    assert first["threshold_status"] in ("none found", "not significant")
    assert second["status"] == REFINING and second["bracket"] == [5.0, 7.0]
    assert final["status"] == converged(0.25, one_seed=True)
    assert final["log2_threshold"] == pytest.approx(TRUE, abs=0.05)
    assert final["ci_low"] <= TRUE <= final["ci_high"]


def test_the_extension_stops_when_the_rounds_are_spent_and_says_up_to_where():
    decisions, _ = simulate([2, 8, 32], rounds=1, width=0.25, points=1, true=9.3, noise=0.02,
                            with_inf=True)
    assert [d["status"] for d in decisions[:1]] == [ABOVE_GRID] and decisions[0]["next_M"] == [128]
    assert decisions[1]["stopped"] and decisions[1]["trained_M"] == [2, 8, 32, 128]
    assert decisions[1]["status"] == no_crossing_below(128)
    # no extension without the M = inf runs that show the order past the threshold
    without, _ = simulate([2, 8, 32], rounds=1, width=0.25, points=1, true=9.3, noise=0.02)
    assert without[0]["status"] == NO_COARSE_CROSSING and without[0]["next_M"] == []


def test_it_stops_when_no_untrained_integer_is_left_in_the_bracket():
    # a crossing between M = 2 and M = 3: after 3 is trained, no integer is left between
    decisions, _ = simulate([2, 4, 16, 64], rounds=4, width=0.001, points=1, true=1.3, scale=0.3,
                            noise=0.02)
    assert decisions[0]["next_M"] == [3]
    assert decisions[1]["status"] == BRACKET_EXHAUSTED and decisions[1]["bracket"] == [1.0, math.log2(3)]
    assert decisions[-1]["trained_M"] == [2, 3, 4, 16, 64]


def test_every_seed_gets_the_same_new_points_and_the_bracket_holds_every_seeds_crossing():
    seeds = (0, 1, 2)
    decisions, deltas = simulate([2, 8, 32, 128, 512], rounds=2, width=0.01, points=2, seeds=seeds,
                                 seed_shift=0.3, noise=0.02)
    d = decisions[0]
    assert d["interval"] == "seeds and sequences" and d["status"] == REFINING
    rows = [dict(eval_set="true", metric="delta_ridge", position=0, setting=s.name, seed=seed,
                 M=float(M), stuck=False, value=0.0)
            for s in PAIR for seed in seeds for M in d["trained_M"]]
    own = threshold_table(pd.DataFrame(rows), {"g": ("batch_size", PAIR, list(seeds))}, deltas, n_boot=200)
    crossings = own[own["seed"] != "all"]["log2_threshold"]
    a, b = d["bracket"]
    assert len(crossings) == 3 and all(a < c < b for c in crossings)
    # one list of new M for the pair: every seed's runs at the same M (the decision has no
    # per-seed points to differ)
    assert "next_M" in d and not any(k.startswith("next_M_") for k in d)


def test_the_new_points_refine_the_seeds_own_brackets_not_the_gap_between_them():
    # two seeds cross between 2^4 and 2^8, one between 2^1 and 2^4: the union of the
    # brackets is [1, 8], whose middle (M = 23) lies inside only one seed's bracket and
    # would halve no bracket of the other two
    centres = {0: 5.8, 1: 5.9, 2: 3.0}
    decisions, deltas = simulate([2, 16, 256], rounds=1, width=0.25, points=1, seeds=(0, 1, 2),
                                 centres=centres, noise=0.02)
    d = decisions[0]
    assert d["status"] == REFINING and d["bracket"] == [1.0, 8.0]
    (m,) = d["next_M"]
    assert 4.0 < math.log2(m) < 8.0, m
    # every seed of the majority has its bracket cut: the next round's brackets are narrower
    rows = [dict(eval_set="true", metric="delta_ridge", position=0, setting=s.name, seed=seed,
                 M=float(M), stuck=False, value=0.0)
            for s in PAIR for seed in centres for M in decisions[1]["trained_M"]]
    own = threshold_table(pd.DataFrame(rows), {"g": ("batch_size", PAIR, [0, 1, 2])}, deltas, n_boot=200)
    for seed in ("0", "1"):
        r = own[own["seed"] == seed].iloc[0]
        assert r["bracket_high"] - r["bracket_low"] < 4.0
        assert r["bracket_low"] < r["log2_threshold"] < r["bracket_high"]


@pytest.mark.parametrize("points,want", [(1, [64]), (2, [40, 102]), (4, [28, 49, 84, 147])])
def test_choose_points_weighs_a_proposal_by_the_seeds_whose_bracket_holds_it(points, want):
    brackets = {"0": (4.0, 8.0), "1": (4.0, 8.0), "2": (1.0, 4.0)}
    nan = (float("nan"),) * 2
    got = choose_points(brackets, {s: nan for s in brackets}, [2, 16, 256], points, centre=4.9)
    assert got == want
    # the seeds agree: the one seed's rule
    same = {"0": (5.0, 7.0), "1": (5.0, 7.0)}
    assert choose_points(same, {"0": (5.5, 6.0), "1": (5.5, 6.0)}, [32, 128], 2, 5.7) == \
        next_points((5.0, 7.0), (5.5, 6.0), [32, 128], 2)
    # a seed without a two-sided bracket proposes nothing
    assert choose_points({"0": (5.0, float("nan"))}, {}, [32], 1, 5.5) == []


def test_a_stuck_run_is_not_a_bracket_end():
    _, deltas = simulate([2, 8, 32, 128, 512], rounds=0, width=0.25, points=1, noise=0.02)

    def bracket(stuck_M):
        rows = [dict(eval_set="true", metric="delta_ridge", position=0, setting=s.name, seed=0,
                     M=float(M), stuck=(M == stuck_M and s.batch_size == 128), value=0.0)
                for s in PAIR for M in (2, 8, 32, 128, 512)]
        r = threshold_table(pd.DataFrame(rows), {"g": ("batch_size", PAIR, [0])}, deltas, n_boot=50).iloc[0]
        return r["bracket_low"], r["bracket_high"], r["stuck_large"]

    assert bracket(None) == (5.0, 7.0, 0)
    assert bracket(32) == (3.0, 7.0, 1)


@pytest.mark.parametrize("bracket,interval,trained,points,want", [
    ((5.0, 7.0), (5.5, 6.0), [32, 128], 2, [45, 64]),         # the interval's ends
    ((5.0, 7.0), (5.5, 6.0), [32, 128], 1, [54]),             # its middle, 2^5.75
    ((5.0, 7.0), (4.0, 8.0), [32, 128], 1, [64]),             # clipped: the bracket's middle
    ((5.0, 7.0), (4.0, 8.0), [32, 128], 3, [45, 64, 91]),     # clipped: 3 inside, none on an end
    ((5.0, 7.0), (float("nan"),) * 2, [32, 128], 1, [64]),    # no interval: the bracket
    ((5.0, 6.0), (5.0, 6.0), [32, 45, 64], 1, [46]),          # 2^5.5 trained: the nearest free in log2
    ((1.0, math.log2(3)), (1.0, 1.5), [2, 3], 2, []),         # no integer between 2 and 3
])
def test_next_points(bracket, interval, trained, points, want):
    assert next_points(bracket, interval, trained, points) == want


# ---- the config: a group opts in with `refine`; its coarse grid is its static grid

from icl_diversity import config as cfg  # noqa: E402

REFINE = {"coarse": [2, 8, 32, 128, "inf"], "rounds": 3, "width": 0.25}


def refined_config(**group):
    """config.yaml with its batch group refined (and `group` merged into it); Fig 5 and
    connectivity draw that group, so the top-level grid is its coarse grid."""
    return cfg.load_config(None, {"M": REFINE["coarse"], "analysis": {"interpolation": {"M": [8, 32]}},
                                  "sweeps": {"batch": dict({"refine": dict(REFINE)}, **group)}})


def test_fig5_and_connectivity_read_a_refined_groups_coarse_grid():
    with pytest.raises(cfg.ConfigError, match="a refined group's grid is its refine.coarse"):
        cfg.load_config(None, {"sweeps": {"batch": {"refine": dict(REFINE)}}})


def test_a_refined_group_starts_from_its_coarse_grid():
    config = refined_config()
    assert cfg.sweep_refine(config, "batch") == dict(REFINE, points=2)     # the schema's default
    assert cfg.sweep_M_labels(config, "batch") == ["2", "8", "32", "128", "inf"]
    assert sorted({M for *_, M in cfg.all_runs(config)}, key=float) == ["2", "8", "32", "128", "inf"]
    (problem, small, large), = cfg.refine_pairs(config, "batch")
    assert (small.batch_size, large.batch_size) == (64, 128) and problem == cfg.main_problem(config).name
    # the plan's worst case: 3 rounds x 2 points, for both settings, below the largest coarse M
    extra = cfg.refine_runs_at_most(config)
    assert len(extra) == 3 * 2 * 2
    assert sorted({int(M) for *_, M in extra}) == [122, 123, 124, 125, 126, 127]
    assert cfg.sweep_refine(cfg.load_config(None), "batch") is None          # the default: fixed


def test_curve_pairs_are_per_problem_and_combination_of_the_fixed_axes():
    group = dict(vary="batch_size", batch_size=[64, 128], steps=[6000], model=["tiny"],
                 weight_decay=[0.0, 0.01], D=[2, 4], refine=REFINE)     # a group no figure draws
    config = cfg.load_config(None, {"sweeps": {"adaptive": group}})
    pairs = cfg.refine_pairs(config, "adaptive")
    assert {p for p, _, _ in pairs} == {"D2-K16-noise0.25", "D4-K16-noise0.25"}
    assert len(pairs) == 2 * 2
    assert {(s.weight_decay, l.weight_decay) for _, s, l in pairs} == {(0.0, 0.0), (0.01, 0.01)}
    assert all((s.batch_size, l.batch_size) == (64, 128) for _, s, l in pairs)


@pytest.mark.parametrize("group,message", [
    ({"M": [2, 8]}, "give M (a fixed grid) or refine.coarse"),
    ({"batch_size": [64, 128, 256]}, "needs exactly two values of batch_size"),
    ({"batch_size": [64]}, "needs exactly two values of batch_size"),
    ({"refine": dict(REFINE, coarse=[32, "inf"])}, "needs at least two finite M"),
    ({"refine": dict(REFINE, rounds=0)}, "sweeps.batch.refine.rounds"),
    ({"refine": dict(REFINE, width=0)}, "sweeps.batch.refine.width"),
    ({"refine": dict(REFINE, coarse=[2, 3, 8])}, "sweeps.batch.refine.coarse"),
    ({"refine": dict(REFINE, step=2)}, "sweeps.batch.refine"),
    ({"refine": {"coarse": [2, 8], "width": 0.25}}, "'rounds' is a required property"),
])
def test_a_bad_refine_block_is_refused_naming_its_key(group, message):
    with pytest.raises(cfg.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        refined_config(**group)


def test_the_plan_counts_the_worst_case_and_what_the_fixed_grid_would_train():
    from icl_diversity.plan import load_rates, plan
    group = dict(vary="batch_size", batch_size=[64, 128], steps=[6000], model=["tiny"], seed=[0, 1],
                 weight_decay=[0.0, 0.01], refine=dict(REFINE, coarse=[2, 32, 256], rounds=2, points=1))
    config = cfg.load_config(None, {"sweeps": {"adaptive": group}})
    text = plan(config, load_rates())
    # 2 curve pairs (the decays) x 2 settings x 2 seeds: 8 runs per M; 3 coarse M, 2 x 1 more
    coarse, added, fixed = 8 * 3, 8 * 2 * 1, 8 * len(config["M"])
    assert f"refined group adaptive: at most {coarse + added} runs (coarse grid {coarse}, then 2 rounds " \
        f"x 1 M x 2 curve pair(s) x 4 runs: {added}); on the top-level grid of {len(config['M'])} M it " \
        f"would train {fixed}, {fixed - coarse - added} more" in text
    # the job counts include the worst case
    total = len(cfg.all_runs(config)) + len(cfg.reference_runs(config)) + added
    assert text.splitlines()[0].startswith(f"{total} training jobs")


# ---- the decision files and the thresholds table's refinement columns

from icl_diversity.refine import (read_decision, refine_columns, with_refinement,  # noqa: E402
                                  write_decision)


def test_a_decision_file_is_read_back_and_a_foreign_or_cut_one_is_refused(tmp_path):
    decisions, _ = simulate([2, 8, 32, 128, 512], rounds=1, width=0.25, points=1, noise=0.02)
    doc = dict(group="batch", round=1, vary="batch_size", pairs=[dict(decisions[1], problem="p",
                                                                        settings=[s.name for s in PAIR])])
    path = tmp_path / "round1.json"
    write_decision(path, doc)
    assert read_decision(path, "batch", 1) == doc
    with pytest.raises(ValueError, match="expected group 'batch' round 2"):
        read_decision(path, "batch", 2)
    path.write_text(path.read_text()[:40])
    with pytest.raises(ValueError, match="round1.json: not a refinement decision"):
        read_decision(path, "batch", 1)


def test_the_thresholds_table_says_why_each_curve_pair_stopped():
    pairs = {wd: [Setting("tiny", b, 100, wd) for b in (64, 128)] for wd in (0.0, 0.1)}
    rows = [dict(group=g, problem="p", vary="batch_size", model="tiny", batch_size=None, steps=100,
                 weight_decay=wd, seed=seed, bracket_low=5.0 + (seed == "all"), bracket_high=6.0)
            for g in ("adaptive", "fixed") for wd in pairs for seed in ("all", "0", "1")]
    decision = dict(group="adaptive", round=3, vary="batch_size", pairs=[
        dict(problem="p", settings=[s.name for s in pairs[0.0]], status=converged(0.25), stopped=True,
             stopped_round=2, bracket=[5.2, 5.4]),
        dict(problem="p", settings=[s.name for s in pairs[0.1]], status=NO_COARSE_CROSSING, stopped=True,
             stopped_round=0, bracket=[None, None])])
    table = with_refinement(refine_columns(pd.DataFrame(rows)), decision)
    adaptive = table[table["group"] == "adaptive"].set_index(["weight_decay", "seed"])
    assert (adaptive.loc[0.0, "refinement"] == converged(0.25)).all()
    assert (adaptive.loc[0.0, "refine_rounds"] == 2).all()
    assert (adaptive.loc[0.1, "refinement"] == NO_COARSE_CROSSING).all()
    # the bracket is the thresholds table's own, per row: the decision does not overwrite it
    pd.testing.assert_frame_equal(table[["bracket_low", "bracket_high"]],
                                  pd.DataFrame(rows)[["bracket_low", "bracket_high"]])
    fixed = table[table["group"] == "fixed"]
    assert fixed["refinement"].isna().all() and fixed["refine_rounds"].isna().all()
    with pytest.raises(ValueError, match="no threshold row for the curve pair"):
        with_refinement(table, dict(decision, group="other"))
