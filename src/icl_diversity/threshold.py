"""Transition points read off curves: the task-diversity threshold (the crossover of two
Delta^{T_True}_{PT,Ridge} vs M curves) and, for the learning dynamics, the step t* at
which the distance to Ridge is smallest and a power law t* ~ M^b.

Pure functions on arrays, and `threshold_table`, which applies them to the tidy PT
metrics table and the runs' per-sequence deltas (rows per sweep group and seed). The
training seed is the replicated unit: a threshold over seeds is the mean of the seeds'
own thresholds, with a t-interval over them that adds the sequence noise they share
(`bootstrap_threshold` says why, and what happens when a seed does not cross).
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


def _crossings(x, diff) -> list[tuple[float, int, int, int]]:
    """Sign changes of `diff` as (x at the crossing, direction, i, j), where i < j are
    the indices (in sorted, finite order) of the nonzero points that bracket it."""
    nonzero = np.flatnonzero(diff != 0)
    out = []
    for i, j in zip(nonzero[:-1], nonzero[1:]):
        if np.sign(diff[i]) == np.sign(diff[j]):
            continue
        if j == i + 1:   # root of the straight line through (x_i, d_i) and (x_j, d_j)
            at = x[i] + (x[j] - x[i]) * diff[i] / (diff[i] - diff[j])
        else:            # exact zeros in between
            at = float(np.mean(x[i + 1:j]))
        out.append((float(at), -1 if diff[i] > 0 else 1, int(i), int(j)))
    return out


def seed_bracket(log2_M, crossing: float) -> tuple[float, float]:
    """The points of `log2_M` just below and just above a crossing (log2 M); NaN on a
    side with none, and on both for a NaN crossing."""
    x = np.asarray(log2_M, dtype=float)
    below, above = x[x < crossing], x[x > crossing]
    return (float(below.max()) if len(below) else float("nan"),
            float(above.min()) if len(above) else float("nan"))


def _finite_sorted(x, *columns):
    x = np.asarray(x, dtype=float)
    columns = [np.asarray(c, dtype=float) for c in columns]
    keep = np.isfinite(x) & np.isfinite(columns[0])
    order = np.argsort(x[keep])
    return [x[keep][order]] + [c[keep][order] for c in columns]


def sign_changes(x, diff) -> list[tuple[float, int]]:
    """Where `diff` (sampled at increasing `x`) changes sign, as (x at the crossing,
    direction): direction -1 when diff goes from positive to negative, +1 the other way.

    The crossing is interpolated linearly between the two grid points that bracket it.
    A run of exact zeros between a positive and a negative point counts once, at the
    middle of the run; zeros at the ends, and NaNs anywhere, are ignored.
    """
    x, diff = _finite_sorted(x, diff)
    return [(at, direction) for at, direction, _, _ in _crossings(x, diff)]


@dataclass(frozen=True)
class Threshold:
    log2_M: float          # NaN unless a significant crossing was found
    n_crossings: int       # sign changes of any direction
    n_significant: int     # significant down-crossings
    status: str            # "found", "several", "not significant", "none found" or, over
                           # seeds or resamples, "undetermined (...)" (bootstrap_threshold)
    best_crossing: float = float("nan")   # the best down-crossing, significant or not

    @property
    def M(self) -> float:
        return float(2.0 ** self.log2_M)

    @property
    def found(self) -> bool:
        return self.status in ("found", "several")


Z_SIGNIFICANT = 2.0    # |diff| / its standard error at which a point's sign counts


def choose_crossing(log2_M, diff, stderr, z: float = Z_SIGNIFICANT) -> Threshold:
    """The task-diversity threshold from diff = Delta_large - Delta_small (Delta =
    Delta^{T_True}_{PT,Ridge}, large/small = more/less data) at each finite M, with the
    standard error of each diff.

    Below the threshold more data makes the PT more dMMSE-like, so diff > 0; above it
    more Ridge-like, diff < 0. At small M every curve sits on dMMSE and the sign of diff
    is noise, and at large M both approach Ridge: crossings there are not thresholds.
    A point's sign counts only when |diff| >= z * stderr. A down-crossing (+ to -) is
    *significant* when the nearest significant point before it is positive and the
    nearest one after it is negative; a noise crossing at small M fails this, because
    the significant positive region comes after it. Of several significant crossings,
    the one that best splits the z-scores into positive before and negative after
    (largest sum(z before) - sum(z after)) is returned, with status "several".
    """
    x, d, se = _finite_sorted(log2_M, diff, stderr)
    changes = _crossings(x, d)
    down = [c for c in changes if c[1] < 0]
    if not down:
        return Threshold(float("nan"), len(changes), 0, "none found")
    with np.errstate(divide="ignore", invalid="ignore"):
        # no standard error (noise-free curves): every nonzero point counts, with weight 1
        zs = np.where(se > 0, d / se, np.sign(d) * z)
    zs = np.nan_to_num(zs)
    sign = np.where(zs >= z, 1, np.where(zs <= -z, -1, 0))

    def significant(i, j):
        before, after = sign[:i + 1][sign[:i + 1] != 0], sign[j:][sign[j:] != 0]
        return len(before) > 0 and before[-1] == 1 and len(after) > 0 and after[0] == -1

    def split_score(at):
        return zs[x < at].sum() - zs[x > at].sum()

    sig = [c for c in down if significant(c[2], c[3])]
    best = max(sig or down, key=lambda c: split_score(c[0]))
    if not sig:
        return Threshold(float("nan"), len(changes), 0, "not significant", best[0])
    return Threshold(best[0], len(changes), len(sig), "found" if len(sig) == 1 else "several",
                     best[0])


def crossover_threshold(log2_M, delta_small, delta_large) -> Threshold:
    """The threshold of two noise-free curves (every nonzero difference counts)."""
    diff = np.asarray(delta_large, dtype=float) - np.asarray(delta_small, dtype=float)
    return choose_crossing(log2_M, diff, np.zeros_like(diff))


def replicate_crossings(log2_M, diffs, stderr, z: float = Z_SIGNIFICANT):
    """`choose_crossing` applied to each row of `diffs` (B, n_M) at once, for bootstrap
    replicates: returns (log2_M, best_crossing, has_down), arrays of length B, the first
    NaN where a row has no significant crossing, the second where it has no down-crossing
    at all. `log2_M` must be finite; NaN columns of `diffs` must be dropped beforehand.
    Rows with an exact zero (whose crossings need the zero-run rule) go to the reference."""
    x, se = np.asarray(log2_M, dtype=float), np.asarray(stderr, dtype=float)
    order = np.argsort(x)
    x, se, d = x[order], se[order], np.asarray(diffs, dtype=float)[:, order]
    B, n = d.shape
    chosen, best = np.full(B, np.nan), np.full(B, np.nan)
    if n < 2:
        return chosen, best, np.zeros(B, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = np.nan_to_num(np.where(se > 0, d / se, np.sign(d) * z))
        at = x[:-1] + (x[1:] - x[:-1]) * d[:, :-1] / (d[:, :-1] - d[:, 1:])   # (B, n-1)
    sign = np.where(zs >= z, 1, np.where(zs <= -z, -1, 0))
    cols = np.arange(n)
    last = np.maximum.accumulate(np.where(sign != 0, cols, -1), axis=1)      # at or before k
    nxt = np.minimum.accumulate(np.where(sign != 0, cols, n)[:, ::-1], axis=1)[:, ::-1]
    before = np.where(last >= 0, np.take_along_axis(sign, np.clip(last, 0, n - 1), 1), 0)
    after = np.where(nxt < n, np.take_along_axis(sign, np.clip(nxt, 0, n - 1), 1), 0)
    down = (d[:, :-1] > 0) & (d[:, 1:] < 0)          # a down-crossing between k and k + 1
    sig = down & (before[:, :-1] == 1) & (after[:, 1:] == -1)
    cz = np.cumsum(zs, axis=1)
    score = 2 * cz[:, :-1] - cz[:, -1:]              # sum(z before) - sum(z after)
    rows = np.arange(B)
    for mask, out in ((down, best), (sig, chosen)):
        k = np.where(mask, score, -np.inf).argmax(axis=1)
        out[:] = np.where(mask.any(axis=1), at[rows, k], np.nan)
    for b in np.flatnonzero((d == 0).any(axis=1)):   # rare: the slow, exact rule
        t = choose_crossing(x, d[b], se, z)
        chosen[b], best[b] = t.log2_M, t.best_crossing
    return chosen, best, np.isfinite(best)


# A row per group, fixed axes and seed ("all": the mean over seeds). log2_threshold, ci_low,
# ci_high, best_crossing, status, found_fraction: see bootstrap_threshold. interval: what
# the interval covers ("seeds and sequences", "sequences only (one seed)", "none");
# seeds_used of the n_seeds planned, seeds_crossing of those; sd_seeds: the sd of the
# seeds' thresholds; se_sequences: the sequence noise's standard error (over seeds: the
# part all seeds share); df: the t-interval's degrees of freedom; stuck_small,
# stuck_large: the runs of each curve left out as stuck. bracket_low, bracket_high: the
# trained M (log2) just below and above the crossing, between which it is interpolated
# (over seeds: the lowest and highest of the crossing seeds'); the interval covers the
# noise of the runs, not the error of that interpolation (bootstrap_threshold).
THRESHOLD_COLUMNS = ["group", "problem", "vary", "model", "batch_size", "steps", "weight_decay", "seed",
                     "n_seeds", "vary_small", "vary_large", "log2_threshold", "ci_low", "ci_high",
                     "bracket_low", "bracket_high", "threshold_M", "found_fraction", "best_crossing",
                     "n_crossings", "n_significant", "status", "interval", "seeds_used", "seeds_crossing",
                     "sd_seeds", "se_sequences", "df", "stuck_small", "stuck_large"]


@contextmanager
def _quiet():
    """numpy's all-NaN-slice warnings, silenced (an all-NaN M is dropped on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


SEEDS_AND_SEQUENCES = "seeds and sequences"
SEQUENCES_ONLY = "sequences only (one seed)"

# Where an M lies against a threshold row (`placement`): the "near" range is its 95%
# interval, or NEAR_OCTAVES either side of the estimate without one. A one-seed interval
# covers that seed's evaluation sequences only, not the run-to-run noise that each M
# carries as its own training run, so for one seed the range reaches at least
# ONE_SEED_OCTAVES either side: about two standard deviations of the crossings that the
# seeds study measured between seeds at laptop scale, where one seed's interval missed
# the other seeds' crossings.
NEAR_OCTAVES = 0.5
ONE_SEED_OCTAVES = 2.0


def one_seed(row) -> bool:
    """Whether a threshold row's interval covers one seed's sequences only."""
    return str(row.get("interval", "")) == SEQUENCES_ONLY


def placement(row) -> tuple[float, float]:
    """(lo, hi): the log2 M that a threshold row (log2_threshold, ci_low, ci_high,
    interval) calls near; an M below lo is below the threshold, above hi past it."""
    estimate = float(row["log2_threshold"])
    lo, hi = float(row["ci_low"]), float(row["ci_high"])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo, hi = estimate - NEAR_OCTAVES, estimate + NEAR_OCTAVES
    if one_seed(row):
        lo, hi = min(lo, estimate - ONE_SEED_OCTAVES), max(hi, estimate + ONE_SEED_OCTAVES)
    return lo, hi


def undetermined(crossing: int, used: int) -> str:
    """The status of a threshold over seeds of which only some cross significantly."""
    return f"undetermined ({crossing} of {used} seeds cross)"


def _seed_summary(t: Threshold, reps, significant, level: float, trained) -> tuple[Threshold, dict]:
    """One seed's threshold with its sequences-only interval from its replicates, and its
    bracket among the `trained` points (log2 M) its curve keeps."""
    has = np.isfinite(reps)
    lost = 1 - has.mean()
    sd = float(np.std(reps[has], ddof=1)) if has.sum() > 1 else float("nan")
    if t.found and lost > (1 - level) / 2:
        t = Threshold(float("nan"), t.n_crossings, t.n_significant,
                      f"undetermined (no crossing in {lost:.0%} of sequence resamples)", t.best_crossing)
    half = stats.norm.ppf((1 + level) / 2) * sd
    ok = t.found and np.isfinite(half)
    low, high = seed_bracket(trained, t.log2_M)
    return t, dict(ci_low=t.log2_M - half if ok else np.nan, ci_high=t.log2_M + half if ok else np.nan,
                   bracket_low=low, bracket_high=high,
                   interval=SEQUENCES_ONLY if ok else "none", found_fraction=float(significant.mean()),
                   se_sequences=sd, sd_seeds=np.nan, df=np.inf if ok else np.nan)


def bootstrap_threshold(log2_M, small, large, n_boot: int = 1000, z: float = Z_SIGNIFICANT,
                        seed: int = 0, level: float = 0.95) -> dict:
    """The threshold of two curves given per training seed and per evaluation sequence:
    each seed's own threshold, their mean and a `level` interval for the mean.

    `small` and `large` are (n_seeds, n_M, N) arrays: Delta^{T_True}_{PT,Ridge} of each
    evaluation sequence for each training seed (NaN rows for runs left out, e.g. stuck
    ones) at each finite M, all on the same N sequences. The training seed is the
    replicated unit: seed s gives a difference curve d_s = mean over sequences of
    (large - small), whose standard errors over sequences decide which points' signs
    count, and a threshold x_s (`choose_crossing`); a seed is used when its curve has two
    finite points. The estimand is the threshold a typical seed shows, E[x_s]; the
    estimate is the mean of the x_s.

    Its variance has two parts. Seeds differ (initialisation, batch stream): spread
    tau^2. And every seed is evaluated on the same N sequences, so the sequence noise of
    x_s has a part c shared by all seeds and a part f_s of their own. The sample
    variance s^2 of the x_s estimates tau^2 + var f, but contains none of var c, so
    var(mean) = s^2 / S + v_shared, with v_shared = cov(x_s, x_t), s != t. v_shared comes
    from a bootstrap over sequences (one draw shared by every seed, M and curve; each
    seed's replicate threshold is its significant crossing, or its best down-crossing
    when not significant, so a replicate that loses significance still counts, where
    it fell): the mean covariance over pairs of seeds. The interval is a t-interval
    with the Welch-Satterthwaite degrees of freedom, df = (s^2/S + v)^2 / ((s^2/S)^2 /
    (S - 1)) (v is estimated from thousands of sequences, so its own df is taken as
    infinite): with few seeds and seed-dominated noise it is the plain t over S - 1 df,
    which keeps its coverage with 3 seeds where resampling seeds with replacement (an
    SE too small by (S - 1)/S, and no t quantile) does not; with sequence-dominated
    noise it counts that noise once, not twice, as resampling seeds and sequences does.
    The half-width is never below the plain t over the seeds, t_{S-1} s / sqrt(S):
    taking v as exact, a small v lifts df from 2 to ~2.5 with 3 seeds and would shrink
    the interval below the one that is exact when v = 0 (the simulation shows coverage
    ~0.93 without this floor).
    A simulation with a known truth (tests/test_threshold_coverage.py,
    benchmarks/threshold_coverage.py) checks 90-99% coverage of the 95% interval for
    3, 5 and 10 seeds and seed-, sequence-dominated and mixed noise.

    Seeds without a significant crossing are not dropped: the mean is then
    "undetermined (k of S seeds cross)", with no value and no interval (a mean over the
    seeds that cross would be biased toward them); when no seed crosses and all say the
    same ("none found", "not significant"), that is the status. It is undetermined too when, in more
    than (1 - level) / 2 of the resamples, some seed has no down-crossing at all (the
    sequence noise alone can remove the crossing). With one used seed the interval can
    only cover sequence noise: `interval` says "sequences only (one seed)", the
    interval is normal with the replicates' standard deviation, and it is for that
    seed's own threshold, not the typical seed's. It leaves out run-to-run noise: every
    M is its own training run, and a run's fluctuation moves the crossing without the
    evaluation sequences showing it (only the seeds' spread holds it).

    The interval covers the noise at the trained M (with one seed, the sequences' only),
    not the grid: a seed's crossing is interpolated linearly in log2 M between its
    trained points just below and above it (its bracket; over seeds, the lowest and highest of the crossing
    seeds'), and where the curves bend between them the crossing of the underlying
    curves lies elsewhere in the bracket without the interval showing it. The bracket
    is the grid's resolution; refining the grid (refine.py) narrows it.

    Returns a dict: threshold (a Threshold of the mean; n_crossings and n_significant
    summed over the seeds, best_crossing the mean of theirs), ci_low, ci_high,
    bracket_low, bracket_high (log2 M; NaN without a threshold), interval,
    found_fraction (the fraction of resamples in which every used seed's crossing is
    significant), seeds_used, seeds_crossing, sd_seeds (s), se_sequences
    (sqrt v_shared), df; per_seed (one (Threshold, dict of the same keys) per input
    seed, sequence-only intervals); diff and stderr, each seed's curve (n_seeds, n_M).
    """
    small, large = (np.asarray(a, dtype=np.float64) for a in (small, large))
    x = np.asarray(log2_M, dtype=float)
    n_seeds, n_M, N = small.shape
    runs = large - small                                                    # (seeds, M, N)
    valid = np.isfinite(runs).all(axis=2) & np.isfinite(x)                  # (seeds, M)
    with _quiet():
        diff = np.where(valid, runs.mean(axis=2), np.nan)
        stderr = np.where(valid, runs.std(axis=2, ddof=1) / np.sqrt(N), np.nan)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(N, np.full(N, 1.0 / N), size=n_boot) / N     # (B, N)
    reps = np.einsum("bn,smn->bsm", weights, np.where(valid[:, :, None], runs, 0.0))
    per_seed, R, sig = [], np.full((n_boot, n_seeds), np.nan), np.zeros((n_boot, n_seeds), bool)
    for s in range(n_seeds):
        t = choose_crossing(x, diff[s], stderr[s], z)
        if valid[s].sum() >= 2:
            chosen, R[:, s], _ = replicate_crossings(x[valid[s]], reps[:, s, valid[s]],
                                                     stderr[s, valid[s]], z)
            sig[:, s] = np.isfinite(chosen)
        t, summary = _seed_summary(t, R[:, s], sig[:, s], level, x[valid[s]])
        per_seed.append((t, dict(summary, seeds_used=int(valid[s].sum() >= 2),
                                 seeds_crossing=int(t.found))))
    used = [s for s in range(n_seeds) if valid[s].sum() >= 2]
    out = dict(per_seed=per_seed, diff=diff, stderr=stderr, seeds_used=len(used),
               seeds_crossing=0, found_fraction=0.0, ci_low=np.nan, ci_high=np.nan,
               bracket_low=np.nan, bracket_high=np.nan, interval="none", sd_seeds=np.nan,
               se_sequences=np.nan, df=np.nan)
    if not used:
        return dict(out, threshold=Threshold(float("nan"), 0, 0, "undetermined (no usable seed)"))
    if len(used) == 1:
        t, summary = per_seed[used[0]]
        return dict(out, threshold=t, **{k: v for k, v in summary.items() if k != "seeds_used"})
    ts = [per_seed[s][0] for s in used]
    xs = np.array([t.log2_M for t in ts])
    crossing = sum(t.found for t in ts)
    R, has = R[:, used], np.isfinite(R[:, used]).all(axis=1)
    lost = 1 - has.mean()
    if crossing == 0 and len({t.status for t in ts}) == 1:
        status = ts[0].status            # every seed: "none found", or "not significant"
    elif crossing < len(used):
        status = undetermined(crossing, len(used))
    elif lost > (1 - level) / 2:
        status = f"undetermined (no crossing in {lost:.0%} of sequence resamples)"
    else:
        status = "several" if any(t.status == "several" for t in ts) else "found"
    best = float(np.mean([t.best_crossing for t in ts]))
    mean = Threshold(float(xs.mean()) if status in ("found", "several") else float("nan"),
                     sum(t.n_crossings for t in ts), sum(t.n_significant for t in ts), status, best)
    out.update(threshold=mean, seeds_crossing=crossing,
               found_fraction=float(sig[:, used].all(axis=1).mean()))
    if mean.found:
        out.update(bracket_low=min(per_seed[s][1]["bracket_low"] for s in used),
                   bracket_high=max(per_seed[s][1]["bracket_high"] for s in used))
    if not mean.found or has.sum() < 2:
        return out
    cov = np.cov(R[has].T)
    shared = max(float(cov[~np.eye(len(used), dtype=bool)].mean()), 0.0)
    seeds = xs.var(ddof=1) / len(used)
    df = (seeds + shared) ** 2 / (seeds ** 2 / (len(used) - 1)) if seeds > 0 else np.inf
    q = (1 + level) / 2
    half = max(stats.t.ppf(q, df) * np.sqrt(seeds + shared),      # Welch-Satterthwaite
               stats.t.ppf(q, len(used) - 1) * np.sqrt(seeds))    # never below the plain t
    return dict(out, ci_low=mean.log2_M - half, ci_high=mean.log2_M + half,
                interval=SEEDS_AND_SEQUENCES, sd_seeds=float(xs.std(ddof=1)),
                se_sequences=float(np.sqrt(shared)), df=float(df))


ESTIMATE_COLUMNS = ["ci_low", "ci_high", "bracket_low", "bracket_high", "found_fraction", "interval",
                    "seeds_used", "seeds_crossing", "sd_seeds", "se_sequences", "df"]


def threshold_table(pt_metrics: pd.DataFrame, groups: dict, sequence_deltas,
                    n_boot: int = 1000, unavailable: dict | None = None) -> pd.DataFrame:
    """Thresholds with intervals (`bootstrap_threshold`): per sweep group and combination
    of its fixed axes (model, weight decay and whichever of batch size / steps is not
    swept), the crossing of the Delta^{T_True}_{PT,Ridge} vs finite-M curves of the two
    smallest values of the swept axis; one row over all seeds (`seed` = "all": the mean
    of the seeds' thresholds) and, when the group has several seeds, one per seed (its
    own threshold, with a sequences-only interval), all from one bootstrap.

    `groups` maps group -> (vary, list of Setting, list of seeds); `sequence_deltas(
    setting, seed, M)` returns the run's per-sequence deltas (N,). Runs flagged `stuck`
    in `pt_metrics` are left out, and counted: `stuck_small` / `stuck_large` are the
    row's runs left out of each curve, `seeds_used` the seeds whose difference curve
    kept two M, while `n_seeds` stays the number of seeds planned. The swept axis' own
    column is left empty. `unavailable` maps a setting name with no runs to use to why
    (a tuned configuration with no stable learning rate, lr_choice.py): a row that needs
    it gets no threshold and that reason as its status.
    """
    final = pt_metrics[(pt_metrics["eval_set"] == "true") & (pt_metrics["metric"] == "delta_ridge")
                       & (pt_metrics["position"] == 0)]
    stuck = {(r.setting, int(r.seed), float(r.M)) for r in final.itertuples() if r.stuck}
    rows = []
    for group, (vary, settings, seeds) in groups.items():
        fixed = [a for a in ("model", "batch_size", "steps", "weight_decay") if a != vary]
        combos = {}
        for s in settings:
            combos.setdefault(tuple(getattr(s, a) for a in fixed), []).append(s)
        for key, members in combos.items():
            row = dict(group=group, vary=vary, **dict(zip(fixed, key)))
            values = sorted({getattr(s, vary) for s in members})
            if len(values) < 2:
                rows.append(dict(row, seed="all", n_seeds=len(seeds), n_crossings=0,
                                 n_significant=0, status=f"needs two values of {vary}"))
                continue
            by_value = {getattr(s, vary): s.name for s in members}
            names = by_value[values[0]], by_value[values[1]]
            why = [(unavailable or {})[n] for n in names if n in (unavailable or {})]
            if why:
                rows.append(dict(row, seed="all", n_seeds=len(seeds), vary_small=values[0],
                                 vary_large=values[1], n_crossings=0, n_significant=0,
                                 status="; ".join(why)))
                continue
            Ms = sorted({float(m) for m in final.loc[final["setting"].isin(names), "M"]
                         if np.isfinite(m)})

            def stack(name):
                out = np.array([[sequence_deltas(name, seed, M) for M in Ms] for seed in seeds],
                               dtype=float)                   # (seeds, M, N)
                for i, seed in enumerate(seeds):
                    for j, M in enumerate(Ms):
                        if (name, seed, M) in stuck:
                            out[i, j] = np.nan
                return out

            def left_out(seed_list):
                return {f"stuck_{which}": sum((name, seed, M) in stuck for seed in seed_list for M in Ms)
                        for which, name in zip(("small", "large"), names)}

            b = bootstrap_threshold(np.log2(Ms), stack(names[0]), stack(names[1]), n_boot=n_boot)
            row.update(vary_small=values[0], vary_large=values[1])
            per_seed = [(str(s), [s], t, summary) for s, (t, summary) in zip(seeds, b["per_seed"])]
            for label, seed_list, t, summary in [("all", list(seeds), b["threshold"], b)] + \
                    (per_seed if len(seeds) > 1 else []):
                rows.append(dict(row, seed=label, n_seeds=len(seed_list), log2_threshold=t.log2_M,
                                 threshold_M=t.M, best_crossing=t.best_crossing,
                                 n_crossings=t.n_crossings, n_significant=t.n_significant,
                                 status=t.status, **{c: summary[c] for c in ESTIMATE_COLUMNS},
                                 **left_out(seed_list)))
    ints = {c: "Int64" for c in ("batch_size", "steps", "vary_small", "vary_large", "seeds_used",
                                 "seeds_crossing", "stuck_small", "stuck_large")}
    return pd.DataFrame(rows, columns=THRESHOLD_COLUMNS).astype(ints)


def step_of_minimum(steps, values) -> tuple[float, bool]:
    """(t*, interior): the step where a learning curve is smallest, and whether that
    minimum lies strictly inside the curve (a minimum at the first or last evaluation
    is no evidence of a dip)."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    steps, values = steps[ok], values[ok]
    if len(values) == 0:
        return float("nan"), False
    i = int(np.argmin(values))
    return float(steps[i]), 0 < i < len(values) - 1


def power_law_fit(x, y, level: float = 0.95) -> tuple[float, float, float, float] | None:
    """Least-squares fit of log y = log c + b log x; returns (b, c, b_low, b_high) with a
    `level` t-interval for the exponent (NaN with only two points), or None when fewer
    than two distinct positive points are available."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    x, y = x[ok], y[ok]
    if len(np.unique(x)) < 2:
        return None
    lx, ly = np.log(x), np.log(y)
    b, log_c = np.polyfit(lx, ly, 1)
    n = len(x)
    if n < 3:
        return float(b), float(np.exp(log_c)), float("nan"), float("nan")
    resid = ly - (b * lx + log_c)
    se = np.sqrt(resid @ resid / (n - 2) / np.sum((lx - lx.mean()) ** 2))
    half = stats.t.ppf((1 + level) / 2, n - 2) * se
    return float(b), float(np.exp(log_c)), float(b - half), float(b + half)
