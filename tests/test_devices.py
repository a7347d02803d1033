"""A training job uses CUDA exactly when it was given a GPU, whatever the host that
builds the DAG has installed."""
import os
import re
import stat

import pytest
import torch

from conftest import copy_workflow, run_dir, snakemake, study_config, train_job_log
from icl_diversity.devices import holds_gpu, training_device

SMOKE = ("--configfile", "studies/smoke.yaml", "--config", "outdir=out")


@pytest.mark.parametrize("resources,held", [
    ({}, False),
    ({"gpu": 0}, False),
    ({"gpu": 1}, True),
    ({"gpu": 0, "gres": "gpu:1"}, True),
    ({"gres": "gpu:a100:2"}, True),
    ({"gres": "shard:1"}, True),
    ({"gres": "mps:25"}, True),
    ({"gres": "bandwidth:10,gpu:1"}, True),
    ({"gres": "gpudirect:1"}, False),      # a name that merely starts with gpu
    ({"gres": "tmpfs:10G"}, False),
    ({"gpu": None, "gres": None}, False),
])
def test_holds_gpu(resources, held):
    assert holds_gpu(resources) is held


@pytest.mark.parametrize("setting,held,available,device", [
    ("auto", False, False, "cpu"),
    ("auto", False, True, "cpu"),       # a visible GPU the job was not given stays unused
    ("auto", True, True, "cuda"),
    ("cpu", True, True, "cpu"),
    ("cpu", False, False, "cpu"),
    ("cuda", False, True, "cuda"),
])
def test_training_device(setting, held, available, device):
    assert training_device(setting, held, available) == device


@pytest.mark.parametrize("setting,held", [("auto", True), ("cuda", False), ("cuda", True)])
def test_wanting_cuda_without_a_visible_gpu_is_an_error_naming_the_cause(setting, held):
    with pytest.raises(RuntimeError, match=r"torch sees no CUDA device \(CUDA_VISIBLE_DEVICES='0'\)"):
        training_device(setting, held, cuda_available=False, visible="0")


def test_unknown_device_setting_is_refused():
    with pytest.raises(ValueError, match="train.device"):
        training_device("tpu", False, True)


def _train_gpu_requests(wf, *config, path=None):
    env_path = {} if path is None else {"PATH": path}
    out = snakemake("-n", *SMOKE, *config, cwd=wf, env=env_path).stdout
    jobs = out.split("rule train:")[1:]
    return {re.search(r"resources: .*?gpu=(\d+)", job).group(1) for job in jobs}


def test_gpu_requests_come_from_the_config_not_the_host(tmp_path):
    wf = tmp_path / "wf"
    wf.mkdir()
    copy_workflow(wf)
    # an nvidia-smi on the PATH (as on a GPU workstation) must not change the request
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho GPU 0: fake\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    path = f"{fake.parent}{os.pathsep}{os.environ['PATH']}"
    assert _train_gpu_requests(wf, "train={device: auto}", path=path) == {"0"}
    assert _train_gpu_requests(wf, "train={device: auto, gpus_per_job: 1}") == {"1"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised where CUDA is missing")
def test_a_job_given_a_gpu_it_cannot_see_fails_clearly_and_leaves_nothing(tmp_path):
    wf = copy_workflow(tmp_path)
    config = study_config(wf, "smoke")
    run = run_dir(config, "nano-b8-s60-wd0", 0, "inf")
    proc = snakemake(f"{run}/model.pt", "--cores", "1", *SMOKE, "train={device: auto, gpus_per_job: 1}",
                     cwd=wf, check=False)
    assert proc.returncode != 0
    log = (wf / train_job_log(config, "nano-b8-s60-wd0", 0, "inf")).read_text()
    assert "the job was given a GPU but torch sees no CUDA device" in log
    # nothing in the run's folder: no output, no lock, no progress log
    assert not (wf / run).exists() or not list((wf / run).iterdir())
