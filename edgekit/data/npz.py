"""Pre-windowed data sets in ``.npz`` form (X [N,T,3], y, subject, classes).

Such files (e.g. the AdaTime WISDM windows) are usually already standardised per subject, so they
are flagged ``prenormalized`` and later stages do not normalise again. A file that holds physical
units says so with an optional ``units`` array ("m/s^2").
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..contract import HOP, WINDOW
from ..errors import EdgekitError
from .types import Windows
from .windows import rewindow

REQUIRED = ("X", "y", "subject", "classes")
OPTIONAL = ("units",)
MAX_ARRAY_BYTES = 1 << 30  # all arrays read, uncompressed; the AdaTime WISDM windows are 11 MB
MAX_RATIO = 100  # float windows deflate ~1.1x; a member inflating 100x is padding or a bomb, not data
_RATIO_FROM = 1 << 20  # small members (classes, a few windows) may compress well and cost nothing
_NPY_MAGIC = b"\x93NUMPY"
# what a damaged member raises: whatever zipfile, zlib or numpy's header parser trips over
_DAMAGED = (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, KeyError)


def read_npz(path: Path, window: int = WINDOW, hop: int = HOP) -> Windows:
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
        with zipfile.ZipFile(path) as archive:
            _check_members(Path(path), archive, [k for k in OPTIONAL if _member(archive, k)])
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
        with path.open("rb") as head:
            if head.read(len(_NPY_MAGIC)) == _NPY_MAGIC:  # np.save's single array, named .npz by mistake
                raise EdgekitError(
                    f"{path}: holds one array, not a .npz archive of X, y, subject, classes; save it with numpy.savez"
                )
        with zipfile.ZipFile(path) as archive:
            missing = [k for k in REQUIRED if not _member(archive, k)]
            if missing:
                raise EdgekitError(
                    f"{path}: missing array(s) {', '.join(missing)}; a windows .npz needs X, y, subject, classes"
                )
            wanted = [k for k in REQUIRED + OPTIONAL if _member(archive, k)]
            _check_members(path, archive, wanted)
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in wanted}
    except _DAMAGED as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise EdgekitError(f"{path}: not a readable .npz ({reason}); re-create it with numpy.savez") from None


def _member(archive: zipfile.ZipFile, key: str) -> zipfile.ZipInfo | None:
    """The zip entry numpy reads for ``key`` (``key.npy``, as savez writes it, or a bare ``key``)."""
    names = set(archive.namelist())
    for name in (key + ".npy", key):
        if name in names:
            return archive.getinfo(name)
    return None


def _check_members(path: Path, archive: zipfile.ZipFile, keys: list[str]) -> None:
    """Refuse, before anything is inflated, arrays whose declared size is inconsistent, huge or a bomb."""
    total = 0
    for key in keys:
        info = _member(archive, key)
        assert info is not None  # callers pass only keys the archive has
        declared = _declared_bytes(path, archive, info)
        if declared != info.file_size:
            raise EdgekitError(
                f"{path}: array {key} declares {declared:,} bytes but its zip entry holds {info.file_size:,}; "
                "the file is damaged or forged, re-create it with numpy.savez"
            )
        ratio = info.file_size / max(1, info.compress_size)
        if info.file_size > _RATIO_FROM and ratio > MAX_RATIO:
            raise EdgekitError(
                f"{path}: array {key} inflates {ratio:,.0f}x ({info.compress_size:,} -> {info.file_size:,} bytes), "
                f"which real windows never do (limit {MAX_RATIO}x): it is padding or a decompression bomb; "
                "pass the real windows"
            )
        total += info.file_size
    if total > MAX_ARRAY_BYTES:
        raise EdgekitError(
            f"{path}: its arrays declare {total:,} bytes, over the {MAX_ARRAY_BYTES:,}-byte limit for a windows "
            ".npz; pass fewer windows (split the file) or float32 instead of float64"
        )


def _declared_bytes(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """Header length plus shape x itemsize, as the member's npy header declares (only the header is read)."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"npy format version {version}")
        if dtype.hasobject:
            raise EdgekitError(f"{path}: array {info.filename} holds Python objects; store plain numbers and text")
        return member.tell() + math.prod(shape) * dtype.itemsize


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
