"""Render the capture sketch: the board streams raw accelerometer samples for ``edgekit capture``.

Recording your own data only helps if it matches what the inference firmware will see, so the capture
sketch takes everything that shapes a sample from the same places the inference sketch does: the
board context (IMU library, class, units, axis map, exact float32 factor) from :func:`board_context`,
and the conversion itself from the shared ``har_pipeline.h``. The host then writes the samples in the
WISDM format ``edgekit train`` reads.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..artifacts import write_text_atomic
from ..boards import Board, parse_axis_map
from ..contract import RATE_HZ
from ..errors import EdgekitError
from .context import CAPTURE_SKETCH_NAME, capture_context
from .render import CAPTURE_DIR, render, templates_dir
from .sketch_io import PIPELINE_HEADER

SKETCH_NAME = CAPTURE_SKETCH_NAME
DEFAULT_RATE_HZ = RATE_HZ  # what the model was trained on


def capture_sketch_context(board: Board, rate_hz: float = RATE_HZ, axis_map: str | None = None) -> dict[str, Any]:
    """Template variables; refuses boards without an IMU and rates that are not whole milliseconds.

    ``axis_map`` overrides the board file's, exactly like ``edgekit build --axis-map``: data captured
    for a board worn a particular way must be mapped the way the inference firmware will map it.
    """
    if board.imu is None:
        raise EdgekitError(f"--board {board.name}: has no IMU in its board file, so there is nothing to capture")
    if board.imu.driver != "arduino-imu":
        raise EdgekitError(
            f"--board {board.name}: the capture-only sketch supports readAcceleration() IMU libraries, not "
            f"{board.imu.driver}; flash the 'edgekit build' sketch (it streams samples too) and capture without --flash"
        )
    period_ms = 1000.0 / rate_hz if rate_hz > 0 else 0.0
    if rate_hz <= 0 or abs(period_ms - round(period_ms)) > 1e-9 or round(period_ms) < 1:
        raise EdgekitError(f"capture rate {rate_hz:g} Hz: must give a whole number of milliseconds, e.g. 20 Hz")
    mapping = parse_axis_map(axis_map) if axis_map is not None else board.imu.axis_map
    return capture_context(board, mapping, axis_map is not None, rate_hz)


def render_capture_sketch(board: Board, parent: Path, rate_hz: float = RATE_HZ, axis_map: str | None = None) -> Path:
    """Write ``parent/edgekit_capture/`` (the .ino, the shared pipeline header, sketch.yaml); return it."""
    context = capture_sketch_context(board, rate_hz, axis_map)
    sketch = Path(parent) / SKETCH_NAME
    sketch.mkdir(parents=True, exist_ok=True)
    write_text_atomic(sketch / f"{SKETCH_NAME}.ino", render(f"{CAPTURE_DIR}/capture.ino.j2", context))
    write_text_atomic(sketch / "sketch.yaml", render(f"{CAPTURE_DIR}/sketch.yaml.j2", context))
    shutil.copyfile(templates_dir() / PIPELINE_HEADER, sketch / PIPELINE_HEADER)
    return sketch
