from icl_diversity.io import save_npy, setup_logging
from icl_diversity.tasks import task_pool

log = setup_logging(snakemake.log[0])
p = snakemake.params
M = int(snakemake.wildcards.M)
pool = task_pool(M, p.D, p.seed, p.task_scale, p.prior)
save_npy(snakemake.output.pool, pool, sha256=snakemake.output.sha256)
log.info("pool M=%d D=%d prior=%s seed=%d -> %s", M, p.D, p.prior, p.seed, snakemake.output.pool)
