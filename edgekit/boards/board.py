"""What a board is: the typed record a board file becomes, and how its IMU's axes map to the model's.

Sizes are bytes and rates are Hz here; the units a board file writes them in are read by
:mod:`edgekit.boards.files`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import EdgekitError

AXES = ("x", "y", "z")
SAMPLERS = ("mbed-rtos-thread", "none")
LED_KINDS = ("rgb", "single", "none")
IMU_UNITS = ("g", "m/s^2")
# How the firmware talks to the IMU (a per-driver block in the sketch templates): "arduino-imu" is the
# IMU.begin() / IMU.readAcceleration(x, y, z) API of the Arduino_LSM* and BMI270 libraries; "bhy2" is the
# Nicla Sense ME's BHI260AP sensor hub (BHY2.begin(), BHY2.update(), SensorXYZ in raw LSB).
IMU_DRIVERS = ("arduino-imu", "bhy2")


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Library:
    """An Arduino library the sketch depends on, pinned to one version."""

    name: str
    version: str
    header: str


@dataclass(frozen=True)
class TflmRuntime:
    """How the board runs the model: edgekit's pinned TFLM, and the emulated core that stands for it."""

    emulator: str  # a target of edgekit.runtime.toolchain ("cortex-m4", "cortex-m0plus") or "none"
    hot_kernels: str = "Os"  # "O2": CMSIS-NN's sources carry #pragma GCC optimize("O2") (faster, a little larger)


@dataclass(frozen=True)
class Imu:
    """The on-board accelerometer as its Arduino library presents it."""

    chip: str
    library: Library
    object: str  # global instance, e.g. "IMU"
    class_name: str
    units: str  # what readAcceleration() returns: "g" or "m/s^2"
    range_g: float
    native_rate_hz: float
    axis_map: tuple[str, str, str]  # model axis x, y, z <- signed board axis
    mounting: str  # how to wear the board for axis_map to hold (goes into the sketch README)
    not_found: str  # EK,ERROR text when begin() fails
    driver: str = "arduino-imu"  # one of IMU_DRIVERS
    extra_libraries: tuple[Library, ...] = ()  # what the IMU library includes and a sketch.yaml must pin too


@dataclass(frozen=True)
class Led:
    kind: str  # "rgb", "single" or "none"
    pins: tuple[str, ...]
    active_low: bool


@dataclass(frozen=True, order=True)
class UsbId:
    """A USB vendor:product id pair, as ``lsusb`` prints it and PlatformIO's board ``hwids`` list it."""

    vid: int
    pid: int

    def __str__(self) -> str:
        return f"{self.vid:04X}:{self.pid:04X}"


@dataclass(frozen=True)
class Board:
    """A validated board file."""

    name: str
    title: str
    path: Path
    mcu: str
    core: str
    clock_hz: int
    fpu: bool
    flash_bytes: int
    ram_bytes: int
    app_flash_bytes: int
    app_ram_bytes: int
    reserved_flash_bytes: int
    reserved_ram_bytes: int
    reserved_source: str
    fqbn: str
    platform: str
    platform_version: str
    sampler: str
    tflm: TflmRuntime | None
    imu: Imu | None
    led: Led
    pio_platform: str
    pio_board: str
    pio_framework: str
    usb_ids: tuple[UsbId, ...] = ()  # how the board enumerates (sketch running, bootloader); () = not listed

    @property
    def libraries(self) -> list[Library]:
        """Every pinned library the sketch needs (TFLM is not one: the sketch ships it in src/tflm)."""
        return [self.imu.library, *self.imu.extra_libraries] if self.imu else []

    @property
    def model_flash_budget(self) -> int:
        """Flash left for the model and edgekit's data once the core and runtime are in."""
        return self.app_flash_bytes - self.reserved_flash_bytes

    @property
    def model_ram_budget(self) -> int:
        """RAM left for the tensor arena and edgekit's buffers."""
        return self.app_ram_bytes - self.reserved_ram_bytes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (what ``edgekit boards --json`` prints)."""
        return {
            "name": self.name,
            "title": self.title,
            "mcu": self.mcu,
            "core": self.core,
            "clock_hz": self.clock_hz,
            "flash_bytes": self.flash_bytes,
            "ram_bytes": self.ram_bytes,
            "app_flash_bytes": self.app_flash_bytes,
            "app_ram_bytes": self.app_ram_bytes,
            "reserved_flash_bytes": self.reserved_flash_bytes,
            "reserved_ram_bytes": self.reserved_ram_bytes,
            "reserved_source": self.reserved_source,
            "model_flash_budget": self.model_flash_budget,
            "model_ram_budget": self.model_ram_budget,
            "fqbn": self.fqbn,
            "platform": f"{self.platform}@{self.platform_version}",
            "libraries": {lib.name: lib.version for lib in self.libraries},
            "imu": self.imu.chip if self.imu else None,
            "axis_map": ",".join(self.imu.axis_map) if self.imu else None,
            "sampler": self.sampler,
            "platformio": {"platform": self.pio_platform, "board": self.pio_board},
            "usb_ids": [str(usb_id) for usb_id in self.usb_ids],
        }


# --------------------------------------------------------------------------- axis maps


def parse_axis_map(text: str | list[str] | tuple[str, ...], source: str = "--axis-map") -> tuple[str, str, str]:
    """'-y,x,z' (or a list) -> ('-y', 'x', 'z'): model axis i takes the signed board axis at position i.

    Each board axis must be used exactly once, because a mapping that repeats an axis throws away a
    dimension of motion and cannot be what the user meant.
    """
    items = [p.strip() for p in text.split(",")] if isinstance(text, str) else [str(p).strip() for p in text]
    example = "use three signed board axes like '-y,x,z'"
    if len(items) != 3:
        raise EdgekitError(f"{source} '{_show(text)}': needs 3 comma-separated axes, got {len(items)}; {example}")
    seen: list[str] = []
    for item in items:
        axis = item[1:] if item[:1] in "+-" else item
        if axis not in AXES:
            raise EdgekitError(
                f"{source} '{_show(text)}': '{_show(item)}' is not x, y or z (optionally signed); {example}"
            )
        seen.append(axis)
    if sorted(seen) != list(AXES):
        raise EdgekitError(f"{source} '{_show(text)}': each of x, y, z must appear exactly once; {example}")
    return tuple(item.lstrip("+") for item in items)  # type: ignore[return-value]


def _show(text: str | list[str] | tuple[str, ...]) -> str:
    return _printable(text if isinstance(text, str) else ",".join(str(t) for t in text))


def _printable(text: str) -> str:
    """``text`` with control characters escaped ('\\n'), so an error quoting the user's input stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def axis_map_sources(axis_map: tuple[str, str, str]) -> list[tuple[int, bool]]:
    """('-y','x','z') -> [(1, True), (0, False), (2, False)]: (board axis index, negate) per model axis."""
    return [(AXES.index(item.lstrip("-")), item.startswith("-")) for item in axis_map]
