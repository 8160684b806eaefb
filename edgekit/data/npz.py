"""Pre-windowed data sets in ``.npz`` form (X [N,T,3], y, subject, classes).

Such files (e.g. the AdaTime WISDM windows) are usually already standardised per subject, so they
are flagged ``prenormalized`` and later stages do not normalise again. A file that holds physical
units says so with an optional ``units`` array ("m/s^2").
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import EdgekitError
from .types import Windows
from .windows import rewindow

REQUIRED = ("X", "y", "subject", "classes")
# what a damaged member raises: whatever zipfile, zlib or numpy's header parser trips over
_DAMAGED = (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, KeyError)


def read_npz(path: Path, window: int = 80, hop: int = 40) -> Windows:
    """Load, validate and re-window a pre-windowed file to the model's window and hop."""
    path = Path(path)
    arrays = _load(path)
    X, y, subject, classes = (arrays[k] for k in REQUIRED)
    _validate(path, X, y, subject, classes)
    units = _units(path, arrays)
    cut, source = rewindow(np.asarray(X, dtype=np.float32), window, hop)
    return Windows(
        X=np.ascontiguousarray(cut, dtype=np.float32),
        y=y.astype(np.int64)[source],
        subject=subject.astype(np.int64)[source],
        classes=class_names(path, classes),
        units=units,
        prenormalized=units != "m/s^2",
    )


def _units(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """The optional ``units`` entry ("m/s^2" marks physical units); without one the data is z-scored."""
    units = arrays.get("units")
    if units is None or units.size == 0:
        return "z-score"
    return class_names(path, units.reshape(-1))[0]


def read_units(path: Path) -> str | None:
    """The units a windows .npz declares without loading X, or None when unreadable (read_npz says why)."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            return None
        with loaded as npz:
            return _units(Path(path), {"units": npz["units"]} if "units" in npz.files else {})
    except (EdgekitError, *_DAMAGED):
        return None


def _load(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise EdgekitError(f"--data {path}: file not found; pass an existing .npz")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # np.save's single array, named .npz by mistake
            raise EdgekitError(
                f"{path}: holds one array, not a .npz archive of X, y, subject, classes; save it with numpy.savez"
            )
        with loaded as npz:
            missing = [k for k in REQUIRED if k not in npz.files]
            if missing:
                raise EdgekitError(
                    f"{path}: missing array(s) {', '.join(missing)}; a windows .npz needs X, y, subject, classes"
                )
            return {k: npz[k] for k in npz.files}
    except _DAMAGED as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise EdgekitError(f"{path}: not a readable .npz ({reason}); re-create it with numpy.savez") from None


def _validate(path: Path, X: np.ndarray, y: np.ndarray, subject: np.ndarray, classes: np.ndarray) -> None:
    if X.ndim != 3 or X.shape[2] != 3 or X.shape[0] == 0:
        raise EdgekitError(f"{path}: X has shape {X.shape}; expected (N, T, 3) with N > 0")
    if not np.issubdtype(X.dtype, np.floating):
        raise EdgekitError(f"{path}: X has dtype {X.dtype}; expected float32 or float64")
    if not np.isfinite(X).all():
        raise EdgekitError(f"{path}: X contains NaN or infinite values; clean the windows first")
    if X.size and np.abs(X).max() > np.finfo(np.float32).max:  # would become inf in the float32 model input
        raise EdgekitError(f"{path}: X has values beyond the float32 range; clean the windows first")
    for name, arr in (("y", y), ("subject", subject)):
        if arr.shape != (X.shape[0],) or not np.issubdtype(arr.dtype, np.integer):
            raise EdgekitError(
                f"{path}: {name} has shape {arr.shape} dtype {arr.dtype}; expected ({X.shape[0]},) integers"
            )
    if classes.ndim != 1 or classes.size == 0 or classes.dtype.kind not in "US":
        raise EdgekitError(f"{path}: classes must be a 1-D array of names")
    names = class_names(path, classes)
    if len(set(names)) != len(names) or not all(name.strip() for name in names):
        raise EdgekitError(f"{path}: classes {names} has empty or repeated names; give each class one distinct name")
    if y.min() < 0 or y.max() >= classes.size:
        raise EdgekitError(
            f"{path}: labels range {y.min()}..{y.max()} but only {classes.size} classes; fix y or classes"
        )


def class_names(path: Path, classes: np.ndarray) -> list[str]:
    """Names as text: a bytes array (dtype S) holds UTF-8 names, not "b'...'" strings."""
    try:
        return [c.decode("utf-8") if isinstance(c, bytes) else str(c) for c in classes.tolist()]
    except UnicodeDecodeError:
        raise EdgekitError(f"{path}: classes are not UTF-8 text; store them as a str array") from None
