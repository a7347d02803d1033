# Pretraining task diversity and the emergence of non-Bayesian in-context learning
# for regression (Raventos et al., NeurIPS 2023): the whole study as one DAG.
#
#   pools -> evaluation sets -> baselines (Ridge, dMMSE) -> pretraining per (setting, M)
#         -> metrics tables -> thresholds -> figures -> report
#   trained models -> Fig 5 (paths between pool tasks), mode connectivity -> figures
import os
import sys
import time

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

# When this workflow run started; its jobs (and, under Slurm, their own Snakefile reads)
# inherit it. A training job whose run another workflow run finished after this time
# uses that result instead of training it again (workflow/scripts/train.py).
os.environ.setdefault("ICL_INVOCATION_START", repr(time.time()))

# A study (--configfile studies/NAME.yaml) holds only what differs from config.yaml and is
# merged onto it (config.merge_study: mappings merge key by key; lists, values, and the
# study's `sweeps` and `figures` replace the base's). `--config` values (text, given the
# schema's types) merge into the study key by key, or into config.yaml when there is none.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))
from icl_diversity import config as cfg  # noqa: E402

# Snakemake has already merged --config into the study file's values (config); with no
# study file, config holds only the --config values
_files = workflow.config_settings.configfiles
try:
    _merged = cfg.resolve_study(dict(config), _files, None if _files else dict(config))
except cfg.ConfigError as e:
    raise WorkflowError(str(e))
config.clear()
config.update(_merged)
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


# `--resources gpu=N` caps the GPUs of jobs running here; under a cluster executor each
# submitted job is given its own (Slurm allocates GPUs per node), so the main Snakemake
# does not count them across jobs.
resource_scopes:
    gpu="local",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/refine.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/axes.smk"
include: "workflow/rules/summary.smk"


rule all:
    input:
        baseline_metrics=TABLES["baselines"],
        pt_metrics=TABLES["pt_metrics"] if RUNS else [],
        pt_curves=TABLES["pt_curves"] if RUNS else [],
        figures=FIGURE_FILES,
        effects=TABLES["effects"] if COMPARISONS else [],
        summary=f"{OUT}/summary.md" if RUNS else [],
