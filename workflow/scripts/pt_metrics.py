from icl_diversity.io import load_npz, save_npz, setup_logging, write_csv
from icl_diversity.metrics import estimator_rows, gap_closed, plateau_guard, to_frame
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


def first(arrays: dict, n: int) -> dict:
    return {k: v[:n] for k, v in arrays.items()}


# The curves: every evaluation step, on the first S sequences of each set (those the
# run predicted at every step). The final metrics: the last step, on every sequence.
curve_sets = {name: first(data, S) for name, data in sets.items()}
curve_baselines = first(baselines, S)
# The plateau guard reads the run's own training distribution (T_Pretrain; T_True at
# M = inf): on T_True a small-pool model is rightly worse than the zero predictor.
gaps = [gap_closed(pt["pretrain_curve"][e], curve_sets["pretrain"]["ys"], curve_baselines["pretrain_Ridge"])
        for e in range(E)]
final_gap = gap_closed(pt["pretrain"], sets["pretrain"]["ys"], baselines["pretrain_Ridge"])
# the escape step from the curve; the verdict (stuck or not) from every sequence
health = plateau_guard(pt["steps"], gaps[:-1] + [final_gap], p.plateau_guard)
labels = dict(M=M, setting=wc.setting, seed=int(wc.seed), **p.setting)


def rows_at(step, pt_preds: dict, data_sets: dict, base: dict, gap: float) -> list[dict]:
    rows = []
    for name, data in data_sets.items():
        preds = {"PT": pt_preds[name]}
        preds.update({est: base[f"{name}_{est}"] for est in ("Ridge", "dMMSE") if f"{name}_{est}" in base})
        rows += estimator_rows(preds, data, D, estimators=["PT"], eval_set=name, step=int(step),
                               gap_closed=gap, **labels)
    return rows


health_columns = dict(escape_step=health["escape_step"], stuck=health["stuck"])
curve = to_frame([row for e, step in enumerate(pt["steps"])
                  for row in rows_at(step, {name: pt[f"{name}_curve"][e] for name in sets},
                                     curve_sets, curve_baselines, gaps[e])]).assign(**health_columns)
final = to_frame(rows_at(pt["steps"][-1], pt, sets, baselines, final_gap)).assign(**health_columns)
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
