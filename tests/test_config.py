"""The schema and the cross-key checks stop bad configs before any job, naming the key."""
import copy
import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, snakemake
from icl_diversity import config as cfg

BASE = yaml.safe_load((ROOT / "config.yaml").read_text())
SMOKE_STUDY = yaml.safe_load((ROOT / "studies" / "smoke.yaml").read_text())
# The smoke study merged onto config.yaml, before the schema's defaults: the config the
# Snakefile validates.
SMOKE = copy.deepcopy(cfg.merge_study(BASE, SMOKE_STUDY))


def with_change(path, value):
    c = copy.deepcopy(SMOKE)
    node = c
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return c


@pytest.mark.parametrize("path,value,needle", [
    (("M",), [0, 2], "M"),
    (("M",), [3], "M"),
    (("M",), [2, "infinity"], "M"),
    (("problem", "noise_var"), -0.25, "problem.noise_var"),
    (("problem", "D"), 0, "problem.D"),
    (("problem", "K"), "16", "problem.K"),
    (("eval", "n_sequences"), 1, "eval.n_sequences"),
    (("train", "lr"), 0, "train.lr"),
    (("train", "device"), "tpu", "train.device"),
    (("sweeps", "batch", "vary"), "lr", "sweeps.batch.vary"),
    (("sweeps", "batch", "batch_size"), [0], "sweeps.batch.batch_size"),
    (("sweeps", "batch", "seed"), [-1], "sweeps.batch.seed"),
    (("sweeps", "batch", "seed"), [1, 1], "sweeps.batch.seed"),
    (("sweeps", "batch", "seed"), [], "sweeps.batch.seed"),
    (("eval", "plateau_guard"), 1.5, "eval.plateau_guard"),
    (("eval", "plateau_guard"), 0, "eval.plateau_guard"),
    (("eval", "n_bootstrap"), 3, "eval.n_bootstrap"),
    (("eval", "smoothing_grid"), [0.1, 0.0], "eval.smoothing_grid"),
    (("eval", "smoothing_grid"), [], "eval.smoothing_grid"),
    (("eval", "smoothing_grid"), [0.5, 0.5], "eval.smoothing_grid"),
    (("eval", "smoothing_grid"), 0.5, "eval.smoothing_grid"),
    (("eval", "n_tuning"), 1, "eval.n_tuning"),
    (("eval", "curve_sequences"), 0, "eval.curve_sequences"),
    (("eval", "curve_sequences"), "some", "eval.curve_sequences"),
    (("train", "check_every"), 0, "train.check_every"),
    (("train", "gpus_per_job"), 2, "train.gpus_per_job"),
    (("train", "gpus_per_job"), -1, "train.gpus_per_job"),
    (("train", "gpus_per_job"), 0.5, "train.gpus_per_job"),
])
def test_schema_rejects_bad_values(path, value, needle):
    with pytest.raises(cfg.ConfigError, match=re.escape(needle)):
        cfg.validate(with_change(path, value))


def test_analysis_sections_are_needed_only_by_their_figures():
    c = with_change(("figures",), {"fig2": "batch"})
    c["M"] = [2, 16]
    del c["analysis"]
    cfg.validate(c)                       # neither figure drawn: no analysis, no inf needed


def test_schema_rejects_unknown_keys():
    bad = with_change(("problem", "noise_std"), 0.5)
    with pytest.raises(cfg.ConfigError, match=r"problem.*noise_std"):
        cfg.validate(bad)


@pytest.mark.parametrize("path,value,needle", [
    (("sweeps", "batch", "model"), ["huge"], "sweeps.batch.model"),
    (("figures", "fig2"), "nope", "figures.fig2"),
    (("models", "nano", "n_head"), 3, "models.nano"),
    (("figures", "fig5"), "nope", "figures.fig5"),
    (("analysis", "interpolation", "M"), [2, 32], "analysis.interpolation.M"),   # not in M
    (("analysis", "interpolation", "M"), [1], "analysis.interpolation.M"),
    (("analysis", "interpolation", "M"), [2, "inf"], "analysis.interpolation.M"),
    (("analysis", "interpolation", "n_points"), 2, "analysis.interpolation.n_points"),
    (("analysis", "interpolation", "n_pairs"), 1, "analysis.interpolation.n_pairs"),
    (("analysis", "interpolation", "norm"), "max", "analysis.interpolation.norm"),
    (("analysis", "interpolation", "pairs"), 3, "pairs"),                        # unknown key
    (("analysis", "connectivity", "n_points"), 2, "analysis.connectivity.n_points"),
    (("analysis", "connectivity", "n_sequences"), 4096, "analysis.connectivity.n_sequences"),
    (("analysis", "connectivity", "t"), 3, "t"),                                 # unknown key
    (("analysis",), {"connectivity": {}}, "figures.fig5"),        # fig5 without its M
    (("M",), [2, 16], "figures.connectivity"),                    # no M = inf model to join
    (("eval", "curve_sequences"), 129, "eval.curve_sequences (129) exceeds eval.n_sequences (128)"),
])
def test_cross_key_checks(path, value, needle):
    with pytest.raises(cfg.ConfigError, match=re.escape(needle)):
        cfg.validate(with_change(path, value))


def test_a_gpu_request_with_device_cpu_is_refused():
    c = with_change(("train", "gpus_per_job"), 1)     # smoke sets device: cpu
    with pytest.raises(cfg.ConfigError, match="train.device is cpu but train.gpus_per_job"):
        cfg.validate(c)
    c["train"]["device"] = "auto"
    assert cfg.validate(c)["train"]["gpus_per_job"] == 1



STUDIES = ["config.yaml", "studies/smoke.yaml", "studies/paper.yaml", "studies/seeds.yaml",
           "studies/smoke_axes.yaml", "studies/laptop_dimension.yaml",
           "studies/laptop_decay.yaml", "studies/laptop_width.yaml",
           "studies/laptop_depth.yaml", "studies/laptop_laplace.yaml",
           "studies/laptop_dip.yaml", "studies/laptop_decay_seeds.yaml",
           "studies/laptop_width_seeds.yaml", "studies/laptop_adaptive.yaml",
           "studies/laptop_adaptive_seeds.yaml", "studies/laptop_adaptive_width.yaml",
           "studies/laptop_adaptive_depth.yaml"]


def test_every_study_is_listed():
    assert sorted(f"studies/{p.name}" for p in (ROOT / "studies").glob("*.yaml")) == \
        sorted(p for p in STUDIES if p.startswith("studies/"))


@pytest.mark.parametrize("study", STUDIES)
def test_studies_load_merged_onto_config_yaml(study):
    config = cfg.load_config(ROOT / study)
    assert config["study"] == ("default" if study == "config.yaml" else Path(study).stem)
    assert cfg.study_dir(config) == f"results/studies/{config['study']}"
    assert cfg.store_dir(config) == "results/store"
    # every key of config.yaml is there (a study holds only what differs from it)
    assert set(BASE) <= set(config)


def repetitions(study: dict, base: dict, path=(), top=True):
    """Key paths where a study gives what config.yaml already has, by the merge rules: a
    mapping merges key by key (so each of its keys is compared), a list or a value
    replaces the base's (so it is compared whole), and so do `sweeps` and `figures`."""
    for key, value in study.items():
        if key not in base:
            continue
        here = path + (key,)
        if isinstance(value, dict) and isinstance(base[key], dict) and not (top and key in cfg.STUDY_REPLACES):
            yield from repetitions(value, base[key], here, top=False)
        elif value == base[key]:
            yield ".".join(map(str, here))


def test_the_repetition_check_finds_repetitions():
    assert list(repetitions({"problem": {"D": 3, "K": 16}, "M": list(BASE["M"]), "train": {"lr": 1.0}},
                            BASE)) == ["problem.K", "M"]
    assert list(repetitions({"sweeps": copy.deepcopy(BASE["sweeps"])}, BASE)) == ["sweeps"]
    # a group repeated inside a study's own sweeps is no repetition: they replace the base's
    assert not list(repetitions({"sweeps": dict(BASE["sweeps"], other={})}, BASE))
    assert not list(repetitions({"figures": {"fig2": "batch"}}, BASE))


@pytest.mark.parametrize("study", [s for s in STUDIES if s.startswith("studies/")])
def test_studies_repeat_nothing_config_yaml_has(study):
    raw = yaml.safe_load((ROOT / study).read_text())
    assert isinstance(raw, dict) and raw, f"{study} is empty"
    assert not list(repetitions(raw, BASE)), f"{study} repeats config.yaml's {list(repetitions(raw, BASE))}"


def test_seeds_study_is_the_default_with_more_seeds():
    default = cfg.load_config(ROOT / "config.yaml")
    seeds = cfg.load_config(ROOT / "studies" / "seeds.yaml")
    assert len(seeds["sweeps"]["batch"]["seed"]) >= 3
    assert set(default["sweeps"]["batch"]["seed"]) < set(seeds["sweeps"]["batch"]["seed"])
    for conf in (default, seeds):
        del conf["sweeps"]["batch"]["seed"], conf["study"]
    assert seeds == default


# ---------------------------------------------------------------- merging a study

def test_merge_study_merges_mappings_key_by_key():
    merged = cfg.merge_study(BASE, {"problem": {"D": 8}, "train": {"lr": 1e-3},
                                    "models": {"nano": {"n_layer": 1, "n_embd": 16, "n_head": 2}}})
    assert merged["problem"] == dict(BASE["problem"], D=8)
    assert merged["train"] == dict(BASE["train"], lr=1e-3)
    assert merged["models"] == dict(BASE["models"], nano={"n_layer": 1, "n_embd": 16, "n_head": 2})
    # deeper: one key of analysis.interpolation, the rest of it and of analysis kept
    merged = cfg.merge_study(BASE, {"analysis": {"interpolation": {"n_pairs": 16}}})
    assert merged["analysis"]["interpolation"] == dict(BASE["analysis"]["interpolation"], n_pairs=16)
    assert merged["analysis"]["connectivity"] == BASE["analysis"]["connectivity"]
    assert {k: v for k, v in merged.items() if k != "analysis"} == \
        {k: v for k, v in BASE.items() if k != "analysis"}


def test_merge_study_replaces_lists_and_values():
    merged = cfg.merge_study(BASE, {"M": [2, "inf"], "outdir": "elsewhere",
                                    "analysis": {"interpolation": {"M": [4]}}})
    assert merged["M"] == [2, "inf"] and merged["outdir"] == "elsewhere"
    assert merged["analysis"]["interpolation"]["M"] == [4]       # not [4, 32, 256] nor merged


def test_merge_study_replaces_sweeps_and_figures_whole():
    group = {"vary": "batch_size", "batch_size": [8], "steps": [60], "model": ["tiny"]}
    merged = cfg.merge_study(BASE, {"sweeps": {"other": group}, "figures": {"fig2": "other"}})
    assert merged["sweeps"] == {"other": group}                 # no `batch` from the base
    assert merged["figures"] == {"fig2": "other"}               # no fig4, fig5, ... either
    # a study naming the base's group gives the whole group: nothing of it is merged in
    merged = cfg.merge_study(BASE, {"sweeps": {"batch": {"seed": [0, 1]}}})
    assert merged["sweeps"] == {"batch": {"seed": [0, 1]}}
    with pytest.raises(cfg.ConfigError, match=r"sweeps\.batch"):
        cfg.validate(merged)                                     # vary, batch_size, ... missing


def test_merge_study_leaves_its_inputs_alone():
    base, study = copy.deepcopy(BASE), {"problem": {"D": 8}, "sweeps": {"g": {"steps": [1]}}}
    cfg.merge_study(base, study)
    assert base == BASE and study == {"problem": {"D": 8}, "sweeps": {"g": {"steps": [1]}}}


@pytest.mark.parametrize("study,needle", [
    ({"train": {"lrr": 1}}, "train.lrr"),
    ({"sweep": {"batch": {"seed": [0, 1]}}}, "key sweep "),
    ({"problem": {"noise_std": 0.5}}, "problem.noise_std"),
    ({"sweeps": {"batch": {"depth": [2]}}}, "sweeps.batch.depth"),
    ({"analysis": {"interpolation": {"pairs": 3}}}, "analysis.interpolation.pairs"),
])
def test_merge_study_refuses_an_unknown_key_by_name(study, needle):
    with pytest.raises(cfg.ConfigError, match=re.escape(needle)):
        cfg.merge_study(BASE, study, source="studies/x.yaml")


def test_load_config_names_the_study_file_with_an_unknown_key(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("train: {lrr: 0.001}\n")
    with pytest.raises(cfg.ConfigError, match=re.escape(f"{path}: unknown config key train.lrr")):
        cfg.load_config(path)
    # overrides merge the same way, and are checked the same way
    with pytest.raises(cfg.ConfigError, match=re.escape("overrides: unknown config key eval.n_seq")):
        cfg.load_config(None, {"eval": {"n_seq": 4}})
    assert cfg.load_config(None, {"train": {"lr": 1e-3}})["train"] == \
        dict(cfg.load_config()["train"], lr=1e-3)


def test_snakemake_refuses_a_study_with_an_unknown_key(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(f"outdir: {tmp_path / 'out'}\ntrain: {{lrr: 0.001}}\n")
    proc = snakemake("-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0 and "unknown config key train.lrr" in proc.stdout, proc.stdout[-3000:]
    assert not (tmp_path / "out").exists()


def test_runs_are_the_union_of_each_settings_seeds():
    conf = cfg.load_config(ROOT / "studies" / "smoke.yaml")
    runs = cfg.all_runs(conf)
    assert len(runs) == len(set(runs)) == 5 * len(conf["M"])
    assert {seed for _, s, seed, M in runs if s == "nano-b8-s60-wd0"} == {0, 1}   # in both groups
    assert {seed for _, s, seed, M in runs if s == "nano-b8-s120-wd0"} == {0}
    assert {p for p, _, _, _ in runs} == {"D3-K8-noise0.25"}     # one problem: the main one
    assert cfg.sweep_seeds(conf, "steps") == [0]       # the schema's default


def test_paper_study_matches_the_paper():
    paper = cfg.load_config(ROOT / "studies" / "paper.yaml")
    assert paper["problem"] == {"D": 8, "K": 16, "noise_var": 0.25, "task_scale": 1.0, "x_scale": 1.0}
    assert paper["M"] == [2 ** i for i in range(1, 21)] + ["inf"]
    assert paper["models"]["base"] == {"n_layer": 8, "n_embd": 128, "n_head": 2}
    assert paper["train"]["lr"] == 1e-3
    assert paper["sweeps"]["batch"]["batch_size"] == [256, 512, 1024]
    assert paper["sweeps"]["batch"]["steps"] == [500000]
    assert paper["sweeps"]["batch"]["model"] == ["base"]
    # Fig 3: batch 256, 500K vs 1M steps; Fig 4: the small model at batch 512, to 2M steps
    steps = paper["sweeps"]["steps"]
    assert (steps["vary"], steps["batch_size"], steps["steps"], steps["model"]) == \
        ("steps", [256], [500000, 1000000], ["base"])
    dyn = paper["sweeps"][paper["figures"]["fig4"]]
    assert (dyn["batch_size"], dyn["model"], max(dyn["steps"])) == ([512], ["small"], 2000000)
    assert paper["models"]["small"] == {"n_layer": 4, "n_embd": 64, "n_head": 2}
    assert paper["models"]["large"] == {"n_layer": 12, "n_embd": 256, "n_head": 4}
    assert paper["train"]["eval_every"] == 1000           # every 1000 steps, as the paper
    assert paper["eval"]["n_sequences"] >= 2 ** 14        # the official code: 2^20 (see the study)
    fig2_groups = ("batch", "steps", "dynamics", "dimension", "width", "depth", "small", "laplace")
    assert all(paper["sweeps"][g].get("weight_decay", [0.0]) == [0.0] for g in fig2_groups)


def test_paper_study_has_every_group_the_paper_ran():
    paper = cfg.load_config(ROOT / "studies" / "paper.yaml")
    sweeps, figures = paper["sweeps"], paper["figures"]
    # Fig 6: the large model at D = 8, 16, 32 with K = 2D and sigma^2 = D/32
    dims = cfg.sweep_problems(paper, figures["fig6"])
    assert [(p.D, p.K, p.noise_var) for p in dims] == [(8, 16, 0.25), (16, 32, 0.5), (32, 64, 1.0)]
    assert dims[0] == cfg.main_problem(paper)            # shares Fig 2's pools and baselines
    assert sweeps[figures["fig6"]]["model"] == ["large"]
    # Fig 7: weight decay over three orders of magnitude; width of two families; depth
    decays = [wd for wd in sweeps[figures["fig7"]["weight_decay"]]["weight_decay"] if wd > 0]
    assert max(decays) / min(decays) >= 1000
    assert sweeps[figures["fig7"]["n_embd"]]["model"] == ["small", "base"]
    assert len(sweeps[figures["fig7"]["n_embd"]]["n_embd"]) >= 3
    assert sweeps[figures["fig7"]["n_layer"]]["model"] == ["small"]
    # appendix: the small model's threshold with two batch sizes; the Laplace prior
    small = sweeps[figures["appendix_small"]]
    assert small["model"] == ["small"] and small["batch_size"] == [256, 512]
    assert [p.prior for p in cfg.sweep_problems(paper, figures["appendix_laplace"])] == ["laplace"]
    # every threshold: batch 256 vs 512 at 500K steps
    for g in ("dimension", "decay", "width", "depth", "small", "laplace"):
        assert (sweeps[g]["vary"], sweeps[g]["batch_size"][:2], sweeps[g]["steps"]) == \
            ("batch_size", [256, 512], [500000]), g


@pytest.mark.parametrize("path,value,needle", [
    (("problem", "noise_var"), float("nan"), "problem.noise_var"),
    (("problem", "task_scale"), float("inf"), "problem.task_scale"),
    (("train", "lr"), float("nan"), "train.lr"),
    (("sweeps", "batch", "weight_decay"), [0.0, float("nan")], "sweeps.batch.weight_decay.1"),
    (("M",), ["inf"], "M"),
    (("outdir",), "results/{M}", "outdir"),
])
def test_non_finite_numbers_inf_only_M_and_bad_outdir_are_refused(path, value, needle):
    with pytest.raises(cfg.ConfigError, match=re.escape(needle)):
        cfg.validate(with_change(path, value))


def test_outdir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(cfg.ConfigError, match="outdir"):
        cfg.validate(with_change(("outdir",), str(tmp_path / "afile")))


def test_snakemake_refuses_nan_before_any_job(tmp_path):
    path = tmp_path / "nan.yaml"
    text = (ROOT / "studies" / "smoke.yaml").read_text()
    assert "problem: {D: 3, K: 8}" in text
    text = text.replace("problem: {D: 3, K: 8}", "problem: {D: 3, K: 8, noise_var: .nan}")
    path.write_text(text + f"outdir: {tmp_path / 'out'}\n")
    proc = snakemake("-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0 and "problem.noise_var" in proc.stdout
    assert not (tmp_path / "out").exists()


def test_setting_names_round_trip():
    s = cfg.Setting("tiny", 64, 6000, 1e-4)
    assert cfg.Setting.parse(s.name) == s
    with pytest.raises(cfg.ConfigError):
        cfg.Setting.parse("tiny-64-6000")


def test_snakemake_stops_before_any_job_on_a_bad_value(tmp_path):
    bad = copy.deepcopy(SMOKE_STUDY)         # a study: merged onto config.yaml
    bad["problem"]["noise_var"] = -1
    bad["outdir"] = str(tmp_path / "out")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    proc = snakemake("-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert "noise_var" in proc.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("study", STUDIES)
def test_dry_run_succeeds_for_every_study(study, tmp_path):
    # an empty outdir, so the plan is the whole workflow whatever results/ holds here
    proc = snakemake("-n", "--configfile", study, "--config", f"outdir={tmp_path}")
    config = cfg.load_config(ROOT / study)
    figures = config["figures"]
    assert figures
    # the study's outputs in its own folder, pools and runs in the store
    assert f"{tmp_path}/studies/{config['study']}/tables/baselines.csv" in proc.stdout
    assert f"{tmp_path}/store/{cfg.main_problem(config).name}-" in proc.stdout
    for rule in ("task_pool", "baselines", "train", *figures):
        assert f"rule {rule}" in proc.stdout, rule


def test_override_strings_get_the_schema_types():
    # what Snakemake's --config hands over for 'train={lr: 0.001}' and friends: text
    c = copy.deepcopy(SMOKE)
    c["train"].update(lr="0.001", compile="true", device="cpu")
    c["sweeps"]["batch"]["seed"] = ["0", "2"]
    c["M"] = ["2", "16", "inf"]
    c["outdir"] = "2024"
    typed = cfg.coerce_overrides(c)
    assert typed["train"]["lr"] == 0.001 and typed["train"]["compile"] is True
    assert typed["train"]["device"] == "cpu" and typed["outdir"] == "2024"   # strings stay
    assert typed["sweeps"]["batch"]["seed"] == [0, 2] and typed["M"] == [2, 16, "inf"]
    cfg.validate(typed)
    assert cfg.coerce_overrides(SMOKE) == SMOKE            # typed input is left as is


def test_snakemake_lint_is_clean():
    proc = snakemake("--lint", check=False)
    assert proc.returncode == 0 and "good condition" in proc.stdout, proc.stdout[-3000:]


def test_smoothing_defaults_are_a_log_grid():
    # what Snakemake fills in when eval.smoothing_grid / eval.n_tuning are left out
    schema = yaml.safe_load(cfg.SCHEMA.read_text())["properties"]["eval"]["properties"]
    grid = schema["smoothing_grid"]["default"]
    assert grid == [2.0 ** e for e in range(-10, 3)]
    assert schema["n_tuning"]["default"] >= 2


def test_curve_sequences_and_check_every_defaults():
    from snakemake.utils import validate
    c = copy.deepcopy(SMOKE)
    del c["eval"]["curve_sequences"]
    validate(c, str(cfg.SCHEMA))           # as the Snakefile does: it fills in the defaults
    assert c["eval"]["curve_sequences"] == "all" and c["train"]["check_every"] == 100
    assert cfg.validate(with_change(("eval", "curve_sequences"), 128))["eval"]["curve_sequences"] == 128
