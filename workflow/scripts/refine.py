# One decision of the adaptive refinement of a sweep group's M (icl_diversity.refine):
# the runs trained so far in (their metrics and per-sequence deltas), and per curve pair
# the threshold, its bracket, the status and the next M out.

from icl_diversity.config import Setting
from icl_diversity.io import load_npz, setup_logging
from icl_diversity.refine import decide, read_decision, write_decision
from icl_diversity.tables import concat_tables
from icl_diversity.tasks import M_label

log = setup_logging(snakemake.log[0])
p = snakemake.params
round_ = int(snakemake.wildcards.round)
spec = p.spec

# the runs of every input file, checked against what their writer promises
pt = concat_tables(snakemake.input.metrics, "pt_metrics", [p.K[r["problem"]] for r in p.runs],
                   [r["problem"] for r in p.runs], identities=p.identities)
paths = {(r["problem"], r["setting"], int(r["seed"]), r["M"]): f
         for r, f in zip(p.runs, snakemake.input.sequences, strict=True)}
previous = read_decision(snakemake.input.previous, p.group, round_ - 1) if round_ else None
before = {(d["problem"], tuple(d["settings"])): d for d in (previous or {}).get("pairs", [])}

pairs = []
for pair in p.pairs:
    key = (pair["problem"], tuple(pair["settings"]))
    if previous is not None and key not in before:
        raise ValueError(f"{snakemake.input.previous}: no decision for curve pair {key}")

    def sequence_deltas(setting, seed, M, problem=pair["problem"]):
        return load_npz(paths[problem, setting, int(seed), M_label(M)], ("true_delta_ridge",))["true_delta_ridge"]

    rows = pt[(pt["problem"] == pair["problem"]) & pt["setting"].isin(pair["settings"])]
    d = decide(rows, p.vary, [Setting.parse(n) for n in pair["settings"]], p.seeds, sequence_deltas,
               round_=round_, rounds=spec["rounds"], width=spec["width"], points=spec["points"],
               n_boot=p.n_boot, previous=before.get(key))
    if previous is not None and d["trained_M"] != sorted(before[key]["trained_M"] + before[key]["next_M"]):
        raise ValueError(f"curve pair {key}: trained at {d['trained_M']}, but the decision before "
                         f"asked for {sorted(before[key]['trained_M'] + before[key]['next_M'])}")
    pairs.append(dict(d, problem=pair["problem"], settings=pair["settings"]))
    log.info("%s %s after round %d: %s; threshold %s [%s, %s] (%s), bracket %s; trained M %s; next M %s",
             pair["problem"], " vs ".join(pair["settings"]), round_, d["status"], d["log2_threshold"],
             d["ci_low"], d["ci_high"], d["threshold_status"], d["bracket"], d["trained_M"], d["next_M"])

write_decision(snakemake.output.decision, dict(group=p.group, round=round_, vary=p.vary, seeds=p.seeds,
                                               **spec, pairs=pairs))
