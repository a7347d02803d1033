from icl_diversity.io import load_npy, save_npz, setup_logging
from icl_diversity.tasks import check_pool, eval_set

log = setup_logging(snakemake.log[0])
p, pb = snakemake.params, snakemake.params.problem
pool = (load_npy(snakemake.input.pool, sha256=snakemake.input.pool_sha256)
        if "pool" in snakemake.input.keys() else None)
M = int(snakemake.wildcards.M) if pool is not None else float("inf")
if pool is not None:
    check_pool(pool, M, pb["D"], snakemake.input.pool)
data = eval_set(pb["D"], pb["K"], pb["noise_var"], p.n, p.seed, pool=pool, M=M,
                task_scale=pb["task_scale"], x_scale=pb["x_scale"], prior=pb.get("prior", "gaussian"))
save_npz(snakemake.output[0], **data)
log.info("eval set M=%s n=%d -> %s", M, p.n, snakemake.output[0])
