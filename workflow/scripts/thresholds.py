from pathlib import Path

from icl_diversity.config import Setting
from icl_diversity.io import load_npz, setup_logging, write_csv
from icl_diversity.tables import read_table
from icl_diversity.tasks import M_label
from icl_diversity.threshold import threshold_table

log = setup_logging(snakemake.log[0])
p = snakemake.params
groups = {g: (vary, [Setting.parse(n) for n in names], seeds)
          for g, (vary, names, seeds) in p.groups.items()}


# each input is .../runs/{setting}/seed{seed}/M{M}/sequence_deltas.npz
paths = {(Path(f).parts[-4], int(Path(f).parts[-3][4:]), Path(f).parts[-2][1:]): f
         for f in snakemake.input.sequences}


def sequence_deltas(setting, seed, M):
    path = paths[setting, seed, M_label(M)]
    return load_npz(path, ("true_delta_ridge",))["true_delta_ridge"]


pt = read_table(snakemake.input.pt_metrics, "pt_metrics", snakemake.config["problem"]["K"])
stuck = pt[pt["stuck"]][["setting", "seed", "M"]].drop_duplicates()
if len(stuck):
    log.warning("left out of the thresholds, stuck on the plateau:\n%s", stuck.to_string(index=False))
table = threshold_table(pt, groups, sequence_deltas, n_boot=p.n_boot)
write_csv(snakemake.output[0], table)
log.info("thresholds (log2 M, %d bootstrap replicates):\n%s", p.n_boot, table.to_string(index=False))
