"""Generate the Arduino sketch (TensorFlow Lite Micro) from a run's int8 model and contract.

All C++ lives in Jinja2 templates under ``firmware_templates/sketch``; this module only validates
inputs, computes the numbers (arena size, op list, float constants as exact decimal strings) and
renders. The sketch folder is built in a temporary sibling and renamed into place, so a failed run
never leaves half a sketch.

The sample-to-int8 arithmetic exists twice, on purpose: in ``har_pipeline.h`` for the board and in
:func:`reference_int8_windows` here, which reuses the very functions parity feeds the desktop
interpreters with (:func:`edgekit.data.prepare.model_inputs` and
:func:`edgekit.runtimes.quantize_input`). The tests compile the header on the desktop and under QEMU
and demand identical int8 windows, which is what makes a desktop parity result a statement about the
board.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, protocol
from .artifacts import make_sibling_dir, restore_displaced, sha256_bytes, sibling_leftovers, swap_into_place
from .boards import Board, FitReport, axis_map_sources, fit_check, load_board, parse_axis_map
from .contract import AXES, STANDARD_GRAVITY, Contract
from .errors import EdgekitError
from .resources import resource_dir
from .runtime.harness import BoardModel, c_float, model_interface, model_sources, op_methods
from .runtime.sources import locate_sources
from .runtime.tree import TREE_DIR

SKETCH_MANIFEST = "edgekit_sketch.json"
SKETCH_KIND = "edgekit-sketch"
MODEL_HEADER = "model_data.h"
MODEL_SOURCE = "model_data.cpp"  # .cpp, not .cc: arduino-cli compiles only .c/.cpp/.S in a sketch folder
PIPELINE_HEADER = "har_pipeline.h"
CONFIG_HEADER = "edgekit_config.h"

ARENA_MARGIN_PCT = 10  # on top of the desktop measurement: allocator alignment, TFLM build differences
ARENA_ROUND_TO = 1024
QUEUE_CAPACITY = 32  # samples = 1.6 s at 20 Hz, several times the longest inference
SAMPLER_STACK_BYTES = 2048
SENSOR_CHECK_SAMPLES = 40  # 2 s at 20 Hz
REST_TOLERANCE_MS2 = 1.0
RATE_TOLERANCE = 0.05
EDGEKIT_CODE_FLASH = 12 * 1024  # edgekit_app.cpp + har_pipeline.h compiled for Cortex-M (estimate)
EDGEKIT_MISC_RAM = 1024  # globals, serial and LED state, interpreter pointers
MAX_SELFTEST_WINDOWS = 64

_SKETCH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")
_LABEL = re.compile(r"[A-Za-z0-9_ ./+()-]{1,64}")  # what edgekit.serial accepts in a PRED line
# LED colours per class index: bit 0 red, 1 green, 2 blue; pure red is kept for errors.
_PALETTE = ((2, "green"), (4, "blue"), (3, "yellow"), (6, "cyan"), (5, "magenta"), (7, "white"))


# --------------------------------------------------------------------------- numbers the firmware needs


def units_to_ms2(units: str) -> float:
    """Factor from an IMU's units to the contract's m/s^2."""
    factors = {"g": STANDARD_GRAVITY, "m/s^2": 1.0}
    if units not in factors:
        raise EdgekitError(f"IMU units '{units}': not supported; use 'g' or 'm/s^2' in the board file")
    return factors[units]


def board_to_model_axes(board_xyz: np.ndarray, axis_map: Sequence[str], imu_units: str = "g") -> np.ndarray:
    """IMU readings (n, 3) in board axes and IMU units -> model axes in m/s^2, as ``to_model_axes`` does.

    float32 multiply, then an exact sign flip: bit-identical to the C++ on any IEEE-754 target.
    """
    board = np.asarray(board_xyz, dtype=np.float32).reshape(-1, 3)
    factor = np.float32(units_to_ms2(imu_units))
    out = np.empty_like(board)
    for i, (axis, negate) in enumerate(axis_map_sources(tuple(axis_map))):
        ms2 = board[:, axis] * factor
        out[:, i] = -ms2 if negate else ms2
    return out


def window_starts(n: int, window: int, hop: int) -> np.ndarray:
    """Where the firmware's window buffer releases windows in a continuous stream of n samples."""
    return np.arange(0, max(n - window + 1, 0), hop, dtype=np.int64)


def reference_int8_windows(
    xyz_ms2: np.ndarray, contract: Contract, segment_lengths: Sequence[int] | None = None
) -> np.ndarray:
    """The int8 model inputs the firmware builds from a stream of model-axis samples in m/s^2.

    ``segment_lengths`` splits the stream into recordings the firmware sees one after another (its
    window buffer restarts for each); by default it is one continuous stream. Windows start every
    ``hop`` samples, oldest sample first, and go through the same ``model_inputs`` and
    ``quantize_input`` functions that feed parity's interpreters. (A NaN sample raises here; the
    firmware treats it as the axis' lower clip bound.)
    """
    from .data.prepare import model_inputs
    from .runtimes import quantize_input

    quant = _require_quant(contract)
    xyz = np.asarray(xyz_ms2, dtype=np.float32).reshape(-1, 3)
    lengths = [len(xyz)] if segment_lengths is None else [int(n) for n in segment_lengths]
    if sum(lengths) != len(xyz) or any(n < 0 for n in lengths):
        raise EdgekitError(f"segment lengths {lengths} do not add up to the {len(xyz)} samples given")
    offsets = np.cumsum([0, *lengths[:-1]])
    starts = np.concatenate(
        [off + window_starts(n, contract.window, contract.hop) for off, n in zip(offsets, lengths, strict=True)]
        or [np.zeros(0, dtype=np.int64)]
    ).astype(np.int64)
    if starts.size == 0:
        return np.zeros((0, contract.n_features), dtype=np.int8)
    windows = xyz[starts[:, None] + np.arange(contract.window)[None, :]]
    return quantize_input(model_inputs(windows, contract), quant.input_scale, quant.input_zero_point)


@dataclass(frozen=True)
class BoardArena:
    """arena_used_bytes as the board's runtime reported it on an emulated core."""

    bytes: int
    source: str  # e.g. "board runtime, emulated Cortex-M4 (arena_used_bytes)"


@dataclass(frozen=True)
class ArenaPlan:
    """How big the firmware's tensor arena is, and why."""

    measured: int
    measured_source: str
    margin_pct: int
    scratch: int
    round_to: int
    total: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cmsis_scratch_bytes(tflite_bytes: bytes) -> int:
    """Largest scratch buffer CMSIS-NN's int8 conv kernels request (the desktop's reference kernels need none).

    arm_convolve_s8 on a DSP core asks for an int16 im2col buffer of two columns, 2 x C_in x K_h x K_w
    values; the depthwise kernel one column. The desktop arena measurement cannot include these.
    """
    from tflite_micro.python.tflite_micro import runtime as tflm

    model = tflm.convert_bytearray_to_object(bytearray(tflite_bytes))
    names = {v: k for k, v in vars(tflm.schema_fb.BuiltinOperator).items() if not k.startswith("_")}
    largest = 0
    for subgraph in model.subgraphs or []:
        for op in subgraph.operators or []:
            name = names.get(tflm.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex]))
            if name not in ("CONV_2D", "DEPTHWISE_CONV_2D") or op.inputs is None or len(op.inputs) < 2:
                continue
            shape = subgraph.tensors[op.inputs[1]].shape  # filter: [out, kh, kw, in] or [1, kh, kw, out]
            if shape is None or len(shape) != 4:
                continue
            _, kh, kw, ch = (int(d) for d in shape)
            columns = 2 if name == "CONV_2D" else 1
            largest = max(largest, columns * ch * kh * kw * 2)
    return largest


def plan_arena(tflite_bytes: bytes, measured: int | None = None, board_measured: BoardArena | None = None) -> ArenaPlan:
    """Arena = measured need + ARENA_MARGIN_PCT %, rounded up to 1 KiB.

    Best is ``board_measured``: ``arena_used_bytes`` of the board's own runtime on the emulated core,
    CMSIS-NN scratch buffers and 32-bit bookkeeping included. Otherwise the desktop TFLM measurement
    (from the contract, or taken here) plus the largest CMSIS-NN scratch buffer, which the desktop's
    reference kernels never request.
    """
    if board_measured is not None:
        wanted = board_measured.bytes * (100 + ARENA_MARGIN_PCT) / 100
        total = int(math.ceil(wanted / ARENA_ROUND_TO) * ARENA_ROUND_TO)
        return ArenaPlan(board_measured.bytes, board_measured.source, ARENA_MARGIN_PCT, 0, ARENA_ROUND_TO, total)
    source = "contract.quant.arena_bytes"
    if measured is None:
        from .runtimes import measure_arena

        measured, source = measure_arena(tflite_bytes), "measured by edgekit.firmware"
    if measured <= 0:
        raise EdgekitError(f"arena size {measured}: must be positive; re-run 'edgekit quantize RUN_DIR'")
    scratch = cmsis_scratch_bytes(tflite_bytes)
    wanted = measured * (100 + ARENA_MARGIN_PCT) / 100 + scratch
    total = int(math.ceil(wanted / ARENA_ROUND_TO) * ARENA_ROUND_TO)
    return ArenaPlan(measured, source, ARENA_MARGIN_PCT, scratch, ARENA_ROUND_TO, total)


# --------------------------------------------------------------------------- self-test vectors


@dataclass(frozen=True)
class Selftest:
    """Golden int8 windows with the desktop TFLM's int8 outputs, checked by the board at boot."""

    inputs: np.ndarray  # int8 (K, window*3)
    expected: np.ndarray  # int8 (K, classes)
    tolerance: int = 0  # int8 steps: the board runs the runtime the rungs proved bit-exact

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


def make_selftest(
    tflite_bytes: bytes, inputs_int8: np.ndarray, expected: np.ndarray | None = None, tolerance: int = 0
) -> Selftest:
    """Golden windows and the outputs the board must match.

    ``expected`` should come from the board's runtime on the emulated core (what the board computes);
    without it, from the desktop TFLM interpreter, which the board-runtime rungs proved identical.
    """
    from .runtimes import TFLMRunner

    inputs = np.ascontiguousarray(np.asarray(inputs_int8, dtype=np.int8))
    outputs = TFLMRunner(tflite_bytes).run(inputs) if expected is None else np.asarray(expected, dtype=np.int8)
    return Selftest(inputs=inputs, expected=outputs, tolerance=tolerance)


def _check_selftest(selftest: Selftest, n_features: int, n_classes: int) -> None:
    k = len(selftest)
    if not 1 <= k <= MAX_SELFTEST_WINDOWS:
        raise EdgekitError(f"selftest: {k} windows; use 1 to {MAX_SELFTEST_WINDOWS}")
    if selftest.inputs.dtype != np.int8 or selftest.inputs.shape != (k, n_features):
        raise EdgekitError(
            f"selftest: inputs are {selftest.inputs.dtype}{list(selftest.inputs.shape)}, "
            f"expected int8[{k}, {n_features}]"
        )
    if selftest.expected.dtype != np.int8 or selftest.expected.shape != (k, n_classes):
        raise EdgekitError(
            f"selftest: expected outputs are {selftest.expected.dtype}{list(selftest.expected.shape)}, "
            f"expected int8[{k}, {n_classes}]"
        )
    if not 0 <= int(selftest.tolerance) <= 255:
        raise EdgekitError(f"selftest: tolerance {selftest.tolerance} must be 0..255 int8 steps")


# --------------------------------------------------------------------------- fit


def firmware_overhead(contract: Contract, selftest: Selftest | None = None) -> tuple[int, int]:
    """(flash, RAM) bytes edgekit's own code and data add to the core, runtime, model and arena."""
    sample = 3 * 4
    ram = (
        QUEUE_CAPACITY * (sample + 4)  # sampler -> loop() queue of timed samples
        + contract.window * sample  # window ring buffer
        + SAMPLER_STACK_BYTES
        + EDGEKIT_MISC_RAM
    )
    flash = EDGEKIT_CODE_FLASH
    if selftest is not None:
        flash += selftest.inputs.size + selftest.expected.size
    return flash, ram


def sketch_fit(
    tflite_bytes: bytes,
    contract: Contract,
    board: Board | str,
    selftest: Selftest | None = None,
    arena: ArenaPlan | None = None,
) -> FitReport:
    """The fit check for exactly the sketch :func:`generate_firmware` would write."""
    board = load_board(board) if isinstance(board, str) else board
    arena = arena or plan_arena(tflite_bytes, _require_quant(contract).arena_bytes)
    flash, ram = firmware_overhead(contract, selftest)
    return fit_check(board, len(tflite_bytes), arena.total, extra_ram_bytes=ram, extra_flash_bytes=flash)


# --------------------------------------------------------------------------- ops


def resolver_ops(ops: Sequence[str]) -> list[dict[str, str]]:
    """Op names -> MicroMutableOpResolver registrations, sorted; an op TFLM's resolver lacks is an error."""
    table = _op_table()
    unknown = sorted(set(ops) - set(table))
    if unknown:
        raise EdgekitError(
            f"model uses op {', '.join(unknown)}, which edgekit cannot register for TFLM "
            f"(known: {len(table)} ops in firmware_templates/ops.toml); change the model to avoid it"
        )
    return [{"name": op, "method": table[op]} for op in sorted(set(ops))]


_op_table = op_methods


# --------------------------------------------------------------------------- generation


def generate_firmware(
    tflite_bytes: bytes,
    contract: Contract,
    board: Board | str,
    out_dir: Path,
    sketch_name: str = "edgekit_har",
    axis_map: str | Sequence[str] | None = None,
    selftest: Selftest | None = None,
    force: bool = False,
    runtime: BoardModel | None = None,
    runtime_src: Path | None = None,
    board_arena: BoardArena | None = None,
    model: str | None = None,
) -> Path:
    """Write the sketch folder ``out_dir/sketch_name`` (replacing one edgekit generated before) and return it.

    ``model`` names the architecture when the caller knows it, so a refusal does not suggest it again.

    The sketch ships the board's TFLM runtime in ``src/tflm`` with the model code (``runtime``, as the
    parity rungs built and ran it; generated here from ``runtime_src`` or edgekit's cache when not given).

    Refuses, before writing anything, a model whose op TFLM cannot register, a contract that does not
    describe this model, a model that does not fit the board, and (unless ``force``) replacing a
    sketch whose generated files were edited by hand, since that would silently throw the edits away.
    """
    board = load_board(board) if isinstance(board, str) else board
    if not _SKETCH_NAME.fullmatch(sketch_name) or sketch_name.endswith("."):
        raise EdgekitError(
            f"sketch name '{sketch_name}': use letters, digits, '_', '.', '-' (up to 63, not ending in '.')"
        )
    info = _check_model(tflite_bytes, contract)
    quant = _require_quant(contract)
    if selftest is not None:
        _check_selftest(selftest, contract.n_features, len(contract.labels))
    arena = plan_arena(tflite_bytes, quant.arena_bytes, board_arena)
    fit = sketch_fit(tflite_bytes, contract, board, selftest, arena)
    fit.raise_if_not_fit(model)
    _check_board(board, contract)
    assert board.imu is not None and board.tflm is not None  # _check_board
    mapping = parse_axis_map(axis_map) if axis_map is not None else board.imu.axis_map
    if runtime is None:
        runtime = model_sources(
            tflite_bytes,
            model_interface(tflite_bytes, info),
            locate_sources(runtime_src),
            op_methods(),
            board.tflm.hot_kernels,
        )
    context = _context(tflite_bytes, contract, board, info.ops, mapping, axis_map is not None, selftest, sketch_name)
    context.update(
        arena=arena.to_dict(), fit=fit.to_dict(), fit_summary=fit.summary(), runtime=_runtime_context(runtime)
    )
    files = _render(context, sketch_name, selftest is not None)
    files.update(runtime.files)
    files.update({f"{TREE_DIR}/{name}": data for name, data in runtime.tree.files.items()})
    files[SKETCH_MANIFEST] = _manifest(context, files, quant.input_scale, quant.output_scale)
    return _write_sketch(Path(out_dir), sketch_name, files, force)


def _require_quant(contract: Contract) -> Any:
    if contract.quant is None:
        raise EdgekitError("contract has no quantization section; run 'edgekit quantize RUN_DIR' first")
    return contract.quant


def _check_model(tflite_bytes: bytes, contract: Contract) -> Any:
    """The .tflite and the contract must describe the same model; each mismatch says what to re-run."""
    from .runtimes import inspect_tflite

    quant = _require_quant(contract)
    _check_contract(contract)
    info = inspect_tflite(tflite_bytes)
    rerun = "re-run 'edgekit quantize RUN_DIR' so contract and model agree"
    digest = sha256_bytes(tflite_bytes)
    if quant.tflite_sha256 and quant.tflite_sha256 != digest:
        raise EdgekitError(
            f"model sha256 {digest[:16]} differs from the contract's {quant.tflite_sha256[:16]}; {rerun}"
        )
    if info.input.shape != [1, contract.n_features]:
        raise EdgekitError(f"model input shape {info.input.shape} is not [1, {contract.n_features}]; {rerun}")
    if info.output.shape != [1, len(contract.labels)]:
        raise EdgekitError(f"model output shape {info.output.shape} is not [1, {len(contract.labels)}] labels; {rerun}")
    for role, tensor, scale, zero_point in (
        ("input", info.input, quant.input_scale, quant.input_zero_point),
        ("output", info.output, quant.output_scale, quant.output_zero_point),
    ):
        if tensor.zero_point != zero_point or np.float32(tensor.scale) != np.float32(scale):
            raise EdgekitError(
                f"model {role} quantization ({tensor.scale}, {tensor.zero_point}) differs from the contract's "
                f"({scale}, {zero_point}); {rerun}"
            )
    if quant.ops and sorted(set(quant.ops)) != info.ops:
        raise EdgekitError(f"contract ops {sorted(set(quant.ops))} differ from the model's {info.ops}; {rerun}")
    resolver_ops(info.ops)
    return info


def _check_contract(contract: Contract) -> None:
    if contract.units != "m/s^2":
        raise EdgekitError(
            f"contract units '{contract.units}': the firmware needs normalisation statistics in m/s^2; "
            "train on raw data (or with --norm-from a calibration recording)"
        )
    if list(contract.axes) != list(AXES):
        raise EdgekitError(f"contract axes {contract.axes}: the firmware supports x, y, z only")
    for name in ("mean", "std", "clip_low", "clip_high"):
        values = getattr(contract, name)
        if len(values) != 3 or not all(math.isfinite(float(v)) for v in values):
            raise EdgekitError(f"contract {name} {values}: needs 3 finite numbers; re-run 'edgekit train'")
    if not all(float(s) > 0 for s in contract.std):
        raise EdgekitError(f"contract std {contract.std}: must be positive; re-run 'edgekit train'")
    if not 1 <= contract.hop <= contract.window:
        raise EdgekitError(f"contract hop {contract.hop}: must be 1..window ({contract.window})")
    period = 1000.0 / float(contract.rate_hz)
    if abs(period - round(period)) > 1e-6:
        raise EdgekitError(f"contract rate {contract.rate_hz} Hz: the firmware needs a whole-millisecond period")
    bad = [label for label in contract.labels if not _LABEL.fullmatch(label)]
    if bad:
        raise EdgekitError(
            f"labels {bad}: use letters, digits, spaces and _ . / + ( ) - only (they go into PRED lines)"
        )


def _check_board(board: Board, contract: Contract) -> None:
    if board.sampler == "none" or board.tflm is None:
        raise EdgekitError(
            f"--board {board.name}: edgekit cannot build TFLM firmware for {board.title}; pick another board"
        )
    if board.imu is None:
        raise EdgekitError(f"--board {board.name}: {board.title} has no on-board IMU; pick another board")
    if board.imu.native_rate_hz < contract.rate_hz:
        raise EdgekitError(
            f"--board {board.name}: IMU runs at {board.imu.native_rate_hz:g} Hz, "
            f"below the model's {contract.rate_hz:g} Hz"
        )


_c_float = c_float


def _hex_lines(data: bytes, per_line: int = 12) -> list[str]:
    return [", ".join(f"0x{b:02x}" for b in data[i : i + per_line]) + "," for i in range(0, len(data), per_line)]


def _int_lines(values: np.ndarray, per_line: int = 24) -> list[str]:
    flat = [int(v) for v in np.asarray(values).ravel()]
    return [", ".join(str(v) for v in flat[i : i + per_line]) + "," for i in range(0, len(flat), per_line)]


def _context(
    tflite_bytes: bytes,
    contract: Contract,
    board: Board,
    ops: list[str],
    mapping: tuple[str, str, str],
    overridden: bool,
    selftest: Selftest | None,
    sketch_name: str,
) -> dict[str, Any]:
    assert board.imu is not None and board.tflm is not None
    quant = _require_quant(contract)
    digest = sha256_bytes(tflite_bytes)
    axis_words = [("-" if neg else "") + f"board {AXES[axis]}" for axis, neg in axis_map_sources(mapping)]
    colours = [_PALETTE[i % len(_PALETTE)] for i in range(len(contract.labels))]
    context: dict[str, Any] = {
        **protocol.template_context(),
        "edgekit_version": __version__,
        "sketch_name": sketch_name,
        "board_name": board.name,
        "board_title": board.title,
        "fqbn": board.fqbn,
        "platform": board.platform,
        "platform_version": board.platform_version,
        "libraries": [asdict(lib) for lib in board.libraries],
        "imu_header": board.imu.library.header,
        "imu_object": board.imu.object,
        "imu_not_found": board.imu.not_found,
        "imu_units": board.imu.units,
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
        "rate_hz": f"{contract.rate_hz:g}",
        "rate_hz_f": _c_float(contract.rate_hz, "contract.rate_hz"),
        "hop_seconds": f"{contract.hop / contract.rate_hz:g}",
        "sample_period_ms": contract.sample_period_ms,
        "labels": list(contract.labels),
        "standard_gravity": _c_float(STANDARD_GRAVITY, "standard gravity"),
        "units_to_ms2": _c_float(units_to_ms2(board.imu.units), "IMU units"),
        "axis_map_text": ",".join(mapping),
        "axis_map_source": "--axis-map" if overridden else "board default",
        "axis_map_words": ", ".join(axis_words),
        "axis_note": board.imu.mounting,
        "axis_sources": [
            {"axis": axis, "negate": neg, "model_axis": AXES[i], "text": mapping[i]}
            for i, (axis, neg) in enumerate(axis_map_sources(mapping))
        ],
        "clip_low": [_c_float(v, "contract.clip_low") for v in contract.clip_low],
        "clip_high": [_c_float(v, "contract.clip_high") for v in contract.clip_high],
        "mean": [_c_float(v, "contract.mean") for v in contract.mean],
        "std": [_c_float(v, "contract.std") for v in contract.std],
        "input_scale": _c_float(quant.input_scale, "input scale"),
        "input_zero_point": int(quant.input_zero_point),
        "output_scale": _c_float(quant.output_scale, "output scale"),
        "output_zero_point": int(quant.output_zero_point),
        "ops": resolver_ops(ops),
        "model_len": len(tflite_bytes),
        "model_sha256": digest,
        "model_source": "the run's int8 .tflite",
        "model_hex_lines": _hex_lines(tflite_bytes),
        "queue_capacity": QUEUE_CAPACITY,
        "sampler_stack_bytes": SAMPLER_STACK_BYTES,
        "sensor_check_samples": SENSOR_CHECK_SAMPLES,
        "sensor_check_seconds": f"{SENSOR_CHECK_SAMPLES * contract.sample_period_ms / 1000:g}",
        "rest_tolerance": _c_float(REST_TOLERANCE_MS2, "rest tolerance"),
        "rate_tolerance": _c_float(RATE_TOLERANCE, "rate tolerance"),
        "error_repeat_s": 2,
        "selftest_count": len(selftest) if selftest is not None else 0,
        "selftest_tolerance": int(selftest.tolerance) if selftest is not None else 0,
        "selftest_inputs": [_int_lines(row) for row in selftest.inputs] if selftest is not None else [],
        "selftest_expected": [", ".join(str(int(v)) for v in row) for row in selftest.expected]
        if selftest is not None
        else [],
    }
    return context


def _runtime_context(runtime: BoardModel) -> dict[str, Any]:
    """What the sketch's README and manifest say about the runtime it ships."""
    return {
        "dir": TREE_DIR,
        "sources": runtime.tree.sources,
        "tree_sha256": runtime.tree.sha256,
        "files": len(runtime.tree.files),
        "kernels": [{"op": k.op, "registration": k.registration, "source": k.source} for k in runtime.tree.kernels],
    }


BHY2_RANGES_G = (2, 4, 8, 16)  # what the BHI260AP accepts for its accelerometer (Arduino_BHY2 setRange)


def _imu_driver_context(board: Board) -> dict[str, Any]:
    """Template variables of the board's IMU driver block (firmware_templates/sketch/imu_<driver>.cpp.j2).

    The BHI260AP reports raw LSB at a range the firmware sets, so its scale is computed here from the
    board file's range rather than trusted to the library's default.
    """
    assert board.imu is not None
    imu = board.imu
    context: dict[str, Any] = {"imu_driver": imu.driver, "imu_chip": imu.chip}
    if imu.driver == "bhy2":
        if imu.range_g not in BHY2_RANGES_G:
            raise EdgekitError(
                f"--board {board.name}: imu.range {imu.range_g:g} g is not one the BHI260AP accepts; "
                f"use one of {', '.join(f'{r} g' for r in BHY2_RANGES_G)} in the board file"
            )
        context.update(
            imu_range_g=int(imu.range_g),
            imu_rate_hz=_c_float(imu.native_rate_hz, "imu.native_rate"),
            imu_g_per_lsb=_c_float(imu.range_g / 32768.0, "IMU g per LSB"),
        )
    return context


_TEMPLATES = (
    # (template, output name; {sketch} is replaced by the sketch name)
    ("sketch.ino.j2", "{sketch}.ino"),
    ("edgekit_app.cpp.j2", "edgekit_app.cpp"),
    ("edgekit_config.h.j2", CONFIG_HEADER),
    ("sketch.yaml.j2", "sketch.yaml"),
    ("platformio.ini.j2", "platformio.ini"),
    ("README.md.j2", "README.md"),
)
_SELFTEST_TEMPLATES = (("selftest_data.h.j2", "selftest_data.h"), ("selftest_data.cpp.j2", "selftest_data.cpp"))
_COPIED = (PIPELINE_HEADER, "edgekit_app.h")


def templates_dir() -> Path:
    return resource_dir("firmware_templates") / "sketch"


def _render(context: dict[str, Any], sketch_name: str, with_selftest: bool) -> dict[str, bytes]:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    files: dict[str, bytes] = {}
    templates = _TEMPLATES + (_SELFTEST_TEMPLATES if with_selftest else ())
    for template, name in templates:
        text = env.get_template(template).render(**context)
        files[name.format(sketch=sketch_name)] = text.encode("utf-8")
    for name in _COPIED:
        files[name] = (templates_dir() / name).read_bytes()
    return files


def _manifest(context: dict[str, Any], files: dict[str, bytes], input_scale: float, output_scale: float) -> bytes:
    """What the folder was generated from: lets the lead's manifest and a reviewer check it later."""
    manifest = {
        "kind": SKETCH_KIND,
        "edgekit": context["edgekit_version"],
        "sketch": context["sketch_name"],
        "board": context["board_name"],
        "fqbn": context["fqbn"],
        "platform": f"{context['platform']}@{context['platform_version']}",
        "libraries": {lib["name"]: lib["version"] for lib in context["libraries"]},
        "model": {"bytes": context["model_len"], "sha256": context["model_sha256"]},
        "input": {"scale": input_scale, "zero_point": context["input_zero_point"]},
        "output": {"scale": output_scale, "zero_point": context["output_zero_point"]},
        "arena": context["arena"],
        "ops": [op["name"] for op in context["ops"]],
        "axis_map": context["axis_map_text"],
        "axis_map_source": context["axis_map_source"],
        "labels": context["labels"],
        "selftest": {"windows": context["selftest_count"], "tolerance": context["selftest_tolerance"]},
        "runtime": {k: v for k, v in context["runtime"].items() if k != "kernels"},
        "fit": context["fit"],
        "files": {name: sha256_bytes(data) for name, data in sorted(files.items())},
    }
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _write_sketch(out_dir: Path, sketch_name: str, files: dict[str, bytes], force: bool = False) -> Path:
    """Stage the folder beside its destination and swap it in; only an unedited edgekit sketch is replaced."""
    target = out_dir / sketch_name
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgekitError(f"{out_dir}: is a file, not a folder; choose another output folder")
    if target.exists() and not _is_sketch(target):
        raise EdgekitError(f"{target}: exists and was not generated by edgekit; move it away or choose another --out")
    edited = sketch_edits(target) if target.exists() and not force else None
    if edited:
        raise EdgekitError(
            f"{target}: {', '.join(edited)} edited by hand since edgekit generated it; save your changes "
            "elsewhere, or pass --force to overwrite them"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    _recover_stale(out_dir, sketch_name)
    stage = make_sibling_dir(out_dir, f".{sketch_name}.stage-")
    try:
        for name, data in sorted(files.items()):
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_bytes(data)
        swap_into_place(stage, target, old_prefix=f".{sketch_name}.old-")
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return target


def _recover_stale(out_dir: Path, sketch_name: str) -> None:
    """After a killed run: put a displaced sketch back if none is in place, drop stages and leftovers."""
    restore_displaced(out_dir / sketch_name, f".{sketch_name}.old-", _is_sketch)
    for stage in sibling_leftovers(out_dir, f".{sketch_name}.stage-"):
        shutil.rmtree(stage, ignore_errors=True)


def _is_sketch(path: Path) -> bool:
    try:
        return json.loads((path / SKETCH_MANIFEST).read_text(encoding="utf-8")).get("kind") == SKETCH_KIND
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
        if sha256_bytes(path.read_bytes()) != digest:
            edited.append(str(name))
    if added:
        known = {str(name) for name in files} | {SKETCH_MANIFEST}
        for path in sorted(sketch.rglob("*")):
            rel = path.relative_to(sketch).as_posix()
            if path.is_file() and rel not in known and not any(part.startswith(".") for part in rel.split("/")):
                edited.append(rel)
    return edited
