"""benchmarks/ holds what prints speed, memory and coverage numbers, tools/ what users run
on their results; each script says how to run it, and the plan's measured rates are
package data."""
import ast
from pathlib import Path

import pytest

from conftest import ROOT
from icl_diversity import plan

SCRIPTS = sorted(p.relative_to(ROOT) for folder in ("benchmarks", "tools") for p in (ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=str)
def test_every_script_says_how_to_run_it(script):
    doc = ast.get_docstring(ast.parse((ROOT / script).read_text())) or ""
    assert f"python {script}" in doc or f"python3 {script}" in doc, f"{script}: no usage line naming it"


def test_the_measured_rates_are_package_data():
    pkg = Path(plan.__file__).resolve().parent
    assert plan.RATES.resolve().parent == pkg / "data" and plan.RATES.exists()
    rates = plan.load_rates()
    assert {"device", "model", "batch", "steps_per_s", "D", "K"} <= set(rates.columns) and len(rates)
    assert "data/*.csv" in (ROOT / "pyproject.toml").read_text()
