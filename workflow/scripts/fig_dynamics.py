# Fig 4: Delta^{T_True}_{PT,Ridge} during training, and the step of its minimum vs M.

from icl_diversity.config import Setting
from icl_diversity.figures import fig_dynamics, save_figure
from icl_diversity.io import setup_logging
from icl_diversity.lr_choice import choice_of, keep_chosen
from icl_diversity.tables import read_table

log = setup_logging(snakemake.log[0])
p = snakemake.params
(problem, spec), = p.problems.items()   # these figures draw one problem (config.check)
K = spec["K"]
thresholds = read_table(snakemake.input.thresholds, "thresholds")
# the fit range (config.fig4_fit): M <= max_M, or below the named group's threshold
below = p.fit.get("below")
fig = fig_dynamics(keep_chosen(read_table(snakemake.input.pt_curves, "pt_curves", K, problem),
                               choice_of(snakemake.input)),
                   [Setting.parse(n) for n in p.settings], p.vary,
                   thresholds[(thresholds["group"] == below) & (thresholds["problem"] == problem)]
                   if below else None, fit_max_M=p.fit.get("max_M"))
save_figure(fig, [snakemake.output.pdf, snakemake.output.png], snakemake.output.provenance,
            snakemake.input, snakemake.config, title=f"{snakemake.rule}: sweep group {p.group}")
log.info("%s -> %s", snakemake.rule, snakemake.output.pdf)
