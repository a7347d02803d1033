# Pretraining task diversity and the emergence of non-Bayesian in-context learning
# for regression (Raventos et al., NeurIPS 2023): the whole study as one DAG.
#
#   pools -> evaluation sets -> baselines (Ridge, dMMSE) -> pretraining per (setting, M)
#         -> metrics tables -> thresholds -> figures -> report
#   trained models -> Fig 5 (paths between pool tasks), mode connectivity -> figures
import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")

# A preset given with --configfile replaces config.yaml instead of merging into it,
# so a preset is read as written (no models or sweeps inherited from the default).
if not workflow.config_settings.configfiles:

    configfile: os.path.join(workflow.basedir, "config.yaml")


# `--config` values arrive as text; give them the types the schema asks for.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))
from icl_diversity.config import coerce_overrides  # noqa: E402

_typed = coerce_overrides(config)
config.clear()
config.update(_typed)
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/axes.smk"


rule all:
    input:
        baseline_metrics=f"{OUT}/tables/baselines.csv",
        pt_metrics=f"{OUT}/tables/pt_metrics.csv" if RUNS else [],
        pt_curves=f"{OUT}/tables/pt_curves.csv" if RUNS else [],
        figures=FIGURE_FILES,
