"""The sample-to-int8 arithmetic of ``har_pipeline.h``, in Python, for tests and the self-test windows.

It exists twice on purpose: in ``har_pipeline.h`` for the board and in :func:`reference_int8_windows`
here, which reuses the very functions parity feeds the desktop interpreters with
(:func:`edgekit.data.prepare.model_inputs` and :func:`edgekit.runtimes.quantize_input`). The tests
compile the header on the desktop and under QEMU and demand identical int8 windows, which is what makes
a desktop parity result a statement about the board.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..boards import axis_map_sources
from ..contract import STANDARD_GRAVITY, Contract
from ..errors import EdgekitError
from .checks import require_quant


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
    for i, (axis, negate) in enumerate(axis_map_sources(_three(axis_map))):
        ms2 = board[:, axis] * factor
        out[:, i] = -ms2 if negate else ms2
    return out


def model_to_board_axes(model_xyz: np.ndarray, axis_map: Sequence[str], imu_units: str = "g") -> np.ndarray:
    """The inverse, for tests and simulations: what the IMU would report for a model-axis recording."""
    model = np.asarray(model_xyz, dtype=np.float32).reshape(-1, 3)
    factor = np.float32(units_to_ms2(imu_units))
    board = np.empty_like(model)
    for i, (axis, negate) in enumerate(axis_map_sources(_three(axis_map))):
        board[:, axis] = (-model[:, i] if negate else model[:, i]) / factor
    return board


def _three(axis_map: Sequence[str]) -> tuple[str, str, str]:
    x, y, z = axis_map
    return x, y, z


def window_starts(n: int, window: int, hop: int) -> np.ndarray:
    """Where the firmware's window buffer releases windows in a continuous stream of n samples."""
    return np.arange(0, max(n - window + 1, 0), hop, dtype=np.int64)


def reference_int8_windows(
    xyz_ms2: np.ndarray, contract: Contract, segment_lengths: Sequence[int] | None = None
) -> np.ndarray:
    """The int8 model inputs the firmware builds from a stream of model-axis samples in m/s^2.

    ``segment_lengths`` splits the stream into recordings the firmware sees one after another (its
    window buffer restarts for each, as it does after a gap in the samples); by default it is one
    continuous stream. Windows start every ``hop`` samples, oldest sample first, and go through the same
    ``model_inputs`` and ``quantize_input`` functions that feed parity's interpreters. (A NaN sample
    raises here; the firmware treats it as the axis' lower clip bound.)
    """
    from ..data.prepare import model_inputs
    from ..runtimes import quantize_input

    quant = require_quant(contract)
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
