"""The template variables of both sketches, built once: the inference sketch and the capture sketch.

Both sketches turn an IMU reading into a model-axis sample with the same ``har_pipeline.h`` code, so
everything that shapes a sample (IMU library, units, axis map, the exact float32 constants) comes from
:func:`board_context` for both; :func:`sketch_context` and :func:`capture_context` add what only one of
them needs. Floats reach C++ as the shortest decimal that parses back to the same float32
(:func:`c_float`), booleans stay booleans until a template prints them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from .. import __version__, protocol
from ..artifacts import sha256_bytes
from ..boards import Board, axis_map_sources
from ..contract import AXES, MAX_GAP_S, RATE_HZ, STANDARD_GRAVITY, Contract
from ..errors import EdgekitError
from ..runtime.harness import BoardModel, c_float
from ..runtime.tree import TREE_DIR
from .arena import QUEUE_CAPACITY
from .checks import require_quant
from .ops import resolver_ops
from .pipeline import units_to_ms2
from .selftest import Selftest
from .stack import SAMPLER_STACK_BYTES

CAPTURE_SKETCH_NAME = "edgekit_capture"
SENSOR_CHECK_S = 2.0  # the boot sensor check: long enough for a stable mean, short enough to hold still
SENSOR_CHECK_SAMPLES = round(SENSOR_CHECK_S * RATE_HZ)
REST_TOLERANCE_MS2 = 1.0
RATE_TOLERANCE = 0.05
SERIAL_WAIT_S = 3  # at boot, how long the sketch waits for a host to open the port before going on
BHY2_RANGES_G = (2, 4, 8, 16)  # what the BHI260AP accepts for its accelerometer (Arduino_BHY2 setRange)
# LED colours per class index: bit 0 red, 1 green, 2 blue; pure red is kept for errors.
_PALETTE = ((2, "green"), (4, "blue"), (3, "yellow"), (6, "cyan"), (5, "magenta"), (7, "white"))


def board_context(
    board: Board, sketch_name: str, mapping: tuple[str, str, str], overridden: bool, rate_hz: float
) -> dict[str, Any]:
    """What both sketches take from the board file and the axis map: the IMU and how a sample is made."""
    assert board.imu is not None
    imu = board.imu
    return {
        **protocol.template_context(),
        "edgekit_version": __version__,
        "sketch_name": sketch_name,
        "board_name": board.name,
        "board_title": board.title,
        "fqbn": board.fqbn,
        "platform": board.platform,
        "platform_version": board.platform_version,
        "imu_chip": imu.chip,
        "imu_header": imu.library.header,
        "imu_object": imu.object,
        "imu_not_found": imu.not_found,
        "imu_units": imu.units,
        "units_to_ms2": c_float(units_to_ms2(imu.units), "IMU units"),
        "axis_map_text": ",".join(mapping),
        "axis_map_source": "--axis-map" if overridden else "board default",
        "axis_sources": [
            {"axis": axis, "negate": negate, "model_axis": AXES[i], "text": mapping[i]}
            for i, (axis, negate) in enumerate(axis_map_sources(mapping))
        ],
        "rate_hz": f"{rate_hz:g}",
        "sample_period_ms": round(1000.0 / rate_hz),
    }


def capture_context(board: Board, mapping: tuple[str, str, str], overridden: bool, rate_hz: float) -> dict[str, Any]:
    """Template variables of the capture sketch (firmware_templates/capture)."""
    assert board.imu is not None
    return {
        **board_context(board, CAPTURE_SKETCH_NAME, mapping, overridden, rate_hz),
        "imu_library": board.imu.library.name,
        "imu_library_version": board.imu.library.version,
        "imu_class": board.imu.class_name,
    }


def sketch_context(
    tflite_bytes: bytes,
    contract: Contract,
    board: Board,
    ops: list[str],
    mapping: tuple[str, str, str],
    overridden: bool,
    selftest: Selftest | None,
    sketch_name: str,
    max_gap_s: float = MAX_GAP_S,
) -> dict[str, Any]:
    """Template variables of the inference sketch (firmware_templates/sketch), before arena, fit and runtime.

    ``max_gap_s`` is the training data's: a window never straddled a longer gap there, so on the board a
    longer gap restarts the window (the run's ``--max-gap``, 1 s by default)."""
    assert board.imu is not None and board.tflm is not None
    quant = require_quant(contract)
    axis_words = [("-" if neg else "") + f"board {AXES[axis]}" for axis, neg in axis_map_sources(mapping)]
    colours = [_PALETTE[i % len(_PALETTE)] for i in range(len(contract.labels))]
    return {
        **board_context(board, sketch_name, mapping, overridden, contract.rate_hz),
        "libraries": [asdict(lib) for lib in board.libraries],
        **_imu_driver_context(board),
        "pio_platform": board.pio_platform,
        "pio_board": board.pio_board,
        "pio_framework": board.pio_framework,
        "led_kind": board.led.kind,
        "led_pins": list(board.led.pins),
        "led_active_low": board.led.active_low,
        "class_colors": [bits for bits, _ in colours],
        "led_table": [(label, name) for label, (_, name) in zip(contract.labels, colours, strict=True)],
        "window": contract.window,
        "hop": contract.hop,
        "rate_hz_f": c_float(contract.rate_hz, "contract.rate_hz"),
        "hop_seconds": f"{contract.hop / contract.rate_hz:g}",
        "max_gap_ms": round(max_gap_s * 1000),
        "max_gap_s": f"{max_gap_s:g}",
        "labels": list(contract.labels),
        "standard_gravity": c_float(STANDARD_GRAVITY, "standard gravity"),
        "axis_map_words": ", ".join(axis_words),
        "axis_note": board.imu.mounting,
        "clip_low": [c_float(v, "contract.clip_low") for v in contract.clip_low],
        "clip_high": [c_float(v, "contract.clip_high") for v in contract.clip_high],
        "mean": [c_float(v, "contract.mean") for v in contract.mean],
        "std": [c_float(v, "contract.std") for v in contract.std],
        "input_scale": c_float(quant.input_scale, "input scale"),
        "input_zero_point": int(quant.input_zero_point),
        "output_scale": c_float(quant.output_scale, "output scale"),
        "output_zero_point": int(quant.output_zero_point),
        "ops": resolver_ops(ops),
        "model_len": len(tflite_bytes),
        "model_sha256": sha256_bytes(tflite_bytes),
        "queue_capacity": QUEUE_CAPACITY,
        "queue_seconds": f"{QUEUE_CAPACITY * contract.sample_period_ms / 1000:g}",
        "sampler_stack_bytes": SAMPLER_STACK_BYTES,
        "serial_wait_ms": SERIAL_WAIT_S * 1000,
        "sensor_check_samples": SENSOR_CHECK_SAMPLES,
        "sensor_check_seconds": f"{SENSOR_CHECK_SAMPLES * contract.sample_period_ms / 1000:g}",
        "rest_tolerance": c_float(REST_TOLERANCE_MS2, "rest tolerance"),
        "rate_tolerance": c_float(RATE_TOLERANCE, "rate tolerance"),
        **_selftest_context(selftest),
    }


def _selftest_context(selftest: Selftest | None) -> dict[str, Any]:
    if selftest is None:
        return {"selftest_count": 0, "selftest_tolerance": 0, "selftest_inputs": [], "selftest_expected": []}
    return {
        "selftest_count": len(selftest),
        "selftest_tolerance": int(selftest.tolerance),
        "selftest_inputs": [_int_lines(row) for row in selftest.inputs],
        "selftest_expected": [", ".join(str(int(v)) for v in row) for row in selftest.expected],
    }


def _int_lines(values: np.ndarray, per_line: int = 24) -> list[str]:
    flat = [int(v) for v in np.asarray(values).ravel()]
    return [", ".join(str(v) for v in flat[i : i + per_line]) + "," for i in range(0, len(flat), per_line)]


def runtime_context(runtime: BoardModel) -> dict[str, Any]:
    """What the sketch's README and manifest say about the runtime it ships."""
    return {
        "dir": TREE_DIR,
        "sources": runtime.tree.sources,
        "tree_sha256": runtime.tree.sha256,
        "files": len(runtime.tree.files),
        "kernels": [{"op": k.op, "registration": k.registration, "source": k.source} for k in runtime.tree.kernels],
    }


def _imu_driver_context(board: Board) -> dict[str, Any]:
    """Template variables of the board's IMU driver block (firmware_templates/sketch/imu_<driver>.cpp.j2).

    The BHI260AP reports raw LSB at a range the firmware sets, so its scale is computed here from the
    board file's range rather than trusted to the library's default.
    """
    assert board.imu is not None
    imu = board.imu
    context: dict[str, Any] = {"imu_driver": imu.driver}
    if imu.driver == "bhy2":
        if imu.range_g not in BHY2_RANGES_G:
            raise EdgekitError(
                f"--board {board.name}: imu.range {imu.range_g:g} g is not one the BHI260AP accepts; "
                f"use one of {', '.join(f'{r} g' for r in BHY2_RANGES_G)} in the board file"
            )
        context.update(
            imu_range_g=int(imu.range_g),
            imu_rate_hz=c_float(imu.native_rate_hz, "imu.native_rate"),
            imu_g_per_lsb=c_float(imu.range_g / 32768.0, "IMU g per LSB"),
        )
    return context
