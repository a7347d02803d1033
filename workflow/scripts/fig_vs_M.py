# Fig 2 and Fig 3: PT, dMMSE and Ridge vs M (the columns come from the rule's params).

from icl_diversity.config import Setting
from icl_diversity.effects import figure_effects, read_effects
from icl_diversity.figures import fig_vs_M, save_figure
from icl_diversity.io import setup_logging
from icl_diversity.lr_choice import choice_of, keep_chosen
from icl_diversity.tables import read_table

log = setup_logging(snakemake.log[0])
p = snakemake.params
(problem, spec), = p.problems.items()   # these figures draw one problem (config.check)
K = spec["K"]
settings = [Setting.parse(n) for n in p.settings]
thresholds = read_table(snakemake.input.thresholds, "thresholds")
# the effects table, where the study compares this figure's group (e.g. Laplace vs Gaussian)
effects = read_effects(snakemake.input.effects) if snakemake.input.get("effects") else None
fig = fig_vs_M(keep_chosen(read_table(snakemake.input.pt_metrics, "pt_metrics", K, problem),
                           choice_of(snakemake.input)),
               read_table(snakemake.input.baselines, "baselines", K, problem),
               thresholds[(thresholds["group"] == p.group) & (thresholds["problem"] == problem)],
               settings, p.vary, p.columns, inf_dmmse_is_ridge=spec.get("prior", "gaussian") == "gaussian",
               effects=figure_effects(effects, snakemake.rule))
save_figure(fig, [snakemake.output.pdf, snakemake.output.png], snakemake.output.provenance,
            snakemake.input, snakemake.config, title=f"{snakemake.rule}: sweep group {p.group}")
log.info("%s -> %s", snakemake.rule, snakemake.output.pdf)
