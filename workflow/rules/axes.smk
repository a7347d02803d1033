# Figures across the sweep axes beyond batch size and steps: Fig 6 (dimension), Fig 7
# (weight decay, width, depth) and the appendix's Fig 2 grids (the small model; the
# Laplace task prior). config["figures"] names their groups; each writes a PDF, a PNG and
# a JSON sidecar (figure_outputs) and reads the thresholds from the thresholds table.

if "fig6" in FIGURES:

    rule fig6:
        """Fig 6: Delta^{T_True}_{PT,Ridge} vs M for each D (K and sigma^2 tied to D), the
        threshold vs D with its interval and the paired differences between the D (the
        effects table), and the distances to Ridge at the largest M vs D."""
        output:
            **figure_outputs("fig6"),
        input:
            pt_metrics=TABLES["pt_metrics"],
            lr_choice=LR_CHOICE,
            baselines=TABLES["baselines"],
            thresholds=TABLES["thresholds"],
            effects=effects_of("fig6"),
            code=code("fig_dimension.py"),
        params:
            groups={g: group_params(g) for g in cfg.figure_groups(FIGURES["fig6"])},
        log:
            f"{OUT}/logs/figures/fig6.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/fig_dimension.py"


if "fig7" in FIGURES:

    rule fig7:
        """Fig 7: the threshold (with its interval, and each compared value's paired
        difference to the axis' reference from the effects table) and T_True L/D at the
        largest M vs weight decay, width (per model family) and depth."""
        output:
            **figure_outputs("fig7"),
        input:
            pt_metrics=TABLES["pt_metrics"],
            lr_choice=LR_CHOICE,
            thresholds=TABLES["thresholds"],
            effects=effects_of("fig7"),
            code=code("fig_capacity.py"),
        params:
            axes=capacity_params(FIGURES["fig7"]),
        log:
            f"{OUT}/logs/figures/fig7.log",
        group:
            "tables"
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/fig_capacity.py"


for _name in ("appendix_small", "appendix_laplace"):
    if _name in FIGURES:

        rule:
            """Appendix: the Fig 2 grid (L/D, Delta_{PT,dMMSE}, Delta_{PT,Ridge} on T_Pretrain
            and T_True, vs M) of one more sweep group, shaded past its threshold; for the
            Laplace prior, its threshold's paired difference to the Gaussian group's."""
            name:
                _name
            output:
                **figure_outputs(_name),
            input:
                pt_metrics=TABLES["pt_metrics"],
                lr_choice=LR_CHOICE,
                baselines=TABLES["baselines"],
                thresholds=TABLES["thresholds"],
                effects=effects_of(_name),
                code=code("fig_vs_M.py"),
            params:
                **group_params(FIGURES[_name]),
                columns=["loss", "delta_dmmse", "delta_ridge"],
            log:
                f"{OUT}/logs/figures/{_name}.log",
            group:
                "tables"
            conda:
                "../../envs/icl.yaml"
            script:
                "../scripts/fig_vs_M.py"
