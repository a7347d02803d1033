# Paired-by-seed differences of thresholds along the study's compared axes
# (icl_diversity.effects): the thresholds table in, the effects table out.

from icl_diversity.effects import effect_sentence, effects_table
from icl_diversity.io import setup_logging, write_csv
from icl_diversity.tables import read_table

log = setup_logging(snakemake.log[0])
thresholds = read_table(snakemake.input.thresholds, "thresholds")
table = effects_table(thresholds, snakemake.params.comparisons)
write_csv(snakemake.output[0], table)
log.info("threshold differences (%d rows):\n%s\n%s", len(table), table.to_string(index=False),
         "\n".join(effect_sentence(r) for _, r in table.iterrows()))
