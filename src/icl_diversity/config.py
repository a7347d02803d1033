"""Config helpers shared by the Snakefile, the scripts and the tests: checks the
schema cannot express, and the expansion of sweep groups into training runs."""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from .tasks import M_label

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
BASE_CONFIG = REPO / "config.yaml"


class ConfigError(ValueError):
    """A config value the workflow cannot run with; the message names the key."""


PROBLEM_KEYS = ("D", "K", "noise_var", "task_scale", "x_scale")


@dataclass(frozen=True)
class Problem:
    """What pools, evaluation sets and baselines are keyed by: the regression problem."""
    D: int
    K: int
    noise_var: float
    task_scale: float = 1.0
    x_scale: float = 1.0
    prior: str = "gaussian"

    @property
    def name(self) -> str:
        # 12 significant digits: two problems that differ get two names (and folders)
        parts = [f"D{self.D}", f"K{self.K}", f"noise{self.noise_var:.12g}"]
        parts += [f"{tag}{v:.12g}" for tag, v in (("wscale", self.task_scale), ("xscale", self.x_scale))
                  if v != 1]
        return "-".join(parts + ([self.prior] if self.prior != "gaussian" else []))

    def params(self) -> dict:
        """The problem as rules receive it: the config's `problem` keys, sorted, with
        `prior` only when it is not Gaussian, so that a Gaussian problem's params are
        those written before the prior was an axis and no finished run looks changed."""
        values = {k: getattr(self, k) for k in PROBLEM_KEYS}
        if self.prior != "gaussian":
            values["prior"] = self.prior
        return dict(sorted(values.items()))


def main_problem(config: dict) -> Problem:
    """The config's `problem` block: what a sweep group that sets no problem axis uses."""
    return Problem(**config["problem"])


def sweep_problems(config: dict, group: str) -> list[Problem]:
    """The problems of a sweep group: each of its D and priors, with K and the noise
    variance given by the group (`K`, `noise_var`), tied to D (`K_per_D`,
    `noise_var_per_D`: the paper's Fig 6 keeps K = 2D and sigma^2 = D/32), or else the
    main problem's."""
    sweep, main = config["sweeps"][group], main_problem(config)

    def tied(key, D):
        if key in sweep:
            return sweep[key]
        return sweep[f"{key}_per_D"] * D if f"{key}_per_D" in sweep else getattr(main, key)

    return [Problem(D, tied("K", D), tied("noise_var", D), main.task_scale, main.x_scale, prior)
            for D in sweep.get("D", [main.D]) for prior in sweep.get("prior", [main.prior])]


def all_problems(config: dict) -> dict[str, Problem]:
    """Every problem a sweep group uses, by name, the main problem first (always): pools,
    evaluation sets and baselines are computed once per problem, whichever groups use it."""
    problems = {main_problem(config).name: main_problem(config)}
    for group in config["sweeps"]:
        for p in sweep_problems(config, group):
            problems.setdefault(p.name, p)
    return problems


# ---- where things live: a store shared by every study, and one folder per study

def _key(values: dict) -> str:
    """A short hash of the settings that define a stored result (stable across key order)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:8]


def data_settings(config: dict, problem: Problem) -> dict:
    """What defines a problem's pools and evaluation sets (and so everything under them)."""
    return {"problem": problem.params(), "prior": problem.prior, "pool_seed": config["seeds"]["pool"],
            "eval_seed": config["seeds"]["eval"], "n_sequences": config["eval"]["n_sequences"]}


def baseline_settings(config: dict) -> dict:
    """What defines the baselines beyond their problem's data (the dMMSE chunk size and
    backend are execution knobs: they change the speed, not the numbers)."""
    ev = config["eval"]
    return {k: ev[k] for k in ("smoothing_grid", "n_tuning", "laplace_sweeps")}


def train_settings(config: dict) -> dict:
    """What defines a training run beyond its problem, setting, seed and M. The other
    train keys (threads, device, compile, checkpoint cadence, ...) are execution knobs.
    A learning-rate candidate trains at the lr its setting names, yet its key is its
    study's, train.lr included (one key per study keeps one folder pattern for every
    run): studies share candidate runs only when their train.lr agrees too."""
    t = config["train"]
    return {"lr": t["lr"], "eval_every": t["eval_every"], "bf16": t["bf16"],
            "curve_sequences": config["eval"]["curve_sequences"],
            "data_seed": config["seeds"]["train"], "model_seed": config["seeds"]["model"]}


def metrics_settings(config: dict) -> dict:
    """What defines a run's metrics beyond the run: the baselines it is compared with and
    the plateau guard."""
    return {"baselines": baseline_settings(config), "plateau_guard": config["eval"]["plateau_guard"]}


def store_keys(config: dict) -> dict:
    """Every short hash the store's paths carry, with the settings it stands for."""
    keys = {_key(data_settings(config, p)): {"what": "data", **data_settings(config, p)}
            for p in all_problems(config).values()}
    for what, settings in (("baselines", baseline_settings(config)), ("train", train_settings(config)),
                           ("metrics", metrics_settings(config))):
        keys[_key(settings)] = {"what": what, **settings}
    return keys


def store_dir(config: dict) -> str:
    """The store: pools, evaluation sets, baselines and training runs, shared by studies."""
    return str(config.get("store") or f"{str(config['outdir']).rstrip('/')}/store").rstrip("/")


def study_dir(config: dict) -> str:
    """A study's own outputs: tables, figures, analyses, summary, report."""
    return f"{str(config['outdir']).rstrip('/')}/studies/{config.get('study', 'default')}"


def problem_dir(config: dict, name: str) -> str:
    """Where a problem's pools, evaluation sets, baselines and runs live in the store:
    the problem's name and the key of what defines its data (pool and evaluation seeds,
    evaluation set size)."""
    return f"{store_dir(config)}/{name}-{_key(data_settings(config, all_problems(config)[name]))}"


def baselines_dir(config: dict, pdir: str) -> str:
    return f"{pdir}/baselines-{_key(baseline_settings(config))}"


def run_dir(config: dict, pdir: str, setting: str, seed, M) -> str:
    """One training run in the store (any argument may be a {wildcard}): its setting,
    with the key of the train and eval settings that define it, its seed and M."""
    return f"{pdir}/runs/{setting}-{_key(train_settings(config))}/seed{seed}/M{M}"


def metrics_dir(config: dict, run: str) -> str:
    """A run's metrics against the baselines (metrics.csv, curve.csv, sequence_deltas.npz)."""
    return f"{run}/metrics-{_key(metrics_settings(config))}"


@dataclass(frozen=True)
class Setting:
    """One point of a sweep group, trained at every M of the group. `model` names an
    entry of `models`, or one with its width / depth replaced (model_name). `lr`: the
    peak learning rate of a learning-rate candidate (a group's `lr` list), None for a
    run at `train.lr`; only a candidate's name carries it, so every other name is the
    same as before the learning rate was an axis."""
    model: str
    batch_size: int
    steps: int
    weight_decay: float
    lr: float | None = None

    @property
    def name(self) -> str:
        lr = "" if self.lr is None else f"-lr{self.lr:g}"
        return f"{self.model}-b{self.batch_size}-s{self.steps}-wd{self.weight_decay:g}{lr}"

    @property
    def configuration(self) -> "Setting":
        """The setting without its learning rate: what the learning rate is chosen for
        (lr_choice.py), one choice per configuration and problem."""
        return replace(self, lr=None)

    def fields(self) -> dict:
        """The setting's fields as its runs' table rows and rule params carry them: `lr`
        only for a learning-rate candidate (a run at train.lr has the fields it always had)."""
        out = {"model": self.model, "batch_size": self.batch_size, "steps": self.steps,
               "weight_decay": self.weight_decay}
        return out if self.lr is None else dict(out, lr=self.lr)

    @classmethod
    def parse(cls, name: str) -> "Setting":
        # the decay may hold a '-' of its own (1e-05); the model name holds none
        m = re.fullmatch(r"([^-]+)-b(\d+)-s(\d+)-wd([0-9.e+-]+?)(?:-lr([0-9.e+-]+))?", name)
        try:
            return cls(m[1], int(m[2]), int(m[3]), float(m[4]), None if m[5] is None else float(m[5]))
        except (TypeError, ValueError):
            raise ConfigError(f"not a setting name: {name!r} (expected MODEL-bBATCH-sSTEPS-wdDECAY, "
                              "and -lrLR for a learning-rate candidate)")


def model_name(config: dict, model: str, n_embd=None, n_layer=None) -> str:
    """A named model with its width and/or depth replaced: `small_w128`, `small_d8`,
    `small_w128_d8`; a value equal to the named model's own leaves the name as is, so
    a width sweep through a model's own width shares its runs with other groups."""
    spec = config["models"][model]
    return model + "".join(f"_{tag}{v}" for tag, key, v in (("w", "n_embd", n_embd), ("d", "n_layer", n_layer))
                           if v is not None and v != spec[key])


DERIVED_MODEL = re.compile(r"(.+?)(?:_w(\d+))?(?:_d(\d+))?")


def _derived_spec(config: dict, name: str) -> dict | None:
    """The spec a model_name-style name stands for, or None when it is not one."""
    m = DERIVED_MODEL.fullmatch(name)
    if m[1] == name or m[1] not in config["models"]:
        return None
    spec = dict(config["models"][m[1]])
    spec.update({k: int(v) for k, v in (("n_embd", m[2]), ("n_layer", m[3])) if v})
    return spec


def model_spec(config: dict, name: str) -> dict:
    """The layers / width / heads of a model name (a `models` entry or model_name's)."""
    spec = config["models"].get(name) or _derived_spec(config, name)
    if spec is None:
        raise ConfigError(f"unknown model {name!r}; defined in models: {sorted(config['models'])}")
    return dict(sorted(spec.items()))


def _configurations(config: dict, group: str) -> list[Setting]:
    """The product of a group's axes, without learning rates."""
    sweep = config["sweeps"][group]
    models = [model_name(config, m, w, d) for m in sweep["model"]
              for w in sweep.get("n_embd", [None]) for d in sweep.get("n_layer", [None])]
    return [Setting(m, b, s, float(wd)) for m, b, s, wd in itertools.product(
        list(dict.fromkeys(models)), sweep["batch_size"], sweep["steps"],
        sweep.get("weight_decay", [0.0]))]


def tuned_lrs(config: dict) -> dict[str, tuple[float, ...]]:
    """Configuration name -> its learning-rate candidates (increasing), for every
    configuration of a group with an `lr` list. The learning rate belongs to the
    configuration: one that a group tunes is tuned in every group that trains it (one
    learning rate per configuration in a study), so two groups must give it the same
    candidates."""
    tuned, source = {}, {}
    for group, sweep in config["sweeps"].items():
        if "lr" not in sweep:
            continue
        lrs = tuple(sorted({float(x) for x in sweep["lr"]}))
        for s in _configurations(config, group):
            if tuned.setdefault(s.name, lrs) != lrs:
                raise ConfigError(f"sweeps.{group}.lr: configuration {s.name} is also tuned by "
                                  f"sweeps.{source[s.name]}.lr, with other candidates "
                                  f"({list(tuned[s.name])}); give both groups the same list")
            source.setdefault(s.name, group)
    return tuned


def sweep_settings(config: dict, group: str) -> list[Setting]:
    """The group's settings: the product of its axes, each configuration that a group
    tunes (tuned_lrs) once per learning-rate candidate."""
    tuned = tuned_lrs(config)
    return [replace(s, lr=lr) if lr is not None else s for s in _configurations(config, group)
            for lr in tuned.get(s.name, (None,))]


def group_configurations(config: dict, group: str) -> list[str]:
    """The names of the group's configurations (its settings without learning rates):
    what its thresholds and figures show, each tuned one by its chosen learning rate's
    runs (lr_choice.keep_chosen). The group's setting names when it tunes nothing."""
    return list(dict.fromkeys(s.configuration.name for s in sweep_settings(config, group)))


def all_settings(config: dict) -> list[Setting]:
    seen = {}
    for group in config["sweeps"]:
        for s in sweep_settings(config, group):
            seen.setdefault(s.name, s)
    return list(seen.values())


def sweep_seeds(config: dict, group: str) -> list[int]:
    """The training seeds of a sweep group (each setting of the group runs every one)."""
    return sorted(int(s) for s in config["sweeps"][group].get("seed", [0]))


def sweep_M_labels(config: dict, group: str) -> list[str]:
    """The group's own M grid (`M` in the group; a refined group's coarse grid), else the
    config's. A refined group adds M after each round (refine.py, the refine rule)."""
    sweep = config["sweeps"][group]
    grid = sweep["refine"]["coarse"] if "refine" in sweep else sweep.get("M", config["M"])
    return [M_label(M) for M in grid]


def sweep_refine(config: dict, group: str) -> dict | None:
    """A group's `refine` block (coarse, rounds, width, points), or None for a fixed grid."""
    refine = config["sweeps"][group].get("refine")
    return None if refine is None else dict({"points": 2}, **refine)


def refine_pairs(config: dict, group: str) -> list[tuple[str, Setting, Setting]]:
    """The curve pairs a refined group refines, each on its own M: (problem name, the
    setting with the smaller and the one with the larger value of `vary`) for every
    problem of the group and combination of its other axes."""
    vary = config["sweeps"][group]["vary"]
    fixed = [a for a in ("model", "batch_size", "steps", "weight_decay") if a != vary]
    combos = {}
    for s in sweep_settings(config, group):
        combos.setdefault(tuple(getattr(s, a) for a in fixed), []).append(s)
    pairs = [sorted(members, key=lambda s: getattr(s, vary)) for members in combos.values()]
    return [(p.name, small, large) for p in sweep_problems(config, group) for small, large in pairs]


def refine_runs_at_most(config: dict, group: str | None = None) -> list[tuple[str, str, int, str]]:
    """The runs refinement can add at most (the plan's worst case), as all_runs lists
    runs: per curve pair of each refined group, `rounds` x `points` new M for both
    settings and every seed. Which M is known only once the rounds run; these stand in
    for them as the largest integers below the coarse grid's largest finite M (none
    trained already), where a baseline costs the most; there are fewer when the coarse
    grid holds fewer untrained integers, as there would be for the refinement. `group`:
    that group's only."""
    runs = []
    for group in [group] if group else config["sweeps"]:
        spec = sweep_refine(config, group)
        if spec is None:
            continue
        coarse = [int(M) for M in sweep_M_labels(config, group) if M != "inf"]
        free = [m for m in range(max(coarse) - 1, min(coarse), -1) if m not in coarse]
        Ms = [str(m) for m in free[:spec["rounds"] * spec["points"]]]
        runs += [(p, s.name, seed, M) for p, small, large in refine_pairs(config, group)
                 for s in (small, large) for seed in sweep_seeds(config, group) for M in Ms]
    return runs


def all_runs(config: dict) -> list[tuple[str, str, int, str]]:
    """Every training run as (problem name, setting name, seed, M label), each once: a
    run that several groups ask for (same problem, setting, seed and M) trains once."""
    runs = {}
    for group in config["sweeps"]:
        for p, s, seed, M in itertools.product(
                sweep_problems(config, group), sweep_settings(config, group),
                sweep_seeds(config, group), sweep_M_labels(config, group)):
            runs.setdefault((p.name, s.name, seed, M), None)
    return list(runs)


def connectivity_seeds(config: dict) -> tuple[list[int], list[int]]:
    """The mode-connectivity reference's seeds: (the connectivity group's own seeds, the
    seeds whose M = inf models form the reference). The reference joins M = inf models of
    independently initialised seeds, so a group with one seed adds one M = inf run at
    `analysis.connectivity.reference_seed` (default: its seed + 1); a group with several
    uses its own. ([], []) when the study draws no connectivity figure."""
    group = (config.get("figures") or {}).get("connectivity")
    if group not in config["sweeps"]:
        return [], []
    seeds = sweep_seeds(config, group)
    if len(seeds) > 1:
        return seeds, seeds
    extra = ((config.get("analysis") or {}).get("connectivity") or {}).get("reference_seed")
    extra = seeds[0] + 1 if extra is None else int(extra)
    if extra in seeds:
        raise ConfigError(f"analysis.connectivity.reference_seed ({extra}) is the seed of sweep "
                          f"group {group!r}: the reference needs a second, independent seed")
    return seeds, seeds + [extra]


def reference_runs(config: dict) -> list[tuple[str, str, int, str]]:
    """The runs the connectivity reference trains beyond the sweep (all_runs): M = inf at
    the reference seed, for each setting of the connectivity group. Not in any threshold
    or table of runs: only the connectivity analysis reads them."""
    own, ref = connectivity_seeds(config)
    group = (config.get("figures") or {}).get("connectivity")
    return [(main_problem(config).name, s.name, seed, "inf")
            for s in (sweep_settings(config, group) if ref else [])
            for seed in ref if seed not in own]


def problem_M_labels(config: dict, name: str) -> list[str]:
    """The M each problem needs pools and baselines at: the union of its groups' grids
    (the main problem: also the config's grid, which the baselines table has always
    covered), in increasing order with inf last."""
    labels = set(M_labels(config)) if name == main_problem(config).name else set()
    for group in config["sweeps"]:
        if name in [p.name for p in sweep_problems(config, group)]:
            labels.update(sweep_M_labels(config, group))
    return sorted(labels, key=lambda m: float(m))


def M_labels(config: dict) -> list[str]:
    return [M_label(M) for M in config["M"]]


def _non_finite(node, path=()):
    """Key paths of every NaN or infinite number in a nested config."""
    if isinstance(node, float) and not math.isfinite(node):
        yield ".".join(map(str, path))
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _non_finite(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _non_finite(v, path + (i,))


def check(config: dict) -> None:
    """Cross-key checks the JSON Schema cannot state. Raises ConfigError naming the key."""
    # JSON Schema's bounds let NaN through (every comparison with NaN is false)
    bad = list(_non_finite(config))
    if bad:
        raise ConfigError(f"config key {bad[0]}: NaN or infinite numbers are not allowed "
                          "(M = infinity is spelled inf)")
    outdir = str(config["outdir"])
    if "{" in outdir or "}" in outdir:
        raise ConfigError(f"outdir: {outdir!r} may not contain braces (Snakemake reads them as wildcards)")
    if Path(outdir).exists() and not Path(outdir).is_dir():
        raise ConfigError(f"outdir: {outdir!r} exists and is not a folder")
    if not any(M_label(M) != "inf" for M in config["M"]):
        raise ConfigError("M: needs at least one finite pool size besides inf (the thresholds "
                          "and figures compare finite M)")
    for name, m in config["models"].items():
        if m["n_embd"] % m["n_head"]:
            raise ConfigError(f"models.{name}: n_embd ({m['n_embd']}) must be divisible by "
                              f"n_head ({m['n_head']})")
    for group, sweep in config["sweeps"].items():
        for model in sweep["model"]:
            if model not in config["models"]:
                raise ConfigError(f"sweeps.{group}.model: unknown model {model!r}; "
                                  f"defined in models: {sorted(config['models'])}")
    _check_lr(config)       # before anything expands the groups into settings
    for group, sweep in config["sweeps"].items():
        _check_group_axes(config, group, sweep)
        _check_refine(config, group, sweep)
    for fig, groups in (config.get("figures") or {}).items():
        for group in figure_groups(groups):
            if group not in config["sweeps"]:
                raise ConfigError(f"figures.{fig}: unknown sweep group {group!r}; "
                                  f"defined in sweeps: {sorted(config['sweeps'])}")
            if fig in ONE_PROBLEM_FIGURES and len(sweep_problems(config, group)) > 1:
                raise ConfigError(f"figures.{fig}: sweep group {group!r} spans several problems "
                                  f"({[p.name for p in sweep_problems(config, group)]}); this "
                                  "figure draws one (fig6 draws several)")
    check_analysis(config)
    _check_fig4_fit(config)
    t = config["train"]
    for s in all_settings(config):
        if s.steps < 2:
            raise ConfigError(f"sweeps: steps must be >= 2 for the triangle schedule ({s.name})")
    if t["eval_every"] < 1 or t["checkpoint_every"] < 1:
        raise ConfigError("train.eval_every and train.checkpoint_every must be >= 1")
    if t.get("device") == "cpu" and t.get("gpus_per_job", 0) >= 1:
        raise ConfigError("train.device is cpu but train.gpus_per_job asks each training job "
                          "for a GPU it would never use; set one of them differently")
    curve = config["eval"].get("curve_sequences", "all")
    if curve != "all" and curve > config["eval"]["n_sequences"]:
        raise ConfigError(f"eval.curve_sequences ({curve}) exceeds eval.n_sequences "
                          f"({config['eval']['n_sequences']}): the curves use the first sequences of each set")


def check_analysis(config: dict) -> None:
    """What Fig 5 and the mode-connectivity figure need from the rest of the config."""
    figures, analysis = config.get("figures") or {}, config.get("analysis") or {}
    finite = {M_label(M) for M in config["M"]} - {"inf"}
    # an analysis is checked where its figure is drawn (a study inherits config.yaml's
    # analyses whether or not it draws them)
    if "fig5" in figures and "interpolation" in analysis:
        for M in analysis["interpolation"]["M"]:
            if M_label(M) not in finite:
                raise ConfigError(f"analysis.interpolation.M: {M} is not one of the finite "
                                  f"pool sizes in M ({sorted(finite, key=int)})")
            if int(M) < 2:
                raise ConfigError("analysis.interpolation.M: a path needs two distinct pool "
                                  "tasks, so M >= 2")
    elif "fig5" in figures:
        raise ConfigError("figures.fig5 needs analysis.interpolation (at least its M: the "
                          "pool sizes to draw)")
    for fig in ("fig5", "connectivity"):
        group = figures.get(fig)
        if group in config["sweeps"] and (sweep_problems(config, group) != [main_problem(config)]
                                          or sweep_M_labels(config, group) != M_labels(config)):
            raise ConfigError(f"figures.{fig}: sweep group {group!r} must use the top-level "
                              "problem and M grid (the analyses read its pools and runs"
                              + ("; a refined group's grid is its refine.coarse)" if
                                 "refine" in config["sweeps"][group] else ")"))
    if "connectivity" in figures:
        if "inf" not in {M_label(M) for M in config["M"]}:
            raise ConfigError("figures.connectivity needs inf in M: each model is joined to "
                              "the M = inf model of its setting and seed")
        connectivity_seeds(config)       # raises on a reference seed that is no second seed
        n = (analysis.get("connectivity") or {}).get("n_sequences")   # filled by the schema
        if n is not None and n > config["eval"]["n_sequences"]:
            raise ConfigError(f"analysis.connectivity.n_sequences ({n}) exceeds "
                              f"eval.n_sequences ({config['eval']['n_sequences']})")


def fig4_fit(config: dict) -> dict:
    """Fig 4's fit range, always explicit: {"max_M": M} (fit t* over M <= M) or
    {"below": group} (fit below that group's all-seeds threshold; default Fig 4's group)."""
    dyn = (config.get("analysis") or {}).get("dynamics") or {}
    if "fit_max_M" in dyn:
        return {"max_M": int(dyn["fit_max_M"])}
    return {"below": dyn.get("fit_below", (config.get("figures") or {}).get("fig4"))}


def _check_fig4_fit(config: dict) -> None:
    dyn = (config.get("analysis") or {}).get("dynamics") or {}
    if "fig4" not in (config.get("figures") or {}):
        return
    if "fit_max_M" in dyn and "fit_below" in dyn:
        raise ConfigError("analysis.dynamics: give fit_max_M or fit_below, not both")
    fit = fig4_fit(config)
    if "below" not in fit:
        return
    group = fit["below"]
    if group not in config["sweeps"]:
        raise ConfigError(f"analysis.dynamics.fit_below: unknown sweep group {group!r}; "
                          f"defined in sweeps: {sorted(config['sweeps'])}")
    vary = config["sweeps"][group]["vary"]
    if len({getattr(s, vary) for s in sweep_settings(config, group)}) < 2:
        raise ConfigError(f"figures.fig4: Fig 4 fits t* ~ M^alpha below the threshold of group "
                          f"{group!r}, which has one value of {vary} and so no threshold; set "
                          "analysis.dynamics.fit_max_M (the paper fits M <= 1024) or "
                          "analysis.dynamics.fit_below (a group with a threshold)")


# Figures drawn from one problem's tables (fig6 compares problems; fig7 is per axis).
ONE_PROBLEM_FIGURES = ("fig2", "fig3", "fig4", "positions", "appendix_small", "appendix_laplace")


def figure_groups(value) -> list[str]:
    """The sweep groups a `figures` entry names: one group, a list, or (fig7) a mapping
    from axis to group."""
    if isinstance(value, str):
        return [value]
    return list(value.values()) if isinstance(value, dict) else list(value)


# Figures whose analyses load one model per setting of their group (analysis.smk): their
# groups may not hold learning-rate candidates, whose choice is made only after training.
ONE_MODEL_FIGURES = ("fig5", "connectivity")


def _check_lr(config: dict) -> None:
    """Each group's `lr` list: positive, no value twice, each written in a setting's name
    without loss (6 significant digits), one list per configuration (tuned_lrs); and no
    candidates in a group whose models the analyses load."""
    for group, sweep in config["sweeps"].items():
        lrs = sweep.get("lr", [])
        for lr in lrs:
            if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
                raise ConfigError(f"sweeps.{group}.lr: {lr!r} is not a positive learning rate")
            if float(f"{lr:g}") != lr:
                raise ConfigError(f"sweeps.{group}.lr: {lr!r} has more than 6 significant digits; "
                                  "a run's name holds its learning rate with 6 (e.g. 3.0e-4)")
        if len({float(x) for x in lrs}) != len(lrs):
            raise ConfigError(f"sweeps.{group}.lr: {lrs} lists a learning rate twice")
    tuned = tuned_lrs(config)
    for group, sweep in config["sweeps"].items():
        held = [s.name for s in _configurations(config, group) if s.name in tuned]
        if "refine" in sweep and held:
            raise ConfigError(f"sweeps.{group}.refine: the group trains {held[0]} at several learning "
                              "rates, one of which is chosen only after training; refine a group "
                              "without learning-rate candidates")
    figures = config.get("figures") or {}
    for fig in ONE_MODEL_FIGURES:
        group = figures.get(fig)
        if group not in config["sweeps"]:
            continue
        candidates = [s.name for s in _configurations(config, group) if s.name in tuned]
        if candidates:
            raise ConfigError(f"figures.{fig}: sweep group {group!r} trains {candidates[0]}, which "
                              "a group's lr list tunes; the analyses load one model per setting, so "
                              "draw this figure from a group without learning-rate candidates")


def _check_group_axes(config: dict, group: str, sweep: dict) -> None:
    """A group's problem and model axes: K and the noise each given or tied to D, not
    both; K an integer >= 2; a finite M; widths the heads divide; a derived model name
    that is also defined in `models` must mean the same model."""
    key = f"sweeps.{group}"
    for axis in ("K", "noise_var"):
        if axis in sweep and f"{axis}_per_D" in sweep:
            raise ConfigError(f"{key}: give {axis} or {axis}_per_D, not both")
    for p in sweep_problems(config, group):
        if p.K < 2 or p.K != int(p.K):
            raise ConfigError(f"{key}.K_per_D: K = {p.K} at D = {p.D}; K must be an integer >= 2")
    if not any(m != "inf" for m in sweep_M_labels(config, group)):
        raise ConfigError(f"{key}.M: needs at least one finite pool size besides inf")
    for model in sweep["model"]:
        heads = config["models"][model]["n_head"]
        for width in sweep.get("n_embd", []):
            if width % heads:
                raise ConfigError(f"{key}.n_embd: {width} is not divisible by the "
                                  f"{heads} heads of model {model!r}")
    for s in sweep_settings(config, group):
        derived = _derived_spec(config, s.model)
        if s.model in config["models"] and s.model not in sweep["model"] and \
                derived != config["models"][s.model]:
            raise ConfigError(f"{key}: the width/depth axes make model {s.model!r}, which "
                              "`models` defines differently; rename that entry")


def _check_refine(config: dict, group: str, sweep: dict) -> None:
    """A refined group: its coarse grid replaces `M`; its threshold is the crossing of two
    curves, so its vary axis has exactly two values; a crossing needs two finite M."""
    if "refine" not in sweep:
        return
    key = f"sweeps.{group}"
    if "M" in sweep:
        raise ConfigError(f"{key}: give M (a fixed grid) or refine.coarse (the grid refinement "
                          "starts from), not both")
    if "lr" in sweep:
        raise ConfigError(f"{key}: refine and lr (learning-rate candidates) cannot be combined: "
                          "refine adds M for the settings whose curves cross")
    vary = sweep["vary"]
    if len(sweep[vary]) != 2:
        raise ConfigError(f"{key}.refine: the group varies {vary} over {sweep[vary]}; refinement "
                          f"needs exactly two values of {vary} (the two curves whose crossing it refines)")
    finite = [M for M in sweep["refine"]["coarse"] if M_label(M) != "inf"]
    if len(finite) < 2:
        raise ConfigError(f"{key}.refine.coarse: needs at least two finite M (a crossing lies "
                          f"between two), got {sweep['refine']['coarse']}")


def _coerce(value, schema: dict, defs: dict):
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    types = _types(schema, defs)
    if isinstance(value, str) and "string" not in types and value not in types:
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        # YAML that reads as text again (`lr: fast`) stays as given: validation names its key
        return value if parsed is None or isinstance(parsed, str) else _coerce(parsed, schema, defs)
    if isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {k: _coerce(v, props.get(k, extra if isinstance(extra, dict) else {}), defs)
                for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(v, schema["items"], defs) for v in value]
    return value


def _types(schema: dict, defs: dict) -> list[str]:
    """JSON types a schema admits (through $ref, anyOf, enum and const); the string
    constants it admits stand for themselves."""
    if "$ref" in schema:
        return _types(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return [t for s in schema["anyOf"] for t in _types(s, defs)]
    if "type" in schema:
        return schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    # a string constant admits only itself, returned as is (e.g. M's "inf")
    values = schema.get("enum", []) + ([schema["const"]] if "const" in schema else [])
    return [v if isinstance(v, str) else "number" for v in values] or ["any"]


def coerce_overrides(config: dict) -> dict:
    """Typed values for what `--config key=value` delivers as text: Snakemake reads a
    nested value (`train={lr: 0.001}`, `M=[2,16]`) with YAML's base loader, so every
    leaf is a string. A string where the schema admits no string is read as YAML."""
    schema = yaml.safe_load(SCHEMA.read_text())
    return _coerce(config, schema, schema.get("$defs", {}))


# ---- studies: a study file holds what differs from config.yaml, merged onto it

# A study's sweep groups and figures are its own: given in a study, they replace the
# base's whole instead of merging into them (a study of the decay axis must not also
# train and draw the default's batch group).
STUDY_REPLACES = ("sweeps", "figures")


def unknown_keys(node, schema: dict, path=()):
    """Key paths of `node` that the schema does not know (where it lists its keys)."""
    if not isinstance(node, dict):
        return
    props, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
    for key, value in node.items():
        if key in props:
            yield from unknown_keys(value, props[key], path + (key,))
        elif isinstance(extra, dict):
            yield from unknown_keys(value, extra, path + (key,))
        elif extra is False:
            yield ".".join(map(str, path + (key,)))


def merge_study(base: dict, study: dict, source="the study") -> dict:
    """The config a study runs with: `study` merged onto `base` (config.yaml). A mapping
    merges key by key, a list or a value replaces the base's, and `sweeps` and `figures`
    replace the base's whole. A key the schema does not know is refused, naming it."""
    schema = yaml.safe_load(SCHEMA.read_text())
    bad = list(unknown_keys(study, schema))
    if bad:
        raise ConfigError(f"{source}: unknown config key {bad[0]} (config.yaml and the schema, "
                          "workflow/schemas/config.schema.yaml, list the keys a study may set)")

    def merge(a, b, top):
        out = dict(a)
        for key, value in b.items():
            if isinstance(value, dict) and isinstance(a.get(key), dict) and not (top and key in STUDY_REPLACES):
                out[key] = merge(a[key], value, False)
            else:
                out[key] = value
        return out
    return merge(base, study, True)


def fill_defaults(config: dict, schema: dict | None = None) -> dict:
    """The schema's defaults filled into `config` in place, recursively (what Snakemake's
    validate does), so that tools outside the workflow see the config its rules see."""
    schema = schema or yaml.safe_load(SCHEMA.read_text())
    props, extra = schema.get("properties", {}), schema.get("additionalProperties")
    for key, sub in props.items():
        if key not in config and "default" in sub:
            config[key] = json.loads(json.dumps(sub["default"]))
    for key, value in config.items():
        sub = props.get(key, extra if isinstance(extra, dict) else None)
        if isinstance(value, dict) and sub:
            fill_defaults(value, sub)
    return config


def study_name(configfiles) -> str:
    """A study is named by its file (studies/seeds.yaml: seeds); config.yaml is `default`."""
    files = [Path(f) for f in configfiles or []]
    if not files or files[-1].resolve() == BASE_CONFIG.resolve():
        return "default"
    return files[-1].stem


def _deep_update(config: dict, overrides: dict) -> dict:
    """`overrides` merged into `config` key by key, in place (what Snakemake does with
    `--config` over a config file)."""
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            _deep_update(config[key], value)
        else:
            config[key] = value
    return config


def resolve_study(study: dict, configfiles, overrides: dict | None = None,
                  overrides_name: str = "--config") -> dict:
    """The config a study runs with, before validation: `overrides` (the `--config`
    values) merged into the study key by key (into config.yaml when there is no study
    file), the study merged onto config.yaml (merge_study), named, defaults filled in.
    The Snakefile and load_config both call this."""
    base = yaml.safe_load(BASE_CONFIG.read_text())
    study = json.loads(json.dumps(study if configfiles else base))
    study = coerce_overrides(_deep_update(study, overrides or {}))
    study.setdefault("study", study_name(configfiles))
    source = " and ".join(str(f) for f in configfiles or []) or overrides_name
    return fill_defaults(merge_study(base, study, source=source))


def load_config(path=None, overrides: dict | None = None) -> dict:
    """config.yaml with the study at `path` (if any) and `overrides` merged as the
    workflow merges them, named, with defaults filled in and checked."""
    files = [path] if path is not None and Path(path).resolve() != BASE_CONFIG.resolve() else []
    study = (yaml.safe_load(Path(path).read_text()) or {}) if files else {}
    return validate(resolve_study(study, files, overrides, overrides_name="overrides"))


def validate(config: dict) -> dict:
    """Schema validation with defaults filled in, then the cross-key checks."""
    import jsonschema
    schema = yaml.safe_load(SCHEMA.read_text())
    fill_defaults(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        key = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise ConfigError(f"config key {key}: {e.message}")
    check(config)
    return config


def config_hash(config: dict) -> str:
    """A short hash of the resolved config, stable across key order."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
