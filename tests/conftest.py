import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
sys.path.insert(0, str(ROOT / "src"))

from icl_diversity import config as cfg  # noqa: E402

# What a copy of the workflow needs; tests that touch source files work on a copy, so
# they never make a real results folder look out of date.
WORKFLOW_FILES = ("Snakefile", "config.yaml", "studies", "workflow", "src", "envs")


def snakemake(*args, cwd=ROOT, check=True, env=None):
    """Run snakemake in `cwd` (its own src/ first on the path, `env` added to the
    environment); returns the CompletedProcess, with stdout and stderr together in .stdout."""
    env = dict(os.environ, **(env or {}), PYTHONPATH=str(Path(cwd) / "src"))
    proc = subprocess.run([SNAKEMAKE, *args], cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}")
    return proc


def planned_jobs(*args, cwd) -> dict[str, int]:
    """{rule: number of jobs} that a dry run would execute."""
    out = snakemake("-n", *args, cwd=cwd).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def copy_finished(wf: Path, dest: Path) -> Path:
    """A copy of a finished workflow folder at `dest` (which must not exist), Snakemake's
    records (.snakemake) and the outdir included, file times kept: the rules' code inputs
    are relative paths, so the copy is as finished as the original, and a test may add to
    it without touching the original."""
    shutil.copytree(wf, dest, symlinks=True, ignore=shutil.ignore_patterns("locks"))
    return dest


def study_config(wf: Path, study: str, outdir="out") -> dict:
    """The resolved config of studies/{study}.yaml in the workflow folder `wf`, with the
    outdir as given (relative: the paths Snakemake prints and records, relative to `wf`)."""
    return cfg.load_config(Path(wf) / "studies" / f"{study}.yaml", {"outdir": str(outdir)})


def main_pdir(config: dict) -> Path:
    """The main problem's folder in the store."""
    return Path(cfg.problem_dir(config, cfg.main_problem(config).name))


def run_dir(config: dict, setting: str, seed, M, problem: str | None = None) -> Path:
    """A training run's folder in the store (the main problem's unless `problem` is given)."""
    pdir = cfg.problem_dir(config, problem or cfg.main_problem(config).name)
    return Path(cfg.run_dir(config, pdir, setting, seed, M))


def metrics_dir(config: dict, setting: str, seed, M, problem: str | None = None) -> Path:
    """Where a run's metrics against its baselines are (metrics.csv, curve.csv, ...)."""
    return Path(cfg.metrics_dir(config, str(run_dir(config, setting, seed, M, problem))))


def baselines_dir(config: dict, problem: str | None = None) -> Path:
    pdir = cfg.problem_dir(config, problem or cfg.main_problem(config).name)
    return Path(cfg.baselines_dir(config, pdir))


def train_job_log(config: dict, setting: str, seed, M, problem: str | None = None) -> Path:
    """The log of the study's training job of a run: in the study's folder, under the
    problem's folder name in the store (the run's own progress log is train.log in the
    run's folder)."""
    pdir = Path(cfg.problem_dir(config, problem or cfg.main_problem(config).name))
    return Path(cfg.study_dir(config)) / "logs" / "train" / pdir.name / setting / f"seed{seed}" / f"M{M}.log"


def copy_workflow(dest: Path) -> Path:
    for name in WORKFLOW_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="session")
def smoke_workflow(tmp_path_factory):
    """A copy of the workflow with the smoke study run once, end to end, into the outdir
    `out` (its store at out/store, the study's outputs at out/studies/smoke).
    Returns (workflow folder, outdir)."""
    wf = copy_workflow(tmp_path_factory.mktemp("workflow"))
    snakemake("--cores", "2", "--configfile", "studies/smoke.yaml", "--config", "outdir=out", cwd=wf)
    return wf, wf / "out"


@pytest.fixture(scope="session")
def smoke_outdir(smoke_workflow):
    """The smoke study's own outputs (tables, figures, summary): out/studies/smoke."""
    return smoke_workflow[1] / "studies" / "smoke"


@pytest.fixture(scope="session")
def smoke_config(smoke_workflow):
    """The smoke study's config as the workflow resolved it (paths into the store:
    config.problem_dir, run_dir, metrics_dir, baselines_dir)."""
    from icl_diversity import config as cfg
    wf, _ = smoke_workflow
    config = cfg.load_config(wf / "studies" / "smoke.yaml", {"outdir": str(wf / "out")})
    return config


# ---- test tiers (pyproject.toml registers the markers): the unit tier is
#   pytest -m "not workflow and not slurm and not slow"
# A test is in the workflow tier when it, or a fixture it uses, runs Snakemake.
RUNS_SNAKEMAKE = ("snakemake(", "planned_jobs(", "SNAKEMAKE", "copy_workflow(", "copy_finished(")


def _source(func) -> str:
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        return ""


def _runs_snakemake(item, seen=None) -> bool:
    funcs = [getattr(item, "function", None)]
    for name in getattr(item, "fixturenames", ()):
        funcs += [d.func for d in item._fixtureinfo.name2fixturedefs.get(name, ())]
    module = item.module
    for func in funcs:
        text = _source(func)
        if any(call in text for call in RUNS_SNAKEMAKE):
            return True
        # one level of the test module's own helpers (def name(...) calling snakemake)
        for helper in re.findall(r"\b([a-z_][a-z0-9_]*)\(", text):
            f = getattr(module, helper, None)
            if inspect.isfunction(f) and f.__module__ == module.__name__ and \
                    any(call in _source(f) for call in RUNS_SNAKEMAKE):
                return True
    return False


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__ == "test_slurm":
            item.add_marker(pytest.mark.slurm)
        if _runs_snakemake(item):
            item.add_marker(pytest.mark.workflow)
