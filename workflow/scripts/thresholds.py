import pandas as pd

from icl_diversity.config import Setting
from icl_diversity.io import setup_logging, write_csv
from icl_diversity.threshold import threshold_table

log = setup_logging(snakemake.log[0])
groups = {g: (vary, [Setting.parse(n) for n in names])
          for g, (vary, names) in snakemake.params.groups.items()}
table = threshold_table(pd.read_csv(snakemake.input.pt_metrics), groups)
write_csv(snakemake.output[0], table)
log.info("thresholds:\n%s", table.to_string(index=False))
