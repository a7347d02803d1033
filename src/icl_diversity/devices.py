"""Which device a training job runs on. Decided by what the job was given (its `gpu`
resource or a GPU gres), never by probing the machine that builds the DAG: on a
cluster that is a login node without GPUs."""
import re

# Slurm hands out a GPU, a share of one (sharding) or an MPS slice under these names.
GPU_GRES = re.compile(r"(?:^|[\s,])(?:gpu|shard|mps)(?::|$|[\s,])")


def holds_gpu(resources) -> bool:
    """Whether a job's resources give it a GPU: `gpu` >= 1 (Slurm's --gpus, or a slot of
    `--resources gpu=N` locally) or a gres naming gpu, shard or mps."""
    return int(resources.get("gpu", 0) or 0) >= 1 or bool(GPU_GRES.search(str(resources.get("gres", "") or "")))


def training_device(setting: str, held: bool, cuda_available: bool, visible: str | None = None) -> str:
    """"cuda" or "cpu" for `train.device` = `setting`. auto: CUDA exactly when the job
    holds a GPU; cpu: always the CPU; cuda: always CUDA (for a GPU given outside the
    job's resources). Raises when CUDA is wanted and torch sees none: silently training
    on the CPU of a GPU node would hold the GPU for a run hundreds of times slower."""
    if setting not in ("auto", "cpu", "cuda"):
        raise ValueError(f"train.device: {setting!r} is not auto, cpu or cuda")
    if setting == "cpu" or (setting == "auto" and not held):
        return "cpu"
    if not cuda_available:
        why = "the job was given a GPU" if held else "train.device is cuda"
        raise RuntimeError(
            f"{why} but torch sees no CUDA device (CUDA_VISIBLE_DEVICES={visible!r}); check "
            "that torch is a CUDA build and the node's driver works, or set "
            "train.gpus_per_job: 0 to train on the CPU")
    return "cuda"
