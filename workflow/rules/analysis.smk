# Analyses of the trained models, evaluation only: Fig 5 (paths between pool tasks) and
# linear mode connectivity. Each plots the sweep group config["figures"] names, and is
# left out when the figure is.

ANALYSIS = config.get("analysis") or {}
# The analysed group uses the top-level problem and M grid (config.check_analysis).
MAIN_PROBLEM = cfg.main_problem(config).params()


if "fig5" in FIGURES:
    INTERP = ANALYSIS["interpolation"]
    INTERP_M = [str(M) for M in INTERP["M"]]

    rule interpolation_set:
        """Fig 5's sequences for one pool: paths between pairs of distinct pool tasks."""
        output:
            f"{OUT}/eval/interpolation_M{{M}}.npz",
        input:
            pool=f"{MAIN_PDIR}/pools/pool_M{{M}}.npy",
            pool_sha256=f"{MAIN_PDIR}/pools/pool_M{{M}}.npy.sha256",
            code=code("interpolation_set.py"),
        params:
            problem=MAIN_PROBLEM,
            n_pairs=INTERP["n_pairs"],
            n_points=INTERP["n_points"],
            norm=INTERP["norm"],
            seed=config["seeds"]["eval"],
        log:
            f"{OUT}/logs/interpolation/set_M{{M}}.log",
        wildcard_constraints:
            M="[0-9]+",
        group:
            "data"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/interpolation_set.py"

    rule interpolation_eval:
        """L/D of the group's PTs, Ridge and dMMSE at each a of one pool's path set."""
        output:
            f"{OUT}/analysis/interpolation/M{{M}}.csv",
        input:
            paths=f"{OUT}/eval/interpolation_M{{M}}.npz",
            pool=f"{MAIN_PDIR}/pools/pool_M{{M}}.npy",
            pool_sha256=f"{MAIN_PDIR}/pools/pool_M{{M}}.npy.sha256",
            models=interpolation_run_files("model.pt"),
            metrics=interpolation_run_files("metrics.csv"),
            code=code("interpolation_eval.py"),
        params:
            problem=MAIN_PROBLEM,
            runs=interpolation_runs,
            backend=config["eval"]["dmmse_backend"],
        threads: 1
        log:
            f"{OUT}/logs/interpolation/eval_M{{M}}.log",
        benchmark:
            f"{OUT}/benchmarks/interpolation/M{{M}}.tsv"
        wildcard_constraints:
            M="[0-9]+",
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/interpolation_eval.py"

    rule interpolation_table:
        """Fig 5's numbers: every estimator's metrics at each a and M, in one table."""
        output:
            f"{OUT}/tables/interpolation.csv",
        input:
            tables=expand(f"{OUT}/analysis/interpolation/M{{M}}.csv", M=INTERP_M),
            code=code("concat_tables.py"),
        params:
            kind="interpolation",
            K=MAIN_PROBLEM["K"],
            # the M of each file, and the runs and values of a whose rows it promises
            identities=[
                dict(M=M, runs=group_runs(FIGURES["fig5"]), n_points=INTERP["n_points"]) for M in INTERP_M
            ],
        log:
            f"{OUT}/logs/tables/interpolation.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/concat_tables.py"

    rule fig5:
        """Fig 5: L/D (noisy y) vs a on paths between pool tasks, one panel per M: the
        group's PTs, dMMSE and Ridge."""
        output:
            **figure_outputs("fig5"),
        input:
            interpolation=f"{OUT}/tables/interpolation.csv",
            thresholds=TABLES["thresholds"],
            code=code("fig_interpolation.py"),
        params:
            **group_params(FIGURES["fig5"]),
        log:
            f"{OUT}/logs/figures/fig5.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/fig_interpolation.py"


if "connectivity" in FIGURES:
    CONNECT = ANALYSIS["connectivity"]  # its defaults are filled in by the schema
    CONNECT_GROUP = group_params(FIGURES["connectivity"])
    CONNECT_PARAMS = dict(
        problem=MAIN_PROBLEM, n_points=CONNECT["n_points"], n_sequences=CONNECT["n_sequences"]
    )
    CONNECT_OUTPUTS = [
        f"{OUT}/analysis/connectivity/{s}/seed{seed}_{kind}.csv"
        for s in CONNECT_GROUP["settings"]
        for seed in CONNECT_GROUP["seeds"]
        for kind in ("paths", "barriers")
    ]
    CONNECT_OUTPUTS += [
        f"{OUT}/analysis/connectivity/{s}/reference_{kind}.csv"
        for s in CONNECT_GROUP["settings"]
        for kind in ("paths", "barriers")
    ]
    if seed_pairs(FIGURES["connectivity"]):
        CONNECT_OUTPUTS += [
            f"{OUT}/analysis/connectivity/{s}/seeds_{kind}.csv"
            for s in CONNECT_GROUP["settings"]
            for kind in ("paths", "barriers")
        ]

    rule connectivity_to_inf:
        """L/D on T_True along the straight line from each finite-M model to the M = inf
        model of the same setting and seed, and the barrier of each path."""
        output:
            paths=f"{OUT}/analysis/connectivity/{{setting}}/seed{{seed}}_paths.csv",
            barriers=f"{OUT}/analysis/connectivity/{{setting}}/seed{{seed}}_barriers.csv",
        input:
            true=f"{MAIN_PDIR}/eval/true.npz",
            models=[run_file("{setting}", "{seed}", M, "model.pt") for M in FINITE_M + ["inf"]],
            metrics=[run_file("{setting}", "{seed}", M, "metrics.csv") for M in FINITE_M + ["inf"]],
            code=code("connectivity.py"),
        params:
            **CONNECT_PARAMS,
            pairs=to_inf_pairs,
        threads: 1
        log:
            f"{OUT}/logs/connectivity/{{setting}}/seed{{seed}}.log",
        benchmark:
            f"{OUT}/benchmarks/connectivity/{{setting}}/seed{{seed}}.tsv"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/connectivity.py"

    rule connectivity_seeds:
        """The same between every two training seeds of the group at each M (models
        that start from different initial weights)."""
        output:
            paths=f"{OUT}/analysis/connectivity/{{setting}}/seeds_paths.csv",
            barriers=f"{OUT}/analysis/connectivity/{{setting}}/seeds_barriers.csv",
        input:
            true=f"{MAIN_PDIR}/eval/true.npz",
            models=connectivity_seed_files("model.pt"),
            metrics=connectivity_seed_files("metrics.csv"),
            code=code("connectivity.py"),
        params:
            **CONNECT_PARAMS,
            pairs=seed_to_seed_pairs,
        threads: 1
        log:
            f"{OUT}/logs/connectivity/{{setting}}/seeds.log",
        benchmark:
            f"{OUT}/benchmarks/connectivity/{{setting}}/seeds.tsv"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/connectivity.py"

    rule connectivity_reference:
        """The paper's reference and what is compared with it, all between independently
        initialised models: two M = inf models of different seeds, and each finite-M
        model to the M = inf model of another seed (a one-seed group trains one more M = inf
        run at analysis.connectivity.reference_seed)."""
        output:
            paths=f"{OUT}/analysis/connectivity/{{setting}}/reference_paths.csv",
            barriers=f"{OUT}/analysis/connectivity/{{setting}}/reference_barriers.csv",
        input:
            true=f"{MAIN_PDIR}/eval/true.npz",
            models=reference_files("model.pt"),
            metrics=reference_files("metrics.csv"),
            code=code("connectivity.py"),
        params:
            **CONNECT_PARAMS,
            pairs=reference_pairs,
        threads: 1
        log:
            f"{OUT}/logs/connectivity/{{setting}}/reference.log",
        benchmark:
            f"{OUT}/benchmarks/connectivity/{{setting}}/reference.tsv"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/connectivity.py"

    rule connectivity_tables:
        """Every path's losses (connectivity.csv) and barriers (barriers.csv)."""
        output:
            paths=f"{OUT}/tables/connectivity.csv",
            barriers=f"{OUT}/tables/barriers.csv",
        input:
            paths=[f for f in CONNECT_OUTPUTS if f.endswith("_paths.csv")],
            barriers=[f for f in CONNECT_OUTPUTS if f.endswith("_barriers.csv")],
            code=code("concat_connectivity.py"),
        log:
            f"{OUT}/logs/tables/connectivity.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/concat_connectivity.py"

    rule connectivity:
        """Barrier vs M with the threshold marked, and the loss along each path."""
        output:
            **figure_outputs("connectivity"),
        input:
            paths=f"{OUT}/tables/connectivity.csv",
            barriers=f"{OUT}/tables/barriers.csv",
            thresholds=TABLES["thresholds"],
            code=code("fig_connectivity.py"),
        params:
            **CONNECT_GROUP,
        log:
            f"{OUT}/logs/figures/connectivity.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/fig_connectivity.py"
