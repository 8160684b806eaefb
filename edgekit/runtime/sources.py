"""Where the board's TFLM runtime comes from: pinned upstream sources, checked before any file is read.

The firmware ships TensorFlow Lite Micro at the commit the desktop ``tflite-micro`` wheel was built
from, with the CMSIS-NN, flatbuffers, gemmlowp and ruy versions that commit pins. Those sources come
from a local folder (``--runtime-src DIR`` or ``$EDGEKIT_RUNTIME_SRC``: one sub-folder per component,
named as in :data:`COMPONENTS`) or are downloaded once into edgekit's cache. Either way every component
is verified against a pinned content hash over exactly the files edgekit may read from it (its
*scope*), so a different commit, a local edit or a damaged download is refused with the component and
the fix named, instead of silently building a runtime the parity ladder never proved.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import EdgekitError
from ..progress import step

SOURCE_ENV = "EDGEKIT_RUNTIME_SRC"
MIRROR_ENV = "EDGEKIT_RUNTIME_MIRROR"  # base URL holding <repo>-<commit>.tar.gz archives (a local mirror)
CACHE_SUBDIR = "runtime"
MAX_ARCHIVE_BYTES = 256 << 20
_CHUNK = 1 << 20
_SOURCE_SUFFIXES = (".h", ".hpp", ".c", ".cc", ".inc")


@dataclass(frozen=True)
class Component:
    """One upstream source tree the runtime is built from, pinned by commit and content hash."""

    name: str  # the sub-folder name in a runtime source folder
    repo: str  # GitHub owner/name
    commit: str
    scope: tuple[str, ...]  # folders (relative) whose source files edgekit reads; nothing else is hashed
    exclude: tuple[str, ...]  # folders inside the scope that upstream trims ship without
    digest: str  # sha256 over the scope, see content_digest

    @property
    def archive_url(self) -> str:
        mirror = os.environ.get(MIRROR_ENV)
        if mirror:
            return f"{mirror.rstrip('/')}/{self.repo.split('/')[1]}-{self.commit}.tar.gz"
        return f"https://github.com/{self.repo}/archive/{self.commit}.tar.gz"


# The TFLM commit of the pinned desktop wheel's sources (tflite-micro 0.dev20260820164721), and what that
# commit's tools/make/*download* scripts pin. Digests: content_digest() of each scope.
TFLM_COMMIT = "90b983c2b"
COMPONENTS: tuple[Component, ...] = (
    Component(
        "tflite-micro",
        "tensorflow/tflite-micro",
        "90b983c2b",
        ("tensorflow/lite", "tensorflow/compiler", "signal"),
        (
            "tensorflow/lite/micro/integration_tests",
            "tensorflow/lite/micro/examples",
            "tensorflow/lite/micro/docs",
            "tensorflow/lite/micro/tools/ci_build",
        ),
        "93741439d9193b022b7123e8652b82ac22e21a2da7834552ad878dad84a5259b",
    ),
    Component(
        "CMSIS-NN",
        "ARM-software/CMSIS-NN",
        "4ab83cc3cc98fb85ed6dafb55e8ca02f1628dcae",
        ("Include", "Source"),
        (),
        "0109afdc8abf97ece3bee0007b2c25129b086258ee12b59c0b8093532a3ed6f6",
    ),
    Component(
        "flatbuffers",
        "google/flatbuffers",
        "v25.9.23",
        ("include",),
        (),
        "30786d368b9a20c1fb354393119a406a2ab130527614f03241d5514e4d86bc8b",
    ),
    Component(
        "gemmlowp",
        "google/gemmlowp",
        "719139ce755a0f31cbf1c37f7f98adcc7fc9f425",
        ("fixedpoint", "internal"),
        (),
        "cb50e00422f6b94ddfb7ffb8f76f77db6c21d54e3deb3ffe17505f4eef869639",
    ),
    Component(
        "ruy",
        "google/ruy",
        "d37128311b445e758136b8602d1bbd2a755e115d",
        ("ruy/profiler",),
        (),
        "992403070b2138759dc75ecb178176f42c829c59f9f6e3b9e6c4594066ccf6cc",
    ),
)


@dataclass(frozen=True)
class RuntimeSources:
    """Verified component folders: ``roots[name]`` is the folder that holds that component's scope."""

    roots: dict[str, Path]
    origin: str  # what the user gave or where the cache is, for messages and the manifest

    def root(self, name: str) -> Path:
        return self.roots[name]

    def describe(self) -> dict[str, str]:
        return {c.name: f"{c.repo}@{c.commit}" for c in COMPONENTS}


def scope_files(root: Path, component: Component) -> list[str]:
    """Relative POSIX paths of the source files edgekit may read from ``root``, sorted."""
    found = []
    for sub in component.scope:
        base = root / sub
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and path.suffix in _SOURCE_SUFFIXES and not _excluded(rel, component):
                found.append(rel)
    return sorted(found)


def _excluded(rel: str, component: Component) -> bool:
    parts = PurePosixPath(rel)
    if parts.stem.endswith("_test") or "/testdata/" in f"/{rel}":
        return True  # tests and test data are trimmed from some mirrors; never compiled
    return any(rel.startswith(prefix + "/") for prefix in component.exclude)


def content_digest(root: Path, component: Component) -> str:
    """sha256 over every in-scope file's path and bytes: identical trees give identical digests."""
    digest = hashlib.sha256()
    for rel in scope_files(root, component):
        digest.update(rel.encode() + b"\0" + hashlib.sha256((root / rel).read_bytes()).digest())
    return digest.hexdigest()


def verify_component(root: Path, component: Component, origin: str) -> None:
    """Refuse a component folder whose in-scope files are not exactly the pinned commit's."""
    if not root.is_dir():
        raise EdgekitError(
            f"{origin}: no '{component.name}' folder; it must hold {component.repo} at {component.commit} "
            f"(see 'edgekit runtime --help')"
        )
    actual = content_digest(root, component)
    if actual != component.digest:
        raise EdgekitError(
            f"{root}: {component.name} differs from the pinned {component.repo}@{component.commit} "
            f"(content sha256 {actual[:12]}, expected {component.digest[:12]}); use that exact commit, unedited"
        )


def locate_sources(source: Path | str | None = None, download: bool = True) -> RuntimeSources:
    """The verified runtime sources: ``source``, else $EDGEKIT_RUNTIME_SRC, else the cache (downloading once)."""
    given = source if source is not None else os.environ.get(SOURCE_ENV)
    if given:
        folder = Path(given).expanduser()
        origin = f"--runtime-src {folder}" if source is not None else f"${SOURCE_ENV}={folder}"
        if not folder.is_dir():
            raise EdgekitError(f"{origin}: not a folder; point it at the folder holding tflite-micro/, CMSIS-NN/, ...")
        for component in COMPONENTS:
            verify_component(folder / component.name, component, origin)
        return RuntimeSources({c.name: folder / c.name for c in COMPONENTS}, origin)
    return _cached_sources(download)


def cache_dir() -> Path:
    from ..data.fetch import default_cache_dir

    return default_cache_dir() / CACHE_SUBDIR


def _cached_sources(download: bool) -> RuntimeSources:
    base = cache_dir()
    roots = {}
    for component in COMPONENTS:
        folder = base / f"{component.name}-{component.commit}"
        if not folder.is_dir():
            if not download:
                raise EdgekitError(
                    f"the TFLM runtime sources are not in {base}; run 'edgekit runtime fetch', "
                    f"or pass --runtime-src DIR (or set ${SOURCE_ENV})"
                )
            _download(component, folder)
        verify_component(folder, component, str(base))
        roots[component.name] = folder
    return RuntimeSources(roots, str(base))


def _download(component: Component, target: Path) -> None:
    """Fetch the commit's archive, keep only the scope, check the digest, then move it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.stage-", dir=target.parent))
    try:
        archive = stage / "archive.tar.gz"
        with step(f"downloading {component.repo}@{component.commit}"):
            _fetch(component.archive_url, archive)
        tree = stage / "tree"
        _extract_scope(archive, tree, component)
        verify_component(tree, component, component.archive_url)
        tree.rename(target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _fetch(url: str, out: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, out.open("wb") as sink:
            total = 0
            while chunk := response.read(_CHUNK):
                total += len(chunk)
                if total > MAX_ARCHIVE_BYTES:
                    raise EdgekitError(f"{url}: larger than {MAX_ARCHIVE_BYTES >> 20} MiB; not a source archive")
                sink.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        if isinstance(exc, EdgekitError):
            raise
        raise EdgekitError(
            f"{url}: download failed ({exc}); pass --runtime-src DIR with the sources, or set ${MIRROR_ENV}"
        ) from exc


def _extract_scope(archive: Path, tree: Path, component: Component) -> None:
    """Unpack only regular in-scope source files, under names we build (never a member's raw path)."""
    tree.mkdir()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or len(parts) < 2 or ".." in parts:
                    continue
                rel = PurePosixPath(*parts[1:]).as_posix()  # drop GitHub's "<repo>-<commit>/" folder
                in_scope = any(rel.startswith(s + "/") for s in component.scope)
                if not in_scope or PurePosixPath(rel).suffix not in _SOURCE_SUFFIXES or _excluded(rel, component):
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                dest = tree / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with source, dest.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise EdgekitError(f"{component.archive_url}: not a readable .tar.gz ({exc}); download it again") from exc
