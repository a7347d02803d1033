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
