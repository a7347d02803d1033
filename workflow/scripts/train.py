import os
import time
from pathlib import Path

import pandas as pd
import torch

from icl_diversity.checkpoint import save_checkpoint
from icl_diversity.devices import holds_gpu, training_device
from icl_diversity.io import HOST, Tee, load_npy, load_npz, save_npz, setup_logging, write_csv
from icl_diversity.model import ModelConfig
from icl_diversity.runlock import run_lock
from icl_diversity.tasks import check_eval_set, check_pool
from icl_diversity.train import (TrainConfig, TrainingDiverged, diverged_outputs, final_checkpoint,
                                 loss_table, remove_checkpoint, stored_predictions, train)

log = setup_logging(snakemake.log[0])
p = snakemake.params
pb, run, seeds = p.problem, p.run, p.seeds
tr = dict(snakemake.config["train"], **p.train)   # execution knobs come from the config
# A learning-rate candidate (its setting names its lr, which p.train holds) that diverges
# is a result, recorded in its outputs (train.diverged_outputs, lr_choice.py); any other
# run that diverges stops its job.
candidate = "lr" in run

held = holds_gpu(snakemake.resources)
device = training_device(tr["device"], held, torch.cuda.is_available(), os.environ.get("CUDA_VISIBLE_DEVICES"))
if held and device == "cpu":
    log.warning("the job holds a GPU but train.device is cpu: the GPU stays idle")
torch.set_num_threads(snakemake.threads)
log.info("setting %s, seed %d, M=%s, device %s, %d thread(s)", snakemake.wildcards.setting,
         run["seed"], snakemake.wildcards.M, device, snakemake.threads)

pool = load_npy(snakemake.input.pool, sha256=snakemake.input.pool_sha256) if snakemake.input.pool else None
if pool is not None:
    check_pool(pool, snakemake.wildcards.M, pb["D"], snakemake.input.pool)
keys = ("xs", "ys", "ws")
eval_sets = {"true": load_npz(snakemake.input.true, keys),
             "pretrain": load_npz(snakemake.input.pretrain, keys)}
for name, data in eval_sets.items():
    check_eval_set(data, pb["K"], pb["D"], snakemake.input[name])
model_cfg = ModelConfig(n_dims=pb["D"], n_points=pb["K"], **run["model"])
tc = TrainConfig(batch_size=run["batch_size"], steps=run["steps"], lr=tr["lr"],
                 weight_decay=run["weight_decay"], eval_every=tr["eval_every"],
                 checkpoint_every=tr["checkpoint_every"], max_loss=tr["max_loss"],
                 data_seed=seeds["train"], model_seed=seeds["model"], seed=run["seed"],
                 curve_sequences=None if p.curve_sequences == "all" else p.curve_sequences, check_every=tr["check_every"])

outputs = [Path(f) for f in (snakemake.output.model, snakemake.output.predictions, snakemake.output.train_log)]
# When this workflow run started (the Snakefile sets it; a job started by hand: now). A run
# whose outputs appeared after that was finished by another workflow run on the same store
# while this job waited for its lock; older outputs are a finished run being redone.
started = float(os.environ.get("ICL_INVOCATION_START") or time.time())


def finished_by_another() -> bool:
    return all(f.exists() for f in outputs) and outputs[0].stat().st_mtime >= started


with run_lock(outputs[0].parent / "train.lock", wait=tr["lock_wait"], log=log.info):
    if finished_by_another():
        log.info("finished by another workflow run while this job waited; nothing to do")
    else:
        # progress to this job's log and to the run's own log in the store (train.log,
        # appended to by each job that trains the run, under its lock)
        with open(snakemake.log[0], "a") as job_log, open(outputs[0].parent / "train.log", "a") as run_log:
            run_log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} training on {HOST}, pid {os.getpid()}, "
                          f"log of this job: {os.path.abspath(snakemake.log[0])}\n")
            diverged = None
            try:
                result = train(model_cfg, tc, pb, pool, eval_sets, checkpoint_path=p.checkpoint,
                               device=device, progress_file=Tee(job_log, run_log), compile=tr["compile"],
                               bf16=tr["bf16"])
            except TrainingDiverged as e:
                if not candidate:
                    raise
                diverged = e
                run_log.write(f"DIVERGED, recorded as this learning-rate candidate's result: {e}\n")
        if diverged is None:
            save_npz(snakemake.output.predictions, **stored_predictions(result))
            write_csv(snakemake.output.train_log, pd.DataFrame(loss_table(result["loss"], tc.lr)))
            save_checkpoint(snakemake.output.model, final_checkpoint(result["model"].cpu(), result["fingerprint"]))
            log.info("final train loss %.4f -> %s", result["loss"][-1], snakemake.output.model)
        else:
            out = diverged_outputs(model_cfg, tc, pb, pool, eval_sets, diverged)
            save_npz(snakemake.output.predictions, **out["predictions"])
            write_csv(snakemake.output.train_log, pd.DataFrame(out["loss"]))
            save_checkpoint(snakemake.output.model, out["checkpoint"])
            log.warning("DIVERGED: %s; lr %g is recorded as an unstable candidate (lr_choice.csv)",
                        diverged, tc.lr)
        remove_checkpoint(p.checkpoint, root=p.checkpoint_root)   # model.pt holds the result now
