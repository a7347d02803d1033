import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
sys.path.insert(0, str(ROOT / "src"))


def snakemake(*args, cwd=ROOT, check=True):
    """Run snakemake in the repository; returns the CompletedProcess (stdout+stderr in .stdout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([SNAKEMAKE, *args], cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def smoke_outdir(tmp_path_factory):
    """The whole smoke preset, run once per test session into a fresh folder."""
    out = tmp_path_factory.mktemp("smoke")
    snakemake("--cores", "2", "--configfile", "presets/smoke.yaml", "--config", f"outdir={out}")
    return out
