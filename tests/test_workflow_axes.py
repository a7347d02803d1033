"""Sweep axes beyond batch size and steps: the problem (D, K, noise), the task prior, width
and depth, and a group's own M grid. Each expands into readable runs and paths, problems
are shared by the groups that use them, and adding an axis plans only the new jobs.

The workflow tests here add results to copies of the finished smoke workflow (the rules'
code inputs are relative paths, so a copy is as finished as the original), never to the
session's own folder: the other test files may run before or after this one."""
import copy
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import ROOT, copy_finished, run_dir, snakemake, study_config
from icl_diversity import config as cfg

SMOKE_STUDY = yaml.safe_load((ROOT / "studies" / "smoke.yaml").read_text())
SMOKE = cfg.load_config(ROOT / "studies" / "smoke.yaml")     # merged onto config.yaml
MAIN = "D3-K8-noise0.25"                                     # the smoke study's problem


def with_groups(base=SMOKE, **groups):
    c = copy.deepcopy(base)
    c["sweeps"].update(copy.deepcopy(groups))
    return c


def group(**axes):
    return dict(dict(vary="batch_size", batch_size=[8], steps=[60], model=["nano"]), **axes)


# ---------------------------------------------------------------- expansion

def test_problem_axes_expand_into_problems_named_by_their_values():
    c = cfg.validate(with_groups(dim=group(D=[3, 4, 8], K_per_D=2, noise_var_per_D=0.25,
                                           prior=["gaussian", "laplace"])))
    problems = cfg.sweep_problems(c, "dim")
    assert [p.name for p in problems] == [
        "D3-K6-noise0.75", "D3-K6-noise0.75-laplace", "D4-K8-noise1", "D4-K8-noise1-laplace",
        "D8-K16-noise2", "D8-K16-noise2-laplace"]
    assert {(p.K, p.noise_var) for p in problems if p.D == 8} == {(16, 2.0)}
    # every problem, the main one too, has its folder in the store: its name and the key
    # of what defines its data, so that studies share it exactly when they share the data
    main = cfg.problem_dir(c, "D3-K8-noise0.25")
    assert re.fullmatch(r"results/store/D3-K8-noise0\.25-[0-9a-f]{8}", main), main
    lap = cfg.problem_dir(c, "D8-K16-noise2-laplace")
    assert re.fullmatch(r"results/store/D8-K16-noise2-laplace-[0-9a-f]{8}", lap), lap
    assert list(cfg.all_problems(c))[0] == "D3-K8-noise0.25"
    changed = copy.deepcopy(c)
    changed["seeds"]["eval"] += 1                           # other evaluation sets: other data
    assert cfg.problem_dir(changed, "D3-K8-noise0.25") != main
    changed = copy.deepcopy(c)
    changed["train"]["lr"], changed["seeds"]["train"] = 1.0, 7     # the data stays
    changed["study"] = "other"
    assert cfg.problem_dir(changed, "D3-K8-noise0.25") == main
    # K and the noise given, not tied: the same at every D
    c = cfg.validate(with_groups(dim=group(D=[5, 6], K=12, noise_var=0.5)))
    assert [p.name for p in cfg.sweep_problems(c, "dim")] == ["D5-K12-noise0.5", "D6-K12-noise0.5"]
    # a problem's params: the config's problem keys, prior only when it is not Gaussian
    laplace = cfg.Problem(4, 8, 0.25, prior="laplace")
    assert laplace.params() == {"D": 4, "K": 8, "noise_var": 0.25, "prior": "laplace",
                                "task_scale": 1.0, "x_scale": 1.0}
    assert "prior" not in cfg.Problem(4, 8, 0.25).params()


def test_width_and_depth_axes_expand_into_named_models():
    c = with_groups(width=group(model=["nano", "micro"], n_embd=[16, 32, 64]),
                    depth=group(model=["nano"], n_layer=[1, 3], n_embd=[32]))
    c["models"]["micro"] = {"n_layer": 2, "n_embd": 32, "n_head": 4}
    c = cfg.validate(c)
    names = [s.model for s in cfg.sweep_settings(c, "width")]
    # a model's own width keeps its plain name (and so shares its runs with other groups)
    assert names == ["nano", "nano_w32", "nano_w64", "micro_w16", "micro", "micro_w64"]
    assert [s.model for s in cfg.sweep_settings(c, "depth")] == ["nano_w32", "nano_w32_d3"]
    assert cfg.model_spec(c, "nano_w32_d3") == {"n_embd": 32, "n_head": 2, "n_layer": 3}
    assert cfg.model_spec(c, "micro_w64") == {"n_embd": 64, "n_head": 4, "n_layer": 2}
    assert cfg.model_spec(c, "nano") == {"n_embd": 16, "n_head": 2, "n_layer": 1}
    s = cfg.sweep_settings(c, "depth")[1]
    assert s.name == "nano_w32_d3-b8-s60-wd0" and cfg.Setting.parse(s.name) == s
    with pytest.raises(cfg.ConfigError, match="unknown model 'pico_w3'"):
        cfg.model_spec(c, "pico_w3")


def test_weight_decay_names_round_trip_at_every_magnitude():
    for wd in (0.0, 1e-5, 3e-4, 0.01, 0.1, 1.5):
        s = cfg.Setting("small_w128", 256, 500000, wd)
        assert cfg.Setting.parse(s.name) == s


def test_runs_are_keyed_by_problem_with_each_groups_own_M_grid():
    c = cfg.validate(with_groups(
        dim=group(D=[3, 4], K=8, noise_var=0.25, M=[4, "inf"]),
        wide=group(D=[4], K=8, noise_var=0.25, n_embd=[32], M=[2, 4])))
    runs = cfg.all_runs(c)
    assert len(runs) == len(set(runs))
    d4 = "D4-K8-noise0.25"
    assert {(s, m) for p, s, seed, m in runs if p == d4} == {
        ("nano-b8-s60-wd0", "4"), ("nano-b8-s60-wd0", "inf"),
        ("nano_w32-b8-s60-wd0", "2"), ("nano_w32-b8-s60-wd0", "4")}
    # D = 3 is the main problem: dim's run at M = 4 joins the smoke groups' runs there
    assert ("D3-K8-noise0.25", "nano-b8-s60-wd0", 0, "4") in runs
    # pools and baselines: the union of the grids of the groups using a problem
    assert cfg.problem_M_labels(c, d4) == ["2", "4", "inf"]
    assert cfg.problem_M_labels(c, "D3-K8-noise0.25") == ["2", "4", "16", "inf"]


def test_the_default_study_keeps_its_store_paths_and_params():
    """What a finished default study was made with: its folders in the store (the keys of
    what defines its data, baselines, runs and metrics) and the train rule's params, text
    for text. A change to either makes every finished run of the store look new."""
    c = cfg.load_config()
    runs = cfg.all_runs(c)
    assert runs == [("D4-K16-noise0.25", f"tiny-b{b}-s6000-wd0", 0, m) for b in (64, 128)
                    for m in ("2", "8", "16", "32", "64", "256", "inf")]
    pdir = cfg.problem_dir(c, runs[0][0])
    assert pdir == "results/store/D4-K16-noise0.25-b4cccf64"
    assert cfg.baselines_dir(c, pdir) == f"{pdir}/baselines-a4a72a66"
    run = cfg.run_dir(c, pdir, "tiny-b64-s6000-wd0", 0, "2")
    assert run == f"{pdir}/runs/tiny-b64-s6000-wd0-b70e8e21/seed0/M2"
    assert cfg.metrics_dir(c, run) == f"{run}/metrics-9ebf8f13"
    assert cfg.study_dir(c) == "results/studies/default"
    # execution knobs move nothing in the store
    knobs = copy.deepcopy(c)
    knobs["train"].update(threads=4, checkpoint_every=7, device="cpu", compile=True, max_loss=1e5)
    knobs["eval"].update(dmmse_chunk=8, dmmse_backend="torch")
    assert cfg.problem_dir(knobs, runs[0][0]) == pdir and cfg.baselines_dir(knobs, pdir) == f"{pdir}/baselines-a4a72a66"
    assert cfg.run_dir(knobs, pdir, "tiny-b64-s6000-wd0", 0, "2") == run
    assert cfg.metrics_dir(knobs, run) == f"{run}/metrics-9ebf8f13"
    assert list(cfg.all_problems(c)) == ["D4-K16-noise0.25"]
    # the reprs Snakemake compares (params are compared by their text)
    assert repr(cfg.main_problem(c).params()) == \
        "{'D': 4, 'K': 16, 'noise_var': 0.25, 'task_scale': 1.0, 'x_scale': 1.0}"
    assert repr(cfg.model_spec(c, "tiny")) == "{'n_embd': 32, 'n_head': 2, 'n_layer': 4}"


# ---------------------------------------------------------------- refused by name

@pytest.mark.parametrize("axes,needle", [
    (dict(prior=["cauchy"]), "sweeps.new.prior.0"),
    (dict(D=[0]), "sweeps.new.D.0"),
    (dict(K_per_D=0), "sweeps.new.K_per_D"),
    (dict(noise_var_per_D=-1), "sweeps.new.noise_var_per_D"),
    (dict(n_embd=[]), "sweeps.new.n_embd"),
    (dict(n_layer=[0]), "sweeps.new.n_layer.0"),
    (dict(M=[3]), "sweeps.new.M"),
    (dict(depth=[2]), "depth"),                               # unknown key, by name
    (dict(model=["na-no"]), "sweeps.new.model.0"),
])
def test_schema_refuses_bad_axes_by_name(axes, needle):
    with pytest.raises(cfg.ConfigError, match=re.escape(needle)):
        cfg.validate(with_groups(new=group(**axes)))


@pytest.mark.parametrize("axes,needle", [
    (dict(K=8, K_per_D=2), "give K or K_per_D, not both"),
    (dict(noise_var=0.1, noise_var_per_D=0.1), "give noise_var or noise_var_per_D"),
    (dict(D=[1], K_per_D=1), "sweeps.new.K_per_D"),           # K = 1
    (dict(M=["inf"]), "sweeps.new.M"),
    (dict(n_embd=[15]), "sweeps.new.n_embd"),                 # nano has 2 heads
])
def test_cross_checks_refuse_bad_axes_by_name(axes, needle):
    with pytest.raises(cfg.ConfigError, match=re.escape(needle)):
        cfg.validate(with_groups(new=group(**axes)))


def test_figures_name_groups_and_one_problem_figures_refuse_several():
    c = with_groups(dim=group(D=[3, 4], K=8, noise_var=0.25))
    c["figures"] = dict(c["figures"], fig6=["dim", "nope"])
    with pytest.raises(cfg.ConfigError, match=r"figures\.fig6: unknown sweep group 'nope'"):
        cfg.validate(copy.deepcopy(c))
    c["figures"] = dict(SMOKE["figures"], fig2="dim")
    with pytest.raises(cfg.ConfigError, match=r"figures\.fig2: sweep group 'dim' spans several problems"):
        cfg.validate(copy.deepcopy(c))
    c["figures"] = dict(SMOKE["figures"], fig7={"depth": "batch"})
    with pytest.raises(cfg.ConfigError, match=r"figures\.fig7.*depth"):
        cfg.validate(copy.deepcopy(c))


def test_a_derived_model_name_may_not_mean_two_models():
    c = with_groups(wide=group(n_embd=[32]))
    c["models"]["nano_w32"] = {"n_layer": 3, "n_embd": 32, "n_head": 2}
    with pytest.raises(cfg.ConfigError, match="nano_w32"):
        cfg.validate(c)


# ---------------------------------------------------------------- the workflow

def planned_outputs(*args, cwd) -> dict[str, list[str]]:
    """{rule: [output paths]} of the jobs a dry run would execute (flags such as
    "(update)" left out)."""
    out = snakemake("-n", "--printshellcmds", *args, cwd=cwd).stdout
    found = {}
    for rule, outputs in re.findall(r"^[ \t]*(?:local)?rule (\w+):\n(?:.*\n)*?\s+output: (.*)$", out, re.M):
        found.setdefault(rule, []).extend(re.sub(r"\s*\(\w+\)$", "", o.strip()) for o in outputs.split(","))
    return found


@pytest.fixture()
def finished_smoke(smoke_workflow, tmp_path):
    """A copy of the finished smoke workflow, for a test to add to."""
    return copy_finished(smoke_workflow[0], tmp_path / "wf")


def write_study(wf, name, **groups):
    """A study in the workflow folder: the smoke study with more sweep groups (a study's
    sweeps replace config.yaml's whole, so it names the smoke groups too), outdir `out`.
    Returns its file name and its resolved config (paths relative to the folder)."""
    study = copy.deepcopy(SMOKE_STUDY)
    study["sweeps"] = dict(study["sweeps"], **copy.deepcopy(groups))
    study["outdir"] = "out"
    (wf / name).write_text(yaml.safe_dump(study))
    return name, cfg.load_config(wf / name)


def sha256s(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_new_axes_plan_only_new_jobs_and_share_each_problem(finished_smoke):
    wf = finished_smoke
    study, c = write_study(
        wf, "axes.yaml",
        decay=group(batch_size=[8, 16], weight_decay=[0.0, 0.01]),    # wd 0: the batch group's runs
        dim=group(D=[3, 4], K=8, noise_var=0.25),                      # D = 3: the main problem
        wide=group(D=[4], K=8, noise_var=0.25, n_embd=[32], M=[2, 4, "inf"]))
    jobs = planned_outputs("--configfile", study, cwd=wf)
    D4 = cfg.problem_dir(c, "D4-K8-noise0.25")
    assert re.fullmatch(r"out/store/D4-K8-noise0\.25-[0-9a-f]{8}", D4), D4
    # one pool, evaluation set and baseline job per M of the new problem (the union of
    # the two groups' grids), none for the main problem's, which are done
    assert sorted(jobs["task_pool"]) == [f"{D4}/pools/pool_M{m}.npy{ext}" for m in (16, 2, 4)
                                         for ext in ("", ".sha256")]
    assert jobs["eval_set_true"] == [f"{D4}/eval/true.npz"]
    assert len(jobs["eval_set_pretrain"]) == 3
    assert sorted(p.split("/")[-2] for p in jobs["baselines"] if p.endswith("predictions.npz")) \
        == ["M16", "M2", "M4", "Minf"]
    assert all(p.startswith(f"{cfg.baselines_dir(c, D4)}/") for p in jobs["baselines"])
    assert all(p.startswith(f"{D4}/") for rule in ("task_pool", "eval_set_true", "eval_set_pretrain")
               for p in jobs[rule])
    # training: decay's wd 0.01 settings at 3 M; dim's D = 4 at 3 M; wide's 3 M
    trained = sorted(p.rsplit("/", 1)[0] for p in jobs["train"][::3])
    assert trained == sorted(
        [str(run_dir(c, f"nano-b{b}-s60-wd0.01", 0, m)) for b in (8, 16) for m in (2, 16, "inf")]
        + [cfg.run_dir(c, D4, "nano-b8-s60-wd0", 0, m) for m in (2, 16, "inf")]
        + [cfg.run_dir(c, D4, "nano_w32-b8-s60-wd0", 0, m) for m in (2, 4, "inf")]), trained


def test_editing_one_groups_problem_leaves_the_others_alone(finished_smoke):
    wf = finished_smoke
    both = dict(dim=group(D=[4], K=8, noise_var=0.25), other=group(D=[6], K=8, noise_var=0.25))
    study, c = write_study(wf, "a.yaml", **both)
    D4 = cfg.problem_dir(c, "D4-K8-noise0.25")
    targets = [f"{cfg.baselines_dir(c, D4)}/M{m}/metrics.csv" for m in (2, 16, "inf")]
    snakemake(*targets, "--cores", "2", "--configfile", study, cwd=wf)
    before = planned_outputs("--configfile", study, cwd=wf)
    edited = dict(both, other=group(D=[5], K=8, noise_var=0.25))
    study, c = write_study(wf, "b.yaml", **edited)
    after = planned_outputs("--configfile", study, cwd=wf)
    data = [p for rule in ("task_pool", "eval_set_true", "eval_set_pretrain", "baselines")
            for p in after.get(rule, [])]
    D5 = cfg.problem_dir(c, "D5-K8-noise0.25")
    assert data and all(p.startswith(f"{D5}/") for p in data), data
    # dim's problem plans the same (its runs, not yet trained) before and after the edit
    d4 = [{p for ps in plan.values() for p in ps if p.startswith(D4)} for plan in (before, after)]
    assert d4[0] == d4[1] and all("/runs/" in p for p in d4[1]), d4


def test_the_laplace_prior_reaches_the_pools_and_T_True(finished_smoke):
    from icl_diversity.tasks import eval_set, task_pool
    wf = finished_smoke
    study, c = write_study(wf, "lap.yaml", lap=group(prior=["laplace"]))
    lap = cfg.problem_dir(c, "D3-K8-noise0.25-laplace")
    assert re.fullmatch(r"out/store/D3-K8-noise0\.25-laplace-[0-9a-f]{8}", lap), lap
    snakemake(f"{lap}/pools/pool_M16.npy", f"{lap}/eval/true.npz", "--cores", "1",
              "--configfile", study, cwd=wf)
    pool = np.load(wf / lap / "pools" / "pool_M16.npy")
    np.testing.assert_array_equal(pool, task_pool(16, 3, 102, prior="laplace"))
    assert not np.allclose(pool, np.load(wf / cfg.problem_dir(c, MAIN) / "pools" / "pool_M16.npy"))
    true = np.load(wf / lap / "eval" / "true.npz")
    np.testing.assert_array_equal(true["ws"], eval_set(3, 8, 0.25, 128, 104, prior="laplace")["ws"])
    log = (wf / lap / "logs" / "task_pool" / "M16.log").read_text()
    assert "prior=laplace" in log


def test_a_finished_runs_params_are_the_train_rules(smoke_workflow):
    """Snakemake's own record of a finished train job: its params, text for text (a
    change in their text makes Snakemake rerun the job): the problem, the seeds, the train
    keys that define the result, the curve subset, the setting, and the rolling
    checkpoint's place in the store (under the problem's folder, keyed as the run's)."""
    import base64
    import json
    wf, _ = smoke_workflow
    c = study_config(wf, "smoke")
    pdir = cfg.problem_dir(c, MAIN)
    run = str(run_dir(c, "nano-b16-s60-wd0", 0, 16))
    key = re.fullmatch(rf"{re.escape(pdir)}/runs/nano-b16-s60-wd0-([0-9a-f]{{8}})/seed0/M16", run)[1]
    record = json.loads((wf / ".snakemake" / "metadata" /
                         base64.b64encode(f"{run}/model.pt".encode()).decode()).read_text())
    assert record["rule"] == "train"
    assert sorted(record["params"]) == sorted([
        f"'{pdir}/checkpoints'", f"'{pdir}/checkpoints/runs/nano-b16-s60-wd0-{key}/seed0/M16.pt'",
        "{'D': 3, 'K': 8, 'noise_var': 0.25, 'task_scale': 1.0, 'x_scale': 1.0}",
        "{'eval': 104, 'model': 100, 'pool': 102, 'train': 101}",
        "{'lr': 0.003, 'eval_every': 20, 'bf16': False}",
        "64",    # eval.curve_sequences, added by the storage redesign (issue 12)
        "{'model': {'n_embd': 16, 'n_head': 2, 'n_layer': 1}, 'batch_size': 16, 'steps': 60, "
        "'weight_decay': 0.0, 'seed': 0}"])


@pytest.fixture(scope="module")
def axes_run(smoke_workflow, tmp_path_factory):
    """studies/smoke_axes.yaml (the smoke groups plus one tiny group per new axis) run on
    a copy of the finished smoke workflow: every new figure is drawn. Returns the
    folder, the jobs the run planned and the study's resolved config (outdir `out`)."""
    wf = copy_finished(smoke_workflow[0], tmp_path_factory.mktemp("axes") / "wf")
    smoke_before = sha256s(wf / "out" / "studies" / "smoke")
    args = ("--configfile", "studies/smoke_axes.yaml", "--config", "outdir=out")
    jobs = planned_outputs(*args, cwd=wf)
    snakemake("--cores", "2", *args, cwd=wf)
    return wf, jobs, study_config(wf, "smoke_axes"), smoke_before


def test_axes_study_trains_only_the_new_groups_runs(axes_run, smoke_workflow):
    wf, jobs, c, smoke_before = axes_run
    runs = {p.rsplit("/", 1)[0] for p in jobs["train"]}
    # dim: D = 6 (D = 3 is the main problem) x 2 batch x 2 M; decay: wd 0.01 x 2 x 2;
    # width: nano_w32 x 2 x 2; depth: nano_d2 x 2 x 2; laplace: 2 x 2 M. Nothing of the
    # smoke groups reruns: the smoke study's runs are in the store.
    assert len(runs) == 4 + 4 + 4 + 4 + 4, sorted(runs)
    main = cfg.problem_dir(c, MAIN)
    assert not [r for r in runs if re.fullmatch(
        rf"{re.escape(main)}/runs/nano-b(8|16)-s(60|120)-wd0-[0-9a-f]{{8}}/.*", r)]
    assert {"task_pool", "baselines"} <= set(jobs)
    assert not [p for p in jobs["baselines"] + jobs["task_pool"] if p.startswith(f"{main}/")]
    # its outputs in its own folder: the smoke study's are as they were, and the
    # session's own smoke workflow was not touched
    assert all(p.startswith(("out/store/", "out/studies/smoke_axes/")) for ps in jobs.values() for p in ps)
    assert sha256s(wf / "out" / "studies" / "smoke") == smoke_before
    assert not (smoke_workflow[1] / "studies" / "smoke_axes").exists()


def test_thresholds_table_has_a_row_per_group_problem_and_point(axes_run):
    import pandas as pd
    wf, _, c, _ = axes_run
    t = pd.read_csv(wf / cfg.study_dir(c) / "tables" / "thresholds.csv", dtype={"seed": str})
    pooled = t[t["seed"] == "all"]
    assert sorted(pooled.loc[pooled["group"] == "dim", "problem"]) == ["D3-K8-noise0.25",
                                                                      "D6-K8-noise0.25"]
    assert sorted(pooled.loc[pooled["group"] == "width", "model"]) == ["nano", "nano_w32"]
    assert sorted(pooled.loc[pooled["group"] == "decay", "weight_decay"]) == [0.0, 0.01]
    assert set(pooled.loc[pooled["group"] == "laplace", "problem"]) == {"D3-K8-noise0.25-laplace"}
    assert (pooled.loc[pooled["group"] == "batch", "problem"] == "D3-K8-noise0.25").all()


@pytest.mark.parametrize("name", ["fig6", "fig7", "appendix_small", "appendix_laplace"])
def test_new_figures_are_drawn_with_provenance_and_caption(axes_run, name):
    import json
    wf, _, c, _ = axes_run
    figures = wf / cfg.study_dir(c) / "figures"
    for ext in ("pdf", "png"):
        assert (figures / f"{name}.{ext}").stat().st_size > 10_000
    sidecar = json.loads((figures / f"{name}.json").read_text())
    assert any("thresholds.csv" in str(i) for i in json.dumps(sidecar).split('"'))
    assert (ROOT / "workflow" / "report" / f"{name}.rst").exists()
    # the figures of a compared axis (D, decay, width, depth, the Laplace prior) draw the
    # effects table's paired differences, so it is among their inputs; the small model's
    # appendix figure compares nothing
    inputs = {Path(i["path"]).name for i in sidecar["inputs"]}
    assert ("effects.csv" in inputs) == (name != "appendix_small"), sorted(inputs)


def test_laplace_baselines_have_no_dmmse_at_inf(axes_run):
    import pandas as pd
    wf, _, c, _ = axes_run
    base = pd.read_csv(wf / cfg.study_dir(c) / "tables" / "baselines.csv")
    lap = base[base["problem"] == "D3-K8-noise0.25-laplace"]
    assert set(lap["M"]) == {2.0, np.inf}
    assert not len(lap[(lap["estimator"] == "dMMSE") & np.isinf(lap["M"])])


def test_laplace_problem_has_bayes_rows_from_the_gibbs_estimator(axes_run):
    """The Laplace problem's Bayes estimator reaches the baselines table: T_True rows at
    each of the problem's M (its own metrics file holds them once, at M = inf: they do not
    depend on the pool), computed from its evaluation set with the seeded chains (the same
    call gives the same predictions), and no Bayes rows for Gaussian problems."""
    import pandas as pd
    from icl_diversity import tasks
    from icl_diversity.laplace import GIBBS_INDEX, laplace_bayes_predict
    from icl_diversity.metrics import estimator_rows
    from icl_diversity.tables import read_table
    wf, _, c, _ = axes_run
    lap_dir = cfg.problem_dir(c, "D3-K8-noise0.25-laplace")
    lap, own_dir = wf / lap_dir, wf / cfg.baselines_dir(c, lap_dir) / "bayes"
    base = pd.read_csv(wf / cfg.study_dir(c) / "tables" / "baselines.csv")
    bayes = base[base["estimator"] == "Bayes"]
    assert set(bayes["problem"]) == {"D3-K8-noise0.25-laplace"}
    assert set(bayes["M"]) == {2.0, np.inf} and set(bayes["eval_set"]) == {"true"}
    own = read_table(own_dir / "metrics.csv", "baselines", 8)
    assert set(own["M"]) == {np.inf} and set(own["estimator"]) == {"Bayes"} and len(own)
    assert len(bayes) == 2 * len(own)
    key = ["eval_set", "metric", "target", "position"]
    for M in (2.0, np.inf):
        at_M = bayes[bayes["M"] == M].sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(at_M[key + ["value", "stderr"]],
                                      own.sort_values(key).reset_index(drop=True)[key + ["value", "stderr"]])
    true = np.load(lap / "eval" / "true.npz")
    expect, _ = laplace_bayes_predict(true["xs"], true["ys"], 0.25, 1.0, n_samples=2000,
                                      rng=tasks.rng(104, "eval_task", *GIBBS_INDEX))
    got = np.load(own_dir / "predictions.npz")
    np.testing.assert_allclose(got["true_Bayes"], expect, rtol=1e-12)
    row = estimator_rows({"Bayes": expect}, true, 3, ["Bayes"])[0]    # noisy y, position 0
    table = bayes[(bayes["metric"] == "loss_per_dim") & (bayes["target"] == "noisy") &
                  (bayes["position"] == 0)]
    np.testing.assert_allclose(table["value"], row["value"], rtol=1e-9)
    assert len(bayes[bayes["metric"] == "delta_ridge"]) > 0
    assert "Laplace-prior Bayes estimator on 128 T_True sequences" in \
        (own_dir.parent / "logs" / "bayes.log").read_text()


# ---------------------------------------------------------------- what Figs 6 and 7 plot

def _pt_rows(problem, setting, value, Ms=(2.0, 4.0, 8.0, np.inf), stuck=False):
    return [dict(estimator="PT", M=M, eval_set=es, metric=metric, target=target, position=0,
                 value=value, stderr=0.01, setting=setting, seed=0, step=10, gap_closed=1.0,
                 escape_step=5.0, stuck=stuck, problem=problem)
            for M in Ms for es in ("true", "pretrain")
            for metric, target in (("loss_per_dim", "noisy"), ("delta_ridge", "-"))]


def _threshold(group, problem, model, log2, lo, hi, status="found", weight_decay=0.0):
    return dict(group=group, problem=problem, vary="batch_size", model=model, batch_size=np.nan,
                steps=10, weight_decay=weight_decay, seed="all", log2_threshold=log2, ci_low=lo,
                ci_high=hi, best_crossing=log2, status=status)


def _errorbar_points(ax):
    """(x, y) of each errorbar series' markers, by label."""
    return {c.get_label(): (c.lines[0].get_xdata(), c.lines[0].get_ydata()) for c in ax.containers}


def test_fig6_draws_the_threshold_of_each_D_with_its_interval():
    import matplotlib.pyplot as plt
    import pandas as pd
    from icl_diversity.figures_axes import fig_dimension
    problems = {"P4": {"D": 4, "K": 8, "noise_var": 0.125}, "P8": {"D": 8, "K": 16, "noise_var": 0.25}}
    settings = ["nano-b8-s10-wd0", "nano-b16-s10-wd0"]
    pt = pd.DataFrame([r for p, scale in (("P4", 1.0), ("P8", 2.0)) for s in settings
                       for r in _pt_rows(p, s, scale * (0.1 if "b8" in s else 0.2))])
    base = pd.DataFrame([dict(estimator="dMMSE", M=M, eval_set="true", metric="delta_ridge",
                              target="-", position=0, value=v * M ** -0.5, stderr=0.0, problem=p)
                         for p, v in (("P4", 0.3), ("P8", 0.6)) for M in (2.0, 4.0, 8.0)])
    thr = pd.DataFrame([_threshold("dim", "P4", "nano", 2.0, 1.5, 2.5),
                        _threshold("dim", "P8", "nano", 3.0, 2.6, 3.4)])
    groups = {"dim": dict(group="dim", vary="batch_size", settings=settings, seeds=[0],
                          problems=problems, M=["2", "4", "8", "inf"])}
    fig = fig_dimension(pt, base, thr, groups)
    by_title = {ax.get_title(): ax for ax in fig.axes}
    assert {"D = 4, K = 8, $\\sigma^2$ = 0.125", "D = 8, K = 16, $\\sigma^2$ = 0.25"} <= set(by_title)
    left = next(ax for ax in fig.axes if ax.get_xlabel() == "dimension D" and ax.containers)
    (x, y), = _errorbar_points(left).values()
    np.testing.assert_allclose(x, [2.0, 3.0])           # log2 D
    np.testing.assert_allclose(y, [2.0, 3.0])           # the table's thresholds
    guide = [line for line in left.lines if line.get_label() == r"$M^* \propto D$"]
    np.testing.assert_allclose(guide[0].get_ydata(), [2.0, 3.0])   # slope 1 through D = 4
    right = next(ax for ax in fig.axes if ax.get_xlabel() == "dimension D" and not ax.containers)
    lines = {line.get_label(): line.get_ydata() for line in right.lines}
    np.testing.assert_allclose(lines["PT, nano-b8-s10-wd0"], [0.1, 0.2])     # at M = 8
    dmmse = next(v for k, v in lines.items() if "dMMSE" in k)
    np.testing.assert_allclose(dmmse, [0.3 / 8 ** 0.5, 0.6 / 8 ** 0.5])
    plt.close(fig)


def _width_sweep():
    """A Fig 7 width sweep of two model families (small: 4 layers, base: 8) at widths 64
    and 128, batch 8 and 16: the models, the settings and PT rows (L/D 0.1, 0.2, ... by
    setting)."""
    import pandas as pd
    models = {"small": {"n_embd": 64, "n_head": 2, "n_layer": 4},
              "small_w128": {"n_embd": 128, "n_head": 2, "n_layer": 4},
              "base_w64": {"n_embd": 64, "n_head": 2, "n_layer": 8},
              "base": {"n_embd": 128, "n_head": 2, "n_layer": 8}}
    settings = [f"{m}-b{b}-s10-wd0" for m in models for b in (8, 16)]
    pt = pd.DataFrame([r for i, s in enumerate(settings) for r in _pt_rows("P", s, 0.1 * (i + 1))])
    return models, settings, pt


def test_fig7_draws_thresholds_and_losses_against_each_axis_per_family():
    import matplotlib.pyplot as plt
    import pandas as pd
    from icl_diversity.figures_axes import fig_capacity
    models, settings, pt = _width_sweep()
    thr = pd.DataFrame([_threshold("width", "P", "small", 5.0, 4.5, 5.5),
                        _threshold("width", "P", "small_w128", 6.0, 5.5, 6.5),
                        _threshold("width", "P", "base_w64", 7.0, 6.5, 7.5),
                        _threshold("width", "P", "base", 7.2, 6.9, 7.4, status="not significant")])
    axes = {"n_embd": dict(group="width", vary="batch_size", settings=settings, seeds=[0],
                           problems={"P": {}}, M=["2", "4", "8", "inf"], models=models)}
    fig = fig_capacity(pt, thr, axes)
    top, bottom = fig.axes[0], fig.axes[1]
    points = _errorbar_points(top)
    np.testing.assert_allclose(points["small"][0], [0, 1])         # widths 64, 128
    np.testing.assert_allclose(points["small"][1], [5.0, 6.0])
    np.testing.assert_allclose(points["base"][1], [7.0])            # 128: not significant
    open_marker = [line for line in top.lines if line.get_mfc() == "none" and len(line.get_xdata())]
    np.testing.assert_allclose(open_marker[-1].get_xdata(), [1])
    losses = {line.get_label(): line.get_ydata() for line in bottom.lines}
    np.testing.assert_allclose(losses["small, batch 8"], [0.1, 0.3])    # L/D at M = 8
    assert bottom.get_title().startswith("one training seed: no band")      # seed 0 only
    assert not [line for line in top.lines if line.get_marker() == "x"]   # one seed: no crosses
    assert not top.texts
    plt.close(fig)
    never = pd.DataFrame([{**_threshold("width", "P", "small_w128", np.nan, np.nan, np.nan,
                                        status="none found"), "best_crossing": np.nan}])
    fig = fig_capacity(pt, pd.concat([thr.iloc[:1], never]), axes)
    (note,) = fig.axes[0].texts             # width 128 never crosses: said, at its place
    assert note.get_text() == "no crossing\non the grid" and note.get_position()[0] == 1
    plt.close(fig)
    two_seeds = pd.concat([pt, pt.assign(seed=1)])
    per_seed = pd.DataFrame([{**_threshold("width", "P", "small", log2, 0, 0), "seed": seed}
                             for seed, log2 in ((0, 4.8), (1, 5.3))]
                            + [{**_threshold("width", "P", "small_w128", 6.1, 0, 0), "seed": 0}])
    fig = fig_capacity(two_seeds, pd.concat([thr, per_seed]), axes)
    assert fig.axes[1].get_title() == "mean over seeds; band: range over seeds"
    crosses = [line for line in fig.axes[0].lines if line.get_marker() == "x"]
    assert len(crosses) == 1 and crosses[0].get_label() == "one seed's crossing"
    # both seeds of width 64 beside its all-seeds point; width 128 has one seed: no cross
    np.testing.assert_allclose(crosses[0].get_xdata(), [0.12, 0.12])
    np.testing.assert_allclose(crosses[0].get_ydata(), [4.8, 5.3])
    plt.close(fig)


def _effect(figure, axis, reference, compared, fixed, mean, n=1, low=np.nan, high=np.nan, p=np.nan,
            groups="g", n_dropped=0):
    """One row of a hand-made effects table (effects.EFFECT_COLUMNS)."""
    return dict(figure=figure, axis=axis, groups=groups, problems="P", fixed=fixed,
                reference=reference, compared=compared, seeds=", ".join(map(str, range(n))), n=n,
                n_dropped=n_dropped, dropped_seeds="", unshared_seeds="", differences="",
                mean_difference=mean, ci_low=low, ci_high=high, interval="", t_statistic=np.nan,
                df=n - 1, p_value=p, verdict="")


def _texts_at(ax):
    """{x: text} of a panel's texts."""
    return {t.get_position()[0]: t.get_text() for t in ax.texts}


def test_fig7_labels_each_compared_value_with_its_paired_difference():
    """The effects table's rows reach Fig 7's threshold panel: under each compared value its
    paired difference with interval, p and seeds (or "one seed: no test"), led by the model
    family when several share the value; "reference" under the reference value."""
    import matplotlib.pyplot as plt
    import pandas as pd
    from icl_diversity.figures_axes import fig_capacity
    models, settings, pt = _width_sweep()
    thr = pd.DataFrame([_threshold("width", "P", m, log2, log2 - 0.5, log2 + 0.5)
                        for m, log2 in (("small", 5.0), ("small_w128", 6.0), ("base_w64", 7.0),
                                        ("base", 6.6))])
    axes = {"n_embd": dict(group="width", vary="batch_size", settings=settings, seeds=[0, 1, 2],
                           problems={"P": {}}, M=["2", "4", "8", "inf"], models=models)}
    fixed = "steps 10, threshold of batch_size 8 vs 16"
    effects = pd.DataFrame([
        _effect("fig7", "n_embd", 64, 128, f"model family small, {fixed}", 1.0, n=3, low=0.61,
                high=1.39, p=0.0123, groups="width"),
        _effect("fig7", "n_embd", 64, 128, f"model family base, {fixed}", -0.4, groups="width"),
        _effect("fig7", "n_layer", 4, 8, f"model family small, {fixed}", 2.0, groups="depth")])
    before = fig_capacity(pt, thr, axes)
    fig = fig_capacity(pt, thr, axes, effects)
    top = fig.axes[0]
    texts = _texts_at(top)
    assert set(texts) == {0, 1}                       # width 64 (reference) and 128
    assert texts[0].startswith("reference")
    assert texts[1] == ("model family small:\n$\\Delta$ +1.00 [0.61, 1.39]\np = 0.012, 3 seeds\n"
                        "model family base:\n$\\Delta$ -0.40\none seed: no test")
    assert "+2.00" not in "".join(texts.values())       # the depth row is another panel's
    # room under the points: the axis reaches lower than without the labels
    assert top.get_ylim()[0] < before.axes[0].get_ylim()[0]
    assert top.get_ylim()[1] == pytest.approx(before.axes[0].get_ylim()[1])
    plt.close(fig)
    plt.close(before)


def test_fig6_labels_each_D_with_its_paired_difference_to_the_smallest():
    """Under each D its paired difference to the smallest D ("no paired seeds", with no
    difference sign, where no seed has a threshold on both sides); and the curve panels'
    legend lies outside every panel (inside one, it covered the curves where they cross)."""
    import matplotlib.pyplot as plt
    import pandas as pd
    from icl_diversity.figures_axes import fig_dimension
    problems = {"P2": {"D": 2, "K": 4, "noise_var": 0.0625}, "P4": {"D": 4, "K": 8, "noise_var": 0.125},
                "P8": {"D": 8, "K": 16, "noise_var": 0.25}}
    settings = ["nano-b8-s10-wd0", "nano-b16-s10-wd0"]
    pt = pd.DataFrame([r for p in problems for s in settings for r in _pt_rows(p, s, 0.1)])
    base = pd.DataFrame([dict(estimator="dMMSE", M=M, eval_set="true", metric="delta_ridge",
                              target="-", position=0, value=0.3, stderr=0.0, problem=p)
                         for p in problems for M in (2.0, 4.0, 8.0)])
    thr = pd.DataFrame([_threshold("dim", "P2", "nano", 1.5, 1.2, 1.8),
                        _threshold("dim", "P4", "nano", 2.0, 1.5, 2.5),
                        _threshold("dim", "P8", "nano", 3.0, 2.6, 3.4)])
    groups = {"dim": dict(group="dim", vary="batch_size", settings=settings, seeds=[0, 1],
                          problems=problems, M=["2", "4", "8", "inf"])}
    effects = pd.DataFrame([_effect("fig6", "D", 2, 4, "model nano, steps 10", 0.9, n=2, low=-2.1,
                                    high=3.9, p=0.21, groups="dim", n_dropped=1),
                            _effect("fig6", "D", 2, 8, "model nano, steps 10", np.nan, n=0,
                                    groups="dim", n_dropped=1)])
    fig = fig_dimension(pt, base, thr, groups, effects)
    left = next(ax for ax in fig.axes if ax.get_xlabel() == "dimension D" and ax.containers)
    texts = _texts_at(left)
    assert set(texts) == {1.0, 2.0, 3.0}                   # log2 D
    assert texts[1.0].startswith("reference")
    assert texts[2.0] == "$\\Delta$ +0.90 [-2.10, 3.90]\np = 0.21, 2 seeds, 1 dropped"
    assert texts[3.0] == "no paired seeds\n(1 dropped)"
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    curve_panels = [ax for ax in fig.axes if ax.get_xlabel() == "number of pretraining tasks M"]
    assert len(curve_panels) == 3 and not any(ax.get_legend() for ax in curve_panels)
    assert len(fig.legends) == 1
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()][:2] == ["PT, batch 8", "PT, batch 16"]
    box = legend.get_window_extent(renderer)
    assert not [ax.get_title() for ax in fig.axes if ax.get_window_extent(renderer).overlaps(box)]
    plt.close(fig)


def test_the_laplace_figure_says_its_difference_to_the_gaussian_threshold():
    import matplotlib.pyplot as plt
    import pandas as pd
    from icl_diversity.config import Setting
    from icl_diversity.figures import fig_vs_M
    settings = [Setting("nano", b, 10, 0.0) for b in (8, 16)]
    pt = pd.DataFrame([r for s in settings for r in _pt_rows("P", s.name, 0.1)])
    base = pd.DataFrame([dict(estimator="Ridge", M=M, eval_set=es, metric="loss_per_dim",
                              target="noisy", position=0, value=0.5, stderr=0.01)
                         for M in (2.0, 4.0, 8.0, np.inf) for es in ("true", "pretrain")])
    thr = pd.DataFrame([_threshold("laplace", "P", "nano", 2.5, 2.2, 2.8)])
    effects = pd.DataFrame([_effect("appendix_laplace", "prior", "gaussian", "laplace",
                                    "model nano", 0.21, groups="gaussian vs laplace")])
    fig = fig_vs_M(pt, base, thr, settings, "batch_size", ["loss"], inf_dmmse_is_ridge=False,
                   effects=effects)
    first, *rest = fig._suptitle.get_text().split("\n")
    assert first.startswith("task-diversity threshold: $M\\approx2^{2.50}$ [2.20, 2.80]")
    assert " ".join(rest) == ("prior laplace vs gaussian, threshold difference (octaves of M, "
                              "paired by seed): +0.21, one seed: no test")
    plt.close(fig)


def test_under_the_laplace_prior_dmmse_is_not_drawn_at_inf():
    import matplotlib.pyplot as plt
    import pandas as pd
    from icl_diversity.config import Setting
    from icl_diversity.figures import fig_vs_M
    settings = [Setting("nano", b, 10, 0.0) for b in (8, 16)]
    pt = pd.DataFrame([r for s in settings for r in _pt_rows("P", s.name, 0.1)])
    base = pd.DataFrame([dict(estimator=e, M=M, eval_set=es, metric="loss_per_dim", target="noisy",
                              position=0, value=0.5, stderr=0.01)
                         for e in ("Ridge", "dMMSE") for M in (2.0, 4.0, 8.0, np.inf)
                         for es in ("true", "pretrain") if not (e == "dMMSE" and np.isinf(M))])
    thr = pd.DataFrame(columns=["group", "seed", "status", "log2_threshold", "ci_low", "ci_high"])
    for is_ridge, n_inf_markers in ((True, 2), (False, 1)):
        fig = fig_vs_M(pt, base, thr, settings, "batch_size", ["loss"], inf_dmmse_is_ridge=is_ridge)
        loss = fig.axes[0]
        # M = inf is a lone errorbar per curve: Ridge always, dMMSE only when it is Ridge
        baseline_inf = [c for c in loss.containers if c.lines[0].get_color() in ("black", "tab:red")]
        assert len(baseline_inf) == n_inf_markers
        plt.close(fig)
