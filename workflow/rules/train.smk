TRAIN = config["train"]
# What defines a trained model's numbers. The other train keys (threads, device,
# gpus_per_job, compile, checkpoint_every, check_every, max_loss) are execution knobs: the
# script reads them from the config, so changing one never reruns a finished run (and the
# rolling checkpoint stays valid).
TRAIN_RESULT_KEYS = ("lr", "eval_every", "bf16")


rule train:
    """Pretrain one transformer on the pool of M (M = inf: a fresh task per sequence),
    predicting the first `eval.curve_sequences` sequences of both evaluation sets every
    `eval_every` steps, and every sequence at the end. The run's lock (train.lock in its
    folder) is held throughout, so two workflow runs on one store never train it at once."""
    output:
        # update(): Snakemake must not delete a run another workflow run finished after
        # this one built its DAG; the script trains only when the run is still missing
        model=update(f"{RUN_DIR}/model.pt"),
        predictions=update(f"{RUN_DIR}/predictions.npz"),
        train_log=update(f"{RUN_DIR}/train_loss.csv"),
    input:
        pool=pool_input,
        pool_sha256=pool_sha256_input,
        true=f"{PDIR}/eval/true.npz",
        pretrain=pretrain_eval_input,
        code=code("train.py"),
    params:
        problem=problem_params,
        run=setting_params,
        train={k: TRAIN[k] for k in TRAIN_RESULT_KEYS},
        seeds=config["seeds"],
        curve_sequences=config["eval"]["curve_sequences"],
        # Outside the declared outputs, so Snakemake keeps it when a job dies.
        checkpoint=cfg.run_dir(config, f"{PDIR}/checkpoints", "{setting}", "{seed}", "{M}") + ".pt",
        checkpoint_root=f"{PDIR}/checkpoints",
    threads: TRAIN["threads"]
    resources:
        # Asked for explicitly (never probed on the host that builds the DAG): under Slurm
        # it becomes --gpus; locally `--resources gpu=N` lets N jobs hold one at once.
        gpu=TRAIN["gpus_per_job"],
    # This job's log and record: in the study, since a job that finds the run trained by
    # another workflow run meanwhile records only its wait (the run's own training log,
    # written under its lock, is train.log in the run's folder)
    log:
        f"{OUT}/logs/train/{{pdir}}/{{setting}}/seed{{seed}}/M{{M}}.log",
    benchmark:
        f"{OUT}/benchmarks/train/{{pdir}}/{{setting}}/seed{{seed}}/M{{M}}.tsv"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/train.py"


rule pt_metrics:
    """The PT's losses and distances to Ridge and dMMSE, at the end of training
    (metrics.csv, same columns as the baselines' table) and at every evaluation step
    (curve.csv). Kept apart from training so that a change to the baselines does not
    retrain anything."""
    output:
        metrics=f"{METRICS_DIR}/metrics.csv",
        curve=f"{METRICS_DIR}/curve.csv",
        sequences=f"{METRICS_DIR}/sequence_deltas.npz",
    input:
        predictions=f"{RUN_DIR}/predictions.npz",
        baselines=f"{BASELINES_DIR}/M{{M}}/predictions.npz",
        true=f"{PDIR}/eval/true.npz",
        pretrain=pretrain_eval_input,
        code=code("pt_metrics.py"),
    params:
        problem=problem_params,
        setting=lambda wc: SETTINGS[wc.setting].__dict__,
        plateau_guard=config["eval"]["plateau_guard"],
    log:
        f"{METRICS_DIR}/pt_metrics.log",
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/pt_metrics.py"


rule pt_table:
    """Final-step PT metrics of every run in one tidy table."""
    output:
        f"{OUT}/tables/pt_metrics.csv",
    input:
        tables=run_files("metrics.csv"),
        code=code("concat_tables.py"),
    params:
        kind="pt_metrics",
        K=run_problems("K"),
        problems=run_problems("name"),
        identities=run_identities(),
    log:
        f"{OUT}/logs/tables/pt_metrics.log",
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/concat_tables.py"


rule pt_curves:
    """Every run's learning curves (metrics at every evaluation step) in one table."""
    output:
        f"{OUT}/tables/pt_curves.csv",
    input:
        tables=run_files("curve.csv"),
        code=code("concat_tables.py"),
    params:
        kind="pt_curves",
        K=run_problems("K"),
        problems=run_problems("name"),
        identities=run_identities(),
        eval_every=TRAIN["eval_every"],
    log:
        f"{OUT}/logs/tables/pt_curves.log",
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/concat_tables.py"
