# Fig 7: the threshold and the loss against weight decay, width and depth.

from icl_diversity.effects import figure_effects, read_effects
from icl_diversity.figures import save_figure
from icl_diversity.figures_axes import fig_capacity
from icl_diversity.io import setup_logging
from icl_diversity.lr_choice import choice_of, keep_chosen
from icl_diversity.tables import read_table

log = setup_logging(snakemake.log[0])
p = snakemake.params
# the effects table, where the study compares an axis this figure draws
effects = read_effects(snakemake.input.effects) if snakemake.input.get("effects") else None
fig = fig_capacity(keep_chosen(read_table(snakemake.input.pt_metrics, "pt_metrics"),
                               choice_of(snakemake.input)),
                   read_table(snakemake.input.thresholds, "thresholds"), p.axes,
                   figure_effects(effects, "fig7"))
save_figure(fig, [snakemake.output.pdf, snakemake.output.png], snakemake.output.provenance,
            snakemake.input, snakemake.config,
            title=f"{snakemake.rule}: sweep groups {[a['group'] for a in p.axes.values()]}")
log.info("%s -> %s", snakemake.rule, snakemake.output.pdf)
