"""Cutting a raw stream into fixed windows, vectorised.

A window must come from one person doing one thing continuously: it never straddles a change of
user or activity, nor a gap in the timestamps longer than ``max_gap_s`` (or time running backwards),
because such a window describes no real 4-second movement and would teach the model noise.
"""

from __future__ import annotations

import numpy as np

from ..errors import EdgekitError
from .types import Recording, Windows


def segment_starts(rec: Recording, max_gap_s: float = 1.0) -> np.ndarray:
    """Indices where a new contiguous run begins (user, activity or time continuity breaks)."""
    n = len(rec)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    dt = np.diff(rec.t_ns)
    breaks = (
        (np.diff(rec.user) != 0)
        | (np.diff(rec.activity) != 0)
        | (dt > int(max_gap_s * 1e9))
        | (dt < 0)
    )
    return np.concatenate(([0], np.flatnonzero(breaks) + 1)).astype(np.int64)


def window_starts(seg_start: np.ndarray, seg_len: np.ndarray, window: int, hop: int) -> np.ndarray:
    """Start index of every window that fits inside its segment, in stream order."""
    per_segment = np.where(seg_len >= window, (seg_len - window) // hop + 1, 0)
    total = int(per_segment.sum())
    first = np.cumsum(per_segment) - per_segment
    k = np.arange(total) - np.repeat(first, per_segment)
    return np.repeat(seg_start, per_segment) + k * hop


def window_recording(rec: Recording, window: int = 80, hop: int = 40, max_gap_s: float = 1.0) -> Windows:
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
