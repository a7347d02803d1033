import pandas as pd

from icl_diversity.io import setup_logging, write_csv

log = setup_logging(snakemake.log[0])
frames = [pd.read_csv(p) for p in snakemake.input.tables]
table = pd.concat(frames, ignore_index=True)
write_csv(snakemake.output[0], table)
log.info("%d rows from %d files -> %s", len(table), len(frames), snakemake.output[0])
