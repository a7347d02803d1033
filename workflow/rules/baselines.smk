rule baselines:
    """Ridge and dMMSE on both evaluation sets of one M: predictions and metrics."""
    output:
        predictions="{pdir}/baselines/M{M}/predictions.npz",
        metrics="{pdir}/baselines/M{M}/metrics.csv",
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
    threads: 2
    log:
        "{pdir}/logs/baselines/M{M}.log",
    benchmark:
        "{pdir}/benchmarks/baselines/M{M}.tsv"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/baselines.py"


rule baseline_table:
    """All baseline metrics in one tidy table, with the problem of each row."""
    output:
        f"{OUT}/tables/baselines.csv",
    input:
        tables=baseline_files("metrics.csv"),
        code=code("concat_tables.py"),
    params:
        kind="baselines",
        K=baseline_problems("K"),
        problems=baseline_problems("name"),
    log:
        f"{OUT}/logs/tables/baselines.log",
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/concat_tables.py"
