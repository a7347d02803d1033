"""Sweep axes beyond batch size and steps: the problem (D, K, noise), the task prior, width
and depth, and a group's own M grid. Each expands into readable runs and paths, problems
are shared by the groups that use them, and adding an axis plans only the new jobs.

The workflow tests here add results to the finished smoke workflow in place (a copy in
another folder would not do: the rules' code inputs are absolute paths, so a moved
workflow looks changed). They only add runs and problems the smoke preset does not use,
and the last of them (axes_run) rewrites the tables and figures, which is why this file
sorts after test_workflow.py."""
import copy
import re
import shutil

import numpy as np
import pytest
import yaml

from conftest import ROOT, snakemake
from icl_diversity import config as cfg

SMOKE = yaml.safe_load((ROOT / "presets" / "smoke.yaml").read_text())
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())


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
    # the main problem keeps the outdir; every other lives under problems/
    assert cfg.problem_dir(c, "D3-K8-noise0.25") == "results/smoke"
    assert cfg.problem_dir(c, "D8-K16-noise2-laplace") == "results/smoke/problems/D8-K16-noise2-laplace"
    assert list(cfg.all_problems(c))[0] == "D3-K8-noise0.25"
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


def test_the_default_study_keeps_its_paths_and_params():
    """What a finished default study was made with, before problems were an axis: the
    main problem is the outdir, run folders and the train rule's params are unchanged."""
    c = cfg.validate(copy.deepcopy(DEFAULT))
    runs = cfg.all_runs(c)
    assert runs == [("D4-K16-noise0.25", f"tiny-b{b}-s6000-wd0", 0, m) for b in (64, 128)
                    for m in ("2", "4", "8", "16", "32", "64", "256", "inf")]
    assert cfg.problem_dir(c, runs[0][0]) == "results"
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
    """{rule: [output paths]} of the jobs a dry run would execute."""
    out = snakemake("-n", "--printshellcmds", *args, cwd=cwd).stdout
    found = {}
    for rule, outputs in re.findall(r"^(?:local)?rule (\w+):\n(?:.*\n)*?\s+output: (.*)$", out, re.M):
        found.setdefault(rule, []).extend(o.strip() for o in outputs.split(","))
    return found


@pytest.fixture()
def finished_smoke(smoke_workflow):
    """The finished smoke workflow (in place: see the module's docstring)."""
    return smoke_workflow[0]


def write_preset(wf, name, **groups):
    preset = with_groups(**groups)
    preset["outdir"] = "out"
    (wf / name).write_text(yaml.safe_dump(preset))
    return name


D4 = "out/problems/D4-K8-noise0.25"


def test_new_axes_plan_only_new_jobs_and_share_each_problem(finished_smoke):
    wf = finished_smoke
    preset = write_preset(
        wf, "axes.yaml",
        decay=group(batch_size=[8, 16], weight_decay=[0.0, 0.01]),    # wd 0: the batch group's runs
        dim=group(D=[3, 4], K=8, noise_var=0.25),                      # D = 3: the main problem
        wide=group(D=[4], K=8, noise_var=0.25, n_embd=[32], M=[2, 4, "inf"]))
    jobs = planned_outputs("--configfile", preset, cwd=wf)
    # one pool, evaluation set and baseline job per M of the new problem (the union of
    # the two groups' grids), none for the main problem's, which are done
    assert sorted(jobs["task_pool"]) == [f"{D4}/pools/pool_M{m}.npy" for m in (16, 2, 4)]
    assert jobs["eval_set_true"] == [f"{D4}/eval/true.npz"]
    assert len(jobs["eval_set_pretrain"]) == 3
    assert sorted(p.split("/")[-2] for p in jobs["baselines"] if p.endswith("predictions.npz")) \
        == ["M16", "M2", "M4", "Minf"]
    assert all(p.startswith(D4) for rule in ("task_pool", "eval_set_true", "baselines")
               for p in jobs[rule])
    # training: decay's wd 0.01 settings at 3 M; dim's D = 4 at 3 M; wide's 3 M
    trained = sorted(p.rsplit("/", 1)[0] for p in jobs["train"][::3])
    assert trained == sorted(
        [f"out/runs/nano-b{b}-s60-wd0.01/seed0/M{m}" for b in (8, 16) for m in (2, 16, "inf")]
        + [f"{D4}/runs/nano-b8-s60-wd0/seed0/M{m}" for m in (2, 16, "inf")]
        + [f"{D4}/runs/nano_w32-b8-s60-wd0/seed0/M{m}" for m in (2, 4, "inf")]), trained


def test_editing_one_groups_problem_leaves_the_others_alone(finished_smoke):
    wf = finished_smoke
    both = dict(dim=group(D=[4], K=8, noise_var=0.25), other=group(D=[6], K=8, noise_var=0.25))
    targets = [f"{D4}/baselines/M{m}/metrics.csv" for m in (2, 16, "inf")]
    snakemake(*targets, "--cores", "2", "--configfile", write_preset(wf, "a.yaml", **both), cwd=wf)
    before = planned_outputs("--configfile", "a.yaml", cwd=wf)
    edited = dict(both, other=group(D=[5], K=8, noise_var=0.25))
    after = planned_outputs("--configfile", write_preset(wf, "b.yaml", **edited), cwd=wf)
    data = [p for rule in ("task_pool", "eval_set_true", "eval_set_pretrain", "baselines")
            for p in after.get(rule, [])]
    assert data and all(p.startswith("out/problems/D5-K8-noise0.25/") for p in data), data
    # dim's problem plans the same (its runs, not yet trained) before and after the edit
    d4 = [{p for ps in plan.values() for p in ps if p.startswith(D4)} for plan in (before, after)]
    assert d4[0] == d4[1] and all("/runs/" in p for p in d4[1]), d4


def test_the_laplace_prior_reaches_the_pools_and_T_True(finished_smoke):
    from icl_diversity.tasks import eval_set, task_pool
    wf = finished_smoke
    lap = "out/problems/D3-K8-noise0.25-laplace"
    snakemake(f"{lap}/pools/pool_M16.npy", f"{lap}/eval/true.npz", "--cores", "1",
              "--configfile", write_preset(wf, "lap.yaml", lap=group(prior=["laplace"])), cwd=wf)
    pool = np.load(wf / lap / "pools" / "pool_M16.npy")
    np.testing.assert_array_equal(pool, task_pool(16, 3, 102, prior="laplace"))
    assert not np.allclose(pool, np.load(wf / "out" / "pools" / "pool_M16.npy"))
    true = np.load(wf / lap / "eval" / "true.npz")
    np.testing.assert_array_equal(true["ws"], eval_set(3, 8, 0.25, 128, 104, prior="laplace")["ws"])
    log = (wf / lap / "logs" / "task_pool" / "M16.log").read_text()
    assert "prior=laplace" in log


def test_a_finished_runs_params_are_those_written_before_problems_were_an_axis(smoke_workflow):
    """Snakemake's own record of a finished train job: its params are, text for text,
    what the rules passed before the problem was an axis (so a finished study does not
    look changed), plus the curve subset that the storage redesign added."""
    import base64
    import json
    wf, _ = smoke_workflow
    target = "out/runs/nano-b16-s60-wd0/seed0/M16/model.pt"
    record = json.loads((wf / ".snakemake" / "metadata" /
                         base64.b64encode(target.encode()).decode()).read_text())
    assert sorted(record["params"]) == sorted([
        "'out/checkpoints'", "'out/checkpoints/nano-b16-s60-wd0/seed0/M16.pt'",
        "{'D': 3, 'K': 8, 'noise_var': 0.25, 'task_scale': 1.0, 'x_scale': 1.0}",
        "{'eval': 104, 'model': 100, 'pool': 102, 'train': 101}",
        "{'lr': 0.003, 'eval_every': 20, 'bf16': False}",
        "64",    # eval.curve_sequences, added by the storage redesign (issue 12)
        "{'model': {'n_embd': 16, 'n_head': 2, 'n_layer': 1}, 'batch_size': 16, 'steps': 60, "
        "'weight_decay': 0.0, 'seed': 0}"])


@pytest.fixture(scope="module")
def axes_run(smoke_workflow):
    """The finished smoke workflow run with presets/smoke_axes.yaml (the smoke groups
    plus one tiny group per new axis): every new figure is drawn."""
    wf, _ = smoke_workflow
    args = ("--configfile", "presets/smoke_axes.yaml", "--config", "outdir=out")
    jobs = planned_outputs(*args, cwd=wf)
    snakemake("--cores", "2", *args, cwd=wf)
    return wf, jobs


def test_axes_preset_trains_only_the_new_groups_runs(axes_run):
    _, jobs = axes_run
    runs = {p.rsplit("/", 1)[0] for p in jobs["train"]}
    # dim: D = 6 (D = 3 is the main problem) x 2 batch x 2 M; decay: wd 0.01 x 2 x 2;
    # width: nano_w32 x 2 x 2; depth: nano_d2 x 2 x 2; laplace: 2 x 2 M. Nothing of the
    # smoke groups reruns.
    assert len(runs) == 4 + 4 + 4 + 4 + 4, sorted(runs)
    assert not [r for r in runs if re.fullmatch(r"out/runs/nano-b(8|16)-s(60|120)-wd0/.*", r)]
    assert {"task_pool", "baselines"} <= set(jobs)
    assert not [p for p in jobs["baselines"] + jobs["task_pool"]
                if p.startswith(("out/pools", "out/baselines"))]


def test_thresholds_table_has_a_row_per_group_problem_and_point(axes_run):
    import pandas as pd
    wf, _ = axes_run
    t = pd.read_csv(wf / "out" / "tables" / "thresholds.csv", dtype={"seed": str})
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
    wf, _ = axes_run
    for ext in ("pdf", "png"):
        assert (wf / "out" / "figures" / f"{name}.{ext}").stat().st_size > 10_000
    sidecar = json.loads((wf / "out" / "figures" / f"{name}.json").read_text())
    assert any("thresholds.csv" in str(i) for i in json.dumps(sidecar).split('"'))
    assert (ROOT / "workflow" / "report" / f"{name}.rst").exists()


def test_laplace_baselines_have_no_dmmse_at_inf(axes_run):
    import pandas as pd
    wf, _ = axes_run
    base = pd.read_csv(wf / "out" / "tables" / "baselines.csv")
    lap = base[base["problem"] == "D3-K8-noise0.25-laplace"]
    assert set(lap["M"]) == {2.0, np.inf}
    assert not len(lap[(lap["estimator"] == "dMMSE") & np.isinf(lap["M"])])


def test_laplace_problem_has_bayes_rows_from_the_gibbs_estimator(axes_run):
    """The Laplace problem's Bayes estimator reaches the baselines table: T_True rows at
    each of the problem's M, computed from its evaluation set with the seeded chains (the
    same call gives the same predictions), and no Bayes rows for Gaussian problems."""
    import pandas as pd
    from icl_diversity import tasks
    from icl_diversity.laplace import GIBBS_INDEX, laplace_bayes_predict
    from icl_diversity.metrics import estimator_rows
    wf, _ = axes_run
    lap = wf / "out" / "problems" / "D3-K8-noise0.25-laplace"
    base = pd.read_csv(wf / "out" / "tables" / "baselines.csv")
    bayes = base[base["estimator"] == "Bayes"]
    assert set(bayes["problem"]) == {"D3-K8-noise0.25-laplace"}
    assert set(bayes["M"]) == {2.0, np.inf} and set(bayes["eval_set"]) == {"true"}
    true = np.load(lap / "eval" / "true.npz")
    expect, _ = laplace_bayes_predict(true["xs"], true["ys"], 0.25, 1.0, n_samples=2000,
                                      rng=tasks.rng(104, "eval_task", *GIBBS_INDEX))
    got = np.load(lap / "baselines" / "bayes" / "predictions.npz")
    np.testing.assert_allclose(got["true_Bayes"], expect, rtol=1e-12)
    row = estimator_rows({"Bayes": expect}, true, 3, ["Bayes"])[0]    # noisy y, position 0
    table = bayes[(bayes["metric"] == "loss_per_dim") & (bayes["target"] == "noisy") &
                  (bayes["position"] == 0)]
    np.testing.assert_allclose(table["value"], row["value"], rtol=1e-9)
    assert len(bayes[bayes["metric"] == "delta_ridge"]) > 0
    assert "Laplace-prior Bayes estimator on 128 T_True sequences" in \
        (lap / "logs" / "baselines" / "bayes.log").read_text()


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


def test_fig7_draws_thresholds_and_losses_against_each_axis_per_family():
    import matplotlib.pyplot as plt
    import pandas as pd
    from icl_diversity.figures_axes import fig_capacity
    models = {"small": {"n_embd": 64, "n_head": 2, "n_layer": 4},
              "small_w128": {"n_embd": 128, "n_head": 2, "n_layer": 4},
              "base_w64": {"n_embd": 64, "n_head": 2, "n_layer": 8},
              "base": {"n_embd": 128, "n_head": 2, "n_layer": 8}}
    settings = [f"{m}-b{b}-s10-wd0" for m in models for b in (8, 16)]
    pt = pd.DataFrame([r for i, s in enumerate(settings) for r in _pt_rows("P", s, 0.1 * (i + 1))])
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
    np.testing.assert_allclose(losses["small, batch_size 8"], [0.1, 0.3])    # L/D at M = 8
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
