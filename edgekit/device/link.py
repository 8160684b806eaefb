"""The serial link to a board: strict protocol-line parsing, line splitting, and a self-reopening port.

A USB serial link to a microcontroller is not a clean channel: the host opens the port mid-line,
the board resets and starts over, debug prints and line noise slip in, and the cable gets pulled.
So every line is parsed strictly (a corrupted number must not become a plausible value), anything
else is counted as garbage rather than raised, and the port is reopened when it comes back. The
tags and the order of every line's fields come from :mod:`edgekit.protocol`, which the firmware
templates print from too; this module only knows what kind of value each named field holds.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .. import protocol
from ..errors import EdgekitError
from .ports import check_port

READ_TIMEOUT_S = 0.1  # how often a reader wakes up with no data, so deadlines and live views keep moving
MAX_LINE_BYTES = 256  # longer than any protocol line: a run-on line is noise, not data
OPEN_WAIT_S = 3.0  # a board that was just flashed re-enumerates for a second or two
RETRY_S = 0.2

# One-byte commands the inference firmware reads (edgekit_app.cpp.j2); the capture sketch ignores input.
CMD_CAPTURE = protocol.CMD_CAPTURE.encode()  # stream EK,CAP samples
CMD_PREDICT = protocol.CMD_PREDICT.encode()  # back to EK,PRED lines
CMD_READY = protocol.CMD_READY.encode()  # repeat the EK,READY line

_INT = re.compile(r"-?[0-9]{1,12}")  # ASCII digits only: Python's \d and int() also take e.g. Arabic-Indic ones
_NUM = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,9})?")
_HEX = re.compile(r"[0-9a-fA-F]{8,64}")


class SerialLike(Protocol):
    """The part of a pyserial ``Serial`` the readers use (a pty-backed Serial in tests)."""

    in_waiting: int

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def close(self) -> None: ...


Opener = Callable[[str, int], SerialLike]


class LineError(ValueError):
    """A line that is not a well-formed protocol line (counted as garbage, never fatal)."""


@dataclass(frozen=True)
class Message:
    """One parsed protocol line: ``kind`` is a tag from :mod:`edgekit.protocol`, ``values`` are typed."""

    kind: str
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def _int(token: str) -> int:
    if not _INT.fullmatch(token):
        raise LineError(f"not an integer: {token!r}")
    return int(token)


def _num(token: str) -> float:
    if not _NUM.fullmatch(token):
        raise LineError(f"not a number: {token!r}")
    return float(token)


def _hex(token: str) -> str:
    if not _HEX.fullmatch(token):
        raise LineError(f"not a hex digest: {token!r}")
    return token.lower()


def _label(token: str) -> str:
    if not protocol.LABEL.fullmatch(token):
        raise LineError(f"not a label: {token!r}")
    return token


def _flag(token: str) -> int:
    if token not in ("0", "1"):
        raise LineError(f"not 0 or 1: {token!r}")
    return int(token)


# What kind of value each named field holds. The tags, and which fields a line has in which order, are
# protocol.FIELDS, read on every line: a field added there and not here fails at import, not on the first
# board that sends it.
_FIELD_PARSERS: dict[str, Callable[[str], Any]] = {
    "model_hash": _hex,
    "arena_used": _int,
    "seq": _int,
    "label": _label,
    "confidence": _num,
    "inference_ms": _num,
    "missed": _int,
    "passed": _int,
    "total": _int,
    "max_diff": _num,
    "us_per_inference": _num,
    "first_failure": _int,
    "rest_magnitude": _num,
    "rate_hz": _num,
    "ok": _flag,
    "x": _num,
    "y": _num,
    "z": _num,
}
_UNTYPED = {name for names in protocol.FIELDS.values() for name in names} - set(_FIELD_PARSERS) - {"reason"}
if _UNTYPED:  # pragma: no cover - a protocol change that forgot the host side
    raise ImportError(f"edgekit.protocol.FIELDS names fields the line parser cannot type: {sorted(_UNTYPED)}")


def parse_line(line: str) -> Message:
    """Parse one line (without its line ending); raise :class:`LineError` for anything malformed."""
    parts = line.split(",")
    if len(parts) < 2 or parts[0] != protocol.PREFIX:
        raise LineError("not an EK line")
    kind, tokens = parts[1], parts[2:]
    if kind == protocol.ERROR:
        reason = ",".join(tokens).strip()
        if not reason:
            raise LineError("ERROR without a reason")
        if not reason.isprintable():  # control characters are line noise, and would drive the user's terminal
            raise LineError("ERROR reason with control characters")
        return Message(kind, {"reason": reason})
    names = protocol.FIELDS.get(kind)
    if names is None:
        raise LineError(f"unknown tag {kind!r}")
    if len(tokens) != len(names):
        raise LineError(f"{kind} needs {len(names)} fields, got {len(tokens)}")
    values = {name: _FIELD_PARSERS[name](token) for name, token in zip(names, tokens, strict=True)}
    _check_ranges(kind, values)
    return Message(kind, values)


def _check_ranges(kind: str, values: dict[str, Any]) -> None:
    """Reject values no firmware can send: they mean two lines ran together or bits flipped."""
    if kind == protocol.PRED and not 0.0 <= values["confidence"] <= 1.0:
        raise LineError("confidence outside 0..1")
    if kind == protocol.SELFTEST and not 0 <= values["passed"] <= values["total"]:
        raise LineError("passed outside 0..total")
    if kind == protocol.CAPSTART and not 0.0 < values["rate_hz"] <= 10000.0:
        raise LineError("capture rate outside 0..10 kHz")
    if any(isinstance(v, float) and not math.isfinite(v) for v in values.values()):
        raise LineError("non-finite number")
    if kind in (protocol.PRED, protocol.CAP) and values["seq"] < 0:
        raise LineError("negative sequence number")


class LineSplitter:
    """Turns arbitrary byte chunks into complete lines; an over-long run without a newline is dropped."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._buffer = bytearray()
        self._max = max_line
        self._discarding = False
        self.overflows = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        lines = []
        self._buffer.extend(chunk)
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if self._discarding:
                self._discarding = False
                continue
            lines.append(line)
        if len(self._buffer) > self._max:
            self._buffer.clear()
            if not self._discarding:
                self.overflows += 1
            self._discarding = True
        return lines

    def reset(self) -> None:
        """Forget a partial line: after a reconnect it can never be completed."""
        self._buffer.clear()
        self._discarding = False


# ---------------------------------------------------------------- the link


def open_serial(port: str, baud: int) -> SerialLike:
    """Open device path ``port`` with a short read timeout.

    ``serial.Serial``, not ``serial_for_url``: a URL must never reach pyserial's URL handlers (see
    :func:`check_port`), even from a caller that skipped the check.
    """
    import serial

    return serial.Serial(check_port(port), baudrate=baud, timeout=READ_TIMEOUT_S)


@dataclass
class Event:
    """What the link saw: ``message``, ``garbage`` (raw line), ``idle`` (no data), ``lost``, ``back``."""

    kind: str
    host_ns: int
    message: Message | None = None
    raw: bytes = b""


class PortLost(EdgekitError):
    """The port went away and did not come back in time."""


def _port_errors() -> tuple[type[BaseException], ...]:
    import serial

    return (serial.SerialException, OSError)


class Link:
    """A serial port that yields parsed events and reopens itself after a disconnect.

    ``reconnect_s`` bounds how long a vanished port is waited for (None: until the caller stops).
    Events arrive at least every :data:`READ_TIMEOUT_S` (as ``idle``), so callers can check their
    own deadlines without threads. ``hello`` is sent after every (re)open: a board that reset or
    was left in another mode is put back into the one the caller needs.
    """

    def __init__(
        self,
        port: str,
        baud: int = protocol.BAUD,
        opener: Opener = open_serial,
        open_wait_s: float = OPEN_WAIT_S,
        reconnect_s: float | None = 10.0,
        hello: bytes = b"",
    ) -> None:
        self.port, self.baud, self._opener = port, baud, opener
        self.open_wait_s, self.reconnect_s, self.hello = open_wait_s, reconnect_s, hello
        self._serial: SerialLike | None = None
        self._splitter = LineSplitter()
        self.garbage = 0
        self.reconnects = 0

    def __enter__(self) -> Link:
        self._serial = self._open_first()
        self.send(self.hello)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        """Best effort: a port that fails here fails the next read too, which reconnects."""
        if data and self._serial is not None:
            try:
                self._serial.write(data)
            except _port_errors():
                pass

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except _port_errors():
                pass
            self._serial = None

    def _open_first(self) -> SerialLike:
        """Open, retrying for ``open_wait_s``: a board that was just flashed is still re-enumerating."""
        deadline = time.monotonic() + self.open_wait_s
        while True:
            try:
                return self._opener(self.port, self.baud)
            except _port_errors() as exc:
                if time.monotonic() >= deadline:
                    raise EdgekitError(
                        f"--port {self.port}: cannot open ({_one_line(exc)}); check the cable and the "
                        "port name (leave out --port to find a single board), and close other programs "
                        "using it (Serial Monitor, arduino-cli monitor)"
                    ) from None
                time.sleep(RETRY_S)

    def events(self) -> Iterator[Event]:
        """Yield events forever (until the caller stops iterating or the port is lost for good)."""
        if self._serial is None:
            self.__enter__()
        while True:
            try:
                chunk = self._read_chunk()
            except _port_errors():
                yield from self._reconnect()
                continue
            now = time.time_ns()
            if not chunk:
                yield Event("idle", now)
                continue
            for raw in self._splitter.feed(chunk):
                yield self._event_for(raw, now)
            while self._splitter.overflows:
                self._splitter.overflows -= 1
                self.garbage += 1
                yield Event("garbage", now, raw=b"<over-long line>")

    def _read_chunk(self) -> bytes:
        assert self._serial is not None
        waiting = self._serial.in_waiting
        return self._serial.read(max(1, min(waiting, 4096)))

    def _event_for(self, raw: bytes, now: int) -> Event:
        try:
            message = parse_line(raw.decode("ascii"))
        except (UnicodeDecodeError, LineError):
            self.garbage += 1
            return Event("garbage", now, raw=raw)
        return Event("message", now, message=message)

    def _reconnect(self) -> Iterator[Event]:
        self.close()
        self._splitter.reset()
        yield Event("lost", time.time_ns())
        deadline = None if self.reconnect_s is None else time.monotonic() + self.reconnect_s
        while True:
            try:
                self._serial = self._opener(self.port, self.baud)
                break
            except _port_errors():
                if deadline is not None and time.monotonic() >= deadline:
                    raise PortLost(
                        f"--port {self.port}: the port disappeared and did not come back within {self.reconnect_s:g} s"
                    ) from None
                time.sleep(RETRY_S)
                yield Event("idle", time.time_ns())
        self.reconnects += 1
        self.send(self.hello)
        yield Event("back", time.time_ns())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
