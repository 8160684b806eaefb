"""Data in, windows out: raw WISDM streams, pre-windowed .npz, the WISDM download, or synthetic.

Every reader ends in the same :class:`~edgekit.data.types.Windows`, plus a small description of the
source (kind, path, sha256, counts, skipped lines) that goes into the run's manifest so a run can
always say exactly what it was trained on.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import HOP, MAX_GAP_S, RATE_HZ, WINDOW
from ..errors import EdgekitError
from .types import Recording, SkipReport, Windows
from .windows import check_rate, window_recording

__all__ = ["Recording", "SkipReport", "Windows", "check_source", "load_windows", "load_recording", "SYNTHETIC"]

SYNTHETIC = "synthetic"
RAW_SUFFIXES = (".txt", ".gz", ".csv")


def check_source(data: str | Path | None, option: str = "--data") -> None:
    """Refuse a missing, empty or folder ``--data`` at once: before TensorFlow loads, before any work.

    Reading the data is the first stage of training; a typo must not cost a user the seconds (or, behind
    other checks, the minutes) it takes to get there.
    """
    if data is not None and str(data) != SYNTHETIC:
        _existing_file(Path(data), option)


def load_recording(data: str | Path | None, seed: int = 0, option: str = "--data") -> tuple[Recording, dict[str, Any]]:
    """A raw stream from a file, the WISDM download (``None``) or the synthetic generator."""
    if data is None:
        from .fetch import fetch_wisdm

        path = fetch_wisdm()
        return _read_raw_file(path, kind="wisdm-v1.1")
    if str(data) == SYNTHETIC:
        from .synthetic import synthetic_recording

        rec = synthetic_recording(seed=seed)
        digest = hashlib.sha256(rec.xyz.tobytes() + rec.activity.tobytes() + rec.user.tobytes()).hexdigest()
        return rec, {"kind": SYNTHETIC, "path": None, "sha256": digest, "seed": seed, "records": len(rec)}
    return _read_raw_file(_existing_file(Path(data), option), kind="raw")


def load_windows(
    data: str | Path | None,
    window: int = WINDOW,
    hop: int = HOP,
    max_gap_s: float = MAX_GAP_S,
    seed: int = 0,
    rate_hz: float = RATE_HZ,
) -> tuple[Windows, dict[str, Any]]:
    """Windows and their source description for any supported ``--data``.

    A raw stream must be sampled at ``rate_hz`` (measured from its timestamps): windows of ``window``
    samples at another rate would not be the durations the board feeds the model.
    """
    if data is not None and str(data) != SYNTHETIC and Path(data).suffix == ".npz":
        from ..artifacts import sha256_file
        from .npz import read_npz

        path = _existing_file(Path(data))
        windows = read_npz(path, window, hop)
        source: dict[str, Any] = {"kind": "npz", "path": str(path), "sha256": sha256_file(path), "records": None}
    else:
        rec, source = load_recording(data, seed=seed)
        check_rate(rec, rate_hz, f"--data {source['path'] or data}")
        windows = window_recording(rec, window, hop, max_gap_s)
        source["skipped"] = rec.skipped.to_dict()
    if len(windows) == 0:
        raise EdgekitError(
            f"--data {data}: no complete {window}-sample window; the recording is too short or too fragmented"
        )
    source.update(_counts(windows))
    return windows, source


def _existing_file(path: Path, option: str = "--data") -> Path:
    if path.is_dir():
        raise EdgekitError(f"{option} {path}: is a folder; pass the data file inside it (.txt, .txt.gz or .npz)")
    if not path.exists():
        kinds = "a WISDM .txt/.txt.gz, a windows .npz or 'synthetic'" if option == "--data" else "a raw WISDM .txt"
        raise EdgekitError(f"{option} {path}: file not found; pass {kinds}")
    if path.stat().st_size == 0:
        raise EdgekitError(f"{option} {path}: file is empty; pass a WISDM recording")
    return path


def _read_raw_file(path: Path, kind: str) -> tuple[Recording, dict[str, Any]]:
    from ..artifacts import sha256_file
    from .raw import read_raw

    rec = read_raw(path)
    return rec, {"kind": kind, "path": str(path), "sha256": sha256_file(path), "records": len(rec)}


def _counts(windows: Windows) -> dict[str, Any]:
    per_class = np.bincount(windows.y, minlength=len(windows.classes))
    users, per_user = np.unique(windows.subject, return_counts=True)
    return {
        "windows": len(windows),
        "classes": list(windows.classes),
        "windows_per_class": {c: int(n) for c, n in zip(windows.classes, per_class, strict=True)},
        "windows_per_user": {str(int(u)): int(n) for u, n in zip(users, per_user, strict=True)},
        "units": windows.units,
        "prenormalized": windows.prenormalized,
    }
