"""What the firmware refuses before anything is written: a contract, model or board it cannot serve.

Each refusal names what to re-run or pick instead; they run before rendering, so a refused sketch never
replaces a good one.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ..artifacts import sha256_bytes
from ..boards import Board
from ..contract import AXES, Contract, Quantization, check_labels
from ..errors import EdgekitError
from .ops import resolver_ops

SKETCH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")


def require_quant(contract: Contract) -> Quantization:
    if contract.quant is None:
        raise EdgekitError("contract has no quantization section; run 'edgekit quantize RUN_DIR' first")
    return contract.quant


def check_sketch_name(sketch_name: str) -> None:
    if not SKETCH_NAME.fullmatch(sketch_name) or sketch_name.endswith("."):
        raise EdgekitError(
            f"sketch name '{sketch_name}': use letters, digits, '_', '.', '-' (up to 63, not ending in '.')"
        )


def check_model(tflite_bytes: bytes, contract: Contract) -> Any:
    """The .tflite and the contract must describe the same model; each mismatch says what to re-run."""
    from ..runtimes import inspect_tflite

    quant = require_quant(contract)
    check_contract(contract)
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


def check_contract(contract: Contract) -> None:
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
    check_labels(list(contract.labels), "contract")


def check_board(board: Board, contract: Contract) -> None:
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
