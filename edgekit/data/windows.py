"""Cutting a raw stream into fixed windows, vectorised.

A window must come from one person doing one thing continuously: it never straddles a change of
user or activity, nor a gap in the timestamps longer than ``max_gap_s`` (or time running backwards),
because such a window describes no real 4-second movement and would teach the model noise.

The rate is not taken on trust either: a window is ``window`` samples, so a stream recorded at another
rate (or stamped in the wrong unit) gives windows of another duration than the board's, and the model
learns movements that the board never sees. :func:`check_rate` measures it from the timestamps.
"""

from __future__ import annotations

import numpy as np

from ..contract import HOP, MAX_GAP_S, WINDOW
from ..errors import EdgekitError
from .types import Recording, Windows

RATE_TOLERANCE = 0.1  # phones jitter by a few %, a wrong rate or unit is off by 25 % or by 1000x
_UNITS = (("milliseconds", 1e6), ("microseconds", 1e3))  # unit -> ns per unit


def segment_starts(rec: Recording, max_gap_s: float = MAX_GAP_S) -> np.ndarray:
    """Indices where a new contiguous run begins (user, activity or time continuity breaks)."""
    n = len(rec)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    dt = np.diff(rec.t_ns)
    breaks = (np.diff(rec.user) != 0) | (np.diff(rec.activity) != 0) | (dt > int(max_gap_s * 1e9)) | (dt < 0)
    return np.concatenate(([0], np.flatnonzero(breaks) + 1)).astype(np.int64)


def window_starts(seg_start: np.ndarray, seg_len: np.ndarray, window: int, hop: int) -> np.ndarray:
    """Start index of every window that fits inside its segment, in stream order."""
    per_segment = np.where(seg_len >= window, (seg_len - window) // hop + 1, 0)
    total = int(per_segment.sum())
    first = np.cumsum(per_segment) - per_segment
    k = np.arange(total) - np.repeat(first, per_segment)
    return np.repeat(seg_start, per_segment) + k * hop


def window_recording(rec: Recording, window: int = WINDOW, hop: int = HOP, max_gap_s: float = MAX_GAP_S) -> Windows:
    """Windows of ``window`` samples every ``hop`` samples, labelled by their (single) activity."""
    if window < 1 or hop < 1:
        raise EdgekitError(f"--window {window} / --hop {hop}: both must be positive")
    seg_start = segment_starts(rec, max_gap_s)
    seg_len = np.diff(np.append(seg_start, len(rec)))
    starts = window_starts(seg_start, seg_len, window, hop)
    index = starts[:, None] + np.arange(window)[None, :]
    return Windows(
        X=rec.xyz[index].astype(np.float32, copy=False),
        y=rec.activity[starts].astype(np.int64),
        subject=rec.user[starts].astype(np.int64),
        classes=list(rec.labels),
        units="m/s^2",
    )


def rewindow(X: np.ndarray, window: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut longer pre-made windows (n, T, 3) into (n*k, window, 3); returns windows and source index.

    Sub-windows of one source window stay adjacent (source-major order), e.g. 128 -> offsets 0 and 40
    for window 80, hop 40.
    """
    length = X.shape[1]
    if length < window:
        raise EdgekitError(f"windows of {length} samples are shorter than --window {window}; lower --window")
    offsets = np.arange(0, length - window + 1, hop)
    index = offsets[:, None] + np.arange(window)[None, :]
    cut = X[:, index, :]  # (n, k, window, 3)
    source = np.repeat(np.arange(X.shape[0]), offsets.size)
    return cut.reshape(-1, window, X.shape[2]), source


def median_step_ns(rec: Recording) -> int | None:
    """The typical timestamp step: each user/activity run's median step, then their median weighted by size.

    Per run, so a few long runs with pauses or a stray clock jump cannot move it; None when no run has
    two increasing timestamps (every timestamp equal, or each run a single record).
    """
    dt = np.diff(rec.t_ns)
    change = (np.diff(rec.user) != 0) | (np.diff(rec.activity) != 0)
    keep = ~change & (dt > 0)
    if not keep.any():
        return None
    run, step = np.cumsum(change)[keep], dt[keep]
    order = np.lexsort((step, run))
    run, step = run[order], step[order]
    first = np.flatnonzero(np.concatenate(([True], run[1:] != run[:-1])))
    sizes = np.diff(np.append(first, run.size))
    medians = step[first + (sizes - 1) // 2]
    by = np.argsort(medians, kind="stable")
    weight = np.cumsum(sizes[by])
    return int(medians[by][np.searchsorted(weight, weight[-1] / 2)])


def check_rate(rec: Recording, rate_hz: float, name: str, tolerance: float = RATE_TOLERANCE) -> float:
    """The measured sampling rate in Hz; refuses a recording more than ``tolerance`` away from ``rate_hz``."""
    step = median_step_ns(rec)
    if step is None:
        raise EdgekitError(
            f"{name}: the timestamps never advance within a user/activity run, so the sampling rate cannot be "
            f"measured; the model expects {rate_hz:g} Hz: give each sample its time in nanoseconds"
        )
    measured = 1e9 / step
    if abs(measured - rate_hz) <= tolerance * rate_hz:
        return measured
    raise EdgekitError(
        f"{name}: the timestamps say {measured:.4g} Hz (median step {step:,} ns), but the model expects "
        f"{rate_hz:g} Hz; {_rate_fix(measured, rate_hz)}"
    )


def _rate_fix(measured: float, rate_hz: float) -> str:
    """The likely fix: a unit mix-up when the rate is off by a unit's factor, else resampling."""
    for unit, factor in _UNITS:
        if abs(measured / factor - rate_hz) <= RATE_TOLERANCE * rate_hz:  # the rate if a step were in ``unit``
            return f"the timestamps look like {unit}: write them in nanoseconds (x {factor:g})"
    return f"resample the recording to {rate_hz:g} Hz (timestamps in nanoseconds)"
