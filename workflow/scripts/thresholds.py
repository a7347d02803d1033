import pandas as pd

from icl_diversity.config import Setting
from icl_diversity.io import load_npz, setup_logging, write_csv
from icl_diversity.lr_choice import choice_of, keep_chosen, no_choice_reason, run_setting
from icl_diversity.refine import read_decision, refine_columns, with_refinement
from icl_diversity.tables import read_table
from icl_diversity.tasks import M_label, parse_M
from icl_diversity.threshold import THRESHOLD_COLUMNS, threshold_table

log = setup_logging(snakemake.log[0])
p = snakemake.params

# the inputs' runs, in the same order (params.runs)
paths = {(r["problem"], r["setting"], int(r["seed"]), r["M"]): f
         for r, f in zip(p.runs, snakemake.input.sequences, strict=True)}

# a tuned configuration's runs: its chosen learning rate's, under its own name (lr_choice.py)
choice = choice_of(snakemake.input)
pt = keep_chosen(read_table(snakemake.input.pt_metrics, "pt_metrics", p.K), choice)
stuck = pt[pt["stuck"]][["problem", "setting", "seed", "M"]].drop_duplicates()
if len(stuck):
    log.warning("left out of the thresholds, stuck on the plateau:\n%s", stuck.to_string(index=False))

# one threshold per group, problem of the group and combination of its fixed axes, from
# the runs of that problem at the group's own M
tables = []
for group, g in p.groups.items():
    settings = [Setting.parse(n) for n in g["settings"]]
    grid = [parse_M(m) for m in g["M"]]
    for problem in g["problems"]:
        def sequence_deltas(setting, seed, M, problem=problem):
            path = paths[problem, run_setting(choice, problem, setting), seed, M_label(M)]
            return load_npz(path, ("true_delta_ridge",))["true_delta_ridge"]
        runs = pt[(pt["problem"] == problem) & pt["M"].isin(grid)]
        unavailable = {n: no_choice_reason(choice, problem, n) for n in g["settings"]
                       if run_setting(choice, problem, n) is None}
        table = threshold_table(runs, {group: (g["vary"], settings, g["seeds"])}, sequence_deltas,
                                n_boot=p.n_boot, unavailable=unavailable)
        tables.append(table.assign(problem=problem))
table = pd.concat(tables, ignore_index=True)[THRESHOLD_COLUMNS]
# a refined group's rows say why its refinement stopped, and its last bracket
table = refine_columns(table)
for path, (group, rounds) in zip(snakemake.input.refine, p.refined.items(), strict=True):
    table = with_refinement(table, read_decision(path, group, rounds))
write_csv(snakemake.output[0], table)
log.info("thresholds (log2 M, %d bootstrap replicates):\n%s", p.n_boot, table.to_string(index=False))
