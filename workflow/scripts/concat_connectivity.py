# The mode-connectivity paths and barriers of every job in two checked tables.
from icl_diversity.io import setup_logging, write_csv
from icl_diversity.tables import concat_tables

log = setup_logging(snakemake.log[0])
for kind, inputs, output in (("connectivity", snakemake.input.paths, snakemake.output.paths),
                             ("barriers", snakemake.input.barriers, snakemake.output.barriers)):
    table = concat_tables(inputs, kind)
    write_csv(output, table)
    log.info("%d rows from %d files -> %s", len(table), len(inputs), output)
