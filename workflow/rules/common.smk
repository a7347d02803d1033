# Shared names: the output root, the sweep expanded into runs, and the package
# source files each stage depends on (so editing one module reruns what uses it).
import json
from pathlib import Path

# the package is on sys.path: the Snakefile puts src/ there before validating the config
from icl_diversity import config as cfg
from icl_diversity.sources import script_sources

cfg.check(config)

# Sort every mapping of the config by key: Snakemake compares params by their text, so
# without this, reordering keys in a YAML file would look like a change and retrain.
_sorted = json.loads(json.dumps(config, sort_keys=True))
config.clear()
config.update(_sorted)

OUT = config["outdir"].rstrip("/")
M_LABELS = cfg.M_labels(config)
FINITE_M = [m for m in M_LABELS if m != "inf"]
SETTINGS = {s.name: s for s in cfg.all_settings(config)}
RUNS = cfg.all_runs(config)   # (setting, seed, M): one training run each
RUN_DIR = f"{OUT}/runs/{{setting}}/seed{{seed}}/M{{M}}"
FIGURES = config.get("figures") or {}


wildcard_constraints:
    M="[0-9]+|inf",
    setting="[^/]+",
    seed="[0-9]+",


def code(script):
    """The package files a rule's script runs (the closure of its imports, sources.py),
    as inputs Snakemake can track: editing a module reruns exactly the rules using it."""
    return [str(p) for p in script_sources(Path(workflow.basedir) / "workflow" / "scripts" / script)]


def run_files(name):
    """One file of every training run, e.g. run_files("metrics.csv")."""
    return [f"{OUT}/runs/{s}/seed{seed}/M{m}/{name}" for s, seed, m in RUNS]


def pool_input(wildcards):
    return [] if wildcards.M == "inf" else f"{OUT}/pools/pool_M{wildcards.M}.npy"


def pretrain_eval_input(wildcards):
    # M = inf: T_Pretrain is T_True, so its evaluation set is the T_True one.
    return f"{OUT}/eval/true.npz" if wildcards.M == "inf" else f"{OUT}/eval/pretrain_M{wildcards.M}.npz"


PROBLEM = dict(config["problem"])


def setting_params(wildcards):
    s = SETTINGS[wildcards.setting]
    return {"model": config["models"][s.model], "batch_size": s.batch_size, "steps": s.steps,
            "weight_decay": s.weight_decay, "seed": int(wildcards.seed)}


def group_params(group):
    """What a figure script needs to know about its sweep group."""
    return dict(group=group, vary=config["sweeps"][group]["vary"],
                settings=[s.name for s in cfg.sweep_settings(config, group)],
                seeds=cfg.sweep_seeds(config, group))


def figure_outputs(name):
    caption = f"../report/{name}.rst"
    return dict(
        pdf=report(f"{OUT}/figures/{name}.pdf", caption=caption, category="Figures",
                   subcategory=name, labels={"figure": name, "format": "PDF"}),
        png=report(f"{OUT}/figures/{name}.png", caption=caption, category="Figures",
                   subcategory=name, labels={"figure": name, "format": "PNG"}),
        provenance=f"{OUT}/figures/{name}.json",
    )


# ---- the analyses of trained models (analysis.smk): which runs and pairs each job reads

def run_file(setting, seed, M, name):
    return f"{OUT}/runs/{setting}/seed{seed}/M{M}/{name}"


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
    return [(a, b) for i, a in enumerate(seeds) for b in seeds[i + 1:]]


def to_inf_pairs(wildcards):
    """The paths of one (setting, seed): model i (finite M) to the last model (M = inf);
    indices into the job's models, FINITE_M then inf."""
    seed = int(wildcards.seed)
    return [dict(a=i, b=len(FINITE_M), pair="M_vs_inf", setting=wildcards.setting, M=M,
                 M_b="inf", seed_a=seed, seed_b=seed) for i, M in enumerate(FINITE_M)]


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
    return [dict(a=at(a, M), b=at(b, M), pair="seeds", setting=wildcards.setting, M=M, M_b=M,
                 seed_a=a, seed_b=b)
            for a, b in seed_pairs(FIGURES["connectivity"]) for M in M_LABELS]
