# The study's summary page (summary.md), written from its tables and the benchmark
# records of its jobs, so that no number in it is typed (icl_diversity.summary).
from icl_diversity.claims import claims_config

# Every benchmark record the study's jobs leave: its training jobs' and analyses' (in the
# study's folder) and its problems' baselines' (in the store, possibly written by another
# study's run). Passed as params, not inputs: a missing record (a run that another study
# trained, so no job of this one) never blocks the summary.
SUMMARY_PDIRS = {p: Path(cfg.problem_dir(config, p)).name for p in PROBLEMS}
SUMMARY_BENCHMARKS = benchmark_records(
    "train",
    [
        dict(pdir=SUMMARY_PDIRS[p], setting=s, seed=seed, M=m)
        for p, s, seed, m in RUNS + cfg.reference_runs(config)
    ],
)
SUMMARY_BENCHMARKS += benchmark_records(
    "baselines", [dict(pdir=SUMMARY_PDIRS[p], M=m) for p in PROBLEMS for m in cfg.problem_M_labels(config, p)]
)
SUMMARY_BENCHMARKS += benchmark_records("laplace_bayes", [dict(pdir=SUMMARY_PDIRS[p]) for p in BAYES])
if "fig5" in FIGURES:
    SUMMARY_BENCHMARKS += benchmark_records("interpolation_eval", [dict(M=m) for m in INTERP_M])
if "connectivity" in FIGURES:
    SUMMARY_BENCHMARKS += benchmark_records(
        "connectivity_to_inf",
        [dict(setting=s, seed=seed) for s in CONNECT_GROUP["settings"] for seed in CONNECT_GROUP["seeds"]],
    )
    SUMMARY_BENCHMARKS += benchmark_records(
        "connectivity_reference", [dict(setting=s) for s in CONNECT_GROUP["settings"]]
    )
    if seed_pairs(FIGURES["connectivity"]):
        SUMMARY_BENCHMARKS += benchmark_records(
            "connectivity_seeds", [dict(setting=s) for s in CONNECT_GROUP["settings"]]
        )


if RUNS:
    # The group whose runs the per-seed table shows: Fig 2's, else the first sweep group.
    SUMMARY_GROUP = (
        cfg.figure_groups(FIGURES["fig2"])[0] if "fig2" in FIGURES else next(iter(config["sweeps"]))
    )

    rule summary:
        """The study on one page: the sweep, the thresholds and their differences along
        the compared axes (if any), the PT against Ridge and dMMSE at each M per seed, the
        stuck runs, wall and CPU time per rule, links to the figures and the store keys;
        with a sidecar of every file it read (sha256)."""
        output:
            markdown=f"{OUT}/summary.md",
            provenance=f"{OUT}/summary.json",
        input:
            thresholds=TABLES["thresholds"],
            effects=TABLES["effects"] if COMPARISONS else [],
            pt_metrics=TABLES["pt_metrics"],
            lr_choice=LR_CHOICE,
            baselines=TABLES["baselines"],
            claims=TABLES["claims"],
            # after every figure (and so after the analyses whose records it reads)
            figures=[f"{OUT}/figures/{name}.png" for name in FIGURES],
            # the decisions of the refined groups, whose runs the params list
            refine=all_decisions(),
            code=code("summary.py"),
        params:
            groups=once_refined(lambda: sweep_group_params(written=True)),
            main_group=SUMMARY_GROUP,
            figures=FIGURES,
            benchmarks=once_refined(lambda: SUMMARY_BENCHMARKS + refined_benchmarks(written=True)),
        log:
            f"{OUT}/logs/summary.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/summary.py"

    rule claims:
        """The paper's quantitative claims, one row each, judged from the study's tables:
        the paper's value, the study's with its interval, and a verdict (reproduced, not
        reproduced, not testable at this scale) with the criterion applied (claims.py)."""
        output:
            TABLES["claims"],
        input:
            thresholds=TABLES["thresholds"],
            pt_metrics=TABLES["pt_metrics"],
            lr_choice=LR_CHOICE,
            baselines=TABLES["baselines"],
            pt_curves=TABLES["pt_curves"] if "fig4" in FIGURES else [],
            effects=TABLES["effects"] if COMPARISONS else [],
            interpolation=f"{OUT}/tables/interpolation.csv" if "fig5" in FIGURES else [],
            barriers=f"{OUT}/tables/barriers.csv" if "connectivity" in FIGURES else [],
            code=code("claims.py"),
        params:
            # what the claims read of the config (claims.CONFIG_KEYS)
            study=claims_config(config),
        log:
            f"{OUT}/logs/tables/claims.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/claims.py"
