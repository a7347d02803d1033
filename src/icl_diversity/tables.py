"""The tables the workflow writes, what each promises, and the one checked reader that
every consumer uses: a damaged table (cut mid-line, emptied, edited) stops the reading
job with a message naming the file, instead of flowing silently into figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import COLUMNS
from .threshold import THRESHOLD_COLUMNS

METRIC_KEY = ["estimator", "M", "eval_set", "metric", "target"]
RUN_COLUMNS = ["setting", "seed", "step", "gap_closed", "escape_step", "stuck"]
# A path between two trained models: `pair` "M_vs_inf" joins (setting, seed_a, M) to
# (setting, seed_a, M_b = inf); "seeds" joins (setting, seed_a, M) to (setting, seed_b, M).
PAIR_COLUMNS = ["pair", "setting", "M", "M_b", "seed_a", "seed_b"]
BARRIER_COLUMNS = ["loss_a", "loss_b", "barrier", "barrier_stderr", "t_max", "stuck"]
SPECS = {   # kind -> (columns it must have, columns that identify a row but position)
    "baselines": (COLUMNS, METRIC_KEY),
    "pt_metrics": (COLUMNS + RUN_COLUMNS, METRIC_KEY + ["setting", "seed"]),
    "pt_curves": (COLUMNS + RUN_COLUMNS, METRIC_KEY + ["setting", "seed", "step"]),
    "thresholds": (THRESHOLD_COLUMNS, ["group", "model", "batch_size", "steps", "weight_decay", "seed"]),
    # Fig 5: the metrics on its path sets at each a; the baselines' rows have setting
    # and seed "-"
    "interpolation": (COLUMNS + ["a", "setting", "seed", "stuck"],
                      METRIC_KEY + ["a", "setting", "seed"]),
    # mode connectivity: L/D (noisy y) on T_True at each t of each path, and its barrier
    "connectivity": (PAIR_COLUMNS + ["t", "value", "stderr"], PAIR_COLUMNS + ["t"]),
    "barriers": (PAIR_COLUMNS + BARRIER_COLUMNS, PAIR_COLUMNS),
}
TEXT_COLUMNS = ("estimator", "eval_set", "metric", "target", "setting", "problem")
# Kinds whose seed column may hold text: "all" (thresholds over every seed), "-" (baselines)
TEXT_SEED = ("thresholds", "interpolation")
# Learning curves keep the mean over positions (position 0) only: per-position curves at
# every step would be most of a long run's storage (predictions.npz can recompute them).
MEAN_ONLY = {"pt_curves"}
# Tables that hold several problems (sweep groups over D or the task prior) say which
# row belongs to which in a `problem` column, part of the row key when present.
OPTIONAL_KEY = ["problem"]
NUMERIC = ["M", "position", "value", "stderr", "step", "seed", "gap_closed", "escape_step",
           "log2_threshold", "ci_low", "ci_high", "threshold_M", "found_fraction", "n_seeds",
           "a", "t", "M_b", "seed_a", "seed_b", "loss_a", "loss_b", "barrier",
           "barrier_stderr", "t_max"]
REQUIRED = ["estimator", "M", "eval_set", "metric", "target", "position", "value", "setting",
            "seed", "step", "gap_closed", "stuck", "group", "status", "a", "t", "pair", "M_b",
            "seed_a", "seed_b", "barrier"]


class TableError(ValueError):
    """A table that does not hold what its writer promises."""


def read_table(path, kind: str, K: int | dict | None = None, problem: str | None = None) -> pd.DataFrame:
    """Read one of the workflow's tables and check it: its columns, that numeric columns
    hold numbers and required ones are filled, no duplicate rows and, for the metric
    tables when K is given, positions 0..K for every row key (K may map each problem
    of the `problem` column to its own K). With `problem`, only that problem's rows are
    returned (and checked against K). Raises TableError naming the file and what is
    wrong."""
    path = Path(path)
    columns, key = SPECS[kind]
    if not path.exists():
        raise FileNotFoundError(f"missing table: {path}")
    try:
        # label columns stay text: a file whose eval_set is all "true" would read as booleans
        text = {c: str for c in TEXT_COLUMNS} | ({"seed": str} if kind in TEXT_SEED else {})
        table = pd.read_csv(path, dtype=text)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise TableError(f"{path}: not a readable {kind} table ({e})") from e
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise TableError(f"{path}: {kind} table lacks columns {missing}")
    if table.empty:
        raise TableError(f"{path}: {kind} table has no rows")
    for c in NUMERIC:
        if c in columns and not (kind in TEXT_SEED and c == "seed"):
            numbers = pd.to_numeric(table[c], errors="coerce")
            bad = numbers.isna() & table[c].notna()
            if bad.any():
                raise TableError(f"{path}: column {c} holds non-numbers, e.g. row "
                                 f"{int(np.flatnonzero(bad)[0]) + 2}: {table[c][bad].iloc[0]!r}")
            table[c] = numbers
    for c in REQUIRED:
        if c in columns and table[c].isna().any():
            row = int(np.flatnonzero(table[c].isna())[0]) + 2
            raise TableError(f"{path}: column {c} is empty in line {row} (a cut or edited file?)")
    if "stuck" in columns:
        if not table["stuck"].isin([True, False]).all():
            raise TableError(f"{path}: column stuck must be True or False")
        table["stuck"] = table["stuck"].astype(bool)
    key = key + [c for c in OPTIONAL_KEY if c in table.columns]
    full_key = key + (["position"] if "position" in columns else [])
    dup = table.duplicated(full_key)
    if dup.any():
        raise TableError(f"{path}: duplicate rows, e.g. line {int(np.flatnonzero(dup)[0]) + 2}")
    if problem is not None:
        if "problem" not in table.columns or not (table["problem"] == problem).any():
            raise TableError(f"{path}: no rows of problem {problem!r}")
        table = table[table["problem"] == problem].reset_index(drop=True)
    if K is not None and "position" in columns:
        positions = table.groupby(key, dropna=False)["position"].agg(lambda p: sorted(p))

        def expected(index):
            if not isinstance(K, dict):
                k = K
            else:
                problem = dict(zip(key, index)).get("problem")
                if problem not in K:
                    raise TableError(f"{path}: rows of problem {problem!r}, which is none of {sorted(K)}")
                k = K[problem]
            return [0] if kind in MEAN_ONLY else list(range(k + 1))
        wrong = [i for i, p in positions.items() if p != expected(i)]
        if wrong:
            want = expected(wrong[0])
            raise TableError(f"{path}: {len(wrong)} row group(s) do not have exactly positions "
                             f"{want[0]}..{want[-1]}, e.g. {dict(zip(key, wrong[0]))}")
    return table


def concat_tables(paths, kind: str, K: int | list | None = None, problems: list | None = None,
                  at_each_M: list | None = None) -> pd.DataFrame:
    """The checked union of per-run or per-M tables. K is one for all files or one per
    file; `problems` (one name per file) fills a `problem` column; `at_each_M` (per file:
    None, or M labels) repeats a file's rows, which hold no M of their own, at each M."""
    Ks = K if isinstance(K, list) else [K] * len(paths)
    frames = [read_table(p, kind, k) for p, k in zip(paths, Ks, strict=True)]
    if problems is not None:
        frames = [f.assign(problem=name) for f, name in zip(frames, problems, strict=True)]
    if at_each_M is not None:
        frames = [f if Ms is None else pd.concat([f.assign(M=float(M)) for M in Ms], ignore_index=True)
                  for f, Ms in zip(frames, at_each_M, strict=True)]
    table = pd.concat(frames, ignore_index=True)
    if len(table) != sum(map(len, frames)):
        raise TableError(f"{kind}: concatenation lost rows")
    return table
