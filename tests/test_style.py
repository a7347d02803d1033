"""The Snakefile and rule files are formatted (snakefmt) and every study passes
snakemake --lint."""
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, snakemake

STUDIES = ["config.yaml"] + sorted(f"studies/{p.name}" for p in (ROOT / "studies").glob("*.yaml"))


def test_the_snakefile_and_rule_files_are_formatted():
    snakefmt = Path(sys.executable).with_name("snakefmt")
    out = subprocess.run([str(snakefmt), "--check", "--diff", "Snakefile", "workflow/rules"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_passes_the_linter(study, tmp_path):
    out = snakemake("--lint", "--configfile", study, "--config", f"outdir={tmp_path}", check=False)
    assert out.returncode == 0 and "in a good condition" in out.stdout, out.stdout[-3000:]
