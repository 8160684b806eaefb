"""Pre-windowed data sets in ``.npz`` form (X [N,T,3], y, subject, classes).

Such files (e.g. the AdaTime WISDM windows) are usually already standardised per subject, so they
are flagged ``prenormalized`` and later stages do not normalise again. A file that holds physical
units says so with an optional ``units`` array ("m/s^2").
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import EdgekitError
from .types import Windows
from .windows import rewindow

REQUIRED = ("X", "y", "subject", "classes")


def read_npz(path: Path, window: int = 80, hop: int = 40) -> Windows:
    """Load, validate and re-window a pre-windowed file to the model's window and hop."""
    path = Path(path)
    arrays = _load(path)
    X, y, subject, classes = (arrays[k] for k in REQUIRED)
    _validate(path, X, y, subject, classes)
    units = str(arrays["units"]) if "units" in arrays else "z-score"
    cut, source = rewindow(np.asarray(X, dtype=np.float32), window, hop)
    return Windows(
        X=np.ascontiguousarray(cut, dtype=np.float32),
        y=y.astype(np.int64)[source],
        subject=subject.astype(np.int64)[source],
        classes=[str(c) for c in classes],
        units=units,
        prenormalized=units != "m/s^2",
    )


def _load(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise EdgekitError(f"--data {path}: file not found; pass an existing .npz")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in REQUIRED if k not in npz.files]
            if missing:
                raise EdgekitError(
                    f"{path}: missing array(s) {', '.join(missing)}; a windows .npz needs X, y, subject, classes"
                )
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise EdgekitError(f"{path}: not a readable .npz ({exc}); re-create it with numpy.savez") from None


def _validate(path: Path, X: np.ndarray, y: np.ndarray, subject: np.ndarray, classes: np.ndarray) -> None:
    if X.ndim != 3 or X.shape[2] != 3 or X.shape[0] == 0:
        raise EdgekitError(f"{path}: X has shape {X.shape}; expected (N, T, 3) with N > 0")
    if not np.issubdtype(X.dtype, np.floating):
        raise EdgekitError(f"{path}: X has dtype {X.dtype}; expected float32 or float64")
    if not np.isfinite(X).all():
        raise EdgekitError(f"{path}: X contains NaN or infinite values; clean the windows first")
    for name, arr in (("y", y), ("subject", subject)):
        if arr.shape != (X.shape[0],) or not np.issubdtype(arr.dtype, np.integer):
            raise EdgekitError(
                f"{path}: {name} has shape {arr.shape} dtype {arr.dtype}; expected ({X.shape[0]},) integers"
            )
    if classes.ndim != 1 or classes.size == 0 or classes.dtype.kind not in "US":
        raise EdgekitError(f"{path}: classes must be a 1-D array of names")
    if y.min() < 0 or y.max() >= classes.size:
        raise EdgekitError(
            f"{path}: labels range {y.min()}..{y.max()} but only {classes.size} classes; fix y or classes"
        )
