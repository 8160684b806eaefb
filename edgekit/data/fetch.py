"""Download the WISDM lab's v1.1 archive once and keep only its raw stream, checked, in a cache.

Only ``WISDM_ar_v1.1/WISDM_ar_v1.1_raw.txt`` is taken from the archive, written to a name we choose
(never to a path taken from the archive, so a hostile archive cannot write elsewhere). The file is
parsed with :func:`~edgekit.data.raw.read_raw` and its per-activity record counts compared with the
lab's published ones before it is renamed into place, so the cache never holds a partial or wrong
file. A sidecar JSON records the URL, both sha256 digests and the counts, which lets later calls
trust the cached file after a cheap hash check instead of a re-parse.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import posixpath
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..artifacts import create_sibling_file, read_json, sha256_file, write_json_atomic
from ..errors import EdgekitError
from ..progress import note, step
from .raw import read_raw

WISDM_URL = "https://www.cis.fordham.edu/wisdm/includes/datasets/latest/WISDM_ar_latest.tar.gz"
URL_ENV = "EDGEKIT_WISDM_URL"
CACHE_ENV = "EDGEKIT_CACHE"
RAW_MEMBER = "WISDM_ar_v1.1/WISDM_ar_v1.1_raw.txt"
RAW_NAME = "WISDM_ar_v1.1_raw.txt"
CACHE_SUBDIR = "wisdm-v1.1"
INFO_SUFFIX = ".json"
MAX_RAW_BYTES = 1 << 30  # the real file is ~50 MB; refuse to unpack anything absurd

# From WISDM_ar_v1.1_raw_about.txt.
PUBLISHED_COUNTS: dict[str, int] = {
    "Walking": 424_400,
    "Jogging": 342_177,
    "Upstairs": 122_869,
    "Downstairs": 100_427,
    "Sitting": 59_939,
    "Standing": 48_395,
}
PUBLISHED_TOTAL = 1_098_207
# The published counts come from the lab's own tool; a reader that skips or recovers a handful of
# damaged records (empty values, two records on a line) lands a few records away from them. 0.1%
# absorbs that and still rejects a truncated, different or HTML-error-page download.
TOLERANCE = 0.001
_CHUNK = 1 << 20
_USE_LAB = f"point {URL_ENV} to the lab's WISDM_ar_latest.tar.gz or pass --data PATH to a local copy"


def default_cache_dir() -> Path:
    """$EDGEKIT_CACHE, else the platform's per-user cache folder + ``edgekit``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "edgekit"


def fetch_wisdm(
    cache_dir: Path | None = None,
    url: str | None = None,
    timeout: float = 30,
    expected_counts: Mapping[str, int] = PUBLISHED_COUNTS,
    tolerance: float = TOLERANCE,
) -> Path:
    """Path of a validated WISDM v1.1 raw file, downloading it only when the cache has no valid copy.

    ``url`` defaults to $EDGEKIT_WISDM_URL, else :data:`WISDM_URL`; ``cache_dir`` to
    :func:`default_cache_dir`. ``expected_counts`` (records per activity) and ``tolerance`` (relative)
    decide what a valid file is; tests pass the counts of a small archive and ``tolerance=0``.
    """
    url = url or os.environ.get(URL_ENV) or WISDM_URL
    _check_url(url)
    target = Path(cache_dir if cache_dir is not None else default_cache_dir()) / CACHE_SUBDIR
    raw = target / RAW_NAME
    if _cached_is_valid(raw, expected_counts, tolerance):
        note(f"using cached {raw}")
        return raw
    _make_dir(target)
    with step(f"downloading {url}"):
        archive, archive_sha = _download(url, target, timeout)
    try:
        extracted = _extract_raw(archive, target, url)
    finally:
        _unlink(archive)
    try:
        with step("checking the WISDM v1.1 counts"):
            info = _validate(extracted, expected_counts, tolerance, url)
        os.replace(extracted, raw)
    finally:
        _unlink(extracted)
    info.update({"url": url, "archive_sha256": archive_sha, "member": RAW_MEMBER})
    write_json_atomic(info_path(raw), info)
    return raw


def info_path(raw: Path) -> Path:
    """The sidecar JSON describing a fetched raw file."""
    return Path(raw).with_name(Path(raw).name + INFO_SUFFIX)


def fetch_info(raw: Path) -> dict[str, Any]:
    """What :func:`fetch_wisdm` recorded about ``raw``: url, sha256s, records, counts, skipped."""
    info = read_json(info_path(raw), "fetch record (run 'edgekit data fetch' again)")
    if not isinstance(info, dict):
        raise EdgekitError(f"{info_path(raw)}: not a fetch record; delete it and run 'edgekit data fetch'")
    return info


def _cached_is_valid(raw: Path, expected: Mapping[str, int], tolerance: float) -> bool:
    """A cached file counts when its hash matches its record; without a record it is re-checked."""
    if not raw.is_file():
        return False
    old = _read_info_quietly(raw)
    if old.get("sha256") == sha256_file(raw) and isinstance(old.get("counts"), dict):
        return not _count_problems(old["counts"], expected, tolerance)
    try:  # e.g. killed between the rename and writing the record: re-checking beats re-downloading
        info = _validate(raw, expected, tolerance, str(raw))
    except EdgekitError:
        return False
    info.update({k: old[k] for k in ("url", "archive_sha256", "member") if k in old})
    write_json_atomic(info_path(raw), info)
    return True


def _read_info_quietly(raw: Path) -> dict[str, Any]:
    try:
        info = fetch_info(raw)
    except EdgekitError:
        return {}
    return info


def _check_url(url: str) -> None:
    """A malformed URL ('notaurl') is a usage error, found before anything is created or downloaded."""
    try:
        urllib.request.Request(url)
    except ValueError as exc:
        raise EdgekitError(
            f"--url {url}: not a usable URL ({exc}); give a full URL like {WISDM_URL} or set {URL_ENV}"
        ) from None


def _make_dir(target: Path) -> None:
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgekitError(
            f"{target}: cannot create the cache folder ({exc.strerror}); pass --cache-dir or set {CACHE_ENV}"
        ) from None


def _download(url: str, target: Path, timeout: float) -> tuple[Path, str]:
    """Stream ``url`` into a temporary file in ``target``; return it and its sha256."""
    fd, tmp = create_sibling_file(target, ".download-", ".tar.gz")
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": f"edgekit/{__version__}"})
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            for block in iter(lambda: response.read(_CHUNK), b""):
                digest.update(block)
                out.write(block)
    except BaseException as exc:
        _unlink(tmp)
        reason = _download_reason(exc, timeout)
        if reason is None:
            raise
        raise EdgekitError(
            f"could not download {url} ({reason}); check your connection, set {URL_ENV} to a mirror, "
            f"or pass --data PATH to a local copy of {RAW_NAME}"
        ) from None
    return tmp, digest.hexdigest()


def _download_reason(exc: BaseException, timeout: float) -> str | None:
    """A short human reason for a failed download, or None for errors that are not about the network."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return f"timed out after {timeout:g} s"
        return str(getattr(reason, "strerror", None) or reason)
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, http.client.HTTPException):
        return f"connection broke off: {type(exc).__name__}"
    if isinstance(exc, ValueError):
        return f"not a usable URL: {exc}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return None


def _extract_raw(archive: Path, target: Path, url: str) -> Path:
    """Copy just the raw member to a temporary file of our own naming (no path from the archive is used)."""
    damaged = (
        f"{url}: the downloaded archive is damaged or not a .tar.gz ({{}}); try again, set {URL_ENV} "
        "to a mirror, or pass --data PATH to a local copy"
    )
    fd, tmp = create_sibling_file(target, f".{RAW_NAME}.", ".tmp")  # the umask's mode, unlike mkstemp's 0600
    try:
        with os.fdopen(fd, "wb") as out, tarfile.open(archive, "r:*") as tar:
            member = _raw_member(tar, url)
            source = tar.extractfile(member)
            if source is None:  # pragma: no cover - isreg() members always have data
                raise EdgekitError(damaged.format(f"{RAW_MEMBER} has no data"))
            shutil.copyfileobj(source, out, _CHUNK)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        _unlink(tmp)
        raise EdgekitError(damaged.format(str(exc) or type(exc).__name__)) from None
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _raw_member(tar: tarfile.TarFile, url: str) -> tarfile.TarInfo:
    for member in tar:
        if _normalise(member.name) != RAW_MEMBER:
            continue
        if not member.isreg():
            raise EdgekitError(f"{url}: {RAW_MEMBER} in the archive is not a regular file; {_USE_LAB}")
        if member.size > MAX_RAW_BYTES:
            raise EdgekitError(f"{url}: {RAW_MEMBER} is {member.size} bytes, far too big; {_USE_LAB}")
        return member
    raise EdgekitError(
        f"{url}: the archive has no {RAW_MEMBER}; check {URL_ENV} points to WISDM_ar_latest.tar.gz, "
        "or pass --data PATH to a local copy"
    )


def _normalise(name: str) -> str:
    name = posixpath.normpath(name.replace("\\", "/"))
    return name[2:] if name.startswith("./") else name


def _validate(raw: Path, expected: Mapping[str, int], tolerance: float, source: str) -> dict[str, Any]:
    """Parse the file and compare its per-activity counts; return the facts for the sidecar."""
    try:
        rec = read_raw(raw)
    except EdgekitError as exc:
        raise EdgekitError(f"{source}: not a WISDM raw stream ({exc}); {_USE_LAB}") from None
    per_class = np.bincount(rec.activity, minlength=len(rec.labels))
    counts = {label: int(n) for label, n in zip(rec.labels, per_class, strict=True)}
    problems = _count_problems(counts, expected, tolerance)
    if problems:
        raise EdgekitError(
            f"{source}: does not match the published WISDM v1.1 counts ({problems}); the server sent a "
            f"different file: set {URL_ENV} to the lab's archive or pass --data PATH to a local copy"
        )
    return {
        "sha256": sha256_file(raw),
        "records": len(rec),
        "counts": dict(sorted(counts.items())),
        "users": int(np.unique(rec.user).size),
        "skipped": rec.skipped.to_dict(),
    }


def _count_problems(counts: Mapping[str, int], expected: Mapping[str, int], tolerance: float) -> str:
    """'' when every activity is present with about the expected count, else what differs."""
    problems = []
    for label in sorted(set(counts) | set(expected)):
        found, want = int(counts.get(label, 0)), int(expected.get(label, 0))
        if abs(found - want) > tolerance * want:
            problems.append(f"{label}: {found} records, expected {want}")
    return "; ".join(problems[:6])


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
