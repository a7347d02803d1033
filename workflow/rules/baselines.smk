rule baselines:
    """Ridge, dMMSE and smoothed dMMSE on both evaluation sets of one M: predictions
    and metrics; smoothed dMMSE's s^2 is chosen on a T_True tuning set (tuning.csv:
    the loss at every value of the grid)."""
    output:
        predictions=f"{BASELINES_DIR}/M{{M}}/predictions.npz",
        metrics=f"{BASELINES_DIR}/M{{M}}/metrics.csv",
        tuning=f"{BASELINES_DIR}/M{{M}}/tuning.csv",
    input:
        pool=pool_input,
        pool_sha256=pool_sha256_input,
        true=f"{PDIR}/eval/true.npz",
        pretrain=pretrain_eval_input,
        code=code("baselines.py"),
    params:
        problem=problem_params,
        n=config["eval"]["n_sequences"],
        smoothing_grid=config["eval"]["smoothing_grid"],
        n_tuning=config["eval"]["n_tuning"],
        tuning_seed=config["seeds"]["eval"],
    threads: 2
    log:
        f"{BASELINES_DIR}/logs/M{{M}}.log",
    benchmark:
        f"{BASELINES_DIR}/benchmarks/M{{M}}.tsv"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/baselines.py"


# Problems with the Laplace task prior: their Bayes estimator has no closed form (it is
# neither Ridge nor dMMSE at M = inf), so it is estimated once per problem by Gibbs sampling.
BAYES = {
    name: f"{cfg.baselines_dir(config, cfg.problem_dir(config, name))}/bayes"
    for name, p in PROBLEMS.items()
    if p.prior == "laplace"
}


rule laplace_bayes:
    """The Bayes estimator of a Laplace-prior problem on its T_True set (Gibbs sampling,
    with its Monte-Carlo standard error). Its metrics do not depend on M (T_True's tasks
    come from the prior whatever the pool): one set of rows, at M = inf, which the
    baselines table repeats at each of the problem's M."""
    output:
        predictions=f"{BASELINES_DIR}/bayes/predictions.npz",
        metrics=f"{BASELINES_DIR}/bayes/metrics.csv",
    input:
        true=f"{PDIR}/eval/true.npz",
        code=code("laplace_bayes.py"),
    params:
        problem=problem_params,
        n=config["eval"]["n_sequences"],
        sweeps=config["eval"]["laplace_sweeps"],
        seed=config["seeds"]["eval"],
    log:
        f"{BASELINES_DIR}/logs/bayes.log",
    benchmark:
        f"{BASELINES_DIR}/benchmarks/bayes.tsv"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/laplace_bayes.py"


rule baseline_table:
    """All baseline metrics in one tidy table, with the problem of each row (and the
    Laplace-prior problems' Bayes rows at each of their M)."""
    output:
        TABLES["baselines"],
    input:
        tables=once_refined(lambda: baseline_table_files("tables")),
        code=code("concat_tables.py"),
    params:
        kind="baselines",
        K=once_refined(lambda: baseline_table_files("K")),
        problems=once_refined(lambda: baseline_table_files("problems")),
        at_each_M=once_refined(lambda: baseline_table_files("at_each_M")),
        # the M (and estimator) of each file, whose rows it promises
        identities=once_refined(lambda: baseline_table_files("identities")),
    log:
        f"{OUT}/logs/tables/baselines.log",
    group:
        "tables"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/concat_tables.py"
