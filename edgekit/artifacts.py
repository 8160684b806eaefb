"""The artifact folder: layout, manifest and atomic writes.

A run folder is the unit users keep and hand to CI, so it must never be half-written: files are
written to a temporary sibling and renamed into place, and a whole new folder is staged beside the
old one and swapped in only when complete. A folder is recognised as edgekit's by its manifest, and
edgekit never replaces a folder it did not create unless asked to (``force``), nor, even when asked, the
home folder, the current folder or one of its parents.

A symlinked ``--out`` means its target: the run is staged beside the target and swapped into it, so the link
keeps pointing at the new run and nothing is renamed across filesystems. Every temporary sibling is named
``prefix`` + a fixed-length random suffix (:func:`make_sibling_dir`), which is what lets crash recovery tell
its own leftovers from a sibling run's whose name merely starts the same (``a`` and ``a-b``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import EdgekitError
from .sketch_folder import sketch_edits

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
ARTIFACT_NAMES = frozenset(
    {MANIFEST, MODEL_KERAS, METRICS, HISTORY, MODEL_TFLITE, PARITY_JSON, PARITY_MD, FIRMWARE_DIR, REPORT_HTML}
)
STALE_STAGE_S = 24 * 3600  # a stage this old is a leftover even if its owner's pid now belongs to another process
FAILED_SUFFIX = ".failed"  # where 'edgekit build' keeps a gate-failing run beside --out
# The random part of a temporary sibling's name: tempfile's alphabet and length, so leftovers of earlier
# versions (made with mkdtemp) are still recognised; a fixed length is what makes the match exact.
_SUFFIX_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"
_SUFFIX_LEN = 8
_RANDOM = random.SystemRandom()  # not the global generator: training seeds it, and two runs would pick the same names


def _random_suffix() -> str:
    return "".join(_RANDOM.choice(_SUFFIX_CHARS) for _ in range(_SUFFIX_LEN))


def make_sibling_dir(parent: Path, prefix: str) -> Path:
    """Create a new empty folder ``parent/prefix<8 random chars>`` with the umask's permissions.

    Not ``tempfile.mkdtemp``: its folders are 0700 whatever the umask, and a stage becomes the user's run
    folder, which must be as shareable as any folder they create.
    """
    for _ in range(100):
        path = Path(parent) / (prefix + _random_suffix())
        try:
            os.mkdir(path)  # 0o777 & ~umask
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{parent}: no free name for a temporary folder {prefix}*")


def sibling_leftovers(parent: Path, prefix: str) -> list[Path]:
    """Entries of ``parent`` named exactly ``prefix`` + a random suffix, as :func:`make_sibling_dir` names them.

    A glob ``prefix*`` would also match another target's leftovers when that target's name starts with
    this one's (``.edgekit-old-a-`` matches ``.edgekit-old-a-b-XXXXXXXX``): recovery would adopt, then delete,
    a sibling run's only copy. The fixed-length suffix makes the match exact.
    """
    pattern = re.compile(re.escape(prefix) + f"[{_SUFFIX_CHARS}]{{{_SUFFIX_LEN}}}")
    try:
        names = os.listdir(parent)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(Path(parent) / name for name in names if pattern.fullmatch(name))


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
    fd, tmp = create_sibling_file(path.parent, f".{path.name}.", ".tmp")
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


def create_sibling_file(parent: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    """Create and open a new file with the umask's permissions (``tempfile.mkstemp`` makes every file 0600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        path = Path(parent) / (prefix + _random_suffix() + suffix)
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"{parent}: no free name for a temporary file {prefix}*{suffix}")


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


def resolve_out(out: Path) -> Path:
    """The real folder a run is written to: a symlinked ``--out`` is its target (see the module docstring).

    Staging beside the link instead would rename the stage onto the link, replacing the link, and fail with
    'Invalid cross-device link' when the target is on another filesystem, after the whole pipeline ran.
    """
    out = Path(out)
    try:
        return out.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise EdgekitError(f"--out {out}: cannot follow the link ({exc}); point it at a folder or remove it") from None


def check_output_dir(out: Path, force: bool = False) -> None:
    """Refuse an output path edgekit must not replace, before any work is done."""
    out = Path(out)
    real = resolve_out(out)
    _refuse_protected(out, real)
    parent = real.parent
    blocker = next((p for p in (parent, *parent.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise EdgekitError(f"--out {out}: {blocker} is a file, not a folder; choose an --out inside a folder")
    if real.exists() and not real.is_dir():
        raise EdgekitError(f"--out {out}: is a file, not a folder; choose a folder path")
    if real.is_dir() and any(real.iterdir()) and not is_edgekit_dir(real) and not force:
        raise EdgekitError(
            f"--out {out}: folder exists and was not created by edgekit; "
            "choose a new folder or pass --force to replace it"
        )
    if real.is_dir() and not force:
        _refuse_losing_user_files(out, real)
    existing = next(p for p in (parent, *parent.parents) if p.exists())  # missing parents are created, like mkdir -p
    if not os.access(existing, os.W_OK):
        raise EdgekitError(f"--out {out}: folder {existing} is not writable; choose another --out")


def _refuse_protected(out: Path, real: Path) -> None:
    """Never replace the home folder, the current folder or a folder holding either, not even with --force.

    Replacing a run folder deletes what is in it; for these that is the user's files (or the shell's
    working folder), which no --force given to overwrite an old run is meant to cover.
    """
    for name, folder in (("your home folder", _home()), ("the current folder", Path.cwd().resolve())):
        if folder is not None and (real == folder or real in folder.parents):
            what = name if real == folder else f"a parent of {name} {folder}"
            raise EdgekitError(
                f"--out {out}: is {what}; edgekit replaces --out as a whole, which would delete everything in "
                "it (even with --force); choose a new folder such as runs/demo"
            )


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError):  # no HOME and no password entry
        return None


def _refuse_losing_user_files(out: Path, real: Path) -> None:
    """Replacing an edgekit folder deletes it: refuse when it holds files edgekit did not write."""
    lost = user_files(real)
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
    killed run are removed on the next run, which is what makes a rerun recover on its own. A symlinked
    ``out`` is followed: the stage sits beside its target and replaces the target, and the link stays.
    """
    out = Path(out)
    real = resolve_out(out)
    _refuse_protected(out, real)  # before recovery, which would otherwise look around the home folder's parent
    if out.is_symlink():
        from . import progress

        progress.note(f"--out {out} is a link: writing the run into its target {real}")
    recover_stale(real)  # first: a folder displaced by a killed swap is back before it is checked
    check_output_dir(out, force)
    real.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_sibling_dir(real.parent, stage_prefix(real))
    try:
        yield tmp
        swap_into_place(tmp, real, old_prefix=f".edgekit-old-{real.name}-")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def failed_dir(out: Path) -> Path:
    """Where 'edgekit build' keeps a gate-failing run of ``out``: beside the real folder (a link's target)."""
    real = resolve_out(out)
    _refuse_protected(Path(out), real)  # also: '/' has no name to add .failed to
    return real.with_name(real.name + FAILED_SUFFIX)


def stage_prefix(target: Path) -> str:
    """How a stage of ``target`` is named, so the next run of ``target`` can find it after a kill."""
    return f".edgekit-stage-{Path(target).name}-"


def swap_into_place(stage: Path, target: Path, old_prefix: str) -> None:
    """Rename a complete ``stage`` folder onto ``target``.

    The previous ``target`` is renamed aside (to a sibling starting with ``old_prefix``, which the
    caller's recovery knows) before the new one moves in, and deleted only afterwards, so a crash at
    any point leaves one complete folder to recover.
    """
    target = Path(target)
    old = None
    if target.exists() or target.is_symlink():
        old = make_sibling_dir(target.parent, old_prefix)  # reserves a name only this call uses
        os.rmdir(old)
        os.replace(target, old)
    os.replace(stage, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def restore_displaced(target: Path, old_prefix: str, is_ours: Callable[[Path], bool]) -> None:
    """Undo a :func:`swap_into_place` killed half-way: put a displaced folder back if ``target`` is
    missing, and delete every other displaced copy (named ``old_prefix`` + suffix beside ``target``)."""
    target = Path(target)
    for old in sibling_leftovers(target.parent, old_prefix):
        if not target.exists() and is_ours(old):
            os.replace(old, target)
        else:
            shutil.rmtree(old, ignore_errors=True)


def recover_stale(out: Path) -> None:
    """Clean up after a run that was killed: restore a displaced folder, drop stale stages.

    ``out`` is the real folder (:func:`resolve_out`). Stages of its ``.failed`` copy are cleaned too.
    """
    out = Path(out)
    if not out.parent.is_dir():
        return
    restore_displaced(out, f".edgekit-old-{out.name}-", is_edgekit_dir)
    for target in (out, out.with_name(out.name + FAILED_SUFFIX)):
        for stage in sibling_leftovers(out.parent, stage_prefix(target)):
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
