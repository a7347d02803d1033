"""The tables the workflow writes, what each promises, and the one checked reader that
every consumer uses: a damaged table (cut mid-line, emptied, edited) stops the reading
job with a message naming the file, instead of flowing silently into figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import (COLUMNS, baseline_keys, bayes_keys, evaluation_steps, interpolation_keys,
                      run_keys)
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
           "log2_threshold", "ci_low", "ci_high", "bracket_low", "bracket_high", "threshold_M",
           "found_fraction", "n_seeds", "a", "t", "M_b", "seed_a", "seed_b", "loss_a", "loss_b", "barrier",
           "barrier_stderr", "t_max"]
# Numeric columns where inf is a value (M = inf), not damage; every other is finite or empty.
INF_ALLOWED = ("M", "M_b")
REQUIRED = ["estimator", "M", "eval_set", "metric", "target", "position", "value", "setting",
            "seed", "step", "gap_closed", "stuck", "group", "status", "a", "t", "pair", "M_b",
            "seed_a", "seed_b", "barrier"]


class TableError(ValueError):
    """A table that does not hold what its writer promises."""


def read_table(path, kind: str, K: int | dict | None = None, problem: str | None = None,
               identity: dict | None = None, eval_every: int | None = None) -> pd.DataFrame:
    """Read one of the workflow's tables and check it: its columns, that numeric columns
    hold numbers (finite ones, but M) and required ones are filled, no duplicate rows
    and, for the metric tables when K is given, positions 0..K for every row key (K may
    map each problem of the `problem` column to its own K). With `problem`, only that
    problem's rows are returned (and checked against K). With `identity`, the file is
    one run's or one M's and is checked against what its writer promises
    (check_promise). Raises TableError naming the file and what is wrong."""
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
            infinite = np.isinf(numbers) if c not in INF_ALLOWED else numbers == -np.inf
            if infinite.any():
                raise TableError(f"{path}: column {c} holds a non-finite number in line "
                                 f"{int(np.flatnonzero(infinite)[0]) + 2}: {float(numbers[infinite].iloc[0])}")
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
    if identity is not None:
        check_promise(table, path, kind, identity, eval_every)
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


# The columns that tell a promised row group apart, per kind (positions aside).
PROMISED_KEY = ["estimator", "eval_set", "metric", "target"]


def promised_groups(kind: str, identity: dict, eval_every: int | None = None) -> tuple[list, set]:
    """(columns, set of their values) of every row group a per-run or per-M file of
    `kind` holds: metrics.run_keys for a run, at its last step (a curve: at each
    evaluation step), or baseline_keys / bayes_keys for the baselines at M; (None,
    None) for kinds without a promise of their own."""
    M = identity["M"]
    if kind in ("pt_metrics", "pt_curves"):
        if kind == "pt_metrics":     # the last step's metrics
            steps = [int(identity["steps"])]
        elif eval_every is None:
            raise ValueError("pt_curves: the promise of a run's curve needs eval_every")
        else:
            steps = evaluation_steps(int(identity["steps"]), int(eval_every))
        return PROMISED_KEY + ["step"], {(*k, s) for k in run_keys(M) for s in steps}
    if kind == "baselines":
        return PROMISED_KEY, set(bayes_keys() if identity.get("estimator") == "Bayes" else baseline_keys(M))
    if kind == "interpolation":      # identity: M, the runs drawn and the number of a values
        grid = [_same("a", a) for a in np.linspace(0.0, 1.0, int(identity["n_points"]))]
        keys = interpolation_keys(identity["runs"])
        return (PROMISED_KEY + ["setting", "seed", "a"],
                {(*k, a) for k in keys for a in grid})
    return None, None


def _same(column: str, value):
    """A promised key's value as comparable with the one read from a file."""
    if column == "step":
        return int(value)
    if column == "a":
        return round(float(value), 12)
    return str(value)


def _holds(column: pd.Series, value) -> pd.Series:
    """Which cells of `column` hold `value` (numbers compared as numbers: M "inf", seed 0)."""
    try:
        want = float(value)
    except (TypeError, ValueError):
        return column.astype(str) == str(value)
    return pd.to_numeric(column, errors="coerce") == want


def check_promise(table: pd.DataFrame, path, kind: str, identity: dict, eval_every=None) -> None:
    """A per-run or per-M file against what its writer promises: every row holds the
    file's identity (`identity`: column -> value, e.g. the run's setting, seed and M),
    and its row groups are exactly promised_groups' (the positions within each are
    read_table's check). A file cut on a line boundary, or one edited to another run's
    seed, is refused naming the file."""
    for column, value in identity.items():
        if column not in table.columns:
            continue     # e.g. Fig 5's runs and number of a values: only the promise reads them
        wrong = ~_holds(table[column], value)
        if wrong.any():
            line, found = int(np.flatnonzero(wrong)[0]) + 2, table[column][wrong].iloc[0]
            found = found.item() if isinstance(found, np.generic) else found
            raise TableError(f"{path}: column {column} holds {found!r} in line {line}, but this "
                             f"file belongs to {column} = {value!r} ({identity})")
    columns, promised = promised_groups(kind, identity, eval_every)
    if columns is None:
        return
    found = {tuple(_same(c, v) for c, v in zip(columns, key))
             for key in table[columns].itertuples(index=False, name=None)}
    missing, extra = sorted(promised - found, key=str), sorted(found - promised, key=str)
    if missing:
        raise TableError(f"{path}: {len(missing)} of the {len(promised)} row groups its writer "
                         f"writes are missing (a cut or edited file?), e.g. {dict(zip(columns, missing[0]))}")
    if extra:
        raise TableError(f"{path}: {len(extra)} row group(s) its writer never writes, e.g. "
                         f"{dict(zip(columns, extra[0]))}")


def concat_tables(paths, kind: str, K: int | list | None = None, problems: list | None = None,
                  at_each_M: list | None = None, identities: list | None = None,
                  eval_every: int | None = None) -> pd.DataFrame:
    """The checked union of per-run or per-M tables. K is one for all files or one per
    file; `problems` (one name per file) fills a `problem` column; `at_each_M` (per file:
    None, or M labels) repeats a file's rows, which hold no M of their own, at each M;
    `identities` (per file: the run or M it belongs to, as read_table's `identity`)
    checks each file against what its writer promises."""
    Ks = K if isinstance(K, list) else [K] * len(paths)
    ids = identities if identities is not None else [None] * len(paths)
    frames = [read_table(p, kind, k, identity=i, eval_every=eval_every)
              for p, k, i in zip(paths, Ks, ids, strict=True)]
    if problems is not None:
        frames = [f.assign(problem=name) for f, name in zip(frames, problems, strict=True)]
    if at_each_M is not None:
        frames = [f if Ms is None else pd.concat([f.assign(M=float(M)) for M in Ms], ignore_index=True)
                  for f, Ms in zip(frames, at_each_M, strict=True)]
    table = pd.concat(frames, ignore_index=True)
    if len(table) != sum(map(len, frames)):
        raise TableError(f"{kind}: concatenation lost rows")
    return table
