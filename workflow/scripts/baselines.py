import time

import pandas as pd
import torch

from icl_diversity.baselines import (dmmse_predict, resolve_backend, ridge_predict,
                                     smoothed_dmmse_predict, tune_smoothing_var, tuning_set)
from icl_diversity.io import load_npy, load_npz, save_npz, setup_logging, write_csv
from icl_diversity.metrics import estimator_rows, to_frame
from icl_diversity.tasks import check_eval_set, check_pool, parse_M

log = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p, pb = snakemake.params, snakemake.params.problem
M = parse_M(snakemake.wildcards.M)
pool = load_npy(snakemake.input.pool, sha256=snakemake.input.pool_sha256) if snakemake.input.pool else None
# the dMMSE backend and chunk size are execution knobs (read from the config, not params:
# changing them reruns nothing, and the store's baselines stay shared)
knobs = snakemake.config["eval"]
backend = resolve_backend(knobs["dmmse_backend"])
stream = dict(backend=backend, chunk_size=knobs["dmmse_chunk"] if backend == "torch" else None)
if pool is not None:
    log.info("dMMSE backend: %s (config: %s)", backend, knobs["dmmse_backend"])
keys = ("xs", "ys", "ws")
sets = {"true": load_npz(snakemake.input.true, keys),
        "pretrain": load_npz(snakemake.input.pretrain, keys)}
if pool is not None:
    check_pool(pool, M, pb["D"], snakemake.input.pool)
for name, data in sets.items():
    check_eval_set(data, pb["K"], pb["D"], snakemake.input[name], n=p.n)

# Smoothed dMMSE's s^2, chosen on T_True sequences that are not the evaluation set's.
# M = inf has no pool (the prior is N(0, I), so dMMSE and its smoothing are Ridge).
tuning = pd.DataFrame(columns=["M", "smoothing_var", "loss_per_dim", "stderr", "chosen"])
if pool is not None:
    t0 = time.perf_counter()
    tune = tuning_set(pb["D"], pb["K"], pb["noise_var"], p.n_tuning, p.tuning_seed,
                      pb["task_scale"], pb["x_scale"], pb.get("prior", "gaussian"))
    s2, losses, stderrs = tune_smoothing_var(tune["xs"], tune["ys"], pool, pb["noise_var"],
                                             p.smoothing_grid, **stream)
    tuning = pd.DataFrame({"M": M, "smoothing_var": p.smoothing_grid, "loss_per_dim": losses,
                           "stderr": stderrs, "chosen": [g == s2 for g in p.smoothing_grid]})
    log.info("M=%s: smoothed dMMSE s^2 = %g (tuning L/D %.5f, %d values on %d sequences, %.1fs)",
             snakemake.wildcards.M, s2, losses.min(), len(losses), p.n_tuning,
             time.perf_counter() - t0)

rows, arrays = [], {}
for name, data in sets.items():
    t0 = time.perf_counter()
    preds = {"Ridge": ridge_predict(data["xs"], data["ys"], pb["noise_var"], pb["task_scale"] ** 2)}
    if pool is not None:   # M = inf: the pool prior is N(0, I) and dMMSE is Ridge
        preds["dMMSE"] = dmmse_predict(data["xs"], data["ys"], pool, pb["noise_var"], **stream)
        preds["smoothed_dMMSE"] = smoothed_dmmse_predict(data["xs"], data["ys"], pool,
                                                         pb["noise_var"], s2, **stream)
    log.info("M=%s %s: baselines on %d sequences in %.1fs", snakemake.wildcards.M, name,
             len(data["xs"]), time.perf_counter() - t0)
    arrays.update({f"{name}_{k}": v for k, v in preds.items()})
    labels = dict(M=M, eval_set=name)
    rows += estimator_rows(preds, data, pb["D"], ["Ridge", "dMMSE"] if pool is not None
                           else ["Ridge"], **labels)
    if pool is not None:
        rows += estimator_rows(preds, data, pb["D"], ["smoothed_dMMSE"], smoothing_var=s2,
                               **labels)

save_npz(snakemake.output.predictions, **arrays)
write_csv(snakemake.output.metrics, to_frame(rows))
write_csv(snakemake.output.tuning, tuning)
