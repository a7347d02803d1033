# Shared names: the output root, the sweep expanded into runs, and the package
# source files each stage depends on (so editing one module reruns what uses it).
import json
import os
import re
from pathlib import Path

# the package is on sys.path: the Snakefile puts src/ there before validating the config
from icl_diversity import config as cfg
from icl_diversity.effects import comparisons as effect_comparisons
from icl_diversity.sources import script_sources

cfg.check(config)

# Sort every mapping of the config by key: Snakemake compares params by their text, so
# without this, reordering keys in a YAML file would look like a change and retrain.
_sorted = json.loads(json.dumps(config, sort_keys=True))
config.clear()
config.update(_sorted)

# The store (pools, evaluation sets, baselines, runs: shared by every study, keyed by what
# defines each) and this study's own folder (tables, figures, analyses, summary, report).
STORE = cfg.store_dir(config)
OUT = cfg.study_dir(config)
M_LABELS = cfg.M_labels(config)
FINITE_M = [m for m in M_LABELS if m != "inf"]
PROBLEMS = cfg.all_problems(config)  # name -> Problem
# {pdir}: a problem's folder in the store (its name and data key); PDIR: its path
PROBLEM_DIRS = {Path(cfg.problem_dir(config, name)).name: p for name, p in PROBLEMS.items()}
PDIR = f"{STORE}/{{pdir}}"
MAIN_PDIR = cfg.problem_dir(config, cfg.main_problem(config).name)
SETTINGS = {s.name: s for s in cfg.all_settings(config)}
RUNS = cfg.all_runs(config)  # (problem, setting, seed, M): one training run each
# A run's folder and its metrics' folder, as wildcard templates (cfg.run_dir spells them once)
RUN_DIR = cfg.run_dir(config, PDIR, "{setting}", "{seed}", "{M}")
METRICS_DIR = cfg.metrics_dir(config, RUN_DIR)
BASELINES_DIR = cfg.baselines_dir(config, PDIR)
FIGURES = config.get("figures") or {}
TABLES = {
    name: f"{OUT}/tables/{name}.csv"
    for name in ("baselines", "pt_metrics", "pt_curves", "thresholds", "effects")
}
# What the effects table compares (effects.comparisons): Fig 6's D, each Fig 7 axis and
# the Laplace prior against a Gaussian group with the same settings; none without runs.
COMPARISONS = effect_comparisons(config) if RUNS else []


wildcard_constraints:
    M="[0-9]+|inf",
    setting="[^/]+",
    seed="[0-9]+",
    pdir="|".join(re.escape(d) for d in PROBLEM_DIRS),


def code(script):
    """The package files a rule's script runs (the closure of its imports, sources.py),
    as inputs Snakemake can track: editing a module reruns exactly the rules using it.
    Relative to the working folder, so moving the checkout changes no rule's inputs."""
    script_path = Path(workflow.basedir) / "workflow" / "scripts" / script
    return [os.path.relpath(p) for p in script_sources(script_path)]


def run_path(problem, setting, seed, M, name):
    """One file of a run (name: model.pt, predictions.npz, train_loss.csv) or of its
    metrics (metrics.csv, curve.csv, sequence_deltas.npz)."""
    run = cfg.run_dir(config, cfg.problem_dir(config, problem), setting, seed, M)
    if name in ("metrics.csv", "curve.csv", "sequence_deltas.npz"):
        run = cfg.metrics_dir(config, run)
    return f"{run}/{name}"


def run_files(name):
    """One file of every training run, e.g. run_files("metrics.csv")."""
    return [run_path(p, s, seed, m, name) for p, s, seed, m in RUNS]


def run_identities():
    """Each run's identity, in the order of run_files: the setting, seed, M and setting
    fields every row of its tables holds (tables.check_promise checks them)."""
    return [dict(SETTINGS[s].__dict__, setting=s, seed=seed, M=m) for _, s, seed, m in RUNS]


def run_problems(key):
    """`key` ("name" or "K") of each run's problem, in the order of run_files."""
    return [p if key == "name" else PROBLEMS[p].params()[key] for p, _, _, _ in RUNS]


def problem_params(wildcards):
    """The problem a job's {pdir} holds, as its rules receive it (Problem.params)."""
    return PROBLEM_DIRS[wildcards.pdir].params()


def problem_value(key):
    return lambda wildcards: getattr(PROBLEM_DIRS[wildcards.pdir], key)


def baseline_files(name):
    """One baseline file per problem and M: each problem's union of its groups' M."""
    return [
        f"{cfg.baselines_dir(config, cfg.problem_dir(config, p))}/M{m}/{name}"
        for p in PROBLEMS
        for m in cfg.problem_M_labels(config, p)
    ]


def baseline_problems(key):
    """`key` ("name" or "K") of each file of baseline_files, in the same order."""
    return [
        p if key == "name" else PROBLEMS[p].params()[key]
        for p in PROBLEMS
        for m in cfg.problem_M_labels(config, p)
    ]


def pool_input(wildcards):
    return [] if wildcards.M == "inf" else f"{STORE}/{wildcards.pdir}/pools/pool_M{wildcards.M}.npy"


def pool_sha256_input(wildcards):
    """The sha256 task_pool recorded for the job's pool (none at M = inf)."""
    pool = pool_input(wildcards)
    return f"{pool}.sha256" if pool else []


def pretrain_eval_input(wildcards):
    # M = inf: T_Pretrain is T_True, so its evaluation set is the T_True one.
    return (
        f"{STORE}/{wildcards.pdir}/eval/true.npz"
        if wildcards.M == "inf"
        else f"{STORE}/{wildcards.pdir}/eval/pretrain_M{wildcards.M}.npz"
    )


def setting_params(wildcards):
    s = SETTINGS[wildcards.setting]
    return {
        "model": cfg.model_spec(config, s.model),
        "batch_size": s.batch_size,
        "steps": s.steps,
        "weight_decay": s.weight_decay,
        "seed": int(wildcards.seed),
    }


def group_params(group):
    """What a figure script needs to know about its sweep group (its problems by name,
    each as Problem.params, and its M grid)."""
    return dict(
        group=group,
        vary=config["sweeps"][group]["vary"],
        settings=[s.name for s in cfg.sweep_settings(config, group)],
        seeds=cfg.sweep_seeds(config, group),
        problems={p.name: p.params() for p in cfg.sweep_problems(config, group)},
        M=cfg.sweep_M_labels(config, group),
    )


def figure_outputs(name):
    """A figure's PDF and PNG, in the report under the study with switchable labels
    (figure, the sweep group(s) it draws, format), and its provenance sidecar."""
    caption = f"../report/{name}.rst"
    groups = ", ".join(dict.fromkeys(cfg.figure_groups(FIGURES[name])))
    labels = {"figure": name, "sweep group": groups}
    return dict(
        pdf=report(
            f"{OUT}/figures/{name}.pdf",
            caption=caption,
            category=f"Study {config['study']}",
            subcategory=name,
            labels=dict(labels, format="PDF"),
        ),
        png=report(
            f"{OUT}/figures/{name}.png",
            caption=caption,
            category=f"Study {config['study']}",
            subcategory=name,
            labels=dict(labels, format="PNG"),
        ),
        provenance=f"{OUT}/figures/{name}.json",
    )


def capacity_params(axes):
    """Fig 7: for each swept axis, its group's group_params and each model's spec."""
    return {
        axis: dict(
            group_params(g),
            models={s.model: cfg.model_spec(config, s.model) for s in cfg.sweep_settings(config, g)},
        )
        for axis, g in axes.items()
    }


# ---- the analyses of trained models (analysis.smk): which runs and pairs each job reads


def run_file(setting, seed, M, name):
    """A file of a run of the main problem (the analyses use only that problem)."""
    return run_path(cfg.main_problem(config).name, setting, seed, M, name)


def group_runs(group):
    """(setting, seed) of every run of a sweep group, in a fixed order."""
    gp = group_params(group)
    return [(s, seed) for s in gp["settings"] for seed in gp["seeds"]]


def interpolation_runs(wildcards):
    return group_runs(FIGURES["fig5"])


def interpolation_run_files(name):
    """One file of every run Fig 5 draws at the job's M, in interpolation_runs order."""
    return lambda wc: [run_file(s, seed, wc.M, name) for s, seed in interpolation_runs(wc)]


def seed_pairs(group):
    """Every two training seeds of a group (none when it has one seed)."""
    seeds = group_params(group)["seeds"]
    return [(a, b) for i, a in enumerate(seeds) for b in seeds[i + 1 :]]


def to_inf_pairs(wildcards):
    """The paths of one (setting, seed): model i (finite M) to the last model (M = inf);
    indices into the job's models, FINITE_M then inf."""
    seed = int(wildcards.seed)
    return [
        dict(
            a=i,
            b=len(FINITE_M),
            pair="M_vs_inf",
            setting=wildcards.setting,
            M=M,
            M_b="inf",
            seed_a=seed,
            seed_b=seed,
        )
        for i, M in enumerate(FINITE_M)
    ]


def connectivity_seed_files(name):
    """One file of every run of a setting of the connectivity group, seed-major."""
    seeds = group_params(FIGURES["connectivity"])["seeds"]
    return lambda wc: [run_file(wc.setting, seed, M, name) for seed in seeds for M in M_LABELS]


def seed_to_seed_pairs(wildcards):
    """The paths of one setting: at every M, seed a's model to seed b's; indices into
    connectivity_seed_files' order."""
    seeds = group_params(FIGURES["connectivity"])["seeds"]

    def at(seed, M):
        return seeds.index(seed) * len(M_LABELS) + M_LABELS.index(M)

    return [
        dict(a=at(a, M), b=at(b, M), pair="seeds", setting=wildcards.setting, M=M, M_b=M, seed_a=a, seed_b=b)
        for a, b in seed_pairs(FIGURES["connectivity"])
        for M in M_LABELS
    ]


def benchmark_records(rule, wildcards):
    """The benchmark record of each job of `rule` (one dict of wildcard values per job),
    as {"rule", "path"}: the rule's own `benchmark:` pattern filled in (the summary)."""
    pattern = str(getattr(rules, rule).benchmark)
    return [dict(rule=rule, path=pattern.format(**w)) for w in wildcards]
