from icl_diversity.config import config_hash
from icl_diversity.io import atomic_path, setup_logging
from icl_diversity.provenance import git_state, html_table, software_versions, write_json

log = setup_logging(snakemake.log[0])
record = dict(software_versions(), config_hash=config_hash(snakemake.config),
              **{f"git_{k}": v for k, v in git_state().items()})
write_json(snakemake.output.json, record)
with atomic_path(snakemake.output.html) as tmp:
    tmp.write_text(html_table(record, title="Software and code that made these results"))
log.info("%s", record)
