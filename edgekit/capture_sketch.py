"""Render the capture sketch: the board streams raw accelerometer samples for ``edgekit capture``.

Recording your own data only helps if it matches what the inference firmware will see, so the capture
sketch takes everything that shapes a sample from the same places the inference sketch does: the IMU
library, class, units and axis map from the board file, and the conversion itself from the shared
``har_pipeline.h``. The host then writes the samples in the WISDM format ``edgekit train`` reads.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jinja2

from . import __version__, protocol
from .artifacts import write_text_atomic
from .boards import AXES, Board, axis_map_sources, parse_axis_map
from .contract import STANDARD_GRAVITY
from .errors import EdgekitError
from .resources import resource_dir

SKETCH_NAME = "edgekit_capture"
DEFAULT_RATE_HZ = 20.0  # WISDM's rate: what the model was trained on
_PIPELINE_HEADER = ("sketch", "har_pipeline.h")  # shared with the inference sketch, copied verbatim


def capture_context(board: Board, rate_hz: float = DEFAULT_RATE_HZ, axis_map: str | None = None) -> dict[str, Any]:
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
    imu = board.imu
    mapping = parse_axis_map(axis_map) if axis_map is not None else imu.axis_map
    sources = [
        {"axis": axis, "negate": "true" if negate else "false", "model_axis": AXES[i], "text": mapping[i]}
        for i, (axis, negate) in enumerate(axis_map_sources(mapping))
    ]
    return {
        **protocol.template_context(),
        "sketch_name": SKETCH_NAME,
        "edgekit_version": __version__,
        "board_name": board.name,
        "board_title": board.title,
        "profile": board.name,
        "fqbn": board.fqbn,
        "platform": board.platform,
        "platform_version": board.platform_version,
        "imu_chip": imu.chip,
        "imu_header": imu.library.header,
        "imu_library": imu.library.name,
        "imu_library_version": imu.library.version,
        "imu_object": imu.object,
        "imu_class": imu.class_name,
        "imu_units": imu.units,
        "imu_not_found": imu.not_found,
        "units_to_ms2": repr(STANDARD_GRAVITY) if imu.units == "g" else "1.0",
        "axis_sources": sources,
        "axis_map_text": ",".join(mapping),
        "period_ms": round(period_ms),
        "rate_text": f"{rate_hz:g}",
    }


def render_capture_sketch(
    board: Board, parent: Path, rate_hz: float = DEFAULT_RATE_HZ, axis_map: str | None = None
) -> Path:
    """Write ``parent/edgekit_capture/`` (the .ino, the shared pipeline header, sketch.yaml); return it."""
    context = capture_context(board, rate_hz, axis_map)
    templates = resource_dir("firmware_templates")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates / "capture")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    sketch = Path(parent) / SKETCH_NAME
    sketch.mkdir(parents=True, exist_ok=True)
    write_text_atomic(sketch / f"{SKETCH_NAME}.ino", env.get_template("capture.ino.j2").render(context))
    write_text_atomic(sketch / "sketch.yaml", env.get_template("sketch.yaml.j2").render(context))
    shutil.copyfile(templates.joinpath(*_PIPELINE_HEADER), sketch / _PIPELINE_HEADER[-1])
    return sketch
