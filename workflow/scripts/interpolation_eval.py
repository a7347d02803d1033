# Fig 5: L/D of the group's PTs at M, and of Ridge and dMMSE, at each a of the path set.
import numpy as np
import torch

from icl_diversity.baselines import dmmse_predict, resolve_backend, ridge_predict
from icl_diversity.io import load_npy, load_npz, setup_logging, write_csv
from icl_diversity.metrics import estimator_rows, to_frame
from icl_diversity.model import load_pretrained
from icl_diversity.tables import read_table
from icl_diversity.tasks import check_eval_set, check_pool
from icl_diversity.train import predict_numpy

log = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p, pb = snakemake.params, snakemake.params.problem
M, D = int(snakemake.wildcards.M), pb["D"]
pool = load_npy(snakemake.input.pool, sha256=snakemake.input.pool_sha256)
check_pool(pool, M, D, snakemake.input.pool)
data = load_npz(snakemake.input.paths, ("xs", "ys", "ws", "a"))
check_eval_set(data, pb["K"], D, snakemake.input.paths)

preds = {"Ridge": ridge_predict(data["xs"], data["ys"], pb["noise_var"], pb["task_scale"] ** 2),
         "dMMSE": dmmse_predict(data["xs"], data["ys"], pool, pb["noise_var"],
                                backend=resolve_backend(p.backend))}
runs = []    # (setting, seed, stuck, predictions), in the order of the declared inputs
for (setting, seed), model, metrics in zip(p.runs, snakemake.input.models, snakemake.input.metrics):
    stuck = bool(read_table(metrics, "pt_metrics", pb["K"])["stuck"].iloc[0])
    runs.append((setting, seed, stuck, predict_numpy(load_pretrained(model), data["xs"], data["ys"])))

rows = []
for a in np.unique(data["a"]):
    on = data["a"] == a
    part = {k: data[k][on] for k in ("xs", "ys", "ws")}
    labels = dict(M=M, eval_set="interpolation", a=float(a))
    rows += estimator_rows({k: v[on] for k, v in preds.items()}, part, D,
                           setting="-", seed="-", stuck=False, **labels)
    for setting, seed, stuck, pt in runs:
        rows += estimator_rows({"PT": pt[on], **{k: v[on] for k, v in preds.items()}}, part, D,
                               estimators=["PT"], setting=setting, seed=seed, stuck=stuck, **labels)
write_csv(snakemake.output[0], to_frame(rows))
mid = to_frame(rows).query("metric == 'loss_per_dim' and target == 'noisy' and position == 0")
mid = mid[np.isclose(mid["a"], 0.5)]
log.info("M=%d, %d runs; L/D (noisy y) mid-path:\n%s", M, len(runs),
         mid[["estimator", "setting", "seed", "value", "stderr"]].to_string(index=False))
