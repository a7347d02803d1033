from icl_diversity.io import load_npz, save_npz, setup_logging, write_csv
from icl_diversity.metrics import estimator_rows, gap_closed, plateau_guard, to_frame
from icl_diversity.tasks import check_eval_set, parse_M

log = setup_logging(snakemake.log[0])
p, wc = snakemake.params, snakemake.wildcards
D = p.problem["D"]
M = parse_M(wc.M)
pt = load_npz(snakemake.input.predictions, ("steps", "true", "pretrain"))
baselines = load_npz(snakemake.input.baselines, ("true_Ridge", "pretrain_Ridge"))
sets = {"true": load_npz(snakemake.input.true, ("xs", "ys", "ws")),
        "pretrain": load_npz(snakemake.input.pretrain, ("xs", "ys", "ws"))}
for name, data in sets.items():
    check_eval_set(data, p.problem["K"], D, snakemake.input[name])
    N = len(data["xs"])
    for what, arr, shape in (("PT predictions", pt[name], (len(pt["steps"]), N, p.problem["K"])),
                             ("Ridge predictions", baselines[f"{name}_Ridge"], (N, p.problem["K"]))):
        if arr.shape != shape:
            raise ValueError(f"{what} on {name} have shape {arr.shape}, expected {shape}: "
                             f"{snakemake.input.predictions} and {snakemake.input.baselines} "
                             f"must come from this evaluation set ({snakemake.input[name]})")

# The plateau guard reads the run's own training distribution (T_Pretrain; T_True at
# M = inf): on T_True a small-pool model is rightly worse than the zero predictor.
gaps = [gap_closed(pt["pretrain"][e], sets["pretrain"]["ys"], baselines["pretrain_Ridge"])
        for e in range(len(pt["steps"]))]
health = plateau_guard(pt["steps"], gaps, p.plateau_guard)
labels = dict(M=M, setting=wc.setting, seed=int(wc.seed), **p.setting)

rows = []
for e, step in enumerate(pt["steps"]):
    for name, data in sets.items():
        preds = {"PT": pt[name][e]}
        preds.update({est: baselines[f"{name}_{est}"] for est in ("Ridge", "dMMSE")
                      if f"{name}_{est}" in baselines})
        rows += estimator_rows(preds, data, D, estimators=["PT"], eval_set=name,
                               step=int(step), gap_closed=gaps[e], **labels)
curve = to_frame(rows).assign(escape_step=health["escape_step"], stuck=health["stuck"])
final = curve[curve["step"] == curve["step"].max()]
write_csv(snakemake.output.curve, curve)
write_csv(snakemake.output.metrics, final)
# Per-sequence Delta^{T_True}_{PT,Ridge} (mean over positions, / D) at the final step:
# what the threshold's bootstrap resamples.
save_npz(snakemake.output.sequences, true_delta_ridge=((pt["true"][-1].astype("float64")
         - baselines["true_Ridge"]) ** 2).mean(axis=1) / D)
msg = ("%s seed %s M=%s: %d evaluation steps, final step %d, gap to Ridge closed %.2f "
       "(escape step %s)")
args = (wc.setting, wc.seed, wc.M, len(pt["steps"]), final["step"].iloc[0],
        health["gap_closed"], health["escape_step"])
if health["stuck"]:
    log.warning("STUCK ON THE PLATEAU: " + msg + "; below eval.plateau_guard = %g, so this run "
                "is drawn as an open marker and left out of means and thresholds", *args,
                p.plateau_guard)
else:
    log.info(msg, *args)
