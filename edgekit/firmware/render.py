"""The one Jinja2 environment of edgekit: the inference sketch, the capture sketch and the report.

Templates are addressed from the ``firmware_templates`` root (``sketch/...``, ``capture/...``,
``report/...``), so every template can import the shared macros (``protocol.j2``). Autoescaping is on
for HTML only: C++ and YAML are written verbatim, which is why every string that reaches them is
validated where it is read.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from ..resources import resource_dir

SKETCH_DIR = "sketch"
CAPTURE_DIR = "capture"


def templates_root() -> Path:
    return resource_dir("firmware_templates")


def templates_dir() -> Path:
    """The inference sketch's templates and the files copied into it verbatim."""
    return templates_root() / SKETCH_DIR


def harness_dir() -> Path:
    """Sources of the desktop/QEMU test harness (plain C/C++, startup code and linker script)."""
    return templates_root() / "harness"


@functools.cache
def environment() -> jinja2.Environment:
    """The shared environment (strict: an undefined variable is an error, never an empty string)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_root())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html"), default_for_string=False),
    )


def render(template: str, context: dict[str, Any]) -> str:
    """``template`` (a path under firmware_templates) rendered with ``context``."""
    return environment().get_template(template).render(**context)
