import time

import torch

from icl_diversity.baselines import dmmse_predict, resolve_backend, ridge_predict
from icl_diversity.io import load_npy, load_npz, save_npz, setup_logging, write_csv
from icl_diversity.metrics import estimator_rows, to_frame
from icl_diversity.tasks import check_eval_set, check_pool, parse_M

log = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
pb = snakemake.params.problem
M = parse_M(snakemake.wildcards.M)
pool = load_npy(snakemake.input.pool) if snakemake.input.pool else None
backend = resolve_backend(snakemake.params.backend)
if pool is not None:
    log.info("dMMSE backend: %s (config: %s)", backend, snakemake.params.backend)
keys = ("xs", "ys", "ws")
sets = {"true": load_npz(snakemake.input.true, keys),
        "pretrain": load_npz(snakemake.input.pretrain, keys)}
if pool is not None:
    check_pool(pool, M, pb["D"], snakemake.input.pool)
for name, data in sets.items():
    check_eval_set(data, pb["K"], pb["D"], snakemake.input[name], n=snakemake.params.n)

rows, arrays = [], {}
for name, data in sets.items():
    t0 = time.perf_counter()
    preds = {"Ridge": ridge_predict(data["xs"], data["ys"], pb["noise_var"], pb["task_scale"] ** 2)}
    if pool is not None:   # M = inf: the pool prior is N(0, I) and dMMSE is Ridge
        preds["dMMSE"] = dmmse_predict(data["xs"], data["ys"], pool, pb["noise_var"],
                                       backend=backend,
                                       chunk_size=snakemake.params.chunk if backend == "torch" else None)
    log.info("M=%s %s: baselines on %d sequences in %.1fs", snakemake.wildcards.M, name,
             len(data["xs"]), time.perf_counter() - t0)
    arrays.update({f"{name}_{k}": v for k, v in preds.items()})
    rows += estimator_rows(preds, data, pb["D"], M=M, eval_set=name)

save_npz(snakemake.output.predictions, **arrays)
write_csv(snakemake.output.metrics, to_frame(rows))
