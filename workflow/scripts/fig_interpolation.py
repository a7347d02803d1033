# Fig 5: L/D vs a on paths between two pool tasks, one panel per M.
from icl_diversity.config import Setting
from icl_diversity.figures import fig_interpolation, save_figure
from icl_diversity.io import setup_logging
from icl_diversity.tables import read_table

log = setup_logging(snakemake.log[0])
p = snakemake.params
thresholds = read_table(snakemake.input.thresholds, "thresholds")
fig = fig_interpolation(read_table(snakemake.input.interpolation, "interpolation",
                                   snakemake.config["problem"]["K"]),
                        thresholds[thresholds["group"] == p.group],
                        [Setting.parse(n) for n in p.settings], p.vary)
save_figure(fig, [snakemake.output.pdf, snakemake.output.png], snakemake.output.provenance,
            snakemake.input, snakemake.config, title=f"{snakemake.rule}: sweep group {p.group}")
log.info("%s -> %s", snakemake.rule, snakemake.output.pdf)
