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
