"""Reading board files: TOML, validated key by key, with errors that name the file and the dotted key.

A typo in a board file would otherwise surface as a sketch that compiles and silently predicts from
the wrong axis, or a fit check that passes on numbers that were never read. Sizes and rates carry
their units in the file ("960 KiB", "64 MHz", "119 Hz", "4 g") so nobody has to guess whether a
number is bytes or kilobytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EdgekitError
from ..resources import TOMLDecodeError, load_toml, resource_dir
from .board import (
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
    _printable,
    parse_axis_map,
)

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
        data = load_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgekitError(f"{path}: cannot read board file ({exc})") from None
    except TOMLDecodeError as exc:
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
