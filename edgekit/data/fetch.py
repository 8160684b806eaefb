"""Download the WISDM lab's v1.1 archive once and keep only its raw stream, checked, in a cache.

Only ``WISDM_ar_v1.1/WISDM_ar_v1.1_raw.txt`` is taken from the archive, written to a name we choose
(never to a path taken from the archive, so a hostile archive cannot write elsewhere). The download
stops at :data:`MAX_ARCHIVE_BYTES` (the real archive is ~11 MB; an endless server is cut off, not
obeyed). The member is parsed with :func:`~edgekit.data.raw.read_raw_stream` while it is copied, its
per-activity counts checked block by block against the lab's published ones (a file with too many
records is refused as soon as that shows), and it is renamed into place only when all counts match,
so the cache never holds a partial or wrong file. A sidecar JSON records the URL, both sha256 digests
and the counts, which lets later calls trust the cached file after a cheap hash check instead of a re-parse.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import posixpath
import sys
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..artifacts import create_sibling_file, read_json, sha256_file, write_json_atomic
from ..errors import EdgekitError
from ..progress import note, step
from .raw import read_raw, read_raw_stream
from .types import Recording

WISDM_URL = "https://www.cis.fordham.edu/wisdm/includes/datasets/latest/WISDM_ar_latest.tar.gz"
URL_ENV = "EDGEKIT_WISDM_URL"
CACHE_ENV = "EDGEKIT_CACHE"
RAW_MEMBER = "WISDM_ar_v1.1/WISDM_ar_v1.1_raw.txt"
RAW_NAME = "WISDM_ar_v1.1_raw.txt"
CACHE_SUBDIR = "wisdm-v1.1"
INFO_SUFFIX = ".json"
MAX_ARCHIVE_BYTES = 32 << 20  # WISDM_ar_latest.tar.gz is ~11 MB; room for a mirror's weaker compression
MAX_RAW_BYTES = 128 << 20  # the raw member is ~50 MB; refuse to unpack anything absurd

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
    max_bytes: int = MAX_ARCHIVE_BYTES,
) -> Path:
    """Path of a validated WISDM v1.1 raw file, downloading it only when the cache has no valid copy.

    ``url`` defaults to $EDGEKIT_WISDM_URL, else :data:`WISDM_URL`; ``cache_dir`` to
    :func:`default_cache_dir`. ``expected_counts`` (records per activity) and ``tolerance`` (relative)
    decide what a valid file is; tests pass the counts of a small archive and ``tolerance=0``.
    ``max_bytes`` caps the download.
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
        archive, archive_sha = _download(url, target, timeout, max_bytes)
    try:
        with step("unpacking and checking the WISDM v1.1 counts"):
            extracted, rec, raw_sha = _extract_raw(archive, target, url, _count_guard(expected_counts, tolerance, url))
    finally:
        _unlink(archive)
    try:
        info = _facts(rec, raw_sha, expected_counts, tolerance, url)
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
        info = _facts(_read_checked(raw, str(raw)), sha256_file(raw), expected, tolerance, str(raw))
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


class _LocalWriteError(Exception):
    """Writing to our own disk failed (full, quota, file size limit): not the network's fault."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))


def _write(out: Any, block: bytes) -> None:
    try:
        out.write(block)
    except OSError as exc:
        raise _LocalWriteError(exc) from None


def _local_write_failed(target: Path, what: str, exc: _LocalWriteError) -> EdgekitError:
    return EdgekitError(
        f"{target}: cannot write the {what} ({exc}); free disk space there, or pass --cache-dir / set "
        f"{CACHE_ENV} to a folder with room"
    )


def _download(url: str, target: Path, timeout: float, max_bytes: int = MAX_ARCHIVE_BYTES) -> tuple[Path, str]:
    """Stream ``url`` into a temporary file in ``target``, at most ``max_bytes``; return it and its sha256."""
    fd, tmp = create_sibling_file(target, ".download-", ".tar.gz")
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": f"edgekit/{__version__}"})
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            _check_announced(url, response, max_bytes)
            got = 0
            for block in iter(lambda: response.read(_CHUNK), b""):
                got += len(block)
                if got > max_bytes:
                    raise _too_big(url, f"sent more than {max_bytes:,} bytes", max_bytes)
                digest.update(block)
                _write(out, block)
    except BaseException as exc:
        _unlink(tmp)
        if isinstance(exc, _LocalWriteError):
            raise _local_write_failed(target, "download", exc) from None
        reason = _download_reason(exc, timeout)
        if reason is None:
            raise
        raise EdgekitError(
            f"could not download {url} ({reason}); check your connection, set {URL_ENV} to a mirror, "
            f"or pass --data PATH to a local copy of {RAW_NAME}"
        ) from None
    return tmp, digest.hexdigest()


def _check_announced(url: str, response: Any, max_bytes: int) -> None:
    """Refuse before reading a byte when the server itself says the file is too big."""
    length = response.headers.get("Content-Length")
    if length and length.strip().isdigit() and int(length) > max_bytes:
        raise _too_big(url, f"announces {int(length):,} bytes", max_bytes)


def _too_big(url: str, what: str, max_bytes: int) -> EdgekitError:
    return EdgekitError(
        f"{url}: the server {what}, over the {max_bytes:,}-byte limit (WISDM_ar_latest.tar.gz is ~11 MB), so it "
        f"is not the WISDM archive; {_USE_LAB}"
    )


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


class _Tee:
    """A binary stream that copies what is read from ``source`` into ``out`` and hashes it."""

    def __init__(self, source: Any, out: Any) -> None:
        self.source, self.out, self.digest = source, out, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        block = self.source.read(size)
        self.digest.update(block)
        _write(self.out, block)
        return block


class _CountMismatch(EdgekitError):
    """The member's records do not match the published counts (raised unwrapped, mid-stream or at the end)."""


def _extract_raw(
    archive: Path, target: Path, url: str, check: Callable[[Recording, int], None] | None = None
) -> tuple[Path, Recording, str]:
    """Copy just the raw member to a temporary file of our own naming (no path from the archive is used),
    parsing it on the way; ``check`` sees each block's records and may stop the copy early.

    Returns the file, its records and its sha256.
    """
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
            tee = _Tee(source, out)
            rec = _read_checked(tee, url, check)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        _unlink(tmp)
        raise EdgekitError(damaged.format(str(exc) or type(exc).__name__)) from None
    except _LocalWriteError as exc:
        _unlink(tmp)
        raise _local_write_failed(target, f"unpacked {RAW_NAME}", exc) from None
    except BaseException:
        _unlink(tmp)
        raise
    return tmp, rec, tee.digest.hexdigest()


def _read_checked(stream: Any, source: str, check: Callable[[Recording, int], None] | None = None) -> Recording:
    """Parse a raw stream (a path or an open member); a parse failure means the server sent something else."""
    try:
        if isinstance(stream, Path):
            return read_raw(stream)
        return read_raw_stream(stream, RAW_MEMBER, max_bytes=MAX_RAW_BYTES, check=check)
    except _CountMismatch:
        raise
    except EdgekitError as exc:
        raise EdgekitError(f"{source}: not a WISDM raw stream ({exc}); {_USE_LAB}") from None


def _count_guard(expected: Mapping[str, int], tolerance: float, url: str) -> Callable[[Recording, int], None]:
    """A check for read_raw_stream: stop as soon as any activity has more records than published allows."""
    seen: dict[str, int] = {}

    def check(part: Recording, lines: int) -> None:
        per_class = np.bincount(part.activity, minlength=len(part.labels))
        for label, n in zip(part.labels, per_class.tolist(), strict=True):
            seen[label] = seen.get(label, 0) + n
        over = [
            f"{label}: {n} records by line {lines}, expected {expected.get(label, 0)}"
            for label, n in sorted(seen.items())
            if n - expected.get(label, 0) > tolerance * expected.get(label, 0)
        ]
        if over:
            raise _CountMismatch(
                f"{url}: does not match the published WISDM v1.1 counts ({'; '.join(over[:6])}); stopped reading "
                f"{RAW_MEMBER} at line {lines}: the server sent a different file: set {URL_ENV} to the lab's "
                "archive or pass --data PATH to a local copy"
            )

    return check


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


def _facts(rec: Recording, sha256: str, expected: Mapping[str, int], tolerance: float, source: str) -> dict[str, Any]:
    """Compare the final per-activity counts (too few shows only at the end); return the sidecar's facts."""
    per_class = np.bincount(rec.activity, minlength=len(rec.labels))
    counts = {label: int(n) for label, n in zip(rec.labels, per_class, strict=True)}
    problems = _count_problems(counts, expected, tolerance)
    if problems:
        raise _CountMismatch(
            f"{source}: does not match the published WISDM v1.1 counts ({problems}); the server sent a "
            f"different file: set {URL_ENV} to the lab's archive or pass --data PATH to a local copy"
        )
    return {
        "sha256": sha256,
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
