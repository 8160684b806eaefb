"""What makes a folder an edgekit sketch, and which of its files were changed since edgekit wrote them.

This is bookkeeping of the run folder, not firmware generation: :mod:`edgekit.artifacts` needs it to tell
a user's files from edgekit's before it replaces a run, and :mod:`edgekit.device` to warn that a flashed
sketch is not the proven one. It sits at the bottom layer so that neither has to reach up into
:mod:`edgekit.firmware`, which writes the manifest read here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SKETCH_MANIFEST = "edgekit_sketch.json"
SKETCH_KIND = "edgekit-sketch"


def is_sketch(path: Path) -> bool:
    """True when ``path`` holds a sketch manifest edgekit wrote."""
    try:
        return json.loads((Path(path) / SKETCH_MANIFEST).read_text(encoding="utf-8")).get("kind") == SKETCH_KIND
    except (OSError, ValueError, AttributeError):
        return False


def _inside(name: str) -> bool:
    """A manifest entry that names a file inside the sketch (runtime files live in src/tflm/...)."""
    parts = name.split("/")
    return "\\" not in name and not name.startswith("/") and ".." not in parts and "" not in parts


def sketch_edits(sketch: Path, added: bool = False) -> list[str] | None:
    """Generated files of ``sketch`` that differ from what edgekit wrote; None if it is no edgekit sketch.

    The sketch's manifest records every generated file's sha256, which is what lets a rebuild refuse to
    throw away hand edits and ``edgekit flash`` say that the board will not get the proven sketch.
    Deleted files are not edits (nothing would be lost). With ``added``, files the user put beside the
    generated ones count too (a rebuild of the run folder would delete them).
    """
    sketch = Path(sketch)
    try:
        manifest = json.loads((sketch / SKETCH_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("kind") != SKETCH_KIND:
        return None
    files = manifest.get("files")
    if not isinstance(files, dict):
        return None
    edited = []
    for name, digest in sorted(files.items()):
        path = sketch / str(name)
        if not _inside(str(name)) or not path.is_file():
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            edited.append(str(name))
    if added:
        known = {str(name) for name in files} | {SKETCH_MANIFEST}
        for path in sorted(sketch.rglob("*")):
            rel = path.relative_to(sketch).as_posix()
            if path.is_file() and rel not in known and not any(part.startswith(".") for part in rel.split("/")):
                edited.append(rel)
    return edited
