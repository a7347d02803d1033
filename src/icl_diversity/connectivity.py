"""The mode-connectivity claim against its reference (no torch: the figures and the
claims table read it). The reference is the barrier between two M = inf models of
different seeds; the claim: past the threshold, a model trained at M is joined to an
M = inf model by a barrier as small as the reference, and below it by a larger one.
Both sides join independently initialised models (pairs "inf_vs_inf" and
"M_vs_other_inf"), so that neither side gains from a shared starting point."""
from __future__ import annotations

import numpy as np

REFERENCE_Z = 1.96   # the reference band: each inf-vs-inf barrier +- this many standard errors
REFERENCE_PAIR, COMPARED_PAIR = "inf_vs_inf", "M_vs_other_inf"


def reference_band(barriers, setting: str | None = None) -> tuple[float, float] | None:
    """The inf-vs-inf reference of one setting (or of every setting) as a band of barrier
    values: from the lowest reference barrier minus REFERENCE_Z standard errors (at least
    0) to the highest plus as many, over its seed pairs; None without a reference row."""
    ref = barriers[barriers["pair"] == REFERENCE_PAIR]
    if setting is not None:
        ref = ref[ref["setting"] == setting]
    if ref.empty:
        return None
    return (float(max((ref["barrier"] - REFERENCE_Z * ref["barrier_stderr"]).min(), 0.0)),
            float((ref["barrier"] + REFERENCE_Z * ref["barrier_stderr"]).max()))


def _Ms(rows) -> str:
    return "[" + ", ".join(str(int(M)) for M in sorted(rows["M"].unique())) + "]"


def _result(verdict, why, value="", band=""):
    return dict(verdict=verdict, value=value, interval=band, why=why)


def connectivity_verdict(barriers, threshold_log2_M: float | None,
                         interval: tuple[float, float] | None = None) -> dict:
    """The claim judged per setting against that setting's reference band.

    Past the threshold (M above the interval's upper end; the estimate itself without an
    interval), every non-stuck M_vs_other_inf path must be within the reference: its
    barrier minus REFERENCE_Z standard errors at most the band's top. Below (M under the
    interval's lower end), every one must be above it: its barrier minus REFERENCE_Z
    standard errors over the band's top. Returns verdict ("reproduced", "not reproduced"
    or "not testable at this scale"), value, interval (the bands, as text) and why."""
    settings = sorted(barriers.loc[barriers["pair"] == REFERENCE_PAIR, "setting"].unique())
    if not settings:
        return _result("not testable at this scale",
                       "no inf-vs-inf reference (two M = inf models of different seeds)")
    bands = {s: reference_band(barriers, s) for s in settings}
    band_text = "; ".join(f"{s}: [{lo:.3g}, {hi:.3g}]" for s, (lo, hi) in bands.items())
    if threshold_log2_M is None or not np.isfinite(threshold_log2_M):
        return _result("not testable at this scale",
                       "no threshold: which M are past it is undefined", band=band_text)
    if interval is not None and np.all(np.isfinite(np.asarray(interval, dtype=float))):
        lo, hi = (float(v) for v in interval)
    else:
        lo = hi = float(threshold_log2_M)
    rows = barriers[(barriers["pair"] == COMPARED_PAIR) & barriers["setting"].isin(settings)
                    & ~barriers["stuck"].astype(bool) & (barriers["M"].astype(str) != "inf")]
    top = rows["setting"].map(lambda s: bands[s][1])
    above = (rows["barrier"] - REFERENCE_Z * rows["barrier_stderr"]) > top
    log2_M = np.log2(rows["M"].astype(float))
    past, below = log2_M > hi, log2_M < lo
    if not past.any() or not below.any():
        side = "past" if not past.any() else "below"
        return _result("not testable at this scale",
                       f"no finite M {side} the threshold's interval in the grid", band=band_text)
    value = (f"barrier past the threshold {rows.loc[past, 'barrier'].mean():.3g} "
             f"(mean of {int(past.sum())} paths), below {rows.loc[below, 'barrier'].mean():.3g} "
             f"(mean of {int(below.sum())})")
    criterion = (f"past the threshold every barrier within its setting's reference band "
                 f"(barrier - {REFERENCE_Z} se <= top), below every barrier above it")
    failed = []
    if above[past].any():
        failed.append(f"past the threshold, above the reference at M = {_Ms(rows[past & above])}")
    if not above[below].all():
        failed.append(f"below the threshold, within the reference at M = {_Ms(rows[below & ~above])}")
    if failed:
        return _result("not reproduced", f"{criterion}; but {'; '.join(failed)}", value, band_text)
    return _result("reproduced", criterion, value, band_text)
