from icl_diversity.io import setup_logging, write_csv
from icl_diversity.tables import concat_tables

log = setup_logging(snakemake.log[0])
p = snakemake.params
# tables of several problems name each file's problem (a `problem` column); others have
# one. Per-run and per-M files come with their identity (the run or M they belong to),
# and are checked against the rows their writer promises.
table = concat_tables(snakemake.input.tables, p.kind, p.K, getattr(p, "problems", None),
                      getattr(p, "at_each_M", None), getattr(p, "identities", None),
                      getattr(p, "eval_every", None))
write_csv(snakemake.output[0], table)
log.info("%d rows from %d files -> %s", len(table), len(snakemake.input.tables), snakemake.output[0])
