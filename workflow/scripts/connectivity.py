# Linear mode connectivity: L/D on T_True along the straight line between two trained
# models' weights, for each pair the rule lists, and the barrier of each path.
import numpy as np
import pandas as pd
import torch

from icl_diversity.analysis import barrier, path_losses
from icl_diversity.checkpoint import load_checkpoint
from icl_diversity.io import load_npz, setup_logging, write_csv
from icl_diversity.tables import read_table
from icl_diversity.tasks import check_eval_set

log = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p, pb = snakemake.params, snakemake.params.problem
data = load_npz(snakemake.input.true, ("xs", "ys"))
check_eval_set(data, pb["K"], pb["D"], snakemake.input.true)
xs, ys = data["xs"][:p.n_sequences], data["ys"][:p.n_sequences]
ts = np.linspace(0.0, 1.0, p.n_points)
ckpts = [load_checkpoint(path) for path in snakemake.input.models]
stuck = [bool(read_table(path, "pt_metrics", pb["K"])["stuck"].iloc[0])
         for path in snakemake.input.metrics]

paths, barriers = [], []
for pair in p.pairs:   # a, b: indices into the declared models; the rest labels the path
    a, b = pair["a"], pair["b"]
    if ckpts[a]["model_config"] != ckpts[b]["model_config"]:
        raise ValueError(f"{snakemake.input.models[a]} and {snakemake.input.models[b]} have "
                         "different model configs: no straight line joins them")
    losses = path_losses(ckpts[a]["model"], ckpts[b]["model"], ckpts[a]["model_config"], ts,
                         xs, ys, pb["D"])
    labels = {k: v for k, v in pair.items() if k not in ("a", "b")}
    paths += [dict(labels, t=t, value=row.mean(), stderr=row.std(ddof=1) / np.sqrt(len(row)))
              for t, row in zip(ts, losses)]
    barriers.append(dict(labels, loss_a=losses[0].mean(), loss_b=losses[-1].mean(),
                         **barrier(ts, losses), stuck=stuck[a] or stuck[b]))
    log.info("%s: barrier %.4g at t = %.2f", labels, barriers[-1]["barrier"], barriers[-1]["t_max"])
write_csv(snakemake.output.paths, pd.DataFrame(paths))
write_csv(snakemake.output.barriers, pd.DataFrame(barriers))
