# Adaptive refinement of the M grid (a sweep group's `refine`, icl_diversity.refine):
# after the group's coarse grid, and after each round, a checkpoint decides the next M of
# each of its curve pairs. The runs a decision adds are ordinary train jobs, which the
# input functions of common.smk (refined_runs, study_runs) read from the decisions.

if REFINED:

    checkpoint refine:
        """The decision after a group's coarse grid (round 0) or after refinement round
        `round`: per curve pair, the threshold and interval (as tables/thresholds.csv
        computes them), the bracket, the status (refining, or why it stopped) and the
        next M to train, shared by every seed."""
        output:
            decision=f"{OUT}/refine/{{group}}/round{{round}}.json",
        input:
            metrics=lambda wc: run_files("metrics.csv", decision_runs(wc)),
            sequences=lambda wc: run_files("sequence_deltas.npz", decision_runs(wc)),
            previous=lambda wc: refine_decision(wc.group, int(wc.round) - 1) if int(wc.round) else [],
            code=code("refine.py"),
        params:
            group=lambda wc: wc.group,
            vary=lambda wc: config["sweeps"][wc.group]["vary"],
            seeds=lambda wc: cfg.sweep_seeds(config, wc.group),
            pairs=lambda wc: [
                dict(problem=p, settings=[small.name, large.name])
                for p, small, large in cfg.refine_pairs(config, wc.group)
            ],
            spec=lambda wc: REFINED[wc.group],
            n_boot=config["eval"]["n_bootstrap"],
            # the run of each input file (metrics, sequences), in order
            runs=lambda wc: [
                dict(problem=p, setting=s, seed=seed, M=M) for p, s, seed, M in decision_runs(wc)
            ],
            identities=lambda wc: run_identities(decision_runs(wc)),
            K={name: p.K for name, p in PROBLEMS.items()},
        log:
            f"{OUT}/logs/refine/{{group}}/round{{round}}.log",
        wildcard_constraints:
            group="|".join(REFINED),
            round="[0-9]+",
        conda:
            "../../envs/icl.yaml"
        script:
            "../scripts/refine.py"
