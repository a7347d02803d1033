# Fig 5's evaluation set for one pool: sequences on paths between pairs of pool tasks.
from icl_diversity.analysis import interpolation_set
from icl_diversity.io import load_npy, save_npz, setup_logging
from icl_diversity.tasks import check_pool

log = setup_logging(snakemake.log[0])
p, pb = snakemake.params, snakemake.params.problem
M = int(snakemake.wildcards.M)
pool = load_npy(snakemake.input.pool, sha256=snakemake.input.pool_sha256)
check_pool(pool, M, pb["D"], snakemake.input.pool)
data = interpolation_set(pool, pb["K"], pb["noise_var"], p.n_pairs, p.n_points, p.seed,
                         norm=p.norm, x_scale=pb["x_scale"])
save_npz(snakemake.output[0], **data)
log.info("interpolation set M=%d: %d pairs x %d values of a (norm %s) -> %s", M, p.n_pairs,
         p.n_points, p.norm, snakemake.output[0])
