"""The plan's baselines (dMMSE over every pool, smoothed dMMSE's tuning, the Laplace prior's
Gibbs sweeps) counted against hand counts, its totals, the GPU statement, and the README's
quote of the paper study's totals."""
import re

import pandas as pd
import pytest

from conftest import ROOT
from icl_diversity import config as cfg
from icl_diversity import plan

UNIT = "(sequence, position, pool task)"


def rates_table(rows):
    return pd.DataFrame([dict(zip(("estimator", "D", "M", "seconds_per_unit"), r), K=16, unit=UNIT,
                              measured_on="hand", method="hand") for r in rows])


# A tiny problem counted by hand: D = 2, K = 4 (positions 1..3 weigh the pool), 8
# sequences per set, 3 tuning sequences, 2 values of s^2, the Laplace prior with 20 sweeps.
TINY = {"problem": {"D": 2, "K": 4, "noise_var": 0.25, "prior": "laplace"},
        "eval": {"n_sequences": 8, "n_tuning": 3, "smoothing_grid": [0.1, 0.2], "laplace_sweeps": 20}}
TINY_RATES = rates_table([("dmmse_true", 2, "4", 1e-6), ("dmmse_pretrain", 2, "4", 2e-6),
                          ("smoothed_tuning", 2, "4", 3e-6), ("laplace_gibbs", 2, "inf", 1e-3)])


def test_the_baselines_work_is_the_hand_count():
    work = plan.baseline_work(TINY, None, ["2", "4", "inf"])
    # M = 2: 8 sequences x 3 positions x 2 tasks = 48 per set; smoothed dMMSE: 3 tuning
    # sequences x 2 values of s^2, then 8 + 8 evaluation sequences: 22 x 3 x 2 = 132.
    # M = 4: twice that. M = inf: Ridge only. Gibbs: 8 x 4 chains x (200 + 20) sweeps.
    assert sorted(work) == sorted([
        ("dmmse_true", "2", 48), ("dmmse_pretrain", "2", 48), ("smoothed_tuning", "2", 132),
        ("dmmse_true", "4", 96), ("dmmse_pretrain", "4", 96), ("smoothed_tuning", "4", 264),
        ("laplace_gibbs", "inf", 7040)])
    seconds, notes = plan.baseline_seconds(TINY, None, ["2", "4", "inf"], TINY_RATES)
    assert seconds["dMMSE"] == pytest.approx(48e-6 + 96e-6 + 48 * 2e-6 + 96 * 2e-6)
    assert seconds["smoothed dMMSE"] == pytest.approx((132 + 264) * 3e-6)
    assert seconds["Laplace Bayes"] == pytest.approx(7.04)
    assert notes == {k: {"at M = 4"} for k in ("dmmse_true D=2", "dmmse_pretrain D=2", "smoothed_tuning D=2")}
    # a Gaussian prior has no Bayes estimator to sample
    gaussian = {**TINY, "problem": {**TINY["problem"], "prior": "gaussian"}}
    assert "Laplace Bayes" not in plan.baseline_seconds(gaussian, None, ["2", "inf"], TINY_RATES)[0]


def test_a_rate_is_measured_taken_from_the_nearest_M_or_estimated_for_another_D():
    rates = rates_table([("dmmse_true", 8, "1024", 4e-9), ("dmmse_true", 8, "1048576", 2e-9),
                         ("laplace_gibbs", 8, "inf", 8e-6)])
    assert plan.baseline_rate(rates, "dmmse_true", 8, "1048576") == plan.BaselineRate(2e-9, "")
    assert plan.baseline_rate(rates, "dmmse_true", 8, "524288") == plan.BaselineRate(2e-9, "at M = 1048576")
    assert plan.baseline_rate(rates, "dmmse_true", 8, "16") == plan.BaselineRate(4e-9, "at M = 1024")
    wider = plan.baseline_rate(rates, "dmmse_true", 32, "1048576")         # work per task ~ D
    assert wider.seconds_per_unit == pytest.approx(8e-9) and wider.note.startswith("estimated from D = 8")
    gibbs = plan.baseline_rate(rates, "laplace_gibbs", 4)                   # a sweep ~ D^3
    assert gibbs.seconds_per_unit == pytest.approx(1e-6) and gibbs.note.startswith("estimated from D = 8")
    assert plan.baseline_rate(rates, "smoothed_tuning", 8, "1024") is None


def test_the_default_plan_adds_the_baselines_to_the_cpu_total_and_says_gpu_hours_are_unmeasured():
    config = plan.load_config(ROOT / "config.yaml")
    train = pd.DataFrame([dict(device="cpu", model="4/32/2", batch=64, steps_per_s=20.0, threads=1,
                               measured_on="x", date="d", D=4, K=16)])
    base = rates_table([("dmmse_true", 4, "256", 1e-9), ("dmmse_pretrain", 4, "256", 1e-9),
                        ("smoothed_tuning", 4, "256", 2e-9)])
    text = plan.plan(config, train, baseline_rates=base)
    # the default: D = 4, K = 16, 4096 sequences per set, 13 values of s^2 on 1024 tuning
    # sequences, pools of 2 + 4 + 8 + 16 + 32 + 64 + 256 = 382 tasks in all
    weighed = 15 * 382
    baselines = weighed * (4096 * 1e-9 * 2 + (13 * 1024 + 2 * 4096) * 2e-9)
    tiny = cfg.model_spec(config, "tiny")
    runs = cfg.all_runs(config) + cfg.reference_runs(config)
    settings = {s.name: s for s in cfg.all_settings(config)}

    def job(batch):
        flop_rate = 20.0 * 64 / batch * plan.step_flops(tiny, batch, 4, 16)
        return plan.run_flops(config, tiny, 6000, batch, 4, 16) / flop_rate
    training = sum(job(settings[s].batch_size) for _, s, _, _ in runs)
    flops = sum(plan.run_flops(config, tiny, 6000, settings[s].batch_size, 4, 16) for _, s, _, _ in runs)
    totals = plan.totals(text)
    assert totals[1] == (f"  CPU: {plan.human_hours(training + baselines)} on one core (training and "
                         f"evaluation {plan.human_hours(training)}, baselines {plan.human_hours(baselines)})")
    gpu = " ".join(line.strip() for line in totals[2:])
    assert gpu.startswith("GPU hours: unmeasured") and f"are {flops:.3g} FLOPs" in gpu
    assert "python benchmarks/measure_rates.py --device cuda" in gpu
    # with a measured cuda rate, GPU hours are estimated from it as the CPU's are
    cuda = pd.concat([train, train.assign(device="cuda", steps_per_s=2000.0)], ignore_index=True)
    with_gpu = plan.totals(plan.plan(config, cuda, baseline_rates=base))
    assert with_gpu[2] == (f"  GPU: {plan.human_hours(training / 100)} on one cuda device for training and "
                           f"evaluation ({flops:.3g} FLOPs), and the baselines' {plan.human_hours(baselines)} "
                           "on the CPU")


def test_without_baseline_rates_the_cpu_total_is_unmeasured_and_names_the_script(tmp_path):
    config = plan.load_config(ROOT / "config.yaml")
    text = plan.plan(config, plan.load_rates(), baseline_rates=plan.load_baseline_rates(tmp_path / "none.csv"))
    assert plan.totals(text)[1] == ("  CPU: unmeasured (dMMSE, smoothed dMMSE): run benchmarks/measure_rates.py "
                                    "(--baselines for the baselines)")


def test_the_paper_plan_counts_every_problems_baselines_from_the_measured_rates():
    config = plan.load_config(ROOT / "studies" / "paper.yaml")
    text = plan.plan(config, plan.load_rates())
    lines = text.splitlines()
    section = lines[next(i for i, line in enumerate(lines) if line.startswith("baselines (")):]
    section = section[:section.index("")]
    rows = {line.split()[0]: line.split() for line in section if line.split()[0] in cfg.all_problems(config)}
    assert set(rows) == set(cfg.all_problems(config))
    assert all("unmeasured" not in cells for cells in rows.values())
    # only the Laplace-prior problem has a Bayes estimator to sample ("-" elsewhere)
    assert {p for p, cells in rows.items() if "-" not in cells} == {"D8-K16-noise0.25-laplace"}
    cpu, gpu = plan.totals(text)[1:3]
    assert re.fullmatch(r"  CPU: [\d.]+ h on one core \(training and evaluation [\d.]+ h, baselines [\d.]+ h\)", cpu)
    assert gpu.startswith("  GPU hours: unmeasured")


def test_the_measured_baseline_rates_are_package_data_with_how_they_were_measured():
    rates = plan.load_baseline_rates()
    assert plan.BASELINE_RATES.parent == plan.RATES.parent and len(rates)
    assert set(rates["estimator"]) == set(plan.D_POWER)
    assert rates["method"].str.contains("benchmarks/measure_rates.py --baselines").all()
    assert rates["measured_on"].str.len().gt(0).all() and rates["unit"].str.startswith("(sequence").all()
    # the paper's problems are measured at their own D (8, 16, 32) and largest M
    paper = plan.load_config(ROOT / "studies" / "paper.yaml")
    for p in cfg.all_problems(paper).values():
        for estimator in ("dmmse_true", "dmmse_pretrain", "smoothed_tuning"):
            assert plan.baseline_rate(rates, estimator, p.D, "1048576").note == "", (estimator, p.D)


@pytest.mark.parametrize("content,why", [
    ("estimator,D,M\ndmmse_true,8,1024\n", "no column seconds_per_unit, measured_on"),
    ("estimator,D,M,seconds_per_unit,measured_on\nridge,8,1024,1e-9,x\n", "unknown estimator ridge"),
    ("estimator,D,M,seconds_per_unit,measured_on\ndmmse_true,8,1024,-1,x\n", "must be a positive number"),
    ("estimator,D,M,seconds_per_unit,measured_on\ndmmse_true,8,1024,fast,x\n", "must be a positive number"),
])
def test_a_baseline_rates_file_the_plan_cannot_use_is_refused_naming_it(tmp_path, content, why):
    path = tmp_path / "baseline_rates.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + re.escape(why)):
        plan.load_baseline_rates(path)


def test_the_plans_burn_in_is_the_laplace_scripts():
    script = (ROOT / "workflow" / "scripts" / "laplace_bayes.py").read_text()
    assert int(re.search(r"^BURN_IN = (\d+)", script, re.M).group(1)) == plan.LAPLACE_BURN_IN


def test_the_readme_quotes_the_paper_plans_totals():
    """The README's totals are the plan's, written by tools/readme_plan.py: rerun it when
    the rates or the paper study change."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("readme_plan", ROOT / "tools" / "readme_plan.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.quoted((ROOT / "README.md").read_text()) == tool.block(), \
        "README.md's plan totals are stale: run .venv/bin/python tools/readme_plan.py"
