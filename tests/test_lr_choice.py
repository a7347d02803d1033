"""The learning rate as a sweep axis: candidate settings and their names, the config
checks, what a diverged candidate leaves, the rule that chooses one learning rate per
configuration (lr_choice.py), and the one filter through which the thresholds, figures
and summary read the runs."""
import copy
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, snakemake
from icl_diversity import config as cfg
from icl_diversity.lr_choice import (CHOICE_COLUMNS, choice_of, choose_lr, keep_chosen, no_choice_reason,
                                     read_choice, read_train_loss, run_setting)
from icl_diversity.threshold import threshold_table

BASE = yaml.safe_load((ROOT / "config.yaml").read_text())
SMOKE_STUDY = yaml.safe_load((ROOT / "studies" / "smoke.yaml").read_text())
# A group of its own (steps 40: no setting shared with the smoke study's groups, which
# Fig 5 and the connectivity figure draw) tuned over three learning rates.
TUNED = {"vary": "batch_size", "batch_size": [8, 16], "steps": [40], "model": ["nano"],
         "lr": [0.003, 0.001, 0.01]}


def smoke_with(**groups):
    study = copy.deepcopy(SMOKE_STUDY)
    study["sweeps"].update(copy.deepcopy(groups))
    return copy.deepcopy(cfg.merge_study(BASE, study))


# ---------------------------------------------------------------- names and settings

@pytest.mark.parametrize("setting", [
    cfg.Setting("tiny", 64, 6000, 0.0),
    cfg.Setting("tiny", 64, 6000, 1e-05),
    cfg.Setting("small_w128_d8", 256, 500000, 0.1),
    cfg.Setting("tiny", 64, 6000, 0.0, 0.001),
    cfg.Setting("tiny", 64, 6000, 1e-05, 3e-4),
    cfg.Setting("base", 512, 2000000, 0.0001, 1e-05),
])
def test_setting_names_round_trip_with_and_without_a_learning_rate(setting):
    assert cfg.Setting.parse(setting.name) == setting
    assert ("-lr" in setting.name) == (setting.lr is not None)
    assert setting.configuration.lr is None
    assert cfg.Setting.parse(setting.configuration.name) == setting.configuration


def test_a_setting_without_a_learning_rate_keeps_its_name_and_fields():
    s = cfg.Setting("tiny", 64, 6000, 0.0)
    assert s.name == "tiny-b64-s6000-wd0"
    assert s.fields() == {"model": "tiny", "batch_size": 64, "steps": 6000, "weight_decay": 0.0}
    c = cfg.Setting("tiny", 64, 6000, 0.0, 0.003)
    assert c.name == "tiny-b64-s6000-wd0-lr0.003"
    assert c.fields() == dict(s.fields(), lr=0.003)
    assert c.configuration == s
    with pytest.raises(cfg.ConfigError, match="not a setting name"):
        cfg.Setting.parse("tiny-b64-s6000-wd0-lrfast")


def test_a_tuned_group_trains_every_configuration_at_every_candidate():
    conf = cfg.validate(smoke_with(tuned=TUNED))
    names = [s.name for s in cfg.sweep_settings(conf, "tuned")]
    assert names == [f"nano-b{b}-s40-wd0-lr{lr}" for b in (8, 16) for lr in ("0.001", "0.003", "0.01")]
    assert cfg.group_configurations(conf, "tuned") == ["nano-b8-s40-wd0", "nano-b16-s40-wd0"]
    # the other groups, their names and their runs are those of the smoke study
    smoke = cfg.validate(copy.deepcopy(cfg.merge_study(BASE, SMOKE_STUDY)))
    for group in SMOKE_STUDY["sweeps"]:
        assert cfg.sweep_settings(conf, group) == cfg.sweep_settings(smoke, group)
        assert cfg.group_configurations(conf, group) == [s.name for s in cfg.sweep_settings(smoke, group)]
    new = set(cfg.all_runs(conf)) - set(cfg.all_runs(smoke))
    assert len(new) == 2 * 3 * len(conf["M"])
    assert cfg.store_keys(conf).keys() == cfg.store_keys(smoke).keys()


def test_a_configuration_tuned_in_one_group_is_tuned_in_every_group():
    other = dict(TUNED, batch_size=[16, 32])
    del other["lr"]
    conf = cfg.validate(smoke_with(tuned=TUNED, other=other))
    # nano-b16-s40 is tuned by `tuned`, so `other` trains its candidates too; b32 is not
    assert [s.name for s in cfg.sweep_settings(conf, "other")] == [
        "nano-b16-s40-wd0-lr0.001", "nano-b16-s40-wd0-lr0.003", "nano-b16-s40-wd0-lr0.01",
        "nano-b32-s40-wd0"]
    assert cfg.tuned_lrs(conf) == {f"nano-b{b}-s40-wd0": (0.001, 0.003, 0.01) for b in (8, 16)}


# ---------------------------------------------------------------- config errors

@pytest.mark.parametrize("lrs,needle", [
    ([0.0, 0.001], "sweeps.tuned.lr"),
    ([-0.001], "sweeps.tuned.lr"),
    ([0.001, 0.001], "sweeps.tuned.lr"),
    ([0.001, 1.0e-3], "sweeps.tuned.lr"),
    ([], "sweeps.tuned.lr"),
    (["fast"], "sweeps.tuned.lr"),
])
def test_bad_learning_rate_lists_are_refused_naming_the_key(lrs, needle):
    with pytest.raises(cfg.ConfigError, match=re.escape(needle)):
        cfg.validate(smoke_with(tuned=dict(TUNED, lr=lrs)))


@pytest.mark.parametrize("lrs,needle", [
    ([0.0, 0.001], "is not a positive learning rate"),
    ([-0.001], "is not a positive learning rate"),
    ([0.001, 1.0e-3], "lists a learning rate twice"),
    ([0.0012345678], "more than 6 significant digits"),
])
def test_the_cross_key_check_says_what_is_wrong_with_a_learning_rate(lrs, needle):
    conf = cfg.fill_defaults(smoke_with(tuned=dict(TUNED, lr=lrs)))
    with pytest.raises(cfg.ConfigError, match=re.escape(needle)) as e:
        cfg.check(conf)
    assert "sweeps.tuned.lr" in str(e.value)


def test_two_groups_tuning_one_configuration_differently_are_refused():
    other = dict(TUNED, batch_size=[16], lr=[0.001, 0.003])
    with pytest.raises(cfg.ConfigError, match="nano-b16-s40-wd0 is also tuned by sweeps.tuned.lr"):
        cfg.validate(smoke_with(tuned=TUNED, other=other))
    cfg.validate(smoke_with(tuned=TUNED, other=dict(other, lr=list(reversed(TUNED["lr"])))))


@pytest.mark.parametrize("figure", ["fig5", "connectivity"])
def test_a_figure_that_loads_models_may_not_draw_candidates(figure):
    conf = smoke_with(batch=dict(SMOKE_STUDY["sweeps"]["batch"], lr=[0.001, 0.01]))
    conf["figures"] = {figure: "batch"}
    with pytest.raises(cfg.ConfigError, match=f"figures.{figure}: sweep group 'batch' trains nano-b8-s60-wd0"):
        cfg.validate(conf)


def test_a_refined_group_may_not_hold_candidates():
    refined = dict(TUNED, refine={"coarse": [2, 16, "inf"], "rounds": 1, "width": 1.0})
    with pytest.raises(cfg.ConfigError, match="sweeps.tuned.refine: the group trains nano-b8-s40-wd0"):
        cfg.validate(smoke_with(tuned=refined))


# ---------------------------------------------------------------- a diverged candidate

def test_a_diverged_candidate_leaves_outputs_that_say_so(tmp_path, monkeypatch):
    from icl_diversity.batches import BatchStream
    from icl_diversity.checkpoint import load_checkpoint, save_checkpoint
    from icl_diversity.metrics import run_tables
    from icl_diversity.model import ModelConfig, load_pretrained
    from icl_diversity.tasks import eval_set, task_pool
    from icl_diversity.train import TrainConfig, TrainingDiverged, diverged_outputs, train
    D, K = 3, 8
    problem = {"D": D, "K": K, "noise_var": 0.25}
    pool = task_pool(4, D, seed=0)
    sets = {"true": eval_set(D, K, 0.25, 32, 1), "pretrain": eval_set(D, K, 0.25, 32, 1, pool=pool, M=4)}
    model = ModelConfig(n_dims=D, n_points=K, n_layer=1, n_embd=16, n_head=2)
    tc = TrainConfig(batch_size=8, steps=60, lr=0.01, eval_every=20, checkpoint_every=20,
                     check_every=10, curve_sequences=16)
    losses = train(model, tc, problem, pool, sets, progress_file=False)["loss"]
    original = BatchStream.__call__

    def nan_at_13(self, step):          # the loss of step 13 (in the second window) is NaN
        xs, ys = original(self, step)
        return xs, ys * float("nan") if step == 13 else ys
    monkeypatch.setattr(BatchStream, "__call__", nan_at_13)
    with pytest.raises(TrainingDiverged) as e:
        train(model, tc, problem, pool, sets, progress_file=False)
    err = e.value
    assert err.step == 13 and np.isnan(err.loss)
    np.testing.assert_array_equal(err.logged, losses[:10])      # the first window, as logged
    rng = np.random.default_rng(0)

    out = diverged_outputs(model, tc, problem, pool, sets, err)
    loss = pd.DataFrame(out["loss"])
    assert loss["diverged"].tolist() == [False] * (len(loss) - 1) + [True]
    assert loss["step"].tolist() == list(range(1, 11)) + [14] and np.isnan(loss["loss"].iloc[-1])
    np.testing.assert_allclose(loss["loss"].iloc[:10], losses[:10], rtol=1e-6)
    path = tmp_path / "train_loss.csv"
    loss.to_csv(path, index=False)
    record = read_train_loss(path)
    assert record["diverged"] is True and record["diverged_step"] == 14 and np.isnan(record["final_loss"])
    pred = out["predictions"]
    assert pred["steps"].tolist() == [0, 20, 40, 60]
    assert pred["true_curve"].shape == (4, 16, K) and pred["true"].shape == (32, K)
    assert str(pred["diverged"]) == str(err)
    # its metrics: the zero predictor's, finite, and stuck on the plateau
    baselines = {f"{n}_{e}": rng.standard_normal((32, K)) for n in sets for e in ("Ridge", "dMMSE")}
    curve, final, health = run_tables(pred, sets, baselines, D, 0.3, M=4.0, setting="s", seed=0)
    assert health["stuck"] and health["gap_closed"] == 0.0
    assert np.isfinite(final["value"]).all() and np.isfinite(curve["value"]).all()
    # its model.pt holds no weights, and loading it says why
    save_checkpoint(tmp_path / "model.pt", out["checkpoint"])
    assert load_checkpoint(tmp_path / "model.pt")["diverged"] == str(err)
    with pytest.raises(ValueError, match="holds no trained weights: training diverged at step 13"):
        load_pretrained(tmp_path / "model.pt")
    assert out["checkpoint"]["model"] == {}


def test_train_loss_of_a_finished_run(tmp_path):
    path = tmp_path / "train_loss.csv"
    pd.DataFrame({"step": [1, 2, 3], "loss": [3.0, 2.0, 1.5], "lr": [0.1, 0.2, 0.1]}).to_csv(path, index=False)
    record = read_train_loss(path)
    assert record["diverged"] is False and record["final_loss"] == 1.5
    pd.DataFrame({"step": [1, 2], "loss": [3.0, float("nan")]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="not marked diverged"):
        read_train_loss(path)
    pd.DataFrame({"step": [], "loss": []}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="train_loss.csv needs rows"):
        read_train_loss(path)


# ---------------------------------------------------------------- the choice

def candidate_runs(losses, diverged=(), stuck=(), problem="P", configuration="m-b8-s40-wd0",
                   seeds=(0, 1), Ms=(2.0, float("inf"))):
    """One row per run of each candidate lr: final losses `losses[lr]` (one per run, or
    one for all), `diverged` / `stuck`: (lr, seed, M) of runs that did."""
    rows = []
    for lr, loss in losses.items():
        values = np.broadcast_to(np.asarray(loss, dtype=float), (len(seeds) * len(Ms),))
        for i, (seed, M) in enumerate((s, M) for s in seeds for M in Ms):
            d = (lr, seed, M) in diverged
            rows.append(dict(problem=problem, setting=f"{configuration}-lr{lr:g}", seed=seed, M=M,
                             diverged=d, diverged_step=17 if d else np.nan,
                             stuck=(lr, seed, M) in stuck, final_loss=np.nan if d else values[i]))
    return pd.DataFrame(rows)


def by_lr(choice):
    return choice.set_index("lr")


def test_the_lowest_final_loss_among_stable_candidates_is_chosen():
    # the mean over runs decides: lr 0.003 has one low run, but the higher mean
    runs = candidate_runs({0.001: 0.5, 0.003: [0.1, 0.9, 0.9, 0.9], 0.01: 0.4})
    choice = choose_lr(runs)
    assert list(choice.columns) == CHOICE_COLUMNS
    c = by_lr(choice)
    assert c["chosen"].tolist() == [False, False, True]
    assert c["stable"].all() and (c["n_runs"] == 4).all()
    assert c.loc[0.003, "final_loss"] == pytest.approx(0.7)
    assert c.loc[0.01, "reason"] == "chosen: the lowest final loss of 3 stable candidates"
    assert c.loc[0.001, "reason"] == "stable; final loss above lr 0.01's"
    assert c.loc[0.01, "setting"] == "m-b8-s40-wd0-lr0.01"
    assert set(choice["configuration"]) == {"m-b8-s40-wd0"}


def test_a_diverged_candidate_is_never_chosen():
    # lr 0.01 would have the lowest loss over the runs that finished, but one diverged
    # (a diverged run is stuck too, its predictions being the zero predictor's: it counts
    # as diverged only)
    runs = candidate_runs({0.001: 0.5, 0.01: 0.1}, diverged={(0.01, 1, float("inf"))},
                          stuck={(0.01, 1, float("inf"))})
    c = by_lr(choose_lr(runs))
    assert c.loc[0.01, "n_stuck"] == 0
    assert c["chosen"].tolist() == [True, False]
    assert not c.loc[0.01, "stable"] and c.loc[0.01, "n_diverged"] == 1
    assert c.loc[0.01, "reason"] == "diverged in 1 of 4 runs (first: seed 1, M = inf, at step 17)"
    assert c.loc[0.01, "final_loss"] == pytest.approx(0.1)          # over the runs that finished
    assert c.loc[0.001, "reason"] == "chosen: the only stable candidate"


def test_a_stuck_candidate_is_never_chosen():
    runs = candidate_runs({0.0003: 0.05, 0.001: 0.5}, stuck={(0.0003, 0, 2.0), (0.0003, 1, 2.0)})
    c = by_lr(choose_lr(runs))
    assert c["chosen"].tolist() == [False, True]
    assert c.loc[0.0003, "reason"] == "stuck in 2 of 4 runs" and c.loc[0.0003, "n_stuck"] == 2


def test_a_tie_goes_to_the_larger_learning_rate():
    c = by_lr(choose_lr(candidate_runs({0.001: 0.25, 0.003: 0.25, 0.0003: 0.5})))
    assert c["chosen"].tolist() == [False, False, True]
    assert c.loc[0.003, "reason"] == ("chosen: the lowest final loss of 3 stable candidates "
                                      "(tied with lr 0.001: the larger lr)")
    assert c.loc[0.001, "reason"] == "stable; final loss tied with lr 0.003's"


def test_no_stable_candidate_chooses_nothing_and_says_why():
    runs = candidate_runs({0.001: 0.5, 0.01: 0.1}, diverged={(0.01, 0, 2.0)},
                          stuck={(0.001, 0, 2.0), (0.01, 1, 2.0)})
    choice = choose_lr(runs)
    assert not choice["chosen"].any() and not choice["stable"].any()
    assert by_lr(choice).loc[0.01, "reason"] == ("diverged in 1 of 4 runs (first: seed 0, M = 2, at "
                                                 "step 17); stuck in 1 of 4 runs")
    why = no_choice_reason(choice, "P", "m-b8-s40-wd0")
    assert why == ("no stable learning rate for m-b8-s40-wd0 (lr 0.001: stuck in 1 of 4 runs; lr 0.01: "
                   "diverged in 1 of 4 runs (first: seed 0, M = 2, at step 17); stuck in 1 of 4 runs)")
    assert run_setting(choice, "P", "m-b8-s40-wd0") is None


def test_the_choice_is_per_configuration_and_problem():
    runs = pd.concat([candidate_runs({0.001: 0.5, 0.01: 0.1}, problem="P"),
                      candidate_runs({0.001: 0.1, 0.01: 0.5}, problem="Q"),
                      candidate_runs({0.001: 0.2, 0.01: 0.3}, problem="P", configuration="m-b16-s40-wd0")])
    choice = choose_lr(runs)
    chosen = choice[choice["chosen"]].set_index(["problem", "configuration"])["lr"].to_dict()
    assert chosen == {("P", "m-b8-s40-wd0"): 0.01, ("Q", "m-b8-s40-wd0"): 0.001,
                      ("P", "m-b16-s40-wd0"): 0.001}
    assert run_setting(choice, "Q", "m-b8-s40-wd0") == "m-b8-s40-wd0-lr0.001"
    assert run_setting(choice, "P", "m-b32-s40-wd0") == "m-b32-s40-wd0"     # not tuned
    assert run_setting(None, "P", "m-b8-s40-wd0") == "m-b8-s40-wd0"


def test_the_choice_refuses_runs_that_are_no_candidates():
    runs = candidate_runs({0.001: 0.5})
    with pytest.raises(ValueError, match="not a learning-rate candidate: m-b8-s40-wd0"):
        choose_lr(runs.assign(setting="m-b8-s40-wd0"))
    with pytest.raises(ValueError, match="listed twice"):
        choose_lr(pd.concat([runs, runs.iloc[:1]]))


def test_the_choice_reads_back_as_written(tmp_path):
    runs = pd.concat([candidate_runs({0.001: 0.5, 0.01: 0.1}),
                      candidate_runs({0.001: 0.5}, diverged={(0.001, 0, 2.0)}, configuration="m-b16-s40-wd0")])
    choice = choose_lr(runs)
    path = tmp_path / "lr_choice.csv"
    choice.to_csv(path, index=False)
    back = read_choice(path)
    pd.testing.assert_frame_equal(back[CHOICE_COLUMNS], choice, check_dtype=False)
    bad = choice.copy()
    bad.loc[bad["lr"] == 0.001, "chosen"] = True
    bad.to_csv(path, index=False)
    with pytest.raises(ValueError, match="an unstable candidate is marked chosen|several chosen"):
        read_choice(path)


def test_the_choice_is_found_among_a_rules_inputs(tmp_path):
    from snakemake.iocontainers import Namedlist
    path = tmp_path / "lr_choice.csv"
    choose_lr(candidate_runs({0.001: 0.5, 0.01: 0.1})).to_csv(path, index=False)
    # as Snakemake hands a named input given as a list: the list, empty without candidates
    given = Namedlist(fromdict={"pt_metrics": "pt.csv", "lr_choice": Namedlist([str(path)])})
    assert choice_of(given).loc[lambda c: c["chosen"], "lr"].tolist() == [0.01]
    assert choice_of(Namedlist(fromdict={"pt_metrics": "pt.csv", "lr_choice": Namedlist([])})) is None
    assert choice_of(Namedlist(fromdict={"pt_metrics": "pt.csv"})) is None
    assert choice_of({"lr_choice": str(path)})["chosen"].sum() == 1


# ---------------------------------------------------------------- the one filter

def pt_rows(settings, problem="P"):
    return pd.DataFrame([dict(problem=problem, setting=s, seed=seed, M=M, value=float(i), stuck=False,
                              **({"lr": cfg.Setting.parse(s).lr} if "-lr" in s else {}))
                         for i, s in enumerate(settings) for seed in (0, 1) for M in (2.0, 16.0)])


def test_keep_chosen_keeps_the_chosen_candidate_under_its_configuration():
    choice = choose_lr(candidate_runs({0.001: 0.5, 0.01: 0.1}))
    table = pt_rows(["m-b8-s40-wd0-lr0.001", "m-b8-s40-wd0-lr0.01", "m-b16-s60-wd0"])
    kept = keep_chosen(table, choice)
    assert sorted(kept["setting"].unique()) == ["m-b16-s60-wd0", "m-b8-s40-wd0"]
    assert "lr" not in kept.columns and len(kept) == 2 * 4
    # the chosen candidate's rows (value 1.0), renamed; the plain setting's as they were
    assert set(kept.loc[kept["setting"] == "m-b8-s40-wd0", "value"]) == {1.0}
    plain = table[table["setting"] == "m-b16-s60-wd0"].drop(columns="lr").reset_index(drop=True)
    pd.testing.assert_frame_equal(kept[kept["setting"] == "m-b16-s60-wd0"].reset_index(drop=True), plain)


def test_keep_chosen_drops_every_candidate_of_a_configuration_with_no_choice():
    choice = choose_lr(candidate_runs({0.001: 0.5, 0.01: 0.1}, diverged={(0.001, 0, 2.0), (0.01, 0, 2.0)}))
    kept = keep_chosen(pt_rows(["m-b8-s40-wd0-lr0.001", "m-b8-s40-wd0-lr0.01", "m-b16-s60-wd0"]), choice)
    assert set(kept["setting"]) == {"m-b16-s60-wd0"}


def test_keep_chosen_leaves_a_study_without_candidates_alone_and_refuses_a_missing_choice():
    table = pt_rows(["m-b8-s40-wd0", "m-b16-s40-wd0"])
    assert keep_chosen(table, None) is table
    with pytest.raises(ValueError, match="no lr_choice.csv was given"):
        keep_chosen(pt_rows(["m-b8-s40-wd0-lr0.001"]), None)
    choice = choose_lr(candidate_runs({0.001: 0.5}))
    with pytest.raises(ValueError, match="no row for m-b8-s40-wd0-lr0.003 on P"):
        keep_chosen(pt_rows(["m-b8-s40-wd0-lr0.003"]), choice)
    with pytest.raises(ValueError, match="both at train.lr and as learning-rate candidates"):
        keep_chosen(pt_rows(["m-b8-s40-wd0-lr0.001", "m-b8-s40-wd0"]), choice)


def test_a_threshold_that_needs_a_configuration_with_no_stable_lr_says_why():
    settings = [cfg.Setting("m", b, 40, 0.0) for b in (8, 16)]
    pt = pd.DataFrame([dict(setting="m-b8-s40-wd0", seed=0, M=M, eval_set="true", metric="delta_ridge",
                            position=0, stuck=False) for M in (2.0, 16.0)])
    why = "no stable learning rate for m-b16-s40-wd0 (lr 0.01: diverged in 1 of 1 runs)"

    def never(*args):
        raise AssertionError("no sequences are read for a threshold that cannot be made")
    table = threshold_table(pt, {"g": ("batch_size", settings, [0])}, never, n_boot=10,
                            unavailable={"m-b16-s40-wd0": why})
    assert len(table) == 1
    row = table.iloc[0]
    assert row["status"] == why and np.isnan(row["log2_threshold"])
    assert (row["vary_small"], row["vary_large"]) == (8, 16)


# ---------------------------------------------------------------- the workflow

def test_a_dry_run_of_a_study_with_an_lr_list_plans_every_candidate(tmp_path):
    study = copy.deepcopy(SMOKE_STUDY)
    study["sweeps"]["tuned"] = TUNED
    study["figures"] = dict(study["figures"], fig3="tuned")
    study["outdir"] = str(tmp_path / "out")
    path = tmp_path / "tuned.yaml"
    path.write_text(yaml.safe_dump(study))
    out = snakemake("-n", "--configfile", str(path)).stdout
    for b in (8, 16):
        for lr in ("0.001", "0.003", "0.01"):
            assert f"nano-b{b}-s40-wd0-lr{lr}-" in out, (b, lr)
    assert not re.search(r"runs/nano-b(8|16)-s40-wd0-[0-9a-f]{8}/", out)     # never at train.lr
    assert re.search(r"runs/nano-b8-s60-wd0-[0-9a-f]{8}/", out)              # the smoke runs: at it
    assert "rule lr_choice:" in out and f"{tmp_path}/out/studies/tuned/tables/lr_choice.csv" in out
    # the smoke study, without an lr list: no candidates, no choice
    smoke = snakemake("-n", "--configfile", "studies/smoke.yaml", "--config", f"outdir={tmp_path}/smoke").stdout
    assert "rule lr_choice" not in smoke and "-lr" not in smoke
