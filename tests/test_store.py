"""The store that studies share: a second study never touches the first one's outputs and
trains only what is new; a changed setting shares no run; two workflow runs started from
different working folders never train one run at once, nor delete each other's results."""
import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from conftest import SNAKEMAKE, copy_workflow, planned_jobs, snakemake
from icl_diversity import config as cfg


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def finished_copy(smoke_workflow, dest: Path) -> Path:
    """A copy of the finished smoke workflow folder (outputs, store and Snakemake's
    records, with their times), so a test can add to it without changing the session's."""
    wf, _ = smoke_workflow
    shutil.copytree(wf, dest, symlinks=True)
    return dest


def write_study(wf: Path, name: str, study: dict) -> str:
    (wf / "studies" / f"{name}.yaml").write_text(yaml.safe_dump(study))
    return f"studies/{name}.yaml"


def smoke_study(wf: Path) -> dict:
    return yaml.safe_load((wf / "studies" / "smoke.yaml").read_text())


def test_a_second_study_trains_only_its_new_seed_and_leaves_the_first_alone(smoke_workflow, tmp_path):
    wf = finished_copy(smoke_workflow, tmp_path / "wf")
    first = wf / "out" / "studies" / "smoke"
    before = digests(first)
    study = smoke_study(wf)
    study["sweeps"]["batch"]["seed"] = [0, 1, 2]         # the only difference
    args = ("--configfile", write_study(wf, "smoke_seeds", study), "--config", "outdir=out")

    jobs = planned_jobs(*args, cwd=wf)
    # seed 2 of the batch group's two settings at its three M; pools, evaluation sets and
    # baselines are the store's already
    assert jobs["train"] == 2 * 3 and jobs["pt_metrics"] == 2 * 3, jobs
    assert not {"task_pool", "eval_set_true", "eval_set_pretrain", "baselines"} & set(jobs), jobs
    snakemake("--cores", "2", *args, cwd=wf)

    second = wf / "out" / "studies" / "smoke_seeds"
    assert (second / "tables" / "thresholds.csv").exists() and (second / "figures" / "fig2.png").exists()
    assert digests(first) == before
    # every provenance sidecar under the outdir names inputs that exist, as recorded
    sidecars = [p for p in (wf / "out").rglob("*.json")
                if isinstance(record := json.loads(p.read_text()), dict) and "inputs" in record]
    assert {p.parent.parent.name for p in sidecars} >= {"smoke", "smoke_seeds"}
    for path in sidecars:
        for item in json.loads(path.read_text())["inputs"]:
            f = Path(item["path"]) if Path(item["path"]).is_absolute() else wf / item["path"]
            assert f.exists(), (path, item["path"])
            assert hashlib.sha256(f.read_bytes()).hexdigest() == item["sha256"], (path, item["path"])


def test_a_study_that_changes_the_learning_rate_shares_no_run(smoke_workflow, tmp_path):
    wf = finished_copy(smoke_workflow, tmp_path / "wf")
    study = smoke_study(wf)
    study["train"]["lr"] = 1.0e-3
    path = write_study(wf, "smoke_lr", study)
    default = cfg.load_config(wf / "studies" / "smoke.yaml", {"outdir": "out"})
    changed = cfg.load_config(wf / path, {"outdir": "out"})

    def run_dirs(config):
        return {cfg.run_dir(config, cfg.problem_dir(config, p), s, seed, M)
                for p, s, seed, M in cfg.all_runs(config)}
    assert len(run_dirs(changed)) == len(cfg.all_runs(changed)) == 15
    assert not run_dirs(changed) & run_dirs(default)
    # the data do not depend on the learning rate: pools, evaluation sets and baselines
    # are shared; every run is new
    jobs = planned_jobs("--configfile", path, "--config", "outdir=out", cwd=wf)
    assert jobs["train"] == 15, jobs
    assert not {"task_pool", "eval_set_true", "eval_set_pretrain", "baselines"} & set(jobs), jobs


RACE_STUDY = {   # one run long enough (some seconds) to start a second workflow run during it
    "problem": {"D": 3, "K": 8}, "M": [16, "inf"],
    "eval": {"n_sequences": 128, "curve_sequences": 64, "dmmse_chunk": 8},
    "models": {"nano": {"n_layer": 1, "n_embd": 16, "n_head": 2}},
    "train": {"eval_every": 200, "checkpoint_every": 200, "device": "cpu"},
    "sweeps": {"one": {"vary": "batch_size", "batch_size": [8], "steps": [6000], "model": ["nano"]}},
    "figures": {}, "analysis": {},
}


def test_two_workflow_runs_from_different_folders_never_train_one_run_at_once(tmp_path):
    """The same target started from two working folders on one store: the second waits
    for the first (naming it), then takes its result; the finished run survives as is."""
    store_root = tmp_path / "shared"
    folders = []
    for name in ("clone_a", "clone_b"):
        (tmp_path / name).mkdir()
        wf = copy_workflow(tmp_path / name)
        write_study(wf, "race", RACE_STUDY)
        folders.append(wf)
    config = cfg.load_config(folders[0] / "studies" / "race.yaml", {"outdir": str(store_root)})
    (problem, setting, seed, M), = [r for r in cfg.all_runs(config) if r[3] == "16"]
    run = Path(cfg.run_dir(config, cfg.problem_dir(config, problem), setting, seed, M))
    args = [SNAKEMAKE, str(run / "model.pt"), "--cores", "1", "--configfile", "studies/race.yaml",
            "--config", f"outdir={store_root}"]

    def start(wf):
        return subprocess.Popen(args, cwd=wf, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    a = start(folders[0])
    lock = run / "train.lock"
    deadline = time.time() + 300
    while not lock.exists() and a.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert lock.exists(), f"the first workflow run never took the run's lock:\n{a.communicate()[0][-3000:]}"
    holder = json.loads(lock.read_text())
    b = start(folders[1])
    out_a, _ = a.communicate(timeout=600)
    assert a.returncode == 0, out_a[-3000:]
    finished = {name: hashlib.sha256((run / name).read_bytes()).hexdigest()
                for name in ("model.pt", "predictions.npz", "train_loss.csv")}
    out_b, _ = b.communicate(timeout=600)
    assert b.returncode == 0, out_b[-3000:]
    assert f"being trained by host {holder['host']}, pid {holder['pid']}" in out_b, out_b[-3000:]
    assert "finished by another workflow run" in out_b
    assert {name: hashlib.sha256((run / name).read_bytes()).hexdigest() for name in finished} == finished
    # trained once: one training header in the run's own log, and no lock left behind
    assert (run / "train.log").read_text().count("--- ") == 1
    assert not lock.exists()
