"""Is a value far outside its recent history? Pure decision logic, no I/O.

Robust statistics, so one earlier bad file does not widen the band for the next: the
centre is the **median** of the history and the spread the **MAD** (median absolute
deviation) scaled by 1.4826, which makes it estimate the standard deviation of normally
distributed values. The score is the robust z-score ``|value - median| / scale``; a
value is anomalous when the score exceeds the threshold (3.5 is Iglewicz & Hoaglin's
recommendation for this modified z-score).

Small histories: a MAD of five values is itself very uncertain (often near 0), and used
as is it flags 12% of pure Gaussian noise at 3.5 (3% with 10 values, 1% with 20). The
spread is therefore multiplied by a small-sample factor, simulated so that Gaussian noise
is flagged about once in 1000 values at threshold 3.5 whatever the history size
(``SMALL_SAMPLE_FACTOR``: 13.6 for 5 values, 2.5 for 10, 1.5 for 20, 1 from 150). With
few files only gross changes are flagged; that is the honest price of little history.

The MAD is 0 as soon as more than half of the history is one value (a column that is
almost never null, a category count that rarely moves). Then the spread falls back to the
mean absolute deviation from the median times 1.2533 (its normal-consistency factor), as
Iglewicz & Hoaglin and SPSS do, so a value that has occurred before is not an anomaly.

The scale never drops below a floor: ``max(ABSOLUTE_FLOOR, RELATIVE_FLOOR * |median|,
min_scale)``. When the history is constant the floor *is* the scale (without the
small-sample factor): any real change is flagged (from always 1000 rows, 1004 is 4 floors
away) while float noise in a recomputed mean (1e-12 relative) scores ~0. ``min_scale``
lets the caller state a known noise level, e.g. the binomial sampling error of a rate
measured over a few hundred rows (``rate_noise``): 3 nulls in 200 rows after a history of
1 in 200 is not an anomaly, 120 are.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MAD_TO_SIGMA = 1.4826  # 1 / Phi^-1(3/4): the MAD of normal data times this estimates sigma
MEAN_AD_TO_SIGMA = 1.2533  # sqrt(pi / 2): same for the mean absolute deviation
RELATIVE_FLOOR = 1e-3  # the scale is never below 0.1% of |median| ...
ABSOLUTE_FLOOR = 1e-9  # ... nor below this (a median of 0, e.g. a null rate)
# history size -> spread multiplier; simulated (10^6 Gaussian histories per size) as the
# 99.9th percentile of the uncorrected score divided by 3.5; linear in between, 1 beyond
SMALL_SAMPLE_FACTOR = {
    3: 320.0, 4: 14.9, 5: 13.6, 6: 5.36, 7: 5.13, 8: 3.29, 9: 3.26, 10: 2.52, 11: 2.47,
    12: 2.10, 13: 2.09, 14: 1.88, 15: 1.84, 16: 1.70, 17: 1.70, 18: 1.59, 19: 1.58, 20: 1.49,
    25: 1.38, 30: 1.28, 40: 1.18, 50: 1.13, 75: 1.06, 100: 1.03, 150: 1.0,
}
MIN_HISTORY_FLOOR = min(SMALL_SAMPLE_FACTOR)  # fewer values cannot give a spread
DEFAULT_THRESHOLD = 3.5
DEFAULT_MIN_HISTORY = 5
DEFAULT_WINDOW = 20


@dataclass(frozen=True)
class Verdict:
    """The decision for one value, with everything needed to explain it."""

    anomalous: bool
    score: float  # robust deviations from the median (0 when not compared)
    median: float
    mad: float  # the raw (unscaled) median absolute deviation
    scale: float  # what one robust deviation is worth (see the module docstring)
    lower: float  # values within [lower, upper] are not anomalous
    upper: float
    history_size: int
    reason: str


def small_sample_factor(n: int) -> float:
    """How much wider the spread is taken with ``n`` history values (see the module doc)."""
    sizes = sorted(SMALL_SAMPLE_FACTOR)
    if n <= sizes[0]:
        return SMALL_SAMPLE_FACTOR[sizes[0]]
    if n >= sizes[-1]:
        return SMALL_SAMPLE_FACTOR[sizes[-1]]
    upper = next(size for size in sizes if size >= n)
    lower = max(size for size in sizes if size <= n)
    if upper == lower:
        return SMALL_SAMPLE_FACTOR[n]
    share = (n - lower) / (upper - lower)
    return SMALL_SAMPLE_FACTOR[lower] + share * (SMALL_SAMPLE_FACTOR[upper] - SMALL_SAMPLE_FACTOR[lower])


def rate_noise(history: Sequence[float | None], rows: int) -> float:
    """The binomial standard error of a rate over ``rows`` rows, at the history's median
    rate (at least one row's worth): below it, a change in a rate is sampling noise."""
    past = [float(v) for v in history if v is not None and _usable(v)]
    if rows <= 0 or not past:
        return 0.0
    p = min(max(statistics.median(past), 1 / rows), 1 - 1 / rows) if rows > 1 else 0.5
    return math.sqrt(p * (1 - p) / rows)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _usable(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def detect(history: Sequence[float | None], value: float | None, threshold: float = DEFAULT_THRESHOLD,
           min_history: int = DEFAULT_MIN_HISTORY, name: str = "value", unit: str = "files",
           min_scale: float = 0.0) -> Verdict:
    """Compare ``value`` with ``history`` (its earlier values, any order).

    Missing or non-finite values (a mean of an all-null column) are left out of the
    history; such a ``value`` is not compared. Fewer than ``min_history`` usable earlier
    values: not anomalous, and the reason says so. ``min_scale``: a known noise level
    below which deviations do not count.
    """
    if threshold <= 0 or min_history < MIN_HISTORY_FLOOR:
        raise ValueError(f"threshold must be > 0 and min_history >= {MIN_HISTORY_FLOOR}")
    past = [float(v) for v in history if v is not None and _usable(v)]
    nan = float("nan")
    if not _usable(value):
        return Verdict(False, 0.0, nan, nan, nan, nan, nan, len(past),
                       f"{name} has no value for this file: not compared")
    assert value is not None
    if len(past) < min_history:
        return Verdict(False, 0.0, nan, nan, nan, nan, nan, len(past),
                       f"{name} = {_fmt(value)}: only {len(past)} earlier {unit}, "
                       f"at least {min_history} needed before comparing")
    median = statistics.median(past)
    deviations = [abs(v - median) for v in past]
    mad = statistics.median(deviations)
    floor = max(ABSOLUTE_FLOOR, RELATIVE_FLOOR * abs(median), min_scale)
    spread = MAD_TO_SIGMA * mad if mad > 0 else MEAN_AD_TO_SIGMA * statistics.fmean(deviations)
    scale = max(spread * small_sample_factor(len(past)), floor)
    score = abs(value - median) / scale
    lower, upper = median - threshold * scale, median + threshold * scale
    anomalous = score > threshold
    direction = "above" if value > median else "below"
    of_last = f"of the last {len(past)} {unit}"
    if anomalous and spread == 0:
        reason = (f"{name} = {_fmt(value)} differs from the constant {_fmt(median)} {of_last} "
                  f"(expected {_fmt(lower)} .. {_fmt(upper)})")
    elif anomalous:
        reason = (f"{name} = {_fmt(value)} is {score:.1f} robust deviations {direction} the "
                  f"median {_fmt(median)} {of_last} (expected {_fmt(lower)} .. {_fmt(upper)})")
    else:
        reason = (f"{name} = {_fmt(value)} is within {_fmt(lower)} .. {_fmt(upper)} "
                  f"(median {_fmt(median)} {of_last}, {score:.1f} robust deviations)")
    return Verdict(anomalous, score, median, mad, scale, lower, upper, len(past), reason)
