"""How much RAM and flash the sketch takes: the tensor arena, edgekit's own buffers, and the fit check."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from ..boards import Board, FitReport, fit_check, load_board
from ..contract import Contract
from ..errors import EdgekitError
from .checks import require_quant
from .selftest import Selftest
from .stack import SAMPLER_STACK_BYTES

ARENA_MARGIN_PCT = 10  # on top of the desktop measurement: allocator alignment, TFLM build differences
ARENA_ROUND_TO = 1024
QUEUE_CAPACITY = 32  # samples = 1.6 s at 20 Hz: the longest an inference may take before a sample is lost
EDGEKIT_CODE_FLASH = 12 * 1024  # edgekit_app.cpp + har_pipeline.h compiled for Cortex-M (estimate)
EDGEKIT_MISC_RAM = 1024  # globals, serial and LED state, interpreter pointers


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
        from ..desktop_arena import measure_arena

        measured, source = measure_arena(tflite_bytes), "measured by edgekit.firmware"
    if measured <= 0:
        raise EdgekitError(f"arena size {measured}: must be positive; re-run 'edgekit quantize RUN_DIR'")
    scratch = cmsis_scratch_bytes(tflite_bytes)
    wanted = measured * (100 + ARENA_MARGIN_PCT) / 100 + scratch
    total = int(math.ceil(wanted / ARENA_ROUND_TO) * ARENA_ROUND_TO)
    return ArenaPlan(measured, source, ARENA_MARGIN_PCT, scratch, ARENA_ROUND_TO, total)


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
    """The fit check for exactly the sketch :func:`edgekit.firmware.generate_firmware` would write."""
    board = load_board(board) if isinstance(board, str) else board
    arena = arena or plan_arena(tflite_bytes, require_quant(contract).arena_bytes)
    flash, ram = firmware_overhead(contract, selftest)
    return fit_check(board, len(tflite_bytes), arena.total, extra_ram_bytes=ram, extra_flash_bytes=flash)
