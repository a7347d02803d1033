"""The study summary (summary.md): its sections on small synthetic tables whose numbers
are known, and on the smoke run the test session shares (conftest.smoke_workflow) the
page the workflow writes and its provenance sidecar."""
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from conftest import ROOT
from icl_diversity import config as cfg
from icl_diversity.provenance import sha256
from icl_diversity.summary import (figures_section, number, per_seed_rows, read_benchmarks,
                                   refine_section, store_keys_section, stuck_section,
                                   summary_markdown, threshold_rows, timing_rows)
from icl_diversity.tables import read_table

PROBLEM = "D3-K8-noise0.25"
B8, B16 = "nano-b8-s60-wd0", "nano-b16-s60-wd0"
GROUP = dict(vary="batch_size", settings=[B8, B16], seeds=[0, 1], problems={PROBLEM: {}},
             M=["2", "16", "inf"])


def pt_rows(stuck=()):
    """PT metrics of both settings and seeds at each M: T_True L/D (noisy y, mean over
    positions) = 1 + M/100 + seed/10 + batch/1000, and decoy rows (a position, the clean
    target, T_Pretrain, a distance) that the summary must not show."""
    rows = []
    for setting, batch in ((B8, 8), (B16, 16)):
        for seed in (0, 1):
            for M in (2.0, 16.0, np.inf):
                value = 1 + (M if np.isfinite(M) else 50) / 100 + seed / 10 + batch / 1000
                base = dict(problem=PROBLEM, estimator="PT", setting=setting, seed=seed, M=M,
                            gap_closed=0.9, stuck=(setting, seed, M) in stuck, stderr=0.01)
                rows += [dict(base, eval_set="true", metric="loss_per_dim", target="noisy",
                              position=0, value=value),
                         dict(base, eval_set="true", metric="loss_per_dim", target="noisy",
                              position=1, value=-1.0),
                         dict(base, eval_set="true", metric="loss_per_dim", target="clean",
                              position=0, value=-2.0),
                         dict(base, eval_set="pretrain", metric="loss_per_dim", target="noisy",
                              position=0, value=-3.0),
                         dict(base, eval_set="true", metric="delta_ridge", target="-",
                              position=0, value=-4.0)]
    return pd.DataFrame(rows)


def baseline_rows():
    rows = [dict(problem=PROBLEM, estimator=est, M=M, eval_set=eval_set, metric="loss_per_dim",
                 target="noisy", position=0, value=value, stderr=0.01)
            for est, M, value in (("Ridge", 2.0, 0.448), ("Ridge", 16.0, 0.449), ("Ridge", np.inf, 0.45),
                                  ("dMMSE", 2.0, 0.95), ("dMMSE", 16.0, 0.7))
            for eval_set in ("true", "pretrain")]
    return pd.DataFrame(rows).assign(value=lambda t: np.where(t["eval_set"] == "true", t["value"], -5.0))


def threshold_table():
    base = dict(group="batch", problem=PROBLEM, vary="batch_size", model="nano", batch_size=np.nan,
                steps=60.0, weight_decay=0.0, vary_small=8.0, vary_large=16.0, best_crossing=3.4,
                n_crossings=1, n_significant=1)
    return pd.DataFrame([
        dict(base, seed="all", n_seeds=2, log2_threshold=3.4712, ci_low=2.913, ci_high=4.087,
             bracket_low=3.0, bracket_high=5.0, threshold_M=2 ** 3.4712, found_fraction=0.934, status="found",
             interval="seeds and sequences"),
        dict(base, seed="1", n_seeds=1, log2_threshold=np.nan, ci_low=np.nan, ci_high=np.nan,
             bracket_low=np.nan, bracket_high=np.nan, threshold_M=np.nan, found_fraction=0.12, status="not significant", interval="none"),
    ])


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def markdown_table_after(text: str, heading: str) -> list[dict]:
    """The first Markdown table under `heading`, as dicts keyed by its header."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(cells(line))
    return [dict(zip(table[0], row)) for row in table[2:]]


# ---------------------------------------------------------------- unit tests

def test_threshold_rows_carry_the_tables_numbers_and_count_stuck_runs_of_the_pair():
    # seed 1 of the 16-batch setting is stuck at M = 16: one of the 8 finite-M runs of
    # the all-seeds comparison, one of the 4 of seed 1's; M = inf is not in a threshold
    pt = pt_rows(stuck={(B16, 1, 16.0), (B16, 1, np.inf)})
    rows = threshold_rows(threshold_table(), pt, {"batch": GROUP})
    assert len(rows) == 2
    all_seeds, seed1 = rows
    assert all_seeds[4] == "all (2)" and all_seeds[5] == "3.47" and all_seeds[6] == "[2.91, 4.09]"
    assert all_seeds[7] == "[8, 32]"            # the trained M around the crossing
    assert all_seeds[8] == "11.1" and all_seeds[9] == "seeds and sequences"
    assert all_seeds[10] == "found" and all_seeds[11] == "0.93"
    assert all_seeds[12] == "1 of 8"
    assert "batch_size 8 vs 16" == all_seeds[3] and "steps 60" in all_seeds[2]
    assert seed1[4] == "1" and seed1[5] == "—" and seed1[6] == "—" and seed1[7] == "—"
    assert seed1[9] == "none" and seed1[10] == "not significant" and seed1[11] == "0.12"
    assert seed1[12] == "1 of 4"


def test_per_seed_table_puts_each_runs_T_True_loss_beside_the_baselines_at_its_M():
    head, rows = per_seed_rows(pt_rows(stuck={(B8, 0, np.inf)}), baseline_rows(), PROBLEM, GROUP)
    assert head == ["M", f"`{B8}` seed 0", f"`{B8}` seed 1", f"`{B16}` seed 0", f"`{B16}` seed 1",
                    "Ridge", "dMMSE"]
    by_M = {row[0]: dict(zip(head, row)) for row in rows}
    assert list(by_M) == ["2", "16", "∞"]
    assert by_M["16"][f"`{B16}` seed 1"] == number(1 + 0.16 + 0.1 + 0.016) == "1.276"
    assert by_M["2"][f"`{B8}` seed 0"] == number(1.028)
    assert by_M["16"]["Ridge"] == "0.449" and by_M["16"]["dMMSE"] == "0.7"
    # the stuck run is marked; dMMSE has no row at M = inf
    assert by_M["∞"][f"`{B8}` seed 0"] == number(1.508) + "*"
    assert by_M["∞"]["Ridge"] == "0.45" and by_M["∞"]["dMMSE"] == "—"


def test_stuck_section_lists_each_stuck_run_once_or_says_none():
    text = stuck_section(pt_rows(stuck={(B16, 1, 16.0)}))
    lines = [line for line in text.splitlines() if line.startswith(f"| `{PROBLEM}`")]
    assert lines == [f"| `{PROBLEM}` | `{B16}` | 1 | 16 | 0.900 |"]
    assert "1 run(s)" in text
    assert "none" in stuck_section(pt_rows())


def test_a_missing_benchmark_record_is_skipped(tmp_path):
    record = tmp_path / "M2.tsv"
    record.write_text("s\th:m:s\tmax_rss\tcpu_time\n3.5\t0:00:03\t300\t2.5\n")
    second = tmp_path / "M16.tsv"     # a benchmark repeated twice: its mean counts
    second.write_text("s\th:m:s\tmax_rss\tcpu_time\n1.0\t0:00:01\t300\t0.5\n2.0\t0:00:02\t300\t1.5\n")
    bench = read_benchmarks([dict(rule="baselines", path=record),
                             dict(rule="baselines", path=tmp_path / "gone.tsv"),
                             dict(rule="train", path=second)])
    assert bench["found"].tolist() == [True, False, True]
    rows = {row[0]: row for row in timing_rows(bench)}
    assert rows["`baselines`"] == ["`baselines`", "1 of 2", "3.5", "3.5", "2.5", "2.5"]
    assert rows["`train`"] == ["`train`", "1 of 1", "1.5", "1.5", "1.0", "1.0"]
    assert rows["all"] == ["all", "2 of 3", "5.0", "2.5", "3.5", "1.8"]


def test_figures_are_linked_relative_to_the_summary():
    text = figures_section({"fig2": "batch", "fig7": {"width": "w", "depth": "d"}})
    assert "[fig2](figures/fig2.png)" in text and "[PDF](figures/fig2.pdf)" in text
    assert "[fig7](figures/fig7.png)" in text and "width: `w`" in text


def test_every_store_key_is_explained():
    config = cfg.load_config(ROOT / "studies" / "smoke.yaml")
    keys = cfg.store_keys(config)
    text = store_keys_section(keys)
    for key, value in keys.items():
        assert f"| `{key}` | {value['what']} |" in text
    assert "plateau_guard" in text and "pool_seed" in text


def test_the_page_has_every_section_in_order():
    bench = read_benchmarks([])
    text = summary_markdown("toy", "abc123", {"batch": GROUP}, "batch", threshold_table(),
                            pt_rows(), baseline_rows(), bench, {"fig2": "batch"}, {})
    titles = re.findall(r"^#+ (.*)$", text, re.M)
    assert titles == ["Study `toy`", "Task-diversity thresholds", "PT against Ridge and dMMSE, per seed",
                      "Stuck runs", "Wall and CPU time per rule", "Figures", "Store keys"]
    assert "`abc123`" in text and "12 training runs" in text


def decisions():
    """A refined group's three decisions: round 0 refines (one new M, 6), round 1
    converges, and round 2 repeats round 1's decision (the pair had stopped)."""
    pair = dict(problem=PROBLEM, settings=[B8, B16], interval="sequences only (one seed)",
                threshold_status="found", resolution=None)
    r0 = dict(pair, round=0, log2_threshold=2.31, ci_low=1.9, ci_high=2.7, bracket=[1.0, 4.0],
              trained_M=[2, 16], next_M=[6], status="refining", stopped=False, stopped_round=None)
    r1 = dict(pair, round=1, log2_threshold=2.42, ci_low=2.39, ci_high=2.46,
              bracket=[1.0, 2.584962500721156], trained_M=[2, 6, 16], next_M=[],
              status="converged: interval and bracket narrower than 2", stopped=True, stopped_round=1)
    head = dict(group="batch", vary="batch_size", seeds=[0, 1], coarse=[2, 16, "inf"], rounds=2,
                width=2, points=1)
    return [dict(head, round=2, pairs=[dict(r1, round=2)]), dict(head, round=0, pairs=[r0]),
            dict(head, round=1, pairs=[r1])]


def test_refine_section_shows_each_round_until_the_pair_stopped_and_the_runs_trained():
    group = dict(GROUP, M=["2", "6", "16", "inf"])
    text = refine_section(decisions(), {"batch": group})
    rows = markdown_table_after(text, "## Refinement of M")
    assert [r["round"] for r in rows] == ["0", "1"]          # round 2 repeats round 1: not shown
    assert rows[0]["M trained (finite)"] == "2, 16" and rows[0]["next M"] == "6"
    assert rows[0]["bracket (M)"] == "[2, 16]" and rows[0]["95% interval"] == "[1.90, 2.70]"
    assert rows[1]["log2 M*"] == "2.42" and rows[1]["bracket (M)"] == "[2, 6]"
    assert rows[1]["status"].startswith("converged") and rows[1]["next M"] == "—"
    # 2 settings x 2 seeds x 4 M (inf included)
    assert "`batch` trained 16 runs" in text and "{2, 6, 16, ∞}" in text


def test_the_page_shows_refinement_only_for_a_study_that_refines():
    args = ("toy", "abc123", {"batch": GROUP}, "batch", threshold_table(), pt_rows(), baseline_rows(),
            read_benchmarks([]), {"fig2": "batch"}, {})
    titles = re.findall(r"^## (.*)$", summary_markdown(*args, decisions=decisions()), re.M)
    assert titles[titles.index("Task-diversity thresholds") + 1] == "Refinement of M"
    assert "Refinement of M" not in summary_markdown(*args)


# ---------------------------------------------------------------- the smoke run

def test_smoke_summary_links_every_figure_to_a_file_that_exists(smoke_outdir):
    text = (smoke_outdir / "summary.md").read_text()
    links = dict(re.findall(r"\[([^\]]+)\]\((figures/[^)]+\.png)\)", text))
    figures = yaml.safe_load((ROOT / "studies" / "smoke.yaml").read_text())["figures"]
    assert set(links) == set(figures)
    for name, link in links.items():
        assert link == f"figures/{name}.png" and (smoke_outdir / link).is_file()


def test_smoke_summary_shows_every_threshold_with_the_tables_numbers(smoke_outdir):
    text = (smoke_outdir / "summary.md").read_text()
    shown = markdown_table_after(text, "## Task-diversity thresholds")
    table = read_table(smoke_outdir / "tables" / "thresholds.csv", "thresholds")
    assert len(shown) == len(table) and set(table["group"]) == {"batch", "steps"}
    for row, r in zip(shown, table.itertuples()):
        assert row["group"] == f"`{r.group}`" and row["problem"] == f"`{r.problem}`"
        assert row["seeds"].split()[0] == str(r.seed)
        assert row["log2 M*"] == ("—" if math.isnan(r.log2_threshold) else f"{r.log2_threshold:.2f}")
        assert row["M*"] == ("—" if math.isnan(r.threshold_M) else f"{r.threshold_M:.3g}")
        assert row["status"] == r.status and row["resamples crossing"] == f"{r.found_fraction:.2f}"
        assert row["bracket (M)"] == ("—" if math.isnan(r.bracket_low) else
                                      f"[{round(2 ** r.bracket_low)}, {round(2 ** r.bracket_high)}]")


def test_smoke_summary_per_seed_table_holds_the_pt_metrics(smoke_outdir):
    text = (smoke_outdir / "summary.md").read_text()
    shown = {row["M"]: row for row in markdown_table_after(text, "## PT against Ridge")}
    pt = read_table(smoke_outdir / "tables" / "pt_metrics.csv", "pt_metrics")
    pick = pt[(pt["eval_set"] == "true") & (pt["metric"] == "loss_per_dim") & (pt["target"] == "noisy")
              & (pt["position"] == 0) & (pt["setting"] == B16) & (pt["seed"] == 1) & (pt["M"] == 2)]
    assert shown["2"][f"`{B16}` seed 1"].rstrip("*") == number(pick["value"].iloc[0])


def test_smoke_summary_sidecar_hashes_every_file_it_read(smoke_workflow, smoke_outdir):
    wf, outdir = smoke_workflow
    record = json.loads((smoke_outdir / "summary.json").read_text())
    inputs = {entry["path"]: entry["sha256"] for entry in record["inputs"]}
    for path, digest in inputs.items():
        full = wf / path    # relative paths (the code, the outdir) are relative to the workflow folder
        assert full.is_file() and sha256(full) == digest
    tables = {f"tables/{name}.csv" for name in ("thresholds", "pt_metrics", "baselines")}
    assert tables <= {str(Path(p).relative_to(smoke_outdir.relative_to(wf))) for p in inputs
                      if p.startswith("out/studies/")}
    # every benchmark record of the study's jobs (all run here) and of its baselines
    records = list((smoke_outdir / "benchmarks").rglob("*.tsv"))
    records += list((outdir / "store").glob("*/baselines-*/benchmarks/*.tsv"))
    assert {str(r.relative_to(wf)) for r in records} <= set(inputs)
    assert any("/benchmarks/train/" in p for p in inputs)
    assert record["outputs"][0]["path"].endswith("summary.md")


def test_smoke_summary_times_every_training_job(smoke_outdir):
    text = (smoke_outdir / "summary.md").read_text()
    shown = {row["rule"]: row for row in markdown_table_after(text, "## Wall and CPU time per rule")}
    pt = read_table(smoke_outdir / "tables" / "pt_metrics.csv", "pt_metrics")
    n = len(pt.drop_duplicates(["problem", "setting", "seed", "M"]))
    assert shown["`train`"]["jobs recorded"] == f"{n} of {n}"
    assert float(shown["all"]["wall total (s)"]) > 0
