"""Board files: what a target board is, what it can hold, and how its IMU's axes map to the model's.

A board is a TOML file under ``boards/`` (or any path), validated strictly on load. One module per
part: :mod:`.board` (the typed :class:`Board` and axis maps), :mod:`.files` (reading and checking a
board file), :mod:`.fit` (does a model fit, and where else it would).
"""

from __future__ import annotations

from .board import (
    AXES,
    IMU_DRIVERS,
    IMU_UNITS,
    LED_KINDS,
    SAMPLERS,
    Board,
    Imu,
    Led,
    Library,
    TflmRuntime,
    UsbId,
    axis_map_sources,
    parse_axis_map,
)
from .files import EMULATORS, HOT_KERNELS, board_names, boards_dir, list_boards, load_board
from .fit import SMALLEST_MODEL, FitReport, fit_check

__all__ = [
    "AXES",
    "EMULATORS",
    "HOT_KERNELS",
    "IMU_DRIVERS",
    "IMU_UNITS",
    "LED_KINDS",
    "SAMPLERS",
    "SMALLEST_MODEL",
    "Board",
    "FitReport",
    "Imu",
    "Led",
    "Library",
    "TflmRuntime",
    "UsbId",
    "axis_map_sources",
    "board_names",
    "boards_dir",
    "fit_check",
    "list_boards",
    "load_board",
    "parse_axis_map",
]
