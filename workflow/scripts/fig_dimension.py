# Fig 6: the task-diversity threshold as the dimension grows.

from icl_diversity.effects import figure_effects, read_effects
from icl_diversity.figures import save_figure
from icl_diversity.figures_axes import fig_dimension
from icl_diversity.io import setup_logging
from icl_diversity.lr_choice import choice_of, keep_chosen
from icl_diversity.tables import read_table

log = setup_logging(snakemake.log[0])
p = snakemake.params
# the effects table, where the study compares an axis this figure draws
effects = read_effects(snakemake.input.effects) if snakemake.input.get("effects") else None
K = {name: spec["K"] for g in p.groups.values() for name, spec in g["problems"].items()}
tables = {kind: read_table(snakemake.input[kind], kind) for kind in ("pt_metrics", "baselines")}
tables = {kind: t[t["problem"].isin(K)] for kind, t in tables.items()}
tables["pt_metrics"] = keep_chosen(tables["pt_metrics"], choice_of(snakemake.input))
fig = fig_dimension(tables["pt_metrics"], tables["baselines"],
                    read_table(snakemake.input.thresholds, "thresholds"), p.groups,
                    figure_effects(effects, "fig6"))
save_figure(fig, [snakemake.output.pdf, snakemake.output.png], snakemake.output.provenance,
            snakemake.input, snakemake.config, title=f"{snakemake.rule}: sweep groups {list(p.groups)}")
log.info("%s -> %s", snakemake.rule, snakemake.output.pdf)
