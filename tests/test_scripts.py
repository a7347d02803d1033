"""benchmarks/ holds what prints speed, memory and coverage numbers, tools/ what users run
on their results; each script says how to run it, and the plan's measured rates are
package data."""
import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

from conftest import ROOT
from icl_diversity import plan

SCRIPTS = sorted(p.relative_to(ROOT) for folder in ("benchmarks", "tools") for p in (ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=str)
def test_every_script_says_how_to_run_it(script):
    doc = ast.get_docstring(ast.parse((ROOT / script).read_text())) or ""
    assert f"python {script}" in doc or f"python3 {script}" in doc, f"{script}: no usage line naming it"


def _package_imports(script):
    """(module, name) of every `from icl_diversity... import name` in a script."""
    for node in ast.walk(ast.parse((ROOT / script).read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("icl_diversity"):
            yield from ((node.module, alias.name) for alias in node.names)


@pytest.mark.parametrize("script", SCRIPTS, ids=str)
def test_every_name_a_script_imports_from_the_package_exists(script):
    """Scripts are not imported by any other test, so a rename in the package would
    otherwise leave one failing at its first line, found only when someone runs it."""
    missing = [f"{module}.{name}" for module, name in _package_imports(script)
               if not hasattr(importlib.import_module(module), name)
               and importlib.util.find_spec(f"{module}.{name}") is None]
    assert not missing, f"{script} imports what the package no longer has: {missing}"


def test_the_measured_rates_are_package_data():
    pkg = Path(plan.__file__).resolve().parent
    assert plan.RATES.resolve().parent == pkg / "data" and plan.RATES.exists()
    rates = plan.load_rates()
    assert {"device", "model", "batch", "steps_per_s", "D", "K"} <= set(rates.columns) and len(rates)
    assert "data/*.csv" in (ROOT / "pyproject.toml").read_text()


def _refine_saving():
    spec = importlib.util.spec_from_file_location("refine_saving", ROOT / "benchmarks" / "refine_saving.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_refine_saving_plans_the_named_groups_alone_fixed_and_refined(tmp_path):
    import yaml
    from icl_diversity import config as cfg
    study = {"M": [2, 4, 8, 16, 32, "inf"],
             "sweeps": {"a": {"vary": "batch_size", "batch_size": [8, 16], "steps": [60], "model": ["tiny"],
                              "lr": [1e-3, 3e-3]},
                        "b": {"vary": "batch_size", "batch_size": [8, 16], "steps": [120], "model": ["tiny"],
                              "M": [2, 4, 8, 16, 32, 64, 128]},
                        "other": {"vary": "batch_size", "batch_size": [8, 16], "steps": [60], "model": ["tiny"]}},
             "figures": {"fig2": "other"}}
    s = _refine_saving()
    fixed, refined, dropped = s.variants(study, ["a", "b"], every=2, rounds=3, width=0.25, points=1)
    assert dropped == ["a"] and "lr" not in fixed["sweeps"]["a"] and set(fixed["sweeps"]) == {"a", "b"}
    assert refined["sweeps"]["a"]["refine"]["coarse"] == [2, 8, 32]          # inf is never coarse
    assert refined["sweeps"]["b"]["refine"]["coarse"] == [2, 8, 32, 128] and "M" not in refined["sweeps"]["b"]
    n_fixed, _, _ = s.planned(fixed, tmp_path, "fixed", plan.load_rates())
    n_refined, _, lines = s.planned(refined, tmp_path, "refined", plan.load_rates())
    # a: 2 settings x 6 M; b: 2 x 7 (one seed) -- and refined: coarse plus 3 rounds x 1 M, both settings
    assert n_fixed == 2 * 6 + 2 * 7
    assert n_refined == 2 * (3 + 3) + 2 * (4 + 3)
    assert "refined group a: at most 12 runs" in lines and "refined group b: at most 14 runs" in lines
    assert cfg.load_config(tmp_path / "refined.yaml")["sweeps"]["b"]["refine"]["rounds"] == 3
    assert yaml.safe_load((tmp_path / "fixed.yaml").read_text())["figures"] == {}
