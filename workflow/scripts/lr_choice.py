# The learning rate each tuned configuration keeps (icl_diversity.lr_choice): every
# candidate run's train_loss.csv (divergence, final loss) and its stuck flag from the PT
# metrics table in, lr_choice.csv out.

import pandas as pd

from icl_diversity.io import setup_logging, write_csv
from icl_diversity.lr_choice import choose_lr, read_train_loss
from icl_diversity.tables import read_table
from icl_diversity.tasks import parse_M

log = setup_logging(snakemake.log[0])
p = snakemake.params

pt = read_table(snakemake.input.pt_metrics, "pt_metrics")
stuck = pt.groupby(["problem", "setting", "seed", "M"])["stuck"].any()
records = []
for run, path in zip(p.runs, snakemake.input.losses, strict=True):
    key = (run["problem"], run["setting"], int(run["seed"]), parse_M(run["M"]))
    if key not in stuck.index:
        raise ValueError(f"{snakemake.input.pt_metrics} has no rows for the candidate run {run}")
    records.append(dict(problem=key[0], setting=key[1], seed=key[2], M=key[3], stuck=bool(stuck[key]),
                        **read_train_loss(path)))
table = choose_lr(pd.DataFrame(records))
write_csv(snakemake.output[0], table)
log.info("learning rates per configuration:\n%s", table.to_string(index=False))
none = table.groupby(["problem", "configuration"])["chosen"].any()
for problem, configuration in none[~none].index:
    log.warning("no stable learning rate for %s on %s: it gets no threshold", configuration, problem)
