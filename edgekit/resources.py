"""Locate the data that ships beside the code (board files, firmware templates).

In a wheel they live in ``edgekit/resources/``; in a source checkout (or an editable install) they
are the top-level ``boards/`` and ``firmware_templates/`` folders, so both layouts are searched.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder of shipped resource ``name`` ("boards" or "firmware_templates")."""
    for candidate in (_PACKAGE / "resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"edgekit resource folder '{name}' is missing from the installation")
