rule baselines:
    """Ridge, dMMSE and smoothed dMMSE on both evaluation sets of one M: predictions
    and metrics; smoothed dMMSE's s^2 is chosen on a T_True tuning set (tuning.csv:
    the loss at every value of the grid)."""
    output:
        predictions="{pdir}/baselines/M{M}/predictions.npz",
        metrics="{pdir}/baselines/M{M}/metrics.csv",
        tuning="{pdir}/baselines/M{M}/tuning.csv",
    input:
        pool=pool_input,
        true="{pdir}/eval/true.npz",
        pretrain=pretrain_eval_input,
        code=code("baselines.py"),
    params:
        problem=problem_params,
        n=config["eval"]["n_sequences"],
        chunk=config["eval"]["dmmse_chunk"],
        backend=config["eval"]["dmmse_backend"],
        smoothing_grid=config["eval"]["smoothing_grid"],
        n_tuning=config["eval"]["n_tuning"],
        tuning_seed=config["seeds"]["eval"],
    threads: 2
    log:
        "{pdir}/logs/baselines/M{M}.log",
    benchmark:
        "{pdir}/benchmarks/baselines/M{M}.tsv"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/baselines.py"


# Problems with the Laplace task prior: their Bayes estimator has no closed form (it is
# neither Ridge nor dMMSE at M = inf), so it is estimated once per problem by Gibbs sampling.
BAYES_METRICS = {name: f"{cfg.problem_dir(config, name)}/baselines/bayes/metrics.csv"
                 for name, p in PROBLEMS.items() if p.prior == "laplace"}


rule laplace_bayes:
    """The Bayes estimator of a Laplace-prior problem on its T_True set (Gibbs sampling,
    with its Monte-Carlo standard error), as baseline rows for each of the problem's M."""
    output:
        predictions="{pdir}/baselines/bayes/predictions.npz",
        metrics="{pdir}/baselines/bayes/metrics.csv",
    input:
        true="{pdir}/eval/true.npz",
        code=code("laplace_bayes.py"),
    params:
        problem=problem_params,
        M=lambda wildcards: cfg.problem_M_labels(config, PROBLEM_DIRS[wildcards.pdir].name),
        n=config["eval"]["n_sequences"],
        sweeps=config["eval"]["laplace_sweeps"],
        seed=config["seeds"]["eval"],
    log:
        "{pdir}/logs/baselines/bayes.log",
    benchmark:
        "{pdir}/benchmarks/baselines/bayes.tsv"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/laplace_bayes.py"


rule baseline_table:
    """All baseline metrics in one tidy table, with the problem of each row (and the
    Laplace-prior problems' Bayes rows)."""
    output:
        f"{OUT}/tables/baselines.csv",
    input:
        tables=baseline_files("metrics.csv") + list(BAYES_METRICS.values()),
        code=code("concat_tables.py"),
    params:
        kind="baselines",
        K=baseline_problems("K") + [PROBLEMS[p].params()["K"] for p in BAYES_METRICS],
        problems=baseline_problems("name") + list(BAYES_METRICS),
    log:
        f"{OUT}/logs/tables/baselines.log",
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/concat_tables.py"
