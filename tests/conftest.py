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
