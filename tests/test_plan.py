"""The plan: job counts, rates and storage against what the workflow really writes."""
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import ROOT, metrics_dir, run_dir
from icl_diversity import config as cfg
from icl_diversity import plan
from icl_diversity.model import ICLTransformer, ModelConfig

RATES = pd.DataFrame([
    dict(device="cpu", model="4/32/2", batch=64, steps_per_s=20.0, threads=1, measured_on="x", date="d"),
    dict(device="cpu", model="4/32/2", batch=256, steps_per_s=6.0, threads=1, measured_on="x", date="d")])


@pytest.mark.parametrize("model,D,K", [((1, 16, 2), 3, 8), ((8, 128, 2), 8, 16), ((12, 256, 4), 8, 16)])
def test_parameter_count_is_the_models(model, D, K):
    real = sum(p.numel() for p in ICLTransformer(ModelConfig(D, K, *model)).parameters())
    assert plan.n_params(dict(n_layer=model[0], n_embd=model[1], n_head=model[2]), D, K) == real


def test_rates_exact_scaled_by_batch_or_missing():
    tiny = dict(n_layer=4, n_embd=32, n_head=2)
    assert plan.rate_for(RATES, "cpu", tiny, 64) == plan.Rate(20.0, "")
    scaled = plan.rate_for(RATES, "cpu", tiny, 128)          # nearest in log batch: 64 (tie -> first)
    assert scaled.steps_per_s == pytest.approx(10.0) and "batch 64" in scaled.note
    assert plan.rate_for(RATES, "cpu", tiny, 1024).steps_per_s == pytest.approx(1.5)
    assert plan.rate_for(RATES, "cuda", tiny, 64) is None
    assert plan.rate_for(RATES, "cpu", dict(n_layer=8, n_embd=128, n_head=2), 64) is None


def test_plan_of_the_default_counts_jobs_and_time():
    config = plan.load_config(ROOT / "config.yaml")
    text = plan.plan(config, RATES)
    # the sweep's runs (one per M of the grid and batch size) and the connectivity
    # reference's M = inf run per setting
    n_M = len(config["M"])
    assert len(cfg.all_runs(config)) == 2 * n_M and len(cfg.reference_runs(config)) == 2
    assert text.startswith(f"{2 * n_M + 2} training jobs")
    # n_M + 1 runs at 6000 steps / 20 steps/s and n_M + 1 at 6000 / (20 * 64 / 128), each
    # with its evaluations' forward passes at the FLOP/s of its training steps
    tiny, D, K = cfg.model_spec(config, "tiny"), 4, 16

    def job(batch, steps_per_s):
        flop_rate = steps_per_s * plan.step_flops(tiny, batch, D, K)
        return 6000 / steps_per_s + plan.evaluation_flops(config, tiny, 6000, D, K) / flop_rate
    n = n_M + 1
    total = n * job(64, 20.0) + n * job(128, 10.0)
    assert n * 300 + n * 600 < total < 1.2 * (n * 300 + n * 600)
    assert "total (job time)" in text and f"{total / 3600:.1f} h" in text
    assert "unmeasured" in text                               # no cuda rates given


def test_storage_estimate_matches_what_the_smoke_run_wrote(smoke_config):
    config = plan.load_config(ROOT / "studies" / "smoke.yaml")
    for setting in cfg.all_settings(config):
        rows = plan.csv_row_bytes(config, setting)
        for M, finite in (("16", True), ("inf", False)):
            want = plan.run_storage(config, setting, finite, rows)
            folders = {"predictions.npz": run_dir(smoke_config, setting.name, 0, M),
                       "train_loss.csv": run_dir(smoke_config, setting.name, 0, M),
                       "curve.csv": metrics_dir(smoke_config, setting.name, 0, M),
                       "metrics.csv": metrics_dir(smoke_config, setting.name, 0, M)}
            for name, folder in folders.items():
                real = (folder / name).stat().st_size
                assert want[name] == pytest.approx(real, rel=0.15, abs=600), (setting.name, M, name)


def test_the_command_runs_on_the_paper_study():
    out = subprocess.run([sys.executable, "-m", "icl_diversity.plan", "studies/paper.yaml"], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""}).stdout
    config = plan.load_config(ROOT / "studies" / "paper.yaml")
    runs = cfg.all_runs(config) + cfg.reference_runs(config)
    assert cfg.reference_runs(config)            # its connectivity group has one seed
    assert f"{len(runs)} training jobs" in out and "over 4 problems" in out and "total written" in out


def _hours(text: str) -> float:
    """A human_hours string ("12.5 s", "3.0 min", "1.4 h") in hours."""
    value, unit = text.split()
    return float(value) / {"s": 3600, "min": 60, "h": 1}[unit]


def test_the_plan_states_fig4s_fit_range():
    paper = plan.plan(plan.load_config(ROOT / "studies" / "paper.yaml"), RATES)
    assert "Fig 4 fits t* ~ M^alpha over M <= 1024 (analysis.dynamics.fit_max_M)" in paper
    default = plan.plan(plan.load_config(ROOT / "config.yaml"), RATES)
    assert ("Fig 4 fits t* ~ M^alpha below the all-seeds threshold of group batch "
            "(analysis.dynamics.fit_below; by default Fig 4's own group)") in default
    assert "learning rate" not in default                    # nothing tuned


def test_the_plan_counts_what_the_learning_rate_candidates_add(tmp_path):
    study = yaml.safe_load((ROOT / "studies" / "smoke.yaml").read_text())
    study["sweeps"]["tuned"] = {"vary": "batch_size", "batch_size": [32, 64], "steps": [20000],
                                "model": ["nano"], "lr": [0.003, 0.001, 0.01]}
    path = tmp_path / "tuned.yaml"
    path.write_text(yaml.safe_dump(study))
    tuned = plan.plan(plan.load_config(path), RATES)
    del study["sweeps"]["tuned"]["lr"]                        # the same study at train.lr
    path.write_text(yaml.safe_dump(study))
    untuned = plan.plan(plan.load_config(path), RATES)

    def jobs_and_cpu(text):
        row = next(line for line in text.splitlines() if line.startswith("total (job time)"))
        jobs, cpu = re.fullmatch(r"total \(job time\)\s+(\d+)\s+([\d.]+ (?:s|min|h)).*", row).groups()
        return int(jobs), _hours(cpu)
    (n_tuned, cpu_tuned), (n_untuned, cpu_untuned) = jobs_and_cpu(tuned), jobs_and_cpu(untuned)
    # 2 configurations x 3 rates x 3 M (2, 16, inf), one seed: 18 candidate runs, 12 of them
    # beyond one rate per configuration
    assert n_tuned - n_untuned == 12
    assert "learning rate tuned over 0.001, 0.003, 0.01 for 2 configuration(s): " \
           "nano-b32-s20000-wd0, nano-b64-s20000-wd0" in tuned
    line = next(line for line in tuned.splitlines() if line.startswith("  learning-rate candidates:"))
    m = re.fullmatch(rf"  learning-rate candidates: 18 of the {n_tuned} jobs, 12 more than one rate per "
                     r"configuration would train; those add cpu ([\d.]+ (?:s|min|h)), cuda unmeasured "
                     "of job time", line)
    assert m, line
    # what they add is the difference the lr list makes to the plan's total (to its rounding)
    assert _hours(m.group(1)) == pytest.approx(cpu_tuned - cpu_untuned, rel=0.01)
    assert "learning-rate candidates" not in untuned
