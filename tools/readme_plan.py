"""Writes the paper study's compute totals, as `python -m icl_diversity.plan
studies/paper.yaml` prints them from the measured rates in the package data, into
README.md between its `<!-- plan totals -->` and `<!-- /plan totals -->` lines, so that the
README quotes the plan and holds no number typed by hand. Run it after measuring rates
(benchmarks/measure_rates.py); tests/test_plan_baselines.py checks that the README agrees.

    .venv/bin/python tools/readme_plan.py
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from icl_diversity import plan  # noqa: E402

README = ROOT / "README.md"
STUDY = "studies/paper.yaml"
BEGIN, END = "<!-- plan totals -->", "<!-- /plan totals -->"


def block() -> str:
    """What the README holds between the markers: the plan's totals, verbatim."""
    text = plan.plan(plan.load_config(ROOT / STUDY), plan.load_rates(), study=STUDY)
    return "\n".join(["```", *plan.totals(text), "```"])


def quoted(readme: str) -> str:
    """The README's text between the markers; ValueError when they are missing."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        raise ValueError(f"{README}: expected one {BEGIN} line and one {END} line after it")
    return readme.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def main():
    readme = README.read_text()
    old = quoted(readme)
    new = block()
    if old == new:
        print(f"{README.name}: the totals are current")
        return
    README.write_text(readme.replace(f"{BEGIN}\n{old}\n{END}" if old else f"{BEGIN}\n{END}",
                                     f"{BEGIN}\n{new}\n{END}"))
    print(f"{README.name}: totals written from `python -m icl_diversity.plan {STUDY}`:\n{new}")


if __name__ == "__main__":
    main()
