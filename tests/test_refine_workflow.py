"""Adaptive refinement of M end to end, on a study of smoke size: each round's decision
is a checkpoint whose runs show in the dry run once it is written, a workflow killed
between rounds resumes without retraining, and a finished study trains nothing more."""
import json
import os
import re
import signal
import subprocess
import time

import pandas as pd
import pytest
import yaml

from conftest import (SNAKEMAKE, copy_workflow, planned_jobs, run_dir, snakemake, study_config,
                      train_job_log)

# The threshold of 60 against 1,500 training steps (batch 32, a 2-layer model, D = 4):
# after 1,500 steps the model has memorised pools of 2 and 3 tasks (further from Ridge
# than after 60 steps) and learned regression from 16 or more (closer to it), so the
# curves cross between the coarse grid's M = 2 and 16 with a wide margin; one seed.
STUDY = {
    "problem": {"D": 4, "K": 16},
    "M": [2, 16, 128],
    "eval": {"n_sequences": 1024, "curve_sequences": 64, "dmmse_chunk": 8, "n_bootstrap": 200,
             "plateau_guard": 0.01},
    "models": {"mini": {"n_layer": 2, "n_embd": 32, "n_head": 2}},
    "train": {"eval_every": 250, "checkpoint_every": 250, "device": "cpu"},
    "sweeps": {"batch": {"vary": "steps", "batch_size": [32], "steps": [60, 1500], "model": ["mini"],
                         "refine": {"coarse": [2, 16, 128], "rounds": 2, "width": 0.01, "points": 1}}},
    "figures": {"fig2": "batch"},
}
SETTINGS = ["mini-b32-s60-wd0", "mini-b32-s1500-wd0"]
ARGS = ("--configfile", "studies/smoke_refine.yaml", "--config", "outdir=out")
DECISIONS = "out/studies/smoke_refine/refine/batch"


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    wf = copy_workflow(tmp_path_factory.mktemp("refine"))
    (wf / "studies" / "smoke_refine.yaml").write_text(yaml.safe_dump(STUDY))
    return wf


def decision(wf, r) -> dict:
    return json.loads((wf / DECISIONS / f"round{r}.json").read_text())


def planned_runs(wf, *extra) -> list[tuple[str, str]]:
    """(setting, M) of every train job a dry run plans."""
    out = snakemake("-n", *extra, *ARGS, cwd=wf).stdout
    # each job's block: "rule train:", then indented lines, one of them its wildcards
    return sorted(re.findall(r"^rule train:\n(?:[ \t].*\n)*?[ \t]+wildcards: pdir=[^,]+, "
                             r"setting=([^,\s]+), seed=\d+, M=(\w+)", out, re.M))


def models(wf, config) -> dict:
    """mtime (ns) of every trained model of the study, by (setting, M)."""
    found = {}
    for s in SETTINGS:
        for path in (wf / run_dir(config, s, 0, "X").parent).glob("M*/model.pt"):
            found[s, path.parent.name[1:]] = path.stat().st_mtime_ns
    return found


def test_refinement_round_by_round_kill_and_rerun(workflow):
    wf = workflow
    config = study_config(wf, "smoke_refine")
    settings = SETTINGS
    coarse = [(s, M) for s in settings for M in ("128", "16", "2")]

    # before anything runs: the coarse grid; the decisions wait on it
    assert planned_runs(wf) == sorted(coarse)
    assert planned_jobs(*ARGS, cwd=wf)["refine"] >= 1

    # the coarse grid and its decision (round 0) only
    snakemake(f"{DECISIONS}/round0.json", "--cores", "2", *ARGS, cwd=wf)
    d0 = decision(wf, 0)
    (pair,) = d0["pairs"]
    assert pair["status"] == "refining", pair
    assert pair["trained_M"] == [2, 16, 128] and len(pair["next_M"]) == 1
    lo, hi = pair["bracket"]
    (new,) = pair["next_M"]
    assert 2 ** lo < new < 2 ** hi
    # the dry run now lists the round's runs: both settings at the new M
    assert planned_runs(wf) == sorted((s, str(new)) for s in settings)

    # the whole study, killed (every process of it, as a lost node would be) once round 1's
    # decision is written and round 2's training has started: between rounds
    before = models(wf, config)
    proc = subprocess.Popen([SNAKEMAKE, "--cores", "2", *ARGS], cwd=wf, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=str(wf / "src")))
    try:
        deadline = time.time() + 600
        while not (wf / DECISIONS / "round1.json").exists():
            assert time.time() < deadline and proc.poll() is None, "round 1's decision never appeared"
            time.sleep(0.05)
        round2 = [(s, str(m)) for s in settings for m in decision(wf, 1)["pairs"][0]["next_M"]]
        assert round2, decision(wf, 1)
        logs = [wf / train_job_log(config, s, 0, m) for s, m in round2]
        while not any(log.exists() for log in logs):
            assert time.time() < deadline and proc.poll() is None, "round 2 never started"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed = models(wf, config)
    assert {k: killed[k] for k in before} == before          # nothing trained twice
    round1 = {(s, str(new)) for s in settings}
    assert round1 <= set(killed) <= set(before) | round1 | set(round2)
    assert decision(wf, 1)["pairs"][0]["trained_M"] == sorted([2, 16, 128, new])

    # the rerun (after the unlock a kill -9 needs) trains only what round 2 has left
    snakemake("--unlock", *ARGS, cwd=wf)
    todo = planned_runs(wf, "--rerun-incomplete")
    assert todo and set(todo) == set(round2) - set(killed)
    snakemake("--cores", "2", "--rerun-incomplete", *ARGS, cwd=wf)
    after = models(wf, config)
    assert {k: after[k] for k in killed} == killed
    assert set(after) == set(killed) | set(todo)

    # the last decision is the thresholds table's row, which says why refinement stopped
    final = decision(wf, 2)["pairs"][0]
    t = pd.read_csv(wf / "out" / "studies" / "smoke_refine" / "tables" / "thresholds.csv")
    (row,) = t.to_dict("records")
    assert row["refinement"] == final["status"] and final["stopped"]
    assert row["refine_rounds"] == final["stopped_round"]
    assert final["trained_M"] == sorted({int(m) for _, m in after})
    for key in ("log2_threshold", "ci_low", "ci_high"):
        assert (row[key] == final[key]) or (pd.isna(row[key]) and final[key] is None), key
    pt = pd.read_csv(wf / "out" / "studies" / "smoke_refine" / "tables" / "pt_metrics.csv")
    assert sorted(set(pt["M"])) == sorted(float(m) for m in final["trained_M"])
    base = pd.read_csv(wf / "out" / "studies" / "smoke_refine" / "tables" / "baselines.csv")
    assert {float(m) for m in final["trained_M"]} <= set(base["M"])
    # the summary shows each round's decision up to the last
    summary = (wf / "out" / "studies" / "smoke_refine" / "summary.md").read_text()
    part = summary.split("## Refinement of M", 1)[1].split("\n## ", 1)[0]
    rounds = [line.split("|")[4].strip() for line in part.splitlines() if line.startswith("| `batch`")]
    assert rounds == [str(r) for r in range(final["stopped_round"] + 1)]
    assert final["status"] in part
    # and a finished study trains nothing more
    assert planned_jobs(*ARGS, cwd=wf) == {}
