# L/D on T_True vs context position for a few M: PT, dMMSE and Ridge.

from icl_diversity.config import Setting
from icl_diversity.figures import fig_positions, save_figure
from icl_diversity.io import setup_logging
from icl_diversity.lr_choice import choice_of, keep_chosen
from icl_diversity.tables import read_table

log = setup_logging(snakemake.log[0])
p = snakemake.params
(problem, spec), = p.problems.items()   # these figures draw one problem (config.check)
K = spec["K"]
fig = fig_positions(keep_chosen(read_table(snakemake.input.pt_metrics, "pt_metrics", K, problem),
                                choice_of(snakemake.input)),
                    read_table(snakemake.input.baselines, "baselines", K, problem),
                    [Setting.parse(n) for n in p.settings], p.vary)
save_figure(fig, [snakemake.output.pdf, snakemake.output.png], snakemake.output.provenance,
            snakemake.input, snakemake.config, title=f"{snakemake.rule}: sweep group {p.group}")
log.info("%s -> %s", snakemake.rule, snakemake.output.pdf)
