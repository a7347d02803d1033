from icl_diversity.io import load_npz, setup_logging, write_csv
from icl_diversity.metrics import estimator_rows, to_frame
from icl_diversity.tasks import parse_M

log = setup_logging(snakemake.log[0])
D = snakemake.params.problem["D"]
setting = snakemake.params.setting
M = parse_M(snakemake.wildcards.M)
pt = load_npz(snakemake.input.predictions, ("steps", "true", "pretrain"))
baselines = load_npz(snakemake.input.baselines)
sets = {"true": load_npz(snakemake.input.true, ("xs", "ys", "ws")),
        "pretrain": load_npz(snakemake.input.pretrain, ("xs", "ys", "ws"))}
labels = dict(M=M, setting=snakemake.wildcards.setting, **setting)

rows = []
for e, step in enumerate(pt["steps"]):
    for name, data in sets.items():
        preds = {"PT": pt[name][e]}
        preds.update({est: baselines[f"{name}_{est}"] for est in ("Ridge", "dMMSE")
                      if f"{name}_{est}" in baselines})
        rows += estimator_rows(preds, data, D, estimators=["PT"], eval_set=name,
                               step=int(step), **labels)
curve = to_frame(rows)
final = curve[curve["step"] == curve["step"].max()]
write_csv(snakemake.output.curve, curve)
write_csv(snakemake.output.metrics, final)
log.info("%d evaluation steps, final step %d", len(pt["steps"]), final["step"].iloc[0])
