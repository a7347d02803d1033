from icl_diversity.io import load_npz, save_npz, setup_logging, write_csv
from icl_diversity.metrics import run_tables
from icl_diversity.tasks import check_eval_set, parse_M

log = setup_logging(snakemake.log[0])
p, wc = snakemake.params, snakemake.wildcards
D = p.problem["D"]
M = parse_M(wc.M)
pt = load_npz(snakemake.input.predictions, ("steps", "true_curve", "pretrain_curve", "true", "pretrain"))
baselines = load_npz(snakemake.input.baselines, ("true_Ridge", "pretrain_Ridge"))
sets = {"true": load_npz(snakemake.input.true, ("xs", "ys", "ws")),
        "pretrain": load_npz(snakemake.input.pretrain, ("xs", "ys", "ws"))}
E, S = len(pt["steps"]), pt["true_curve"].shape[1]
for name, data in sets.items():
    check_eval_set(data, p.problem["K"], D, snakemake.input[name])
    N = len(data["xs"])
    for what, arr, shape in (("PT curve predictions", pt[f"{name}_curve"], (E, min(S, N), p.problem["K"])),
                             ("PT final predictions", pt[name], (N, p.problem["K"])),
                             ("Ridge predictions", baselines[f"{name}_Ridge"], (N, p.problem["K"]))):
        if arr.shape != shape:
            raise ValueError(f"{what} on {name} have shape {arr.shape}, expected {shape}: "
                             f"{snakemake.input.predictions} and {snakemake.input.baselines} "
                             f"must come from this evaluation set ({snakemake.input[name]})")


curve, final, health = run_tables(pt, sets, baselines, D, p.plateau_guard, M=M, setting=wc.setting,
                                  seed=int(wc.seed), **p.setting)
write_csv(snakemake.output.curve, curve)
write_csv(snakemake.output.metrics, final)
# Per-sequence Delta^{T_True}_{PT,Ridge} (mean over positions, / D) at the final step:
# what the threshold's bootstrap resamples.
save_npz(snakemake.output.sequences, true_delta_ridge=((pt["true"].astype("float64")
         - baselines["true_Ridge"]) ** 2).mean(axis=1) / D)
msg = ("%s seed %s M=%s: %d evaluation steps (curves on %d sequences per set), final step %d, "
       "gap to Ridge closed %.2f (escape step %s)")
args = (wc.setting, wc.seed, wc.M, E, S, final["step"].iloc[0],
        health["gap_closed"], health["escape_step"])
if health["stuck"]:
    log.warning("STUCK ON THE PLATEAU: " + msg + "; below eval.plateau_guard = %g, so this run "
                "is drawn as an open marker and left out of means and thresholds", *args,
                p.plateau_guard)
else:
    log.info(msg, *args)
