"""The one Jinja2 environment of edgekit: the inference sketch, the capture sketch and the report.

Templates are addressed from the ``firmware_templates`` root (``sketch/...``, ``capture/...``,
``report/...``), so every template can import the shared macros (``protocol.j2``). Autoescaping is on
for HTML only: C++ and YAML are written verbatim, which is why every string that reaches them is
validated where it is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from ..resources import resource_dir, template_environment

SKETCH_DIR = "sketch"
CAPTURE_DIR = "capture"


def templates_root() -> Path:
    return resource_dir("firmware_templates")


def templates_dir() -> Path:
    """The inference sketch's templates and the files copied into it verbatim."""
    return templates_root() / SKETCH_DIR


def environment() -> jinja2.Environment:
    """The shared environment (:func:`edgekit.resources.template_environment`)."""
    return template_environment()


def render(template: str, context: dict[str, Any]) -> str:
    """``template`` (a path under firmware_templates) rendered with ``context``."""
    return environment().get_template(template).render(**context)
