"""Never crash on bad input: every parser yields data, a counted skip, or one clear EdgekitError.

Each test mutates valid input (a WISDM raw line, a windows .npz, a board file, a firmware serial line,
a sketch.yaml, the --test-users and --axis-map option texts) and demands one of three outcomes:
parsed data that satisfies the parser's documented guarantees, a skip that is counted, or an
:class:`EdgekitError` whose message is a single line. Any other exception (IndexError, OverflowError,
RecursionError, ...) would reach the user as a traceback, and is what these tests exist to find.

The example counts keep the whole file well under a minute on a loaded 2-core machine; set
``EDGEKIT_FUZZ_SCALE`` (a multiplier, e.g. 20) for a longer hunt.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from helpers.fakeboard import SKETCH_YAML
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit import protocol
from edgekit.boards import boards_dir, load_board, parse_axis_map
from edgekit.data.npz import read_npz
from edgekit.data.prepare import parse_users
from edgekit.data.raw import MAX_ABS, read_raw
from edgekit.device.flash import read_profile
from edgekit.device.link import Event, LineError, LineSplitter, Link, Message, parse_line
from edgekit.device.monitor import Monitor
from edgekit.errors import EdgekitError
from edgekit.resources import load_toml

SCALE = float(os.environ.get("EDGEKIT_FUZZ_SCALE", "1"))
T = TypeVar("T")


def fuzz(examples: int) -> Callable[[T], T]:
    """Hypothesis settings for one fuzz test: ``examples`` x EDGEKIT_FUZZ_SCALE, no deadline."""
    return settings(
        max_examples=max(5, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def one_line_error(exc: EdgekitError) -> str:
    """The error contract: a non-empty message on one line (the CLI prints it after 'edgekit: error: ')."""
    text = str(exc)
    assert text.strip(), f"empty error message from {type(exc).__name__}"
    assert "\n" not in text and "\r" not in text, f"multi-line error: {text!r}"
    return text


def outcome(func: Callable[..., T], *args: Any) -> T | None:
    """``func(*args)``, or None after checking the EdgekitError it raised; anything else fails the test."""
    try:
        return func(*args)
    except EdgekitError as exc:
        one_line_error(exc)
        return None


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """One folder for the whole module: hypothesis calls each test many times, and tmp_path is per test."""
    with tempfile.TemporaryDirectory(prefix="edgekit-fuzz-") as tmp:
        yield Path(tmp)


# --------------------------------------------------------------------------- WISDM raw lines

GOOD_LINES = [
    b"33,Jogging,49105962326000,-0.6946377,12.680544,0.50395286;",
    b"1,Walking,1600000000000,1.5,-2,3;",
    b"7,Sitting,0,0,0,9.81;",
    b"12,Upstairs,-5,1e-3,2E1,-0.0;,",
]
TOKENS = [
    b"",
    b" ",
    b"NaN",
    b"nan",
    b"-inf",
    b"Infinity",
    b"1e400",
    b"-1e400",
    b"9" * 30,
    b"1" * 400,
    b"1e4",
    b"10000.0001",
    b"0x10",
    b"1_000",
    b"+5",
    b"--5",
    b"1.2.3",
    b".",
    b"e",
    b"\xd9\xa1\xd9\xa2",  # Arabic-Indic 12
    b"Walking",
    b'"Walking"',
    b"#",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"1e5",
    b"1.0",
]
NOISE = [
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\x00",
    b"\r",
    b"\r\n",
    b"\n",
    b";",
    b",",
    b";;",
    b",,",
    b"#",
    b'"',
    b"\t",
    b"\x0b",
    b"\x1c",
    b"\xc2\xa0",
    b"\xef\xbb\xbf",
]


@st.composite
def raw_line(draw: st.DrawFn) -> bytes:
    """A valid WISDM line with a few mutations of the kinds the real file has (and some it never had)."""
    line = draw(st.sampled_from(GOOD_LINES))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["truncate", "extra", "field", "noise", "drop_semicolon", "two", "drop_field"]))
        if kind == "truncate":
            line = line[: draw(st.integers(0, len(line)))]
        elif kind == "extra":
            line = line.rstrip(b";,") + b"," + draw(st.sampled_from(TOKENS)) + b";"
        elif kind == "field":
            fields = line.rstrip(b";,").split(b",")
            fields[draw(st.integers(0, len(fields) - 1))] = draw(st.sampled_from(TOKENS))
            line = b",".join(fields) + b";"
        elif kind == "noise":
            at = draw(st.integers(0, len(line)))
            line = line[:at] + draw(st.sampled_from(NOISE)) + line[at:]
        elif kind == "drop_semicolon":
            line = line.replace(b";", b"")
        elif kind == "two":
            line = line + draw(st.sampled_from(GOOD_LINES))
        else:
            fields = line.rstrip(b";,").split(b",")
            del fields[draw(st.integers(0, len(fields) - 1))]
            line = b",".join(fields) + b";"
    return line


@st.composite
def raw_file(draw: st.DrawFn) -> bytes:
    lines = draw(
        st.lists(st.one_of(raw_line(), st.sampled_from(GOOD_LINES), st.binary(max_size=40)), min_size=0, max_size=30)
    )
    end = draw(st.sampled_from([b"\n", b"\r\n", b""]))
    return draw(st.sampled_from([b"\n", b"\r\n"])).join(lines) + end


def _content_lines(data: bytes) -> int:
    """Physical lines with a letter or digit: each must give at least one record or one counted skip."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    return sum(1 for line in lines if re.search(rb"[A-Za-z0-9]", line))


@pytest.mark.slow  # hundreds of examples: the full suite's
@fuzz(600)
@given(data=raw_file(), packing=st.sampled_from(["plain", "gzip", "gzip-cut"]))
def test_raw_reader_never_crashes_and_never_drops_a_line_silently(scratch: Path, data: bytes, packing: str):
    if packing == "gzip":
        data = gzip.compress(data, mtime=0)
    elif packing == "gzip-cut":
        data = gzip.compress(data, mtime=0)[:-5]
    path = scratch / "raw.txt"
    path.write_bytes(data)
    rec = outcome(read_raw, path)
    if rec is None:
        return
    n = len(rec)
    assert n > 0 and rec.user.shape == rec.activity.shape == rec.t_ns.shape == (n,) and rec.xyz.shape == (n, 3)
    assert rec.xyz.dtype == np.float32 and np.isfinite(rec.xyz).all() and (np.abs(rec.xyz) <= MAX_ABS).all()
    assert rec.labels == sorted(set(rec.labels)) and all(label.strip() for label in rec.labels)
    assert rec.activity.min() >= 0 and rec.activity.max() < len(rec.labels)
    skipped = rec.skipped
    assert skipped.count == sum(skipped.reasons.values()) and 0 <= skipped.recovered <= n
    assert n + skipped.count >= _content_lines(data), "a line with content vanished without a skip count"


# --------------------------------------------------------------------------- windows .npz

DTYPES = ["float32", "float64", "float16", "int32", "int64", "uint8", "bool", "complex64", ">f4", "U3", "S2"]


def _array(draw: st.DrawFn, shape: tuple[int, ...], dtype: str, low: int, high: int) -> np.ndarray:
    size = int(np.prod(shape))
    if dtype[0] in "US":
        values = draw(st.lists(st.sampled_from(["a", "b", "Walk", "", "1"]), min_size=size, max_size=size))
        return np.asarray(values, dtype=dtype).reshape(shape)
    values = draw(st.lists(st.integers(low, high), min_size=size, max_size=size))
    arr = np.asarray(values, dtype=np.int64).reshape(shape)
    return arr.astype(dtype)


@st.composite
def npz_arrays(draw: st.DrawFn) -> dict[str, np.ndarray]:
    n = draw(st.integers(0, 4))
    length = draw(st.sampled_from([0, 1, 79, 80, 128]))
    axes = draw(st.sampled_from([3, 3, 3, 1, 6]))
    x_shape = draw(st.sampled_from([(n, length, axes), (n, length), (n,), (n, length, axes, 1)]))
    X = _array(draw, x_shape, draw(st.sampled_from(["float32"] * 4 + DTYPES)), -20, 20)
    if X.dtype.kind == "f" and X.size and draw(st.booleans()):
        X.flat[draw(st.integers(0, X.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e30]))
    n_classes = draw(st.integers(0, 4))
    y_len = draw(st.sampled_from([n, n, n, n + 1, 0]))
    arrays = {
        "X": X,
        "y": _array(draw, (y_len,), draw(st.sampled_from(["int64"] * 4 + DTYPES)), -2, 5),
        "subject": _array(draw, (y_len,), draw(st.sampled_from(["int64"] * 4 + DTYPES)), -1, 40),
        "classes": _array(
            draw,
            draw(st.sampled_from([(n_classes,), (), (1, n_classes)])),
            draw(st.sampled_from(["U8", "U8", "S8", "int64", "float32"])),
            0,
            9,
        ),
    }
    if draw(st.booleans()):
        arrays["units"] = np.asarray(draw(st.sampled_from(["m/s^2", "z-score", "g", ""])))
    for key in draw(st.lists(st.sampled_from(sorted(arrays)), max_size=2)):
        arrays.pop(key, None)
    return arrays


@pytest.mark.slow  # hundreds of examples: the full suite's
@fuzz(400)
@given(
    arrays=npz_arrays(),
    form=st.sampled_from(["savez", "compressed", "flip", "truncate", "npy", "garbage"]),
    where=st.integers(0, 1 << 20),
    byte=st.integers(0, 255),
)
def test_npz_reader_never_crashes(scratch: Path, arrays: dict[str, np.ndarray], form: str, where: int, byte: int):
    buf = io.BytesIO()
    if form == "npy":  # a single array saved with np.save and named .npz by mistake
        np.save(buf, arrays.get("X", np.zeros(3)))
    elif form == "garbage":
        buf.write(bytes([byte]) * 64)
    else:
        (np.savez if form != "compressed" else np.savez_compressed)(buf, **arrays)
    data = bytearray(buf.getvalue())
    if form == "flip" and data:
        data[where % len(data)] ^= byte or 1
    elif form == "truncate":
        data = data[: where % max(1, len(data))]
    path = scratch / "windows.npz"
    path.write_bytes(bytes(data))
    windows = outcome(read_npz, path, 80, 40)
    if windows is None:
        return
    n = len(windows)
    assert n > 0 and windows.X.shape == (n, 80, 3) and windows.X.dtype == np.float32
    assert np.isfinite(windows.X).all()
    assert windows.y.shape == windows.subject.shape == (n,)
    assert windows.y.min() >= 0 and windows.y.max() < len(windows.classes)
    assert all(isinstance(c, str) for c in windows.classes) and len(set(windows.classes)) == len(windows.classes)


# --------------------------------------------------------------------------- board files

BOARD_FILES = sorted(boards_dir().glob("*.toml"))
ODD_VALUES: list[Any] = [
    "",
    " ",
    "1",
    "0 KiB",
    "-1 KiB",
    "1.5 B",
    "9" * 400 + " KiB",
    "1e3 KiB",
    "64 MHz",
    "4 g",
    "2 kg",
    "x\ny",
    'a"b',
    "\u0663 KiB",
    "\x00",
    "tab\there",
    0,
    -1,
    2**70,
    1.5,
    math.inf,
    math.nan,
    True,
    [],
    ["-y", "x", "z"],
    ["x", "x", "z"],
    ["LEDR"],
    [1, 2, 3],
    {"a": 1},
    {"x": "y"},
]


def _toml_value(value: Any) -> str:
    """A tiny TOML writer for the value types board files (and their mutations) use."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml(data: dict[str, Any]) -> str:
    top = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [
        f"[{json.dumps(k)}]\n" + "\n".join(f"{json.dumps(kk)} = {_toml_value(vv)}" for kk, vv in v.items())
        for k, v in data.items()
        if isinstance(v, dict)
    ]
    return "\n".join(top) + "\n\n" + "\n\n".join(tables) + "\n"


@st.composite
def board_text(draw: st.DrawFn) -> str:
    data = load_toml(draw(st.sampled_from(BOARD_FILES)).read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(sorted(data)))
        table = data if not isinstance(data[section], dict) or draw(st.booleans()) else data[section]
        if not table:
            continue  # a section emptied by earlier deletions
        key = draw(st.sampled_from(sorted(table)))
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "replace":
            table[key] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        elif action == "delete":
            del table[key]
        else:
            new_key = draw(st.sampled_from(["extra", "Title", "imu", "led"]))
            table[new_key] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        if not data:
            break
    text = _toml(data)
    if draw(st.booleans()):  # text-level damage too: cut, duplicate a line, stray characters, deep nesting
        lines = text.splitlines()
        at = draw(st.integers(0, len(lines)))
        damage = draw(st.sampled_from(["cut", "dup", "noise", "nest"]))
        if damage == "cut":
            lines = lines[:at]
        elif damage == "dup" and lines:
            lines.insert(at, lines[at % len(lines)])
        elif damage == "noise":
            lines.insert(at, draw(st.sampled_from(["[", "= 1", "x = ", '"', "[mcu]", "\x7f", "a.b.c = 1"])))
        else:
            lines.insert(0, "deep = " + "[" * 3000 + "]" * 3000)
        text = "\n".join(lines)
    return text


def _check_board(board: Any) -> None:
    assert 0 < board.app_flash_bytes <= board.flash_bytes and 0 < board.app_ram_bytes <= board.ram_bytes
    assert 0 <= board.reserved_flash_bytes < board.app_flash_bytes
    assert 0 <= board.reserved_ram_bytes < board.app_ram_bytes
    assert board.clock_hz > 0 and math.isfinite(board.clock_hz)
    for text in (board.title, board.mcu, board.reserved_source, board.imu.mounting if board.imu else "x"):
        assert "\n" not in text and text.isprintable(), f"control characters in {text!r} reach the sketch"
    if board.imu is not None:
        assert sorted(a.lstrip("-") for a in board.imu.axis_map) == ["x", "y", "z"]
        assert math.isfinite(board.imu.native_rate_hz) and board.imu.native_rate_hz > 0


@pytest.mark.slow  # hundreds of examples: the full suite's
@fuzz(500)
@given(text=board_text())
def test_board_loader_never_crashes(scratch: Path, text: str):
    path = scratch / "fuzzed.toml"
    path.write_text(text, encoding="utf-8")
    board = outcome(load_board, path)
    if board is not None:
        _check_board(board)


@fuzz(100)
@given(data=st.binary(max_size=200))
def test_board_loader_on_random_bytes(scratch: Path, data: bytes):
    path = scratch / "bytes.toml"
    path.write_bytes(data)
    outcome(load_board, path)


# --------------------------------------------------------------------------- firmware serial lines

GOOD_SERIAL = [
    f"EK,READY,{'0123456789abcdef'},41234",
    "EK,PRED,17,Walking,0.912,12,3",
    "EK,SELFTEST,38,40,5,43210,7",
    "EK,SELFTEST,0,0,0,0,-1",
    "EK,SENSOR,9.79,19.98,1",
    "EK,CAPSTART,20.00",
    "EK,CAP,5,-0.6946,12.6805,0.5040",
    "EK,ERROR,IMU LSM9DS1 not found",
]
SERIAL_TOKENS = [
    "",
    "-",
    "0",
    "-0",
    "1.5",
    "1e3",
    "nan",
    "inf",
    "-1",
    "999999999999",
    "9999999999999",
    "0.9999999999",
    "١٢",
    "Walking",
    "Walk,ing",
    "\x1b[2J",
    "\x00",
    " 1",
    "1 ",
    "+1",
    "0x1f",
    "ff" * 8,
]


@st.composite
def serial_line(draw: st.DrawFn) -> str:
    parts = draw(st.sampled_from(GOOD_SERIAL)).split(",")
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["replace", "drop", "add", "join", "noise"]))
        at = draw(st.integers(0, len(parts) - 1))
        if action == "replace":
            parts[at] = draw(st.sampled_from(SERIAL_TOKENS))
        elif action == "drop" and len(parts) > 1:
            del parts[at]
        elif action == "add":
            parts.insert(at, draw(st.sampled_from(SERIAL_TOKENS)))
        elif action == "join":  # two lines ran together (a lost newline)
            parts += draw(st.sampled_from(GOOD_SERIAL)).split(",")
        else:
            parts[at] = parts[at][: len(parts[at]) // 2] + draw(st.sampled_from(SERIAL_TOKENS))
    return ",".join(parts)


def _check_message(message: Message) -> None:
    assert message.kind in protocol.FIELDS
    if message.kind == protocol.ERROR:
        assert message["reason"].strip() and message["reason"].isprintable()
        return
    assert list(message.values) == list(protocol.FIELDS[message.kind])
    for value in message.values.values():
        assert not isinstance(value, float) or math.isfinite(value)
    if message.kind == protocol.PRED:
        assert 0.0 <= message["confidence"] <= 1.0 and message["seq"] >= 0 and message["label"].isprintable()
    if message.kind == protocol.SELFTEST:
        assert 0 <= message["passed"] <= message["total"]
    if message.kind == protocol.CAPSTART:
        assert 0 < message["rate_hz"] <= 10_000


@pytest.mark.slow  # hundreds of examples: the full suite's
@fuzz(3000)
@given(line=st.one_of(serial_line(), st.text(max_size=80)))
def test_serial_line_parser_only_raises_line_error(line: str):
    try:
        message = parse_line(line)
    except LineError:
        return  # counted as garbage by every reader
    _check_message(message)


class ScriptedPort:
    """A serial port that hands out fixed byte chunks, then stays silent."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.in_waiting = 0

    def read(self, size: int = 1) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def write(self, data: bytes) -> int:
        return len(data)

    def close(self) -> None:
        pass


@pytest.mark.slow  # hundreds of examples: the full suite's
@fuzz(600)
@given(
    chunks=st.lists(
        st.one_of(st.binary(max_size=300), serial_line().map(lambda s: s.encode("utf-8", "surrogatepass") + b"\r\n")),
        max_size=12,
    )
)
def test_serial_link_and_monitor_survive_any_byte_stream(chunks: list[bytes]):
    link = Link("fuzz", opener=lambda port, baud: ScriptedPort(chunks), open_wait_s=0.0)
    view = Monitor(io.StringIO(), live=False, csv=io.StringIO())
    events: list[Event] = []
    idle = 0
    with link:
        for event in link.events():
            events.append(event)
            view.handle(event)
            idle += event.kind == "idle"
            if idle >= 2:
                break
    messages = [e.message for e in events if e.kind == "message"]
    for message in messages:
        assert message is not None
        _check_message(message)
    assert len(messages) + link.garbage == sum(e.kind in ("message", "garbage") for e in events)
    assert view.summary.garbage == link.garbage


@fuzz(400)
@given(chunks=st.lists(st.binary(max_size=40), max_size=20))
def test_line_splitter_chunking_does_not_change_short_lines(chunks: list[bytes]):
    whole = b"".join(chunks)
    if any(len(line) > 200 for line in whole.split(b"\n")):
        return  # over-long runs are dropped by design; which part survives may depend on chunking
    pieces, at_once = LineSplitter(), LineSplitter()
    got = [line for chunk in chunks for line in pieces.feed(chunk)]
    assert got == at_once.feed(whole)
    assert all(b"\n" not in line for line in got)


# --------------------------------------------------------------------------- sketch.yaml and option texts

YAML_NOISE = [
    "- x",
    "-",
    "  - a: b",
    "key:",
    "key: value",
    ":",
    "\t- tab",
    "  # comment",
    "default_profile:",
    "  - nested",
    "profiles: [a, b]",
    "    - platform:",
    "'quoted': 'x'",
    "a: b # c",
    "   ",
    "x",
]


@fuzz(500)
@given(
    ops=st.lists(st.tuples(st.integers(0, 12), st.sampled_from(YAML_NOISE), st.integers(0, 6)), max_size=4),
    drop=st.lists(st.integers(0, 9), max_size=3),
)
def test_sketch_yaml_reader_never_crashes(scratch: Path, ops: list[tuple[int, str, int]], drop: list[int]):
    lines = SKETCH_YAML.splitlines()
    for index in sorted(set(drop), reverse=True):
        if index < len(lines):
            del lines[index]
    for at, text, indent in ops:
        lines.insert(min(at, len(lines)), " " * indent + text)
    text = "\n".join(lines) + "\n"
    sketch = scratch / "sketch"
    sketch.mkdir(exist_ok=True)
    (sketch / "sketch.yaml").write_text(text, encoding="utf-8")
    profile = outcome(read_profile, sketch)
    if profile is not None:
        assert profile.fqbn and isinstance(profile.name, str)


@fuzz(400)
@given(text=st.one_of(st.text(alphabet="0123456789-, x", max_size=20), st.text(max_size=12)))
def test_test_users_option_never_crashes_or_explodes(text: str):
    users = outcome(parse_users, text)
    if users is not None:
        assert users == sorted(set(users)) and all(isinstance(u, int) for u in users)


@fuzz(300)
@given(text=st.one_of(st.text(alphabet="xyz+-, ", max_size=10), st.text(max_size=8)))
def test_axis_map_option_never_crashes(text: str):
    mapping = outcome(parse_axis_map, text)
    if mapping is not None:
        assert sorted(a.lstrip("-") for a in mapping) == ["x", "y", "z"]


@pytest.mark.parametrize("text", ["1-100000000000", "0-99999999999999999999", "29-36,1-9999999999"])
def test_test_users_huge_range_is_one_error_not_a_hang(text: str):
    with pytest.raises(EdgekitError, match="--test-users"):
        parse_users(text)
