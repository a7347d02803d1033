TRAIN = config["train"]
# What defines a trained model's numbers. The other train keys (threads, device,
# gpus_per_job, compile, checkpoint_every, check_every, max_loss) are execution knobs: the
# script reads them from the config, so changing one never reruns a finished run (and the
# rolling checkpoint stays valid).
TRAIN_RESULT_KEYS = ("lr", "eval_every", "bf16")
# Learning-rate candidates (a group's `lr` list, config.tuned_lrs): their runs, and the
# table that chooses among them (lr_choice.py), which every reader of the runs' tables
# (thresholds, figures, summary) takes as an input; none in a study that tunes nothing.
CANDIDATE_RUNS = [r for r in RUNS if SETTINGS[r[1]].lr is not None]
LR_CHOICE = [f"{OUT}/tables/lr_choice.csv"] if CANDIDATE_RUNS else []


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
        train=train_params,
        seeds=config["seeds"],
        curve_sequences=config["eval"]["curve_sequences"],
        # Outside the declared outputs, so Snakemake keeps it when a job dies.
        checkpoint=cfg.run_dir(config, f"{PDIR}/checkpoints", "{setting}", "{seed}", "{M}") + ".pt",
        checkpoint_root=f"{PDIR}/checkpoints",
    threads: TRAIN["threads"]
    priority: train_priority
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
        setting=lambda wc: SETTINGS[wc.setting].fields(),
        plateau_guard=config["eval"]["plateau_guard"],
    log:
        f"{METRICS_DIR}/pt_metrics.log",
    group:
        "metrics"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/pt_metrics.py"


rule pt_table:
    """Final-step PT metrics of every run in one tidy table."""
    output:
        f"{OUT}/tables/pt_metrics.csv",
    input:
        tables=once_refined(lambda: run_files("metrics.csv", study_runs())),
        code=code("concat_tables.py"),
    params:
        kind="pt_metrics",
        K=once_refined(lambda: run_problems("K", study_runs())),
        problems=once_refined(lambda: run_problems("name", study_runs())),
        identities=once_refined(lambda: run_identities(study_runs())),
    log:
        f"{OUT}/logs/tables/pt_metrics.log",
    group:
        "tables"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/concat_tables.py"


rule pt_curves:
    """Every run's learning curves (metrics at every evaluation step) in one table."""
    output:
        f"{OUT}/tables/pt_curves.csv",
    input:
        tables=once_refined(lambda: run_files("curve.csv", study_runs())),
        code=code("concat_tables.py"),
    params:
        kind="pt_curves",
        K=once_refined(lambda: run_problems("K", study_runs())),
        problems=once_refined(lambda: run_problems("name", study_runs())),
        identities=once_refined(lambda: run_identities(study_runs())),
        eval_every=TRAIN["eval_every"],
    log:
        f"{OUT}/logs/tables/pt_curves.log",
    group:
        "tables"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/concat_tables.py"


if LR_CHOICE:

    rule lr_choice:
        """The learning rate each tuned configuration keeps, per problem: of its candidates
        with no diverged and no stuck run, the one with the lowest final training loss
        (the mean over its runs of the last logged loss), the larger on a tie; none when
        no candidate is stable (lr_choice.py)."""
        output:
            LR_CHOICE[0],
        input:
            pt_metrics=TABLES["pt_metrics"],
            losses=[run_path(p, s, seed, m, "train_loss.csv") for p, s, seed, m in CANDIDATE_RUNS],
            code=code("lr_choice.py"),
        params:
            runs=[dict(problem=p, setting=s, seed=seed, M=m) for p, s, seed, m in CANDIDATE_RUNS],
        log:
            f"{OUT}/logs/tables/lr_choice.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/lr_choice.py"
