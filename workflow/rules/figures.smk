# Thresholds, figures and the provenance of both. config["figures"] maps each figure to
# the sweep group it plots; a figure left out is not drawn. Every figure rule writes a
# PDF and a PNG (both in the report) and a JSON sidecar: inputs with sha256, config
# hash, git commit and dirty flag.

# What rule all asks for: every configured figure with its sidecar, the thresholds
# table and the software record (figures need trained runs).
FIGURE_FILES = []
if RUNS:
    FIGURE_FILES = [TABLES["thresholds"], f"{OUT}/provenance/software.json"] + [
        f"{OUT}/figures/{name}.{ext}" for name in FIGURES for ext in ("pdf", "png", "json")
    ]


rule thresholds:
    """Task-diversity threshold per sweep group, problem and seed, with a bootstrap interval:
    where Delta^{T_True}_{PT,Ridge} vs M of the two smallest values of the swept axis
    cross (threshold.py)."""
    output:
        TABLES["thresholds"],
    input:
        pt_metrics=TABLES["pt_metrics"],
        lr_choice=LR_CHOICE,
        sequences=once_refined(lambda: run_files("sequence_deltas.npz", study_runs())),
        # each refined group's last decision: why its refinement stopped
        refine=final_decisions(),
        code=code("thresholds.py"),
    params:
        groups=once_refined(sweep_group_params),
        n_boot=config["eval"]["n_bootstrap"],
        # the rounds of each refined group, in the order of input.refine
        refined={g: spec["rounds"] for g, spec in REFINED.items()},
        runs=once_refined(
            lambda: [dict(problem=p, setting=s, seed=seed, M=M) for p, s, seed, M in study_runs()]
        ),
        K={name: p.K for name, p in PROBLEMS.items()},
    log:
        f"{OUT}/logs/figures/thresholds.log",
    group:
        "tables"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/thresholds.py"


if COMPARISONS:

    rule effects:
        """Paired-by-seed differences of thresholds along each compared axis (Fig 6's D,
        Fig 7's axes, the Laplace prior), each value against the axis' reference, with a
        paired t-test and its t-interval (effects.py)."""
        output:
            TABLES["effects"],
        input:
            thresholds=TABLES["thresholds"],
            code=code("effects.py"),
        params:
            comparisons=COMPARISONS,
        log:
            f"{OUT}/logs/tables/effects.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/effects.py"


if "fig2" in FIGURES:

    rule fig2:
        """Fig 2: L/D, Delta_{PT,dMMSE} and Delta_{PT,Ridge} vs M on T_Pretrain and
        T_True, one PT curve per value of the swept axis, shaded past the threshold."""
        output:
            **figure_outputs("fig2"),
        input:
            pt_metrics=TABLES["pt_metrics"],
            lr_choice=LR_CHOICE,
            baselines=TABLES["baselines"],
            thresholds=TABLES["thresholds"],
            code=code("fig_vs_M.py"),
        params:
            **group_params(FIGURES["fig2"]),
            columns=["loss", "delta_dmmse", "delta_ridge"],
        log:
            f"{OUT}/logs/figures/fig2.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/fig_vs_M.py"


if "fig3" in FIGURES:

    rule fig3:
        """Fig 3: the four Delta panels of Fig 2 for a sweep over training steps."""
        output:
            **figure_outputs("fig3"),
        input:
            pt_metrics=TABLES["pt_metrics"],
            lr_choice=LR_CHOICE,
            baselines=TABLES["baselines"],
            thresholds=TABLES["thresholds"],
            code=code("fig_vs_M.py"),
        params:
            **group_params(FIGURES["fig3"]),
            columns=["delta_dmmse", "delta_ridge"],
        log:
            f"{OUT}/logs/figures/fig3.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/fig_vs_M.py"


if "fig4" in FIGURES:

    rule fig4:
        """Fig 4: Delta^{T_True}_{PT,Ridge} vs training step per M, one panel per setting
        of the group, and t* (step of the minimum) vs M with a power-law fit."""
        output:
            **figure_outputs("fig4"),
        input:
            pt_curves=TABLES["pt_curves"],
            lr_choice=LR_CHOICE,
            thresholds=TABLES["thresholds"],
            code=code("fig_dynamics.py"),
        params:
            **group_params(FIGURES["fig4"]),
            fit=cfg.fig4_fit(config),
        log:
            f"{OUT}/logs/figures/fig4.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/fig_dynamics.py"


if "positions" in FIGURES:

    rule positions:
        """L/D on T_True vs context position for a few M: PT, dMMSE and Ridge."""
        output:
            **figure_outputs("positions"),
        input:
            pt_metrics=TABLES["pt_metrics"],
            lr_choice=LR_CHOICE,
            baselines=TABLES["baselines"],
            code=code("fig_positions.py"),
        params:
            **group_params(FIGURES["positions"]),
        log:
            f"{OUT}/logs/figures/positions.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/fig_positions.py"


rule software:
    """Versions of Python and the key packages, the CUDA device if any, the git commit
    and dirty flag, and the config hash. Downstream of every figure, so it is rewritten
    whenever a figure is."""
    output:
        json=f"{OUT}/provenance/software.json",
        html=report(
            f"{OUT}/provenance/software.html", caption="../report/software.rst", category="Provenance"
        ),
    input:
        [f"{OUT}/figures/{name}.json" for name in FIGURES] if RUNS else [],
        code=code("software.py"),
    log:
        f"{OUT}/logs/figures/software.log",
    group:
        "tables"
    conda:
        "../../envs/icl.yaml"
    script:
        "../scripts/software.py"
