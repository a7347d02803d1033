# Fig 2 and Fig 3: PT, dMMSE and Ridge vs M (the columns come from the rule's params).
import pandas as pd

from icl_diversity.config import Setting
from icl_diversity.figures import fig_vs_M, save_figure
from icl_diversity.io import setup_logging

log = setup_logging(snakemake.log[0])
p = snakemake.params
settings = [Setting.parse(n) for n in p.settings]
thresholds = pd.read_csv(snakemake.input.thresholds, dtype={"seed": str})
fig = fig_vs_M(pd.read_csv(snakemake.input.pt_metrics), pd.read_csv(snakemake.input.baselines),
               thresholds[thresholds["group"] == p.group], settings, p.vary, p.columns)
save_figure(fig, [snakemake.output.pdf, snakemake.output.png], snakemake.output.provenance,
            snakemake.input, snakemake.config, title=f"{snakemake.rule}: sweep group {p.group}")
log.info("%s -> %s", snakemake.rule, snakemake.output.pdf)
