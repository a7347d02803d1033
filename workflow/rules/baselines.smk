rule baselines:
    """Ridge, dMMSE and smoothed dMMSE on both evaluation sets of one M: predictions
    and metrics; smoothed dMMSE's s^2 is chosen on a T_True tuning set (tuning.csv:
    the loss at every value of the grid)."""
    output:
        predictions=f"{OUT}/baselines/M{{M}}/predictions.npz",
        metrics=f"{OUT}/baselines/M{{M}}/metrics.csv",
        tuning=f"{OUT}/baselines/M{{M}}/tuning.csv",
    input:
        pool=pool_input,
        true=f"{OUT}/eval/true.npz",
        pretrain=pretrain_eval_input,
        code=code("baselines.py"),
    params:
        problem=PROBLEM,
        n=config["eval"]["n_sequences"],
        chunk=config["eval"]["dmmse_chunk"],
        backend=config["eval"]["dmmse_backend"],
        smoothing_grid=config["eval"]["smoothing_grid"],
        n_tuning=config["eval"]["n_tuning"],
        tuning_seed=config["seeds"]["eval"],
    threads: 2
    log:
        f"{OUT}/logs/baselines/M{{M}}.log",
    benchmark:
        f"{OUT}/benchmarks/baselines/M{{M}}.tsv"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/baselines.py"


rule baseline_table:
    """All baseline metrics in one tidy table."""
    output:
        f"{OUT}/tables/baselines.csv",
    input:
        tables=expand(f"{OUT}/baselines/M{{M}}/metrics.csv", M=M_LABELS),
        code=code("concat_tables.py"),
    params:
        kind="baselines",
        K=PROBLEM["K"],
    log:
        f"{OUT}/logs/tables/baselines.log",
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/concat_tables.py"
