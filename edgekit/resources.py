"""Locate the data that ships beside the code (board files, firmware templates).

In a wheel they live in ``edgekit/resources/``; in a source checkout (or an editable install) they
are the top-level ``boards/`` and ``firmware_templates/`` folders, so both layouts are searched.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when first rendering: most commands never render a template
    import jinja2

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has the same parser as the tomli package
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError
_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder of shipped resource ``name`` ("boards" or "firmware_templates")."""
    for candidate in (_PACKAGE / "resources" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"edgekit resource folder '{name}' is missing from the installation")


def load_toml(text: str) -> dict[str, Any]:
    """Parse TOML (board files, model descriptions, the op table) with the standard library's parser.

    The one place that knows Python 3.10 needs the tomli backport; raises :data:`TOMLDecodeError`.
    """
    return tomllib.loads(text)


@functools.cache
def template_environment() -> jinja2.Environment:
    """edgekit's one Jinja2 environment, rooted at ``firmware_templates`` (``sketch/...``, ``report/...``).

    Strict (an undefined variable is an error, never an empty string); autoescaping for HTML only: C++
    and YAML are written verbatim, which is why every string that reaches them is validated where it
    is read. It lives at the bottom layer so that the runtime harness, the firmware, the report and
    the tune report all render through it.
    """
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("firmware_templates"))),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html"), default_for_string=False),
    )
