# The study's summary page from its tables and the benchmark records of its jobs.

from pathlib import Path

from icl_diversity import config as cfg
from icl_diversity.claims import read_claims
from icl_diversity.effects import read_effects
from icl_diversity.io import atomic_path, setup_logging
from icl_diversity.lr_choice import choice_of, keep_chosen
from icl_diversity.provenance import sidecar, write_json
from icl_diversity.refine import read_decision
from icl_diversity.summary import read_benchmarks, summary_markdown
from icl_diversity.tables import read_table

log = setup_logging(snakemake.log[0])
p, config = snakemake.params, snakemake.config
bench = read_benchmarks(p.benchmarks)
read = bench.loc[bench["found"], "path"].tolist()
missing = bench.loc[~bench["found"], "path"].tolist()
if missing:
    log.warning("%d benchmark record(s) missing, left out of the times:\n%s", len(missing),
                "\n".join(missing))

text = summary_markdown(
    study=config["study"], config_hash=cfg.config_hash(config), groups=p.groups,
    main_group=p.main_group,
    thresholds=read_table(snakemake.input.thresholds, "thresholds"),
    pt=keep_chosen(read_table(snakemake.input.pt_metrics, "pt_metrics"), choice_of(snakemake.input)),
    baselines=read_table(snakemake.input.baselines, "baselines"),
    bench=bench, figures=p.figures, store_keys=cfg.store_keys(config),
    effects=read_effects(snakemake.input.effects) if snakemake.input.get("effects") else None,
    claims=read_claims(snakemake.input.claims),
    decisions=[read_decision(f, Path(f).parent.name, int(Path(f).stem.removeprefix("round")))
               for f in snakemake.input.refine])
with atomic_path(snakemake.output.markdown) as tmp:
    tmp.write_text(text)
write_json(snakemake.output.provenance,
           sidecar(list(snakemake.input) + read, [snakemake.output.markdown], config))
log.info("%s: %d benchmark records read", snakemake.output.markdown, len(read))
