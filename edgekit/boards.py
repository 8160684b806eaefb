"""Board files: what a target board is, what it can hold, and how its IMU's axes map to the model's.

A board is a TOML file under ``boards/`` (or any path). It is validated strictly on load, because a
typo in a board file would otherwise surface as a sketch that compiles and silently predicts from the
wrong axis, or a fit check that passes on numbers that were never read. Sizes and rates carry their
units in the file ("960 KiB", "64 MHz", "119 Hz", "4 g") so nobody has to guess whether a number is
bytes or kilobytes.

The fit check adds up flash (core + TFLM runtime + model + edgekit's own data) and RAM (core + tensor
arena + edgekit's buffers) against what the board's core lets a sketch use, and says what to try when
it does not fit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EdgekitError
from .resources import resource_dir

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

AXES = ("x", "y", "z")
SAMPLERS = ("mbed-rtos-thread", "none")
LED_KINDS = ("rgb", "single", "none")
IMU_UNITS = ("g", "m/s^2")
# How the firmware talks to the IMU (a per-driver block in the sketch templates): "arduino-imu" is the
# IMU.begin() / IMU.readAcceleration(x, y, z) API of the Arduino_LSM* and BMI270 libraries; "bhy2" is the
# Nicla Sense ME's BHI260AP sensor hub (BHY2.begin(), BHY2.update(), SensorXYZ in raw LSB).
IMU_DRIVERS = ("arduino-imu", "bhy2")

_SIZE_UNITS = {"B": 1, "KiB": 1024, "KB": 1024, "MiB": 1024**2, "MB": 1024**2}
_FREQ_UNITS = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6}
_QUANTITY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z][A-Za-z/^0-9]*)\s*", re.ASCII)
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENT_DASH = re.compile(r"[A-Za-z0-9_-]+")
_IDENT_OR_NUM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
_HEADER = re.compile(r"[A-Za-z0-9_./-]+\.h")
_VERSION = re.compile(r"\d+(\.\d+){1,3}")
_USB_ID = re.compile(r"([0-9A-Fa-f]{4}):([0-9A-Fa-f]{4})")
_MESSAGE = re.compile(r"[A-Za-z0-9_ .:;()+/-]+")  # goes into a C string and an EK,ERROR line: no quotes, commas
# Titles and notes go into C++ // comments, YAML comments and Markdown (headings, table cells): no backslash (a
# line continuation in C++), no '#', '|', '`', '*', '<', '>', '[', ']', '{', '}', quotes or '$'.
_PROSE = re.compile(r"[A-Za-z0-9 _.,:;()+/^'%=?!~-]+")
_NAME_FIX = "rename the file to lowercase letters, digits, '-' or '_' (up to 40, e.g. my-board.toml)"
SMALLEST_MODEL = "compact"  # edgekit.model's smallest architecture: what a board too small for a model is offered


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


# --------------------------------------------------------------------------- loading


def boards_dir() -> Path:
    return resource_dir("boards")


def list_boards() -> list[Board]:
    """Every shipped board, sorted by name (each one validated)."""
    return [load_board(name) for name in board_names()]


def board_names() -> list[str]:
    return sorted(path.stem for path in boards_dir().glob("*.toml"))


def load_board(name_or_path: str | Path) -> Board:
    """A shipped board by name ('nano33') or a board file by path; validated, or EdgekitError."""
    path = _locate(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgekitError(f"{path}: cannot read board file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise EdgekitError(f"{path}: not valid TOML ({exc}); fix the board file") from None
    except RecursionError:  # tomllib recurses per nesting level of arrays and inline tables
        raise EdgekitError(f"{path}: not valid TOML (nested too deeply); fix the board file") from None
    return _Parser(path, data).board()


def _locate(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text)
        if not path.is_file():
            raise EdgekitError(f"--board {text}: board file not found; pass one of {', '.join(board_names())}")
        return path
    path = boards_dir() / f"{text}.toml"
    if not _NAME.fullmatch(text) or not path.is_file():
        raise EdgekitError(f"--board {text}: unknown board; choose one of {', '.join(board_names())}")
    return path


EMULATORS = ("cortex-m4", "cortex-m0plus", "none")  # edgekit.runtime.toolchain.TARGETS, or none
HOT_KERNELS = ("Os", "O2")  # optimisation of the CMSIS-NN sources in the sketch (edgekit.runtime.tree)
_SCHEMA: dict[str, tuple[set[str], set[str]]] = {
    # section: (required keys, optional keys); "" is the top level
    "": ({"title", "mcu", "memory", "reserved", "arduino", "led", "platformio"}, {"tflm", "imu", "usb"}),
    "mcu": ({"part", "core", "clock", "fpu"}, set()),
    "memory": ({"flash", "ram", "app_flash", "app_ram"}, set()),
    "reserved": ({"flash", "ram", "source"}, set()),
    "arduino": ({"fqbn", "platform", "platform_version", "sampler"}, set()),
    "tflm": ({"emulator"}, {"hot_kernels"}),
    "imu": (
        {
            "chip",
            "library",
            "version",
            "header",
            "object",
            "class",
            "units",
            "range",
            "native_rate",
            "axis_map",
            "mounting",
            "not_found",
        },
        {"driver", "extra_libraries"},
    ),
    "led": ({"kind", "pins", "active_low"}, set()),
    "platformio": ({"platform", "board", "framework"}, set()),
    "usb": ({"ids"}, set()),
}


@dataclass
class _Parser:
    """Reads one board file; every error names the file and the dotted key."""

    path: Path
    data: dict[str, Any]
    _checked: set[str] = field(default_factory=set)

    def fail(self, key: str, problem: str) -> EdgekitError:
        return EdgekitError(_printable(f"{self.path}: {key}: {problem}"))

    def section(self, name: str) -> dict[str, Any] | None:
        table = self.data if name == "" else self.data.get(name)
        if table is None:
            return None
        where = name or "(top level)"
        if not isinstance(table, dict):
            raise self.fail(where, "must be a table like [" + name + "]")
        required, optional = _SCHEMA[name]
        for key in sorted(table):
            if key not in required | optional:
                allowed = ", ".join(sorted(required | optional))
                raise self.fail(_dotted(name, key), f"unknown key; allowed keys here: {allowed}")
        for key in sorted(required - set(table)):
            raise self.fail(_dotted(name, key), "missing; add it to the board file")
        return table

    def string(self, name: str, key: str, pattern: re.Pattern[str] | None = None) -> str:
        value = self.data[name][key] if name else self.data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(_dotted(name, key), "must be a non-empty string")
        if not value.isprintable():  # board texts end up in C++ comments and strings: a newline would break out
            raise self.fail(_dotted(name, key), "must be one line of printable text (no newlines, no control codes)")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.fail(_dotted(name, key), _not_allowed(value, pattern))
        return value

    def boolean(self, name: str, key: str) -> bool:
        value = self.data[name][key]
        if not isinstance(value, bool):
            raise self.fail(_dotted(name, key), "must be true or false")
        return value

    def quantity(self, name: str, key: str, units: Mapping[str, float], what: str) -> float:
        value = self.data[name][key]
        match = _QUANTITY.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise self.fail(_dotted(name, key), f"'{value}' is not a {what} like '1 {next(iter(units))}'")
        number, unit = match.groups()
        if unit not in units:
            raise self.fail(_dotted(name, key), f"unknown unit '{unit}'; use one of {', '.join(units)}")
        result = float(number) * units[unit]
        if not 0 < result < 1e15:  # zero, or so many digits that it is a typo (float('9' * 400) is inf)
            raise self.fail(_dotted(name, key), f"'{value}' is out of range; give a {what} above 0 and below 1e15")
        return result

    def size(self, name: str, key: str) -> int:
        value = self.quantity(name, key, _SIZE_UNITS, "size")
        if value != math.floor(value) or value <= 0:
            raise self.fail(_dotted(name, key), f"'{self.data[name][key]}' is not a whole positive number of bytes")
        return int(value)

    def board(self) -> Board:
        self.section("")
        for name in ("mcu", "memory", "reserved", "arduino", "led", "platformio"):
            self.section(name)
        has_tflm = self.section("tflm") is not None
        has_imu = self.section("imu") is not None
        board = Board(
            name=self.name(),
            title=self.string("", "title", _PROSE),
            path=self.path,
            mcu=self.string("mcu", "part", _PROSE),
            core=self.string("mcu", "core", _PROSE),
            clock_hz=int(self.quantity("mcu", "clock", _FREQ_UNITS, "frequency")),
            fpu=self.boolean("mcu", "fpu"),
            flash_bytes=self.size("memory", "flash"),
            ram_bytes=self.size("memory", "ram"),
            app_flash_bytes=self.size("memory", "app_flash"),
            app_ram_bytes=self.size("memory", "app_ram"),
            reserved_flash_bytes=self.size("reserved", "flash"),
            reserved_ram_bytes=self.size("reserved", "ram"),
            reserved_source=self.string("reserved", "source"),
            fqbn=self.string("arduino", "fqbn", re.compile(r"[a-z0-9_]+:[a-z0-9_]+:[a-z0-9_]+")),
            platform=self.string("arduino", "platform", re.compile(r"[a-z0-9_]+:[a-z0-9_]+")),
            platform_version=self.string("arduino", "platform_version", _VERSION),
            sampler=self.choice("arduino", "sampler", SAMPLERS),
            tflm=self.tflm() if has_tflm else None,
            imu=self.imu() if has_imu else None,
            led=self.led(),
            pio_platform=self.string("platformio", "platform", _IDENT_DASH),
            pio_board=self.string("platformio", "board", _IDENT_DASH),
            pio_framework=self.string("platformio", "framework", _IDENT_DASH),
            usb_ids=self.usb_ids() if self.section("usb") is not None else (),
        )
        self.check_consistency(board)
        return board

    def name(self) -> str:
        """The file's stem, which becomes the sketch.yaml profile, the [env:...] of platformio.ini and C++ comments.

        Checked like a --board name, because a stem with a newline or a '#' would write code into the sketch.
        """
        stem = self.path.stem
        if not _NAME.fullmatch(stem):
            raise EdgekitError(_printable(f"{self.path}: board file name '{stem}' is not a board name; {_NAME_FIX}"))
        return stem

    def choice(self, name: str, key: str, choices: tuple[str, ...]) -> str:
        value = self.string(name, key)
        if value not in choices:
            raise self.fail(_dotted(name, key), f"'{value}' is not one of {', '.join(choices)}")
        return value

    def tflm(self) -> TflmRuntime:
        hot = self.choice("tflm", "hot_kernels", HOT_KERNELS) if "hot_kernels" in self.data["tflm"] else "Os"
        return TflmRuntime(emulator=self.choice("tflm", "emulator", EMULATORS), hot_kernels=hot)

    def imu(self) -> Imu:
        try:
            axis_map = parse_axis_map(self.data["imu"]["axis_map"], source=f"{self.path}: imu.axis_map")
        except (AttributeError, TypeError):
            raise self.fail("imu.axis_map", 'must be a list like ["-y", "x", "z"]') from None
        if isinstance(self.data["imu"]["axis_map"], str):
            raise self.fail("imu.axis_map", 'must be a list like ["-y", "x", "z"], not a string')
        return Imu(
            chip=self.string("imu", "chip", _IDENT),
            library=Library(
                name=self.string("imu", "library", _IDENT),
                version=self.string("imu", "version", _VERSION),
                header=self.string("imu", "header", _HEADER),
            ),
            object=self.string("imu", "object", _IDENT),
            class_name=self.string("imu", "class", _IDENT),
            units=self.choice("imu", "units", IMU_UNITS),
            range_g=self.quantity("imu", "range", {"g": 1.0}, "range"),
            native_rate_hz=self.quantity("imu", "native_rate", _FREQ_UNITS, "rate"),
            axis_map=axis_map,
            mounting=self.string("imu", "mounting", _PROSE),
            not_found=self.string("imu", "not_found", _MESSAGE),
            driver=self.choice("imu", "driver", IMU_DRIVERS) if "driver" in self.data["imu"] else "arduino-imu",
            extra_libraries=self.extra_libraries(),
        )

    def extra_libraries(self) -> tuple[Library, ...]:
        """[[imu.extra_libraries]] tables: name, version, header, each checked like the IMU library's."""
        tables = self.data["imu"].get("extra_libraries", [])
        usage = "must be [[imu.extra_libraries]] tables with name, version and header"
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise self.fail("imu.extra_libraries", usage)
        libraries = []
        for i, table in enumerate(tables):
            if set(table) != {"name", "version", "header"}:
                raise self.fail(f"imu.extra_libraries[{i}]", f"{usage} (got keys {', '.join(sorted(table))})")
            where = f"imu.extra_libraries[{i}]"
            checked = _Parser(self.path, {where: table})
            libraries.append(
                Library(
                    name=checked.string(where, "name", _IDENT),
                    version=checked.string(where, "version", _VERSION),
                    header=checked.string(where, "header", _HEADER),
                )
            )
        return tuple(libraries)

    def usb_ids(self) -> tuple[UsbId, ...]:
        """[usb] ids: "VID:PID" strings in hex, e.g. ["2341:805A", "2341:005A"]; port detection matches them."""
        ids = self.data["usb"]["ids"]
        matches = [_USB_ID.fullmatch(i) if isinstance(i, str) else None for i in ids] if isinstance(ids, list) else []
        if not matches or not all(matches):
            raise self.fail("usb.ids", 'must be a non-empty list of "VID:PID" hex strings, like ["2341:805A"]')
        return tuple(dict.fromkeys(UsbId(int(m.group(1), 16), int(m.group(2), 16)) for m in matches if m))

    def led(self) -> Led:
        kind = self.choice("led", "kind", LED_KINDS)
        pins = self.data["led"]["pins"]
        if not isinstance(pins, list) or not all(isinstance(p, str) and _IDENT_OR_NUM.fullmatch(p) for p in pins):
            raise self.fail("led.pins", 'must be a list of pin names or numbers as strings, like ["LEDR"]')
        expected = {"rgb": 3, "single": 1, "none": 0}[kind]
        if len(pins) != expected:
            raise self.fail("led.pins", f"a '{kind}' LED needs {expected} pins, got {len(pins)}")
        return Led(kind=kind, pins=tuple(pins), active_low=self.boolean("led", "active_low"))

    def check_consistency(self, board: Board) -> None:
        if board.app_flash_bytes > board.flash_bytes:
            raise self.fail("memory.app_flash", "is larger than memory.flash")
        if board.app_ram_bytes > board.ram_bytes:
            raise self.fail("memory.app_ram", "is larger than memory.ram")
        if board.reserved_flash_bytes >= board.app_flash_bytes:
            raise self.fail("reserved.flash", "leaves no flash for a model")
        if board.reserved_ram_bytes >= board.app_ram_bytes:
            raise self.fail("reserved.ram", "leaves no RAM for a tensor arena")


def _not_allowed(value: str, pattern: re.Pattern[str]) -> str:
    """Why ``value`` is refused: for free text, which characters to remove (they would break out of a C++ comment,
    a YAML comment or a Markdown table the text is written into)."""
    if pattern is _PROSE:
        bad = "".join(sorted({c for c in value if not pattern.fullmatch(c)}))
        return f"'{value}' has characters that cannot go into the sketch ({bad}); remove them"
    return f"'{value}' has characters that are not allowed here; fix the board file"


def _dotted(section: str, key: str) -> str:
    return f"{section}.{key}" if section else key


# --------------------------------------------------------------------------- fit check


@dataclass(frozen=True)
class FitReport:
    """Flash and RAM the sketch needs on a board, item by item, against what the board allows."""

    board: str
    flash_items: dict[str, int]
    ram_items: dict[str, int]
    flash_capacity: int
    ram_capacity: int
    alternatives: tuple[str, ...] = ()

    @property
    def flash_used(self) -> int:
        return sum(self.flash_items.values())

    @property
    def ram_used(self) -> int:
        return sum(self.ram_items.values())

    @property
    def flash_pct(self) -> float:
        return 100.0 * self.flash_used / self.flash_capacity

    @property
    def ram_pct(self) -> float:
        return 100.0 * self.ram_used / self.ram_capacity

    @property
    def fits(self) -> bool:
        return self.flash_used <= self.flash_capacity and self.ram_used <= self.ram_capacity

    def to_dict(self) -> dict[str, Any]:
        return {
            "board": self.board,
            "fits": self.fits,
            "flash": {
                "used": self.flash_used,
                "capacity": self.flash_capacity,
                "pct": round(self.flash_pct, 1),
                "items": dict(self.flash_items),
            },
            "ram": {
                "used": self.ram_used,
                "capacity": self.ram_capacity,
                "pct": round(self.ram_pct, 1),
                "items": dict(self.ram_items),
            },
        }

    def summary(self) -> str:
        return (
            f"board {self.board}: flash {_fmt(self.flash_used)} of {_fmt(self.flash_capacity)} "
            f"({self.flash_pct:.1f}%), RAM {_fmt(self.ram_used)} of {_fmt(self.ram_capacity)} ({self.ram_pct:.1f}%)"
        )

    def raise_if_not_fit(self, model: str | None = None) -> None:
        """EdgekitError with the numbers, what takes the space and what to try.

        ``model`` is the architecture the user chose, when known: the advice must not be to pick it again.
        """
        if self.fits:
            return
        problems = []
        if self.flash_used > self.flash_capacity:
            problems.append(
                f"flash {_fmt(self.flash_used)} > {_fmt(self.flash_capacity)} ({self.flash_pct:.0f}%: "
                f"{_items(self.flash_items)})"
            )
        if self.ram_used > self.ram_capacity:
            problems.append(
                f"RAM {_fmt(self.ram_used)} > {_fmt(self.ram_capacity)} ({self.ram_pct:.0f}%: {_items(self.ram_items)})"
            )
        raise EdgekitError(
            f"--board {self.board}: the model does not fit: {'; '.join(problems)}; {self._advice(model)}"
        )

    def _advice(self, model: str | None) -> str:
        """What to try: the smaller model unless it is already the one, and the boards the model fits on."""
        boards = ", ".join(self.alternatives)
        if model != SMALLEST_MODEL:
            elsewhere = f" or a board it fits: {boards}" if boards else ""
            return f"try a smaller model (--model {SMALLEST_MODEL}){elsewhere}"
        if boards:
            return f"--model {SMALLEST_MODEL} is already the smallest model; try a board it fits: {boards}"
        return (
            f"--model {SMALLEST_MODEL} is already the smallest model; pick a board with more flash and RAM "
            "(see 'edgekit boards')"
        )


def _fmt(n: int) -> str:
    return f"{n:,} B"


def _items(items: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in items.items())


def fit_check(
    board: Board,
    model_bytes: int,
    arena_bytes: int,
    extra_ram_bytes: int = 0,
    extra_flash_bytes: int = 0,
) -> FitReport:
    """Does a model of ``model_bytes`` with an ``arena_bytes`` tensor arena fit on ``board``?

    ``extra_*`` are edgekit's own buffers and tables (see :func:`edgekit.firmware.sketch_fit`, which fills
    them in). Boards it would fit on are listed so the error can say where to go instead.
    """
    for name, value in (
        ("model_bytes", model_bytes),
        ("arena_bytes", arena_bytes),
        ("extra_ram_bytes", extra_ram_bytes),
        ("extra_flash_bytes", extra_flash_bytes),
    ):
        if value < 0:
            raise EdgekitError(f"fit check: {name} is negative ({value})")
    report = _report(board, model_bytes, arena_bytes, extra_ram_bytes, extra_flash_bytes)
    if report.fits:
        return report
    alternatives = []
    for other in list_boards():
        if other.name != board.name and other.sampler != "none" and other.imu is not None:
            if _report(other, model_bytes, arena_bytes, extra_ram_bytes, extra_flash_bytes).fits:
                alternatives.append(f"--board {other.name}")
    return FitReport(
        report.board,
        report.flash_items,
        report.ram_items,
        report.flash_capacity,
        report.ram_capacity,
        tuple(alternatives),
    )


def _report(board: Board, model: int, arena: int, extra_ram: int, extra_flash: int) -> FitReport:
    flash = {"core+runtime": board.reserved_flash_bytes, "model": model}
    ram = {"core+runtime": board.reserved_ram_bytes, "arena": arena}
    if extra_flash:
        flash["edgekit"] = extra_flash
    if extra_ram:
        ram["edgekit"] = extra_ram
    return FitReport(board.name, flash, ram, board.app_flash_bytes, board.app_ram_bytes)
