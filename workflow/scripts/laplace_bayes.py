# The Bayes estimator of a Laplace-prior problem on its T_True evaluation set (Gibbs
# sampling, laplace.py), as baseline rows at M = inf: T_True's tasks come from the prior
# whatever the pool, so the Bayes-optimal loss on it does not depend on M (the baselines
# table repeats these rows at each M of the problem).
import time

import numpy as np

from icl_diversity import tasks
from icl_diversity.baselines import ridge_predict
from icl_diversity.io import load_npz, save_npz, setup_logging, write_csv
from icl_diversity.laplace import GIBBS_INDEX, laplace_bayes_predict
from icl_diversity.metrics import estimator_rows, to_frame
from icl_diversity.tasks import check_eval_set, parse_M

BURN_IN = 200   # sweeps discarded before averaging (the schema's and caption's "burn-in of 200")

log = setup_logging(snakemake.log[0])
p, pb = snakemake.params, snakemake.params.problem
if pb.get("prior", "gaussian") != "laplace":
    raise ValueError(f"laplace_bayes: problem {pb} does not have the Laplace task prior")
data = load_npz(snakemake.input.true, ("xs", "ys", "ws"))
check_eval_set(data, pb["K"], pb["D"], snakemake.input.true, n=p.n)
t0 = time.perf_counter()
bayes, stderr = laplace_bayes_predict(
    data["xs"], data["ys"], pb["noise_var"], pb["task_scale"], n_samples=p.sweeps,
    burn_in=BURN_IN, rng=tasks.rng(p.seed, "eval_task", *GIBBS_INDEX))
ridge = ridge_predict(data["xs"], data["ys"], pb["noise_var"], pb["task_scale"] ** 2)
log.info("Laplace-prior Bayes estimator on %d T_True sequences: %d sweeps per prefix in %.1fs; "
         "Monte-Carlo standard error of a prediction: median %.2g, max %.2g",
         len(data["xs"]), p.sweeps, time.perf_counter() - t0, np.median(stderr), stderr.max())
rows = estimator_rows({"Bayes": bayes, "Ridge": ridge}, data, pb["D"], ["Bayes"],
                      M=parse_M("inf"), eval_set="true")
save_npz(snakemake.output.predictions, true_Bayes=bayes, true_Bayes_stderr=stderr)
write_csv(snakemake.output.metrics, to_frame(rows))
