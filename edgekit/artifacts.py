"""The artifact folder: layout, manifest and atomic writes.

A run folder is the unit users keep and hand to CI, so it must never be half-written: files are
written to a temporary sibling and renamed into place, and a whole new folder is staged beside the
old one and swapped in only when complete. A folder is recognised as edgekit's by its manifest, and
edgekit never replaces a folder it did not create unless asked to (``force``).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import EdgekitError

MANIFEST = "manifest.json"
MODEL_KERAS = "model.keras"
METRICS = "metrics.json"
HISTORY = "history.json"
MODEL_TFLITE = "model_int8.tflite"
PARITY_JSON = "parity.json"
PARITY_MD = "parity.md"
FIRMWARE_DIR = "firmware"
REPORT_HTML = "report.html"
MANIFEST_KIND = "edgekit-run"
# Everything edgekit writes into a run folder. Anything else found there is the user's, and replacing the
# folder would delete it, so a rerun refuses without --force: add a new artifact's name here.
ARTIFACT_NAMES = frozenset({MANIFEST, MODEL_KERAS, METRICS, HISTORY, MODEL_TFLITE, PARITY_JSON, PARITY_MD,
                            FIRMWARE_DIR, REPORT_HTML})
STALE_STAGE_S = 24 * 3600  # a stage this old is a leftover even if its owner's pid now belongs to another process


def sha256_file(path: Path) -> str:
    """Stream a file through sha256 (data files can be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary sibling and rename, so readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, obj: Any) -> None:
    """JSON with sorted keys and a trailing newline, so equal content gives equal bytes."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_json(path: Path, what: str = "file") -> Any:
    path = Path(path)
    if not path.is_file():
        raise EdgekitError(f"{path}: {what} not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgekitError(f"{path}: not valid JSON ({exc}); re-create it with edgekit") from None


def is_edgekit_dir(path: Path) -> bool:
    """True when ``path`` holds a manifest that edgekit wrote."""
    manifest = Path(path) / MANIFEST
    if not manifest.is_file():
        return False
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("kind") == MANIFEST_KIND
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False


def check_output_dir(out: Path, force: bool = False) -> None:
    """Refuse an output path edgekit must not replace, before any work is done."""
    out = Path(out)
    parent = out.resolve().parent
    blocker = next((p for p in (parent, *parent.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise EdgekitError(f"--out {out}: {blocker} is a file, not a folder; choose an --out inside a folder")
    if out.exists() and not out.is_dir():
        raise EdgekitError(f"--out {out}: is a file, not a folder; choose a folder path")
    if out.is_dir() and any(out.iterdir()) and not is_edgekit_dir(out) and not force:
        raise EdgekitError(
            f"--out {out}: folder exists and was not created by edgekit; "
            "choose a new folder or pass --force to replace it"
        )
    if out.is_dir() and not force:
        _refuse_losing_user_files(out)
    existing = next(p for p in (parent, *parent.parents) if p.exists())  # missing parents are created, like mkdir -p
    if not os.access(existing, os.W_OK):
        raise EdgekitError(f"--out {out}: folder {existing} is not writable; choose another --out")


def _refuse_losing_user_files(out: Path) -> None:
    """Replacing an edgekit folder deletes it: refuse when it holds files edgekit did not write."""
    lost = user_files(out)
    if lost:
        more = f" and {len(lost) - 4} more" if len(lost) > 4 else ""
        raise EdgekitError(
            f"--out {out}: replacing it would delete {', '.join(lost[:4])}{more}, which edgekit did not write "
            "(or which were edited by hand); move them out of the folder, or pass --force to replace it anyway"
        )


def user_files(run: Path) -> list[str]:
    """What in edgekit folder ``run`` is not edgekit's output as written: unknown entries, edited sketch files."""
    run = Path(run)
    found = [p.name for p in sorted(run.iterdir()) if p.name not in ARTIFACT_NAMES and not p.name.startswith(".")]
    firmware = run / FIRMWARE_DIR
    if firmware.is_dir():
        from .firmware import sketch_edits

        for sketch in sorted(firmware.iterdir()):
            if sketch.name.startswith("."):
                continue
            edits = sketch_edits(sketch, added=True) if sketch.is_dir() else None
            if edits is None:
                found.append(f"{FIRMWARE_DIR}/{sketch.name}")
            else:
                found.extend(f"{FIRMWARE_DIR}/{sketch.name}/{name}" for name in edits)
    return found


@contextlib.contextmanager
def staged_dir(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``out``; on success swap it in, on failure delete it.

    The previous folder is moved aside (not deleted) until the new one is in place, so a crash at any
    point leaves either the old or the new folder complete. Leftover ``.edgekit-*`` siblings from a
    killed run are removed on the next run, which is what makes a rerun recover on its own.
    """
    out = Path(out)
    recover_stale(out)  # first: a folder displaced by a killed swap is back before it is checked
    check_output_dir(out, force)
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".edgekit-stage-{out.name}-", dir=parent))
    try:
        yield tmp
        swap_into_place(tmp, out, old_prefix=f".edgekit-old-{out.name}-")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def swap_into_place(stage: Path, target: Path, old_prefix: str) -> None:
    """Rename a complete ``stage`` folder onto ``target``.

    The previous ``target`` is renamed aside (to a sibling starting with ``old_prefix``, which the
    caller's recovery knows) before the new one moves in, and deleted only afterwards, so a crash at
    any point leaves one complete folder to recover.
    """
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=old_prefix, dir=Path(target).resolve().parent))
        os.rmdir(old)
        os.replace(target, old)
    os.replace(stage, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def restore_displaced(target: Path, old_pattern: str, is_ours: Callable[[Path], bool]) -> None:
    """Undo a :func:`swap_into_place` killed half-way: put a displaced folder back if ``target`` is
    missing, and delete every other displaced copy (``old_pattern`` is a glob beside ``target``)."""
    target = Path(target)
    for old in sorted(target.resolve().parent.glob(old_pattern)):
        if not target.exists() and is_ours(old):
            os.replace(old, target)
        else:
            shutil.rmtree(old, ignore_errors=True)


def recover_stale(out: Path) -> None:
    """Clean up after a run that was killed: restore a displaced folder, drop stale stages."""
    out = Path(out)
    parent = out.resolve().parent
    if not parent.is_dir():
        return
    name = glob.escape(out.name)  # a run called 'exp[2]' is a name, not a pattern
    restore_displaced(out, f".edgekit-old-{name}-*", is_edgekit_dir)
    for stage in parent.glob(f".edgekit-stage-{name}-*"):
        if not _pid_alive_lock(stage):
            shutil.rmtree(stage, ignore_errors=True)


def _pid_alive_lock(stage: Path) -> bool:
    """A stage older than a day or without a live owner is stale; the owner writes its pid into it."""
    lock = stage / ".pid"
    try:
        age = time.time() - stage.stat().st_mtime
    except OSError:
        return False
    if age > STALE_STAGE_S:
        return False
    try:
        pid = int(lock.read_text())
    except (OSError, ValueError):
        return age < 5  # just created: the owner writes its pid right after mkdtemp
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


def mark_stage_owner(stage: Path) -> None:
    (Path(stage) / ".pid").write_text(str(os.getpid()))


def load_manifest(run: Path) -> dict[str, Any]:
    """Read a run's manifest, with errors that say what folder was expected."""
    run = Path(run)
    if not run.exists():
        raise EdgekitError(f"{run}: artifact folder not found; create one with 'edgekit train --out {run}'")
    if not run.is_dir():
        raise EdgekitError(f"{run}: is a file, not an artifact folder; pass the folder 'edgekit train' wrote")
    if not (run / MANIFEST).is_file():
        raise EdgekitError(
            f"{run}: not an edgekit artifact folder (no {MANIFEST}); pass a folder written by "
            "'edgekit train' or 'edgekit build'"
        )
    manifest = read_json(run / MANIFEST, "manifest.json (not an edgekit artifact folder)")
    if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
        raise EdgekitError(f"{run / MANIFEST}: not an edgekit manifest; pass a folder written by 'edgekit train'")
    return manifest


def update_manifest(run: Path, **sections: Any) -> dict[str, Any]:
    """Merge top-level sections into the manifest and rewrite it atomically."""
    manifest = load_manifest(run)
    manifest.update(sections)
    write_json_atomic(Path(run) / MANIFEST, manifest)
    return manifest


def versions() -> dict[str, str]:
    """Versions of everything that changes the numbers, for the manifest."""
    import platform
    from importlib import metadata

    found = {"python": platform.python_version()}
    for dist in ("edgekit", "tensorflow", "keras", "numpy", "ai-edge-litert", "tflite-micro", "scikit-learn"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found
