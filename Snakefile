# Pretraining task diversity and the emergence of non-Bayesian in-context learning
# for regression (Raventos et al., NeurIPS 2023): the whole study as one DAG.
#
#   pools -> evaluation sets -> baselines (Ridge, dMMSE) -> pretraining per (setting, M)
#         -> metrics tables -> thresholds -> figures -> report
#   trained models -> Fig 5 (paths between pool tasks), mode connectivity -> figures
import copy
import os
import sys
import time

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, update_config, validate

min_version("9.0")

# When this workflow run started; its jobs (and, under Slurm, their own Snakefile reads)
# inherit it. A training job whose run another workflow run finished after this time
# uses that result instead of training it again (workflow/scripts/train.py).
os.environ.setdefault("ICL_INVOCATION_START", repr(time.time()))

# A study (--configfile studies/NAME.yaml) holds only what differs from config.yaml and is
# merged onto it (config.merge_study: mappings merge key by key; lists, values, and the
# study's `sweeps` and `figures` replace the base's). `--config` values merge the same way.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))
from icl_diversity import config as cfg  # noqa: E402

# `--config` values arrive as text; give them the types the schema asks for. They merge
# into the study key by key (Snakemake's merge), and with no study file into config.yaml.
_base = yaml.safe_load(open(os.path.join(workflow.basedir, "config.yaml")))
_study = dict(config)
if not workflow.config_settings.configfiles:
    _study, _overrides = copy.deepcopy(_base), _study
    update_config(_study, _overrides)  # in place
_study = cfg.coerce_overrides(_study)
_study.setdefault("study", cfg.study_name(workflow.config_settings.configfiles))
try:
    _source = " and ".join([str(f) for f in workflow.config_settings.configfiles] + ["--config"])
    _merged = cfg.fill_defaults(cfg.merge_study(_base, _study, source=_source))
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
include: "workflow/rules/figures.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/axes.smk"
include: "workflow/rules/summary.smk"


rule all:
    input:
        baseline_metrics=TABLES["baselines"],
        pt_metrics=f"{OUT}/tables/pt_metrics.csv" if RUNS else [],
        pt_curves=f"{OUT}/tables/pt_curves.csv" if RUNS else [],
        figures=FIGURE_FILES,
        effects=TABLES["effects"] if COMPARISONS else [],
        summary=f"{OUT}/summary.md" if RUNS else [],
