# L/D on T_True vs context position for a few M: PT, dMMSE and Ridge.
import pandas as pd

from icl_diversity.config import Setting
from icl_diversity.figures import fig_positions, save_figure
from icl_diversity.io import setup_logging

log = setup_logging(snakemake.log[0])
p = snakemake.params
fig = fig_positions(pd.read_csv(snakemake.input.pt_metrics), pd.read_csv(snakemake.input.baselines),
                    [Setting.parse(n) for n in p.settings], p.vary)
save_figure(fig, [snakemake.output.pdf, snakemake.output.png], snakemake.output.provenance,
            snakemake.input, snakemake.config, title=f"{snakemake.rule}: sweep group {p.group}")
log.info("%s -> %s", snakemake.rule, snakemake.output.pdf)
