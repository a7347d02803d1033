# The paper's quantitative claims judged from the study's tables (icl_diversity.claims):
# the tables in, tables/claims.csv out.

from icl_diversity.claims import claims_table
from icl_diversity.effects import read_effects
from icl_diversity.io import setup_logging, write_csv
from icl_diversity.lr_choice import choice_of, keep_chosen
from icl_diversity.tables import read_table

log = setup_logging(snakemake.log[0])
inputs = snakemake.input
# the tables every study has, then those of the figures it draws (an empty input: none)
tables = {kind: read_table(inputs[kind], kind) for kind in ("baselines", "pt_metrics", "thresholds")}
for kind in ("pt_curves", "interpolation", "barriers"):
    if inputs.get(kind):
        tables[kind] = read_table(inputs[kind], kind)
if inputs.get("effects"):
    tables["effects"] = read_effects(inputs["effects"])
# the runs the study's numbers use: of a tuned configuration, its chosen learning rate's
for kind in ("pt_metrics", "pt_curves"):
    if kind in tables:
        tables[kind] = keep_chosen(tables[kind], choice_of(inputs))
table = claims_table(tables, snakemake.params.study)
write_csv(snakemake.output[0], table)
log.info("claims (%d rows):\n%s", len(table),
         table[["claim", "value", "interval", "verdict"]].to_string(index=False))
