import pandas as pd

from icl_diversity.config import Setting
from icl_diversity.io import load_npz, setup_logging, write_csv
from icl_diversity.tables import read_table
from icl_diversity.tasks import M_label, parse_M
from icl_diversity.threshold import THRESHOLD_COLUMNS, threshold_table

log = setup_logging(snakemake.log[0])
p = snakemake.params

# the inputs' runs, in the same order (params.runs)
paths = {(r["problem"], r["setting"], int(r["seed"]), r["M"]): f
         for r, f in zip(p.runs, snakemake.input.sequences, strict=True)}

pt = read_table(snakemake.input.pt_metrics, "pt_metrics", p.K)
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
            path = paths[problem, setting, seed, M_label(M)]
            return load_npz(path, ("true_delta_ridge",))["true_delta_ridge"]
        runs = pt[(pt["problem"] == problem) & pt["M"].isin(grid)]
        table = threshold_table(runs, {group: (g["vary"], settings, g["seeds"])}, sequence_deltas,
                                n_boot=p.n_boot)
        tables.append(table.assign(problem=problem))
table = pd.concat(tables, ignore_index=True)[THRESHOLD_COLUMNS]
write_csv(snakemake.output[0], table)
log.info("thresholds (log2 M, %d bootstrap replicates):\n%s", p.n_boot, table.to_string(index=False))
