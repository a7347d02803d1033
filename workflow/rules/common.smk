# Shared names: the output root, the sweep expanded into runs, and the package
# source files each stage depends on (so editing one module reruns what uses it).
import json
import math
import os
import re
from pathlib import Path

# the package is on sys.path: the Snakefile puts src/ there before validating the config
from icl_diversity import config as cfg
from icl_diversity.effects import comparisons as effect_comparisons
from icl_diversity.plan import setting_flops
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
    for name in ("baselines", "pt_metrics", "pt_curves", "thresholds", "effects", "claims")
}
# What the effects table compares (effects.comparisons): Fig 6's D, each Fig 7 axis and
# the Laplace prior against a Gaussian group with the same settings; none without runs.
COMPARISONS = effect_comparisons(config) if RUNS else []


def effects_of(figure):
    """The effects table as an input of `figure` when the study compares an axis that
    figure draws (it labels the paired differences); else none."""
    return TABLES["effects"] if any(c["figure"] == figure for c in COMPARISONS) else []


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


def run_files(name, runs=None):
    """One file of every training run (of `runs`, default RUNS), e.g. run_files("metrics.csv")."""
    return [run_path(p, s, seed, m, name) for p, s, seed, m in (RUNS if runs is None else runs)]


def run_identities(runs=None):
    """Each run's identity, in the order of run_files: the setting, seed, M and setting
    fields every row of its tables holds (tables.check_promise checks them)."""
    return [
        dict(SETTINGS[s].fields(), setting=s, seed=seed, M=m)
        for _, s, seed, m in (RUNS if runs is None else runs)
    ]


def run_problems(key, runs=None):
    """`key` ("name" or "K") of each run's problem, in the order of run_files."""
    return [
        p if key == "name" else PROBLEMS[p].params()[key] for p, _, _, _ in (RUNS if runs is None else runs)
    ]


# Job order when more jobs are ready than cores: the data a training run reads first,
# then the runs longest first (longest-processing-time order: a long run started last
# leaves the other cores idle while it finishes). A training run's priority is its
# matrix-multiply FLOPs (plan.setting_flops) on a log scale, in hundredths of a decade, so the
# data rules' priority stays above every run's. Other rules keep priority 0: they are
# short, and the runs they wait for are what holds the cores.
DATA_PRIORITY = 10_000


def train_priority(wildcards):
    """A training job's priority: 100 log10 of its run's FLOPs (about 1,270 for the
    default's batch-64 runs, 1,300 for its batch-128 ones)."""
    flops = setting_flops(config, SETTINGS[wildcards.setting], PROBLEM_DIRS[wildcards.pdir])
    return round(100 * math.log10(max(flops, 1.0)))


def problem_params(wildcards):
    """The problem a job's {pdir} holds, as its rules receive it (Problem.params)."""
    return PROBLEM_DIRS[wildcards.pdir].params()


def problem_value(key):
    return lambda wildcards: getattr(PROBLEM_DIRS[wildcards.pdir], key)


def problem_Ms(runs=None):
    """Each problem's M (its pools and baselines): the union of its groups' grids
    (config.problem_M_labels) and the M of `runs` (the runs refinement added)."""
    return {
        p: sorted(
            set(cfg.problem_M_labels(config, p)) | {m for q, _, _, m in runs or [] if q == p},
            key=float,
        )
        for p in PROBLEMS
    }


def baseline_files(name, Ms=None):
    """One baseline file per problem and M (`Ms`: problem_Ms' mapping, default each
    problem's union of its groups' M)."""
    Ms = Ms or problem_Ms()
    return [
        f"{cfg.baselines_dir(config, cfg.problem_dir(config, p))}/M{m}/{name}"
        for p in PROBLEMS
        for m in Ms[p]
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
        # a learning-rate candidate's own lr (train_params gives it to training)
        **({} if s.lr is None else {"lr": s.lr}),
    }


def train_params(wildcards):
    """The train keys that define a run (TRAIN_RESULT_KEYS, train.smk): a learning-rate
    candidate's own lr replaces train.lr."""
    lr = SETTINGS[wildcards.setting].lr
    return {k: config["train"][k] if k != "lr" or lr is None else lr for k in TRAIN_RESULT_KEYS}


def group_params(group):
    """What a figure script needs to know about its sweep group (its problems by name,
    each as Problem.params, and its M grid)."""
    return dict(
        group=group,
        vary=config["sweeps"][group]["vary"],
        # configurations: a tuned one's runs are its chosen learning rate's (lr_choice.py)
        settings=cfg.group_configurations(config, group),
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


def reference_models():
    """(seed, M) of every model the connectivity reference reads, in the order of its
    inputs: each group seed at every finite M, then each reference seed at M = inf."""
    own, ref = cfg.connectivity_seeds(config)
    return [(seed, M) for seed in own for M in FINITE_M] + [(seed, "inf") for seed in ref]


def reference_files(name):
    """One file of each model reference_models lists, for the job's setting."""
    return lambda wc: [run_file(wc.setting, seed, M, name) for seed, M in reference_models()]


def reference_pairs(wildcards):
    """The paths that make the connectivity reference comparable, every pair with
    independent initial weights (two training seeds): each group seed's model at every
    finite M to the M = inf model of the next reference seed ("M_vs_other_inf"), and every
    two reference seeds' M = inf models ("inf_vs_inf", the paper's reference)."""
    own, ref = cfg.connectivity_seeds(config)
    at = {key: i for i, key in enumerate(reference_models())}
    pairs = []
    for a in own:
        b = ref[(ref.index(a) + 1) % len(ref)]
        pairs += [
            dict(
                a=at[(a, M)],
                b=at[(b, "inf")],
                pair="M_vs_other_inf",
                setting=wildcards.setting,
                M=M,
                M_b="inf",
                seed_a=a,
                seed_b=b,
            )
            for M in FINITE_M
        ]
    pairs += [
        dict(
            a=at[(a, "inf")],
            b=at[(b, "inf")],
            pair="inf_vs_inf",
            setting=wildcards.setting,
            M="inf",
            M_b="inf",
            seed_a=a,
            seed_b=b,
        )
        for i, a in enumerate(ref)
        for b in ref[i + 1 :]
    ]
    return pairs


def benchmark_records(rule, wildcards):
    """The benchmark record of each job of `rule` (one dict of wildcard values per job),
    as {"rule", "path"}: the rule's own `benchmark:` pattern filled in (the summary)."""
    pattern = str(getattr(rules, rule).benchmark)
    return [dict(rule=rule, path=pattern.format(**w)) for w in wildcards]


# ---- adaptive refinement of M (refine.smk): the runs each round adds, read from the
# round's decision. Until a decision is written, checkpoints.refine.get raises and the
# jobs that need it wait; Snakemake re-evaluates the DAG when it appears, so the runs it
# adds are ordinary train jobs (and show in the dry run from then on).

REFINED = {g: cfg.sweep_refine(config, g) for g in config["sweeps"] if cfg.sweep_refine(config, g)}


def refine_decision(group, round):
    """The decision after `round` refinement rounds of a group (0: after its coarse grid)."""
    return f"{OUT}/refine/{group}/round{round}.json"


def final_decisions():
    """The last decision of every refined group (its stopping reason)."""
    return [refine_decision(g, spec["rounds"]) for g, spec in REFINED.items()]


def all_decisions():
    """Every decision of every refined group: the inputs of a rule whose params read the
    decisions as written (refined_runs(..., written=True)), so that Snakemake schedules
    its job after them, and again whenever one is rewritten."""
    return [refine_decision(g, r) for g, spec in REFINED.items() for r in range(spec["rounds"] + 1)]


def coarse_runs(group):
    """(problem, setting, seed, M) of a refined group's runs at every M of its coarse
    grid: what its first decision reads (the M = inf runs say whether a crossing lies
    above the grid, refine.above_grid)."""
    return [
        (p, s.name, seed, M)
        for p, small, large in cfg.refine_pairs(config, group)
        for s in (small, large)
        for seed in cfg.sweep_seeds(config, group)
        for M in cfg.sweep_M_labels(config, group)
    ]


def refined_runs(group, rounds, written=False):
    """(problem, setting, seed, M) of the runs the first `rounds` rounds of a refined group
    added: each decision's new M, for both settings of its curve pair and every seed.

    Through the checkpoint (input functions, and the params of rules whose inputs go
    through it). With `written`, the decisions written so far, as they are on disk, for
    the params of the summary, whose inputs are the decision files themselves
    (all_decisions). A params function that went through the checkpoint there leaves the
    summary's dependants planned in a dry run of a finished study, and an input function
    that did fails in a job group (Snakemake 9)."""
    seeds = cfg.sweep_seeds(config, group)
    runs = []
    for r in range(rounds):
        if written:
            path = Path(refine_decision(group, r))
            if not path.exists():
                break
        else:
            path = Path(checkpoints.refine.get(group=group, round=str(r)).output.decision)
        decision = json.loads(path.read_text())
        for pair in decision["pairs"]:
            runs += [
                (pair["problem"], s, seed, str(M))
                for M in pair["next_M"]
                for s in pair["settings"]
                for seed in seeds
            ]
    return runs


def decision_runs(wildcards):
    """The runs decision `round` of a group reads: its coarse grid's and every earlier round's."""
    return coarse_runs(wildcards.group) + refined_runs(wildcards.group, int(wildcards.round))


def study_runs(written=False):
    """Every training run of the study, each once: RUNS, and every run refinement added
    (`written`: refined_runs')."""
    runs = dict.fromkeys(RUNS)
    for g, spec in REFINED.items():
        runs.update(dict.fromkeys(refined_runs(g, spec["rounds"], written)))
    return list(runs)


def once_refined(make):
    """`make()` at once for a study without refined groups; else an input function that
    calls it when Snakemake evaluates the job, once every refined group's decisions exist."""
    return (lambda wildcards: make()) if REFINED else make()


def sweep_group_params(written=False):
    """group_params of every sweep group, by group and without its name; a refined
    group's M is its coarse grid and every M its rounds added (`written`: refined_runs')."""
    out = {}
    for g in config["sweeps"]:
        out[g] = {k: v for k, v in group_params(g).items() if k != "group"}
        if g in REFINED:
            added = {m for _, _, _, m in refined_runs(g, REFINED[g]["rounds"], written)}
            out[g]["M"] = sorted(set(out[g]["M"]) | added, key=float)
    return out


def refined_benchmarks(written=False):
    """The benchmark records of the training and baseline jobs refinement added
    (`written`: refined_runs')."""
    pdir = lambda p: Path(cfg.problem_dir(config, p)).name
    added = [r for r in study_runs(written) if r not in set(RUNS)]
    base = {p: set(cfg.problem_M_labels(config, p)) for p in PROBLEMS}
    Ms = dict.fromkeys((p, m) for p, _, _, m in added if m not in base[p])
    return benchmark_records(
        "train", [dict(pdir=pdir(p), setting=s, seed=seed, M=m) for p, s, seed, m in added]
    ) + benchmark_records("baselines", [dict(pdir=pdir(p), M=m) for p, m in Ms])


def baseline_table_files(what):
    """What the baselines table reads, in one order: `what` = "tables" (each problem's
    metrics at each of its M, refined M included, then each Laplace problem's Bayes
    metrics: BAYES, baselines.smk), or its "K", "problems", "at_each_M" (the M the Bayes
    rows are repeated at) or "identities" (what each file promises), per file."""
    Ms = problem_Ms(study_runs() if REFINED else None)
    per_M = [(p, m) for p in PROBLEMS for m in Ms[p]]
    return {
        "tables": baseline_files("metrics.csv", Ms) + [f"{d}/metrics.csv" for d in BAYES.values()],
        "K": [PROBLEMS[p].params()["K"] for p, _ in per_M] + [PROBLEMS[p].params()["K"] for p in BAYES],
        "problems": [p for p, _ in per_M] + list(BAYES),
        "at_each_M": [None] * len(per_M) + [Ms[p] for p in BAYES],
        "identities": [dict(M=m) for _, m in per_M] + [dict(M="inf", estimator="Bayes") for p in BAYES],
    }[what]
