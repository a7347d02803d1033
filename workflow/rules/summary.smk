# The study's summary page (summary.md), written from its tables and the benchmark
# records of its jobs, so that no number in it is typed (icl_diversity.summary).

# Every benchmark record the study's jobs leave: its training runs and its problems'
# baselines in the store (possibly written by another study's run), and its analyses.
# Passed as params, not inputs: a record that is missing never blocks the summary.
SUMMARY_BASELINES = {p: cfg.baselines_dir(config, cfg.problem_dir(config, p)) for p in PROBLEMS}
SUMMARY_BENCHMARKS = [dict(rule="train", path=run_path(p, s, seed, m, "train_benchmark.tsv"))
                      for p, s, seed, m in RUNS]
SUMMARY_BENCHMARKS += [dict(rule="baselines", path=f"{SUMMARY_BASELINES[p]}/benchmarks/M{m}.tsv")
                       for p in PROBLEMS for m in cfg.problem_M_labels(config, p)]
SUMMARY_BENCHMARKS += [dict(rule="laplace_bayes", path=f"{SUMMARY_BASELINES[p]}/benchmarks/bayes.tsv")
                       for p in BAYES]
if "fig5" in FIGURES:
    SUMMARY_BENCHMARKS += [dict(rule="interpolation_eval", path=f"{OUT}/benchmarks/interpolation/M{m}.tsv")
                           for m in INTERP_M]
if "connectivity" in FIGURES:
    SUMMARY_BENCHMARKS += [dict(rule="connectivity_to_inf",
                                path=f"{OUT}/benchmarks/connectivity/{s}/seed{seed}.tsv")
                           for s in CONNECT_GROUP["settings"] for seed in CONNECT_GROUP["seeds"]]
    if seed_pairs(FIGURES["connectivity"]):
        SUMMARY_BENCHMARKS += [dict(rule="connectivity_seeds",
                                    path=f"{OUT}/benchmarks/connectivity/{s}/seeds.tsv")
                               for s in CONNECT_GROUP["settings"]]

# The group whose runs the per-seed table shows: Fig 2's, else the first sweep group.
SUMMARY_GROUP = (cfg.figure_groups(FIGURES["fig2"])[0] if "fig2" in FIGURES
                 else next(iter(config["sweeps"])))


if RUNS:

    rule summary:
        """The study on one page: the sweep, the thresholds, the PT against Ridge and dMMSE
        at each M per seed, the stuck runs, wall and CPU time per rule, links to the
        figures and the store keys; with a sidecar of every file it read (sha256)."""
        output:
            markdown=f"{OUT}/summary.md",
            provenance=f"{OUT}/summary.json",
        input:
            thresholds=TABLES["thresholds"],
            pt_metrics=TABLES["pt_metrics"],
            baselines=TABLES["baselines"],
            # after every figure (and so after the analyses whose records it reads)
            figures=[f"{OUT}/figures/{name}.png" for name in FIGURES],
            code=code("summary.py"),
        params:
            groups={g: {k: v for k, v in group_params(g).items() if k != "group"}
                    for g in config["sweeps"]},
            main_group=SUMMARY_GROUP,
            figures=FIGURES,
            benchmarks=SUMMARY_BENCHMARKS,
        log:
            f"{OUT}/logs/summary.log",
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/summary.py"
