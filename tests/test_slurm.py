"""The smoke study through profiles/slurm on a real one-node Slurm cluster that the
test brings up (munged, slurmctld, slurmd) and takes down again.

Opt-in: ICL_SLURM_TEST=1, as root, with Debian's `slurmctld slurmd slurm-client munge`
and the `[slurm]` extra installed (.ci/run does all of that). The node declares two
placeholder GPUs (empty files in gres.conf), so a GPU request is formed and scheduled
for real, while torch on this machine still sees no CUDA device."""
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, copy_workflow, planned_jobs, run_dir, snakemake, study_config, train_job_log

OPT_IN = "ICL_SLURM_TEST"
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
SMOKE = ("--configfile", "studies/smoke.yaml", "--config", "outdir=out")
# What the test cluster can hold (2 CPUs, a few GB): the profile's paper-sized memory and
# threads are replaced by these; its runtimes and everything else are kept.
TEST_MEM_MB = {"default": 200, "baselines": 400, "train": 500, "pt_metrics": 300}
TEST_GROUP_MEM_MB = 1000       # what one group job may ask for (the profile's `resources`)
TRAIN_RUN = ("nano-b8-s60-wd0", 0, 2)      # setting, seed, M
# The profile's job groups (the rules' `group:`), each one Slurm job in the smoke study
# (its group-components gather every part of a group); the rules never grouped run as
# one Slurm job each.
GROUPS = ("data", "metrics", "tables")
UNGROUPED = ("train", "baselines", "interpolation_eval", "connectivity_to_inf", "connectivity_seeds",
             "connectivity_reference")
# what the train rule writes into a run's folder (pt_metrics writes the rest)
TRAIN_OUTPUTS = ("model.pt", "predictions.npz", "train_loss.csv")


def why_not_run() -> str | None:
    if os.environ.get(OPT_IN) != "1":
        return f"set {OPT_IN}=1 to bring up a one-node Slurm cluster (.ci/run does)"
    if os.geteuid() != 0:
        return "starting munged, slurmctld and slurmd needs root"
    missing = [p for p in PROGRAMS if not shutil.which(p, path=os.environ["PATH"] + ":/usr/sbin")]
    if missing:
        return (f"Slurm is not installed ({', '.join(missing)} missing): "
                "apt-get install slurmctld slurmd slurm-client munge")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "the Slurm executor plugin is missing: pip install -e '.[slurm]'"
    return None


pytestmark = pytest.mark.skipif(why_not_run() is not None, reason=str(why_not_run()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_line(name: str) -> str:
    """This machine's CPU layout as slurmd reports it, so the node is never drained for
    claiming more than it has; the memory is kept small."""
    hardware = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    layout = re.search(r"CPUs=\S+.*?ThreadsPerCore=\d+", hardware).group(0)
    return f"NodeName={name} NodeAddr=127.0.0.1 {layout} RealMemory=3000 Gres=gpu:2 State=UNKNOWN"


def write_conf(folder: Path, node: str) -> Path:
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    gpus = [folder / f"gpu{i}" for i in range(2)]
    for gpu in gpus:
        gpu.touch()
    (folder / "gres.conf").write_text("".join(f"NodeName={node} Name=gpu File={g}\n" for g in gpus))
    conf = folder / "slurm.conf"
    port = free_port()
    conf.write_text(f"""\
ClusterName=icltest
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={port}
# slurmd fetches this file from the controller and points its jobs' SLURM_CONF at its
# copy (srun inside a job needs it; Slurm does not pass the submitter's SLURM_CONF on)
SlurmctldParameters=enable_configless
SlurmdPort={free_port()}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=7200
DefMemPerCPU=200
ReturnToService=2
GresTypes=gpu
{node_line(node)}
PartitionName=test Nodes={node} Default=YES MaxTime=INFINITE State=UP
""")
    return conf, port


def munge_running() -> bool:
    pidfile = Path("/run/munge/munged.pid")
    return pidfile.exists() and Path(f"/proc/{pidfile.read_text().strip()}").exists()


def start_munged() -> subprocess.Popen | None:
    """munged in the foreground as the munge user, unless one already runs (then it is
    left alone, here and on teardown)."""
    if munge_running():
        return None
    run = Path("/run/munge")
    run.mkdir(parents=True, exist_ok=True)
    shutil.chown(run, "munge", "munge")
    return subprocess.Popen(["munged", "-F"], user="munge", group="munge",
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_idle_node(env, logs, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
        if state.stdout.strip() == "idle":
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in logs if p.exists())
    raise RuntimeError(f"the Slurm node did not become idle within {timeout} s:\n{tails}")


def stop(proc: subprocess.Popen):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory):
    """The environment (SLURM_CONF) of a running one-node cluster. Only the daemons
    started here are stopped, by their pid; the configuration folder goes with them,
    since a slurm.conf naming a dead controller slows every later snakemake call."""
    folder = tmp_path_factory.mktemp("slurm")
    node = socket.gethostname().split(".")[0]
    conf, port = write_conf(folder, node)
    env = dict(os.environ, SLURM_CONF=str(conf))
    started = []
    try:
        munged = start_munged()
        started += [munged] if munged else []
        deadline = time.time() + 10
        while not munge_running() and time.time() < deadline:
            time.sleep(0.1)
        slurmd_env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
        for daemon, daemon_env in ((["slurmctld", "-D", "-c"], env),
                                   (["slurmd", "-D", "-N", node, "--conf-server",
                                     f"127.0.0.1:{port}"], slurmd_env)):
            started.append(subprocess.Popen(daemon, env=daemon_env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
        wait_for_idle_node(env, [folder / "slurmctld.log", folder / "slurmd.log"])
        yield {"SLURM_CONF": str(conf)}
    finally:
        if len(started) > 1:
            subprocess.run(["scancel", "--user", "root"], env=env, check=False)
        for proc in reversed(started):
            stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


def profile_for_this_cluster(folder: Path) -> Path:
    """profiles/slurm with what this cluster needs: no accounting database (so squeue
    for status, no account), a quick first status check, and sizes that fit the node."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    cpus = os.cpu_count()
    profile.update({"slurm-status-command": "squeue", "slurm-no-account": True,
                    "slurm-init-seconds-before-status-checks": 5, "latency-wait": 5})
    profile["default-resources"]["mem_mb"] = TEST_MEM_MB["default"]
    for rule, resources in profile["set-resources"].items():
        if "mem_mb" in resources:
            resources["mem_mb"] = TEST_MEM_MB.get(rule, TEST_MEM_MB["default"])
    profile["set-threads"] = {rule: min(n, cpus) for rule, n in profile["set-threads"].items()}
    # what one group job may ask for: at most the node's CPUs and part of its memory
    profile["cores"] = min(profile["cores"], cpus)
    profile["resources"] = [f"mem_mb={TEST_GROUP_MEM_MB}"]
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def slurm_jobs(env) -> list[dict]:
    """Every job the controller remembers (MinJobAge keeps finished ones), as key=value dicts."""
    out = subprocess.run(["scontrol", "-d", "show", "job", "--oneliner"], env=dict(os.environ, **env),
                         capture_output=True, text=True, check=True).stdout
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def slurm_run(slurm_env, tmp_path_factory):
    """The smoke study run through the (test-sized) Slurm profile; returns the
    workflow folder, the profile folder, the Slurm jobs it ran, its wall time and the
    main Snakemake's log."""
    wf = copy_workflow(tmp_path_factory.mktemp("slurm_workflow"))
    profile = profile_for_this_cluster(tmp_path_factory.mktemp("profile"))
    t0 = time.time()
    snakemake("--profile", str(profile), *SMOKE, cwd=wf, env=slurm_env)
    seconds = time.time() - t0
    log = max((wf / ".snakemake" / "log").glob("*.snakemake.log"), key=lambda p: p.stat().st_mtime)
    return {"wf": wf, "profile": profile, "jobs": slurm_jobs(slurm_env), "seconds": seconds, "log": log}


def rule_of(job: dict) -> str:
    """The rule of a Slurm job, from the comment the plugin gives it (rule_NAME_wildcards_...);
    for a group job, the group and its rules (rule_GROUP_RULE1_..._RULE5_..., the first five)."""
    return re.match(r"rule_(\w+?)(?:_wildcards_|_\.\.\.$|$)", job["Comment"]).group(1)


def group_of(job: dict) -> str | None:
    """The group of a Slurm job that runs a group job, else None."""
    match = re.match(rf"rule_({'|'.join(GROUPS)})_", job["Comment"])
    return match and match.group(1)


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_smoke_through_slurm_writes_what_a_local_run_writes(slurm_run, smoke_workflow):
    print(f"smoke study through Slurm: {slurm_run['seconds']:.0f} s, {len(slurm_run['jobs'])} Slurm jobs")
    # the whole outdir: the store and the study's folder
    local, through_slurm = smoke_workflow[1], slurm_run["wf"] / "out"
    # the same files (logs and benchmark records included): nothing missing, nothing
    # extra; test_figures may have added a report to the local run's study
    assert files_under(through_slurm) == files_under(local) - {"studies/smoke/report.html"}
    assert all(p.stat().st_size > 0 for p in through_slurm.rglob("*")
               if p.is_file() and "logs" not in p.parts and not p.name.endswith(".log"))
    # same machine, same torch, same threads: the same numbers, to the last bit
    for table in ("baselines.csv", "pt_metrics.csv", "pt_curves.csv", "thresholds.csv"):
        tables = [folder / "studies" / "smoke" / "tables" / table for folder in (through_slurm, local)]
        pd.testing.assert_frame_equal(*map(pd.read_csv, tables), check_exact=True)
    assert planned_jobs(*SMOKE, cwd=slurm_run["wf"]) == {}


def test_each_rule_got_the_profiles_cpus_memory_and_time(slurm_run):
    jobs = [(rule_of(job), job) for job in slurm_run["jobs"] if group_of(job) is None]
    assert {"train", "baselines"} <= {rule for rule, _ in jobs} <= set(UNGROUPED), jobs
    for rule, job in jobs:
        mem = TEST_MEM_MB.get(rule, TEST_MEM_MB["default"])
        cpus = {"baselines": min(8, os.cpu_count())}.get(rule, 1)
        limit = {"train": "1-00:00:00", "baselines": "04:00:00"}.get(rule, "00:30:00")
        assert (job["MinMemoryNode"], job["NumCPUs"], job["TimeLimit"]) == (f"{mem}M", str(cpus), limit), job
        assert job["JobState"] == "COMPLETED" and job.get("JOB_GRES") == "(null)", job


def test_the_small_jobs_ran_as_one_slurm_job_per_group(slurm_run):
    """Pools and sets, the runs' metrics, and the tables and figures: one Slurm job per
    group (the smoke study's group-components gather each group whole), within the cores
    and memory one group job may have; every training run still its own Slurm job."""
    ran = {}      # rule -> jobs Snakemake ran, from its log
    for rule in re.findall(r"^\s*(?:local)?rule (\w+):$", slurm_run["log"].read_text(), re.M):
        ran[rule] = ran.get(rule, 0) + 1
    groups = [job for job in slurm_run["jobs"] if group_of(job)]
    assert sorted(group_of(job) for job in groups) == sorted(GROUPS), [rule_of(j) for j in groups]
    for job in groups:
        assert int(job["NumCPUs"]) <= min(8, os.cpu_count()), job
        assert int(job["MinMemoryNode"].rstrip("M")) <= TEST_GROUP_MEM_MB, job
        assert job["JobState"] == "COMPLETED" and job.get("JOB_GRES") == "(null)", job
    ungrouped = [rule_of(job) for job in slurm_run["jobs"] if group_of(job) is None]
    assert {rule: ungrouped.count(rule) for rule in set(ungrouped)} == \
        {rule: n for rule, n in ran.items() if rule in UNGROUPED}
    # every other job Snakemake ran was in a group job (and `all`, which runs in the main process)
    assert sum(n for rule, n in ran.items() if rule not in UNGROUPED) > len(groups) + 1
    assert len(slurm_run["jobs"]) == len(ungrouped) + len(GROUPS) < sum(ran.values()) - 1


def test_a_diverging_training_job_fails_the_workflow_and_leaves_its_log(slurm_run, slurm_env):
    wf, profile = slurm_run["wf"], slurm_run["profile"]
    # a learning rate of 1e4 blows the loss past train.max_loss (1e4) at once; the
    # changed lr is a result parameter: a run of its own in the store, trained anew
    config = study_config(wf, "smoke", "out")
    config["train"]["lr"] = 1.0e4
    run = run_dir(config, *TRAIN_RUN)
    assert run != run_dir(study_config(wf, "smoke", "out"), *TRAIN_RUN)
    proc = snakemake(f"{run}/model.pt", "--profile", str(profile), *SMOKE,
                     "train={lr: 1.0e+4}", cwd=wf, env=slurm_env, check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    log = (wf / train_job_log(config, *TRAIN_RUN)).read_text()
    assert re.search(r"diverged at step \d+", log), log[-2000:]
    assert not [f for f in TRAIN_OUTPUTS if (wf / run / f).exists()], "a failed training job left outputs behind"
    assert not (wf / run / "train.lock").exists(), "a failed training job left its lock behind"
    assert "Error in rule train" in proc.stdout


def test_a_gpu_request_reaches_sbatch_and_the_job(slurm_run, slurm_env):
    wf, profile = slurm_run["wf"], slurm_run["profile"]
    config = study_config(wf, "smoke", "out")
    run = run_dir(config, "nano-b8-s60-wd0", 1, 2)
    finished = {f: (wf / run / f).read_bytes() for f in TRAIN_OUTPUTS}
    before = {j["JobId"] for j in slurm_jobs(slurm_env)}
    # gpus_per_job is an execution knob, so the finished run is forced to rerun
    proc = snakemake(f"{run}/model.pt", "-f", "--profile", str(profile), *SMOKE,
                     "train={device: auto, gpus_per_job: 1}", cwd=wf, env=slurm_env, check=False)
    new = [j for j in slurm_jobs(slurm_env) if j["JobId"] not in before]
    assert len(new) == 1, new
    job = new[0]
    assert "gres:gpu:1" in job.get("TresPerJob", ""), job        # sbatch got --gpus=1
    assert job.get("JOB_GRES") == "gpu:1", job                    # ... and Slurm granted one
    # This machine's torch sees no CUDA behind the placeholder GPU, so the job stops with
    # the error naming the cause and writes nothing, and no lock is left. What is left of
    # the finished run it was forced to redo: locally, update() restores it as it was; under
    # the Slurm executor the job's own Snakemake restores it and the main one then removes
    # the failed job's outputs (README: the cluster). Never a partial or changed result.
    assert proc.returncode != 0
    log = (wf / train_job_log(config, "nano-b8-s60-wd0", 1, 2)).read_text()
    assert "the job was given a GPU but torch sees no CUDA device" in log, log[-2000:]
    left = {f: (wf / run / f).read_bytes() for f in TRAIN_OUTPUTS if (wf / run / f).exists()}
    assert left in ({}, finished), sorted(left)
    assert not (wf / run / "train.lock").exists()
