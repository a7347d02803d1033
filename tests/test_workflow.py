"""The smoke study end to end, and precise reruns after an edit."""
import ast
import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
import pandas as pd
import pytest

from conftest import (ROOT, baselines_dir, main_pdir, metrics_dir, planned_jobs, run_dir,
                      study_config)
from icl_diversity.baselines import tune_smoothing_var, tuning_set
from icl_diversity.sources import script_sources

SMOKE = ("--configfile", "studies/smoke.yaml", "--config", "outdir=out")
SMOKE_STUDY = yaml.safe_load((ROOT / "studies" / "smoke.yaml").read_text())


def write_study(wf, name, study):
    """A study file in the workflow folder, its outdir `out` (the smoke run's)."""
    (wf / name).write_text(yaml.safe_dump(dict(study, outdir="out")))
    return name


def test_smoke_run_writes_every_table(smoke_outdir):
    base = pd.read_csv(smoke_outdir / "tables" / "baselines.csv")
    pt = pd.read_csv(smoke_outdir / "tables" / "pt_metrics.csv")
    curves = pd.read_csv(smoke_outdir / "tables" / "pt_curves.csv")
    assert set(base["estimator"]) == {"Ridge", "dMMSE", "smoothed_dMMSE"}
    assert set(base["M"]) == {2.0, 16.0, np.inf}
    assert not base[(base["estimator"] == "dMMSE") & np.isinf(base["M"])].shape[0]
    assert set(pt["estimator"]) == {"PT"}
    assert set(pt["setting"]) == {"nano-b8-s60-wd0", "nano-b16-s60-wd0", "nano-b8-s120-wd0"}
    # the batch group runs seeds 0 and 1; the steps group only seed 0, and shares its
    # 60-step setting with the batch group
    seeds = pt.groupby("setting")["seed"].unique().map(sorted).to_dict()
    assert seeds == {"nano-b8-s60-wd0": [0, 1], "nano-b16-s60-wd0": [0, 1], "nano-b8-s120-wd0": [0]}
    assert len(pt.drop_duplicates(["setting", "seed", "M"])) == 5 * 3
    assert curves["step"].nunique() == 7            # 0, 20, ..., 120 for the longest run
    assert np.isfinite(base["value"]).all() and np.isfinite(pt["value"]).all()
    # T_Pretrain at M = 2: dMMSE (the Bayes estimator of that prior) beats Ridge.
    mean = base[(base["position"] == 0) & (base["metric"] == "loss_per_dim")
                & (base["target"] == "noisy") & (base["eval_set"] == "pretrain") & (base["M"] == 2)]
    by = mean.set_index("estimator")["value"]
    assert by["dMMSE"] < by["Ridge"]


def test_smoke_run_tunes_smoothing_on_the_tuning_set(smoke_outdir, smoke_config):
    # the chosen s^2 is the recorded grid's minimum, and the recorded losses are those of
    # the tuning set: recomputed here from its seed, without the evaluation set
    conf = smoke_config
    pb, grid = conf["problem"], [2.0 ** e for e in range(-10, 3)]   # the schema's default
    assert conf["eval"]["smoothing_grid"] == grid
    base = pd.read_csv(smoke_outdir / "tables" / "baselines.csv")
    smoothed = base[base["estimator"] == "smoothed_dMMSE"]
    assert set(smoothed["M"]) == {2.0, 16.0}
    assert base[base["estimator"] != "smoothed_dMMSE"]["smoothing_var"].isna().all()
    tune = tuning_set(pb["D"], pb["K"], pb["noise_var"], 1024, conf["seeds"]["eval"])
    for M in (2, 16):
        table = pd.read_csv(baselines_dir(conf) / f"M{M}" / "tuning.csv")
        assert table["smoothing_var"].tolist() == grid
        chosen = table[table["chosen"]]["smoothing_var"]
        assert len(chosen) == 1 and chosen.iloc[0] == grid[int(table["loss_per_dim"].argmin())]
        assert set(smoothed[smoothed["M"] == M]["smoothing_var"]) == {chosen.iloc[0]}
        pool = np.load(main_pdir(conf) / "pools" / f"pool_M{M}.npy")
        _, losses, _ = tune_smoothing_var(tune["xs"], tune["ys"], pool, pb["noise_var"], grid,
                                          backend="torch")
        np.testing.assert_allclose(table["loss_per_dim"], losses, rtol=1e-9)
    assert pd.read_csv(baselines_dir(conf) / "Minf" / "tuning.csv").empty


def test_a_fresh_dry_run_plans_the_analyses(tmp_path):
    from conftest import copy_workflow
    jobs = planned_jobs(*SMOKE, cwd=copy_workflow(tmp_path))
    # Fig 5 at M = 2 and 16 (sets and evaluations per M); connectivity per (setting, seed)
    # of the batch group (2 x 2), and seed to seed per setting (the group has seeds 0, 1)
    want = {"interpolation_set": 2, "interpolation_eval": 2, "interpolation_table": 1,
            "fig5": 1, "connectivity_to_inf": 4, "connectivity_seeds": 2,
            "connectivity_reference": 2, "connectivity_tables": 1, "connectivity": 1}
    assert {k: jobs.get(k) for k in want} == want, jobs


def test_smoke_run_writes_fig5_and_its_table(smoke_outdir):
    for ext in ("pdf", "png", "json"):
        assert (smoke_outdir / "figures" / f"fig5.{ext}").stat().st_size > 0
    t = pd.read_csv(smoke_outdir / "tables" / "interpolation.csv", dtype={"seed": str})
    assert set(t["M"]) == {2.0, 16.0}
    assert np.allclose(sorted(t["a"].unique()), np.linspace(0, 1, 5))
    assert set(t["estimator"]) == {"PT", "Ridge", "dMMSE"}
    assert set(t.loc[t["estimator"] == "PT", "seed"]) == {"0", "1"}
    assert set(t.loc[t["estimator"] != "PT", "setting"]) == {"-"}
    assert np.isfinite(t["value"]).all()
    # every run of the batch group (2 settings x 2 seeds) at each M and a
    pt = t[(t["estimator"] == "PT") & (t["metric"] == "loss_per_dim") & (t["target"] == "noisy")
           & (t["position"] == 0)]
    assert len(pt) == 2 * 5 * 2 * 2


def test_smoke_run_writes_the_mode_connectivity_tables(smoke_outdir, smoke_config):
    for ext in ("pdf", "png", "json"):
        assert (smoke_outdir / "figures" / f"connectivity.{ext}").stat().st_size > 0
    b = pd.read_csv(smoke_outdir / "tables" / "barriers.csv")
    to_inf, seeds = b[b["pair"] == "M_vs_inf"], b[b["pair"] == "seeds"]
    assert len(to_inf) == 2 * 2 * 2 and set(to_inf["M"]) == {2.0, 16.0}     # settings x seeds x M
    assert len(seeds) == 2 * 3 and set(seeds["M"]) == {2.0, 16.0, np.inf}   # settings x M
    assert (seeds["seed_a"] == 0).all() and (seeds["seed_b"] == 1).all()
    # the reference, between independent inits: each seed's model at M to the other seed's
    # M = inf model, and the two seeds' M = inf models (the group's own two seeds)
    other, ref = b[b["pair"] == "M_vs_other_inf"], b[b["pair"] == "inf_vs_inf"]
    assert len(other) == 2 * 2 * 2 and set(other["M"]) == {2.0, 16.0}    # settings x seeds x M
    assert set(zip(other["seed_a"], other["seed_b"])) == {(0, 1), (1, 0)}
    assert len(ref) == 2 and (ref["seed_a"] == 0).all() and (ref["seed_b"] == 1).all()
    # the M = inf pair is the one the seed-to-seed job also computes: the same path
    same = seeds[seeds["M"] == np.inf].set_index("setting")
    for row in ref.itertuples():
        assert row.barrier == pytest.approx(same.loc[row.setting, "barrier"], rel=1e-6, abs=1e-9)
    assert (b["barrier"] >= 0).all() and np.isfinite(b["barrier"]).all()
    # t = 0 is the model trained at M: its loss is the one training evaluated on T_True
    D = 3
    true = np.load(main_pdir(smoke_config) / "eval" / "true.npz")
    for row in to_inf.itertuples():
        for M, loss in ((int(row.M), row.loss_a), ("inf", row.loss_b)):
            run = run_dir(smoke_config, row.setting, row.seed_a, M)
            pred = np.load(run / "predictions.npz")["true"][:64].astype(np.float64)
            own = ((pred - true["ys"][:64]) ** 2).mean() / D
            assert loss == pytest.approx(own, rel=1e-5), (row, M)
    paths = pd.read_csv(smoke_outdir / "tables" / "connectivity.csv")
    assert len(paths) == 5 * len(b)


def submitted_training_runs(log_text: str) -> list[tuple[str, str]]:
    """(setting, pdir) of each training job, in the order a Snakemake log submitted them."""
    runs = []
    for block in re.split(r"^\[[^\]]+\]$", log_text, flags=re.M):
        if re.search(r"^(local)?rule train:", block, re.M):
            wc = dict(kv.split("=", 1) for kv in
                      re.search(r"^\s+wildcards: (.*)$", block, re.M)[1].split(", "))
            runs.append((wc["setting"], wc["pdir"]))
    return runs


def test_training_runs_start_longest_first(smoke_workflow, smoke_config):
    """With more runs ready than cores, the longest start first (their FLOPs, computed
    here from the settings): a long run started last would hold one core while the
    others sit idle. With 2 cores, two runs started together may be listed in either
    order, so each run must be at least as long as every run submitted two or more
    places after it."""
    from icl_diversity import config as cfg
    from icl_diversity.plan import run_flops

    wf, _ = smoke_workflow
    first = sorted((wf / ".snakemake" / "log").glob("*.snakemake.log"))[0]   # the fixture's run
    runs = submitted_training_runs(first.read_text())
    assert len(runs) == len(cfg.all_runs(smoke_config)) + len(cfg.reference_runs(smoke_config))
    settings = {s.name: s for s in cfg.all_settings(smoke_config)}
    problems = {Path(cfg.problem_dir(smoke_config, n)).name: p
                for n, p in cfg.all_problems(smoke_config).items()}

    def flops(setting, pdir):
        s, p = settings[setting], problems[pdir]
        return run_flops(smoke_config, cfg.model_spec(smoke_config, s.model), s.steps, s.batch_size,
                         p.D, p.K)

    costs = [flops(*r) for r in runs]
    assert len(set(costs)) >= 3                      # the order is not settled by ties alone
    late = [i for i in range(len(costs) - 2) if costs[i] < max(costs[i + 2:])]
    assert not late, [(runs[i], costs[i], max(costs[i + 2:])) for i in late]


def test_smoke_run_leaves_no_checkpoint_lock_or_temp_file(smoke_workflow, smoke_config):
    from icl_diversity import config as cfg
    _, out = smoke_workflow
    for name in cfg.all_problems(smoke_config):
        checkpoints = Path(cfg.problem_dir(smoke_config, name)) / "checkpoints"
        assert checkpoints.is_dir()                                 # the rolling checkpoints' root
        assert not list(checkpoints.rglob("*"))                     # no empty folders either
    # the whole outdir: the store and the study's folder
    assert (out / "store").is_dir() and (out / "studies" / "smoke").is_dir()
    assert not [p for p in out.rglob(".*") if p.is_file()]
    assert not list(out.rglob("*.lock*"))                           # every run lock released


def test_complete_run_has_nothing_left_to_do(smoke_workflow):
    wf, _ = smoke_workflow
    assert planned_jobs(*SMOKE, cwd=wf) == {}


@pytest.mark.parametrize("module,reruns,untouched", [
    ("baselines.py", {"baselines", "pt_metrics"}, {"train", "task_pool", "eval_set_true"}),
    ("model.py", {"train", "pt_metrics"}, {"baselines", "task_pool"}),
    ("tasks.py", {"task_pool", "eval_set_true", "baselines", "train", "pt_metrics"}, set()),
    ("io.py", {"task_pool", "baselines", "train", "thresholds", "software"}, set()),
    ("figures.py", {"fig2", "fig3", "fig4", "positions", "fig5", "connectivity"},
     {"train", "baselines", "pt_metrics", "interpolation_eval", "connectivity_to_inf"}),
    ("analysis.py", {"interpolation_set", "interpolation_eval", "connectivity_to_inf",
                     "connectivity_seeds", "fig5", "connectivity"},
     {"train", "baselines", "pt_metrics", "task_pool", "eval_set_true", "thresholds"}),
    ("threshold.py", {"thresholds", "fig2"}, {"train", "baselines", "pt_metrics"}),
])
def test_editing_a_module_reruns_only_what_uses_it(smoke_workflow, module, reruns, untouched):
    wf, _ = smoke_workflow
    # Snakemake compares checksums as well as times: a real edit, not a touch.
    path = wf / "src" / "icl_diversity" / module
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        jobs = planned_jobs(*SMOKE, cwd=wf)
    finally:
        path.write_text(original)
    assert reruns <= set(jobs), jobs
    assert not (untouched & set(jobs)), jobs


def test_runs_store_curves_on_the_first_sequences_and_final_predictions_on_all(smoke_config):
    # smoke: 128 sequences per set, curve_sequences 64, evaluations every 20 of 120 steps
    run = run_dir(smoke_config, "nano-b8-s120-wd0", 0, 16)
    metrics = metrics_dir(smoke_config, "nano-b8-s120-wd0", 0, 16)
    assert metrics.parent == run
    with np.load(run / "predictions.npz") as f:
        stored = {k: f[k] for k in f.files}
    assert set(stored) == {"steps", "true_curve", "pretrain_curve", "true", "pretrain"}
    assert list(stored["steps"]) == list(range(0, 121, 20))
    assert stored["true_curve"].shape == (7, 64, 8) and stored["true"].shape == (128, 8)
    np.testing.assert_array_equal(stored["pretrain_curve"][-1], stored["pretrain"][:64])
    curve = pd.read_csv(metrics / "curve.csv")
    final = pd.read_csv(metrics / "metrics.csv")
    # the final metrics use all 128 sequences, the curve's last point the first 64
    key = (final["position"] == 0) & (final["metric"] == "loss_per_dim") & (final["target"] == "noisy")
    ys = np.load(main_pdir(smoke_config) / "eval" / "pretrain_M16.npz")["ys"]
    want = np.mean((stored["pretrain"].astype(np.float64) - ys) ** 2) / 3
    assert final[key & (final["eval_set"] == "pretrain")]["value"].item() == pytest.approx(want, rel=1e-9)
    last = curve[(curve["step"] == 120) & (curve["position"] == 0) & (curve["metric"] == "loss_per_dim")
                 & (curve["target"] == "noisy") & (curve["eval_set"] == "pretrain")]["value"].item()
    assert last == pytest.approx(np.mean((stored["pretrain"][:64].astype(np.float64) - ys[:64]) ** 2) / 3,
                                 rel=1e-9)


def test_two_seeds_are_two_different_runs(smoke_outdir, smoke_config):
    final = pd.read_csv(smoke_outdir / "tables" / "pt_metrics.csv")
    final = final[(final["position"] == 0) & (final["metric"] == "loss_per_dim")]
    a, b = (final[(final["setting"] == "nano-b8-s60-wd0") & (final["seed"] == s)]
            .sort_values(["M", "eval_set", "target"])["value"].to_numpy() for s in (0, 1))
    assert len(a) == len(b) == 12 and not np.allclose(a, b)
    # ... trained on different batches from different initial weights
    losses = [pd.read_csv(run_dir(smoke_config, "nano-b8-s60-wd0", s, 16) / "train_loss.csv")["loss"]
              for s in (0, 1)]
    assert losses[0].iloc[0] != losses[1].iloc[0]


def test_plateau_guard_flags_the_stuck_runs_and_logs_them(smoke_outdir, smoke_config):
    # smoke runs 60-120 steps with plateau_guard 0.3: at M = 2 the pool is learned (about
    # half the gap to Ridge closed), at M = 16 and inf nothing has been learned yet
    pt = pd.read_csv(smoke_outdir / "tables" / "pt_metrics.csv")
    runs = pt.drop_duplicates(["setting", "seed", "M"]).set_index(["setting", "seed", "M"])
    assert not runs.xs(2.0, level="M")["stuck"].any()
    assert runs.xs(np.inf, level="M")["stuck"].all()
    assert (runs.loc[runs["stuck"], "gap_closed"] < 0.3).all()
    assert (runs.loc[~runs["stuck"], "gap_closed"] >= 0.3).all()
    log = (metrics_dir(smoke_config, "nano-b8-s60-wd0", 1, "inf") / "pt_metrics.log").read_text()
    assert "STUCK ON THE PLATEAU" in log
    log = (metrics_dir(smoke_config, "nano-b8-s60-wd0", 1, 2) / "pt_metrics.log").read_text()
    assert "STUCK" not in log


def test_adding_a_seed_plans_only_the_new_seeds_runs(smoke_workflow):
    wf, _ = smoke_workflow
    study = copy.deepcopy(SMOKE_STUDY)
    study["sweeps"]["batch"]["seed"] = [0, 1, 2]
    jobs = planned_jobs("--configfile", write_study(wf, "more_seeds.yaml", study), cwd=wf)
    # another study (more_seeds) on the same store: seed 2 of both batch settings at each
    # of the 3 M; the smoke study's runs, pools and baselines are shared
    assert jobs.get("train") == 6 and jobs.get("pt_metrics") == 6, jobs
    assert not {"baselines", "task_pool", "eval_set_true", "eval_set_pretrain"} & set(jobs), jobs
    assert jobs.get("pt_table") == 1 and not (wf / "out" / "studies" / "more_seeds").exists()


def _with_train(wf, name, **train):
    # the smoke study itself (its outputs in out/studies/smoke), with train keys changed
    study = copy.deepcopy(SMOKE_STUDY)
    study["train"].update(train)
    study["study"] = "smoke"
    return planned_jobs("--configfile", write_study(wf, name, study), cwd=wf)


def test_execution_knobs_retrain_nothing_but_the_learning_rate_does(smoke_workflow):
    wf, _ = smoke_workflow
    assert _with_train(wf, "knobs.yaml", threads=2, checkpoint_every=7, max_loss=1e5,
                       compile=True, device="auto", check_every=3) == {}
    assert _with_train(wf, "lr.yaml", lr=1e-3).get("train") == 15


@pytest.mark.parametrize("override,expected", [
    # forms of --config, each with what it must plan (Snakemake merges --config into the
    # study file, whose own sweeps the batch group's seeds are merged into here)
    ("train={lr: 0.001}", {"train": 15}),                    # typed, merged into train; new runs
    ("train={threads: 2, checkpoint_every: 5}", {}),         # execution knobs: nothing
    ("sweeps={batch: {seed: [0, 1, 2]}}", {"train": 6}),     # merged into one group
])
def test_documented_config_overrides(smoke_workflow, override, expected):
    wf, _ = smoke_workflow
    jobs = planned_jobs(*SMOKE, override, cwd=wf)
    assert {k: v for k, v in jobs.items() if k == "train"} == expected, jobs


def test_changing_one_sweep_point_retrains_only_that_point(smoke_workflow):
    wf, _ = smoke_workflow
    study = copy.deepcopy(SMOKE_STUDY)
    study["sweeps"]["steps"]["steps"] = [60, 150]      # the 120-step setting becomes 150
    jobs = planned_jobs("--configfile", write_study(wf, "changed.yaml", study), cwd=wf)
    # One new setting at each of the 3 M values; the other settings and the baselines stay.
    assert jobs.get("train") == 3, jobs
    assert "baselines" not in jobs and "task_pool" not in jobs, jobs


SCRIPTS = sorted((ROOT / "workflow" / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_declared_code_inputs_cover_what_each_script_imports(script):
    """Independent of sources.py's ast walk: run the script's own import statements in a
    fresh interpreter and list the package modules that end up loaded."""
    tree = ast.parse(script.read_text())
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
               and "icl_diversity" in ast.unparse(n)]
    probe = "\n".join(imports + ["import sys",
                                 "print('\\n'.join(m.__file__ for n, m in sys.modules.items() "
                                 "if n.split('.')[0] == 'icl_diversity'))"])
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), check=True).stdout
    loaded = {Path(line).name for line in out.split()}
    declared = {p.name for p in script_sources(script)}
    assert "__init__.py" in loaded and loaded <= declared, loaded - declared
    # nothing declared that the script does not load (besides the kernel's C source)
    assert declared - loaded <= {"_dmmse.c"}, declared - loaded
    assert ("_dmmse.c" in declared) == ("native.py" in loaded)


def test_readme_recovery_after_kill_9(tmp_path):
    """kill -9 leaves Snakemake's lock behind: --rerun-incomplete alone is refused, and
    the README's recipe (--unlock, then --rerun-incomplete) completes the run."""
    import signal
    import time
    from conftest import SNAKEMAKE, copy_workflow, snakemake
    wf = copy_workflow(tmp_path)
    args = ["--cores", "1", *SMOKE]
    target = "out/studies/smoke/tables/baselines.csv"
    baselines = wf / baselines_dir(study_config(wf, "smoke"))
    # targets go before --config, which takes every later word as a key=value
    proc = subprocess.Popen([SNAKEMAKE, target, *args], cwd=wf, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(wf / "src")))
    try:
        deadline = time.time() + 120
        while not list(baselines.glob("M*/*")) and time.time() < deadline:
            time.sleep(0.2)     # wait until the run is under way, past the lock
        assert list((wf / ".snakemake" / "locks").glob("*")), "the run should hold a lock"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    refused = snakemake(target, "--rerun-incomplete", *args, cwd=wf, check=False)
    assert refused.returncode != 0 and "lock" in refused.stdout.lower()
    snakemake(*args, "--unlock", cwd=wf)
    snakemake(target, "--rerun-incomplete", *args, cwd=wf)
    assert (wf / target).exists()
