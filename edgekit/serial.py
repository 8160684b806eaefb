"""Host side of the serial link: find the board, read its protocol lines, monitor, capture, verify.

A USB serial link to a microcontroller is not a clean channel: the host opens the port mid-line,
the board resets and starts over, debug prints and line noise slip in, and the cable gets pulled.
So every line is parsed strictly (a corrupted number must not become a plausible value), anything
else is counted as garbage rather than raised, and the port is reopened when it comes back. The
line formats themselves are defined once in :mod:`edgekit.protocol`.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from . import protocol
from .contract import RATE_HZ
from .errors import EdgekitError, GateFailed
from .run import Run

# USB vendor ids of boards edgekit targets: Arduino SA, Arduino.org (older boards), Raspberry Pi (RP2040).
KNOWN_VIDS: dict[int, str] = {0x2341: "Arduino", 0x2A03: "Arduino.org", 0x2E8A: "Raspberry Pi"}

READ_TIMEOUT_S = 0.1  # how often a reader wakes up with no data, so deadlines and live views keep moving
MAX_LINE_BYTES = 256  # longer than any protocol line: a run-on line is noise, not data
OPEN_WAIT_S = 3.0  # a board that was just flashed re-enumerates for a second or two
RETRY_S = 0.2

# Where verify finds the desktop's inference time: 'edgekit profile' (manifest "profile" section) first,
# else parity.json's desktop TFLM timing (an x86 time: only a lower bound for a microcontroller).

# One-byte commands the inference firmware reads (edgekit_app.cpp.j2); the capture sketch ignores input.
CMD_CAPTURE = protocol.CMD_CAPTURE.encode()  # stream EK,CAP samples
CMD_PREDICT = protocol.CMD_PREDICT.encode()  # back to EK,PRED lines
CMD_READY = protocol.CMD_READY.encode()  # repeat the EK,READY line

_INT = re.compile(r"-?[0-9]{1,12}")  # ASCII digits only: Python's \d and int() also take e.g. Arabic-Indic ones
_NUM = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,9})?")
_HEX = re.compile(r"[0-9a-fA-F]{8,64}")
_LABEL = re.compile(protocol.LABEL_PATTERN)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")  # pyserial URL handlers: spy:// writes files, socket:// dials out
MAX_SUMMARY_KEYS = 32  # distinct labels / error reasons a monitor summary counts by name; the rest are "other"


class SerialLike(Protocol):
    """The part of a pyserial ``Serial`` the readers use (a pty-backed Serial in tests)."""

    in_waiting: int

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def close(self) -> None: ...


Opener = Callable[[str, int], SerialLike]
PortLister = Callable[[], Sequence[Any]]


# ---------------------------------------------------------------- port detection


class AmbiguousPort(EdgekitError):
    """Several boards are connected: guessing would flash or read the wrong one."""


@dataclass(frozen=True)
class PortChoice:
    """One serial port that looks like a supported board."""

    device: str
    vid: int | None
    pid: int | None
    description: str

    def __str__(self) -> str:
        ids = f" [{self.vid:04X}:{self.pid or 0:04X}]" if self.vid is not None else ""
        return f"{self.device} ({self.description}{ids})"


def system_ports() -> list[Any]:
    """The OS's serial ports, looked up at call time so tests can substitute the system query."""
    from serial.tools import list_ports

    return list(list_ports.comports())


def matching_ports(
    vids: dict[int, str] | None = None,
    pids: Sequence[int] | None = None,
    list_ports: PortLister | None = None,
) -> tuple[list[PortChoice], list[str]]:
    """Ports whose USB ids match, plus every port seen (for the error message)."""
    vids = KNOWN_VIDS if vids is None else vids
    ports = (list_ports or system_ports)()
    found, seen = [], []
    for port in ports:
        device = str(getattr(port, "device", port))
        seen.append(device)
        vid, pid = getattr(port, "vid", None), getattr(port, "pid", None)
        if vid not in vids or (pids and pid not in pids):
            continue
        description = getattr(port, "description", None) or getattr(port, "product", None) or vids[vid]
        found.append(PortChoice(device, vid, pid, str(description)))
    return sorted(found, key=lambda p: p.device), sorted(seen)


def detect_port(
    port: str | None = None,
    vids: dict[int, str] | None = None,
    pids: Sequence[int] | None = None,
    list_ports: PortLister | None = None,
) -> str:
    """``port`` if given, else the only connected board; several or none is an error the user can act on."""
    if port is not None:
        return check_port(port)
    vids = KNOWN_VIDS if vids is None else vids
    found, seen = matching_ports(vids, pids, list_ports)
    if len(found) == 1:
        return found[0].device
    if found:
        choices = ", ".join(str(p) for p in found)
        raise AmbiguousPort(f"--port: {len(found)} boards connected: {choices}; pass --port with one of them")
    wanted = ", ".join(f"0x{vid:04X} {name}" for vid, name in sorted(vids.items()))
    others = f" (serial ports seen: {', '.join(seen)})" if seen else " (no serial ports at all)"
    raise EdgekitError(
        f"--port: no board found on USB with vendor id {wanted}{others}; "
        "plug the board in (a data cable, not a charge-only one) or pass --port PORT"
    )


def check_port(port: str) -> str:
    """Accept a serial device path (/dev/ttyACM0, COM5) and nothing else.

    pyserial also opens URLs: ``spy://...?file=PATH`` writes a log to any path and ``socket://host:port``
    opens a network connection, and a port starting with '-' would be read as an option by arduino-cli.
    No edgekit command needs either, so --port is a device path or an error.
    """
    if not port or _URL.match(port) or port.startswith("-") or not port.isprintable():
        raise EdgekitError(
            f"--port {port!r}: not a serial device path; pass a device such as /dev/ttyACM0 or COM5 "
            "(pyserial URLs like socket:// or spy:// are not accepted), or leave out --port to find the board"
        )
    return port


# ---------------------------------------------------------------- line parsing


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
    if not _LABEL.fullmatch(token):
        raise LineError(f"not a label: {token!r}")
    return token


def _flag(token: str) -> int:
    if token not in ("0", "1"):
        raise LineError(f"not 0 or 1: {token!r}")
    return int(token)


_PARSERS: dict[str, tuple[Callable[[str], Any], ...]] = {
    protocol.READY: (_hex, _int),
    protocol.PRED: (_int, _label, _num, _num, _int),
    protocol.SELFTEST: (_int, _int, _num, _num, _int),
    protocol.SENSOR: (_num, _num, _flag),
    protocol.CAPSTART: (_num,),
    protocol.CAP: (_int, _num, _num, _num),
}


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
    parsers = _PARSERS.get(kind)
    if parsers is None:
        raise LineError(f"unknown tag {kind!r}")
    if len(tokens) != len(parsers):
        raise LineError(f"{kind} needs {len(parsers)} fields, got {len(tokens)}")
    fields = zip(protocol.FIELDS[kind], parsers, tokens, strict=True)
    values = {name: parse(token) for name, parse, token in fields}
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


# ---------------------------------------------------------------- monitor


@dataclass
class MonitorSummary:
    """What a monitor session saw, for the closing summary.

    Labels and error reasons come from the board, and a buggy firmware or a noisy link can send endless
    distinct ones (a session grew to 474 MB in 38 s), so only the first :data:`MAX_SUMMARY_KEYS` distinct
    ones are kept by name; the rest are counted in ``other_labels`` / ``error_reports``.
    """

    predictions: int = 0
    per_label: dict[str, int] = field(default_factory=dict)
    other_labels: int = 0  # predictions whose label came after the first MAX_SUMMARY_KEYS distinct ones
    inference_ms_total: float = 0.0
    missed_total: int = 0
    garbage: int = 0
    resets: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)  # the first MAX_SUMMARY_KEYS distinct reasons
    error_reports: int = 0  # every change of the board's error reason
    model_hash: str | None = None
    seconds: float = 0.0
    interrupted: bool = False
    csv_note: str | None = None  # where the predictions were logged, and whether appended

    @property
    def mean_inference_ms(self) -> float | None:
        return self.inference_ms_total / self.predictions if self.predictions else None

    def count_label(self, label: str) -> None:
        if label in self.per_label or len(self.per_label) < MAX_SUMMARY_KEYS:
            self.per_label[label] = self.per_label.get(label, 0) + 1
        else:
            self.other_labels += 1

    def count_error(self, reason: str) -> None:
        self.error_reports += 1
        if reason not in self.errors and len(self.errors) < MAX_SUMMARY_KEYS:
            self.errors.append(reason)

    def lines(self) -> list[str]:
        counts = [f"{label} {n}" for label, n in sorted(self.per_label.items())]
        if self.other_labels:
            counts.append(f"{self.other_labels} with other labels")
        labels = ", ".join(counts) or "none"
        mean = self.mean_inference_ms
        mean_text = f"{mean:.2f} ms" if mean is not None else "n/a"
        return [
            f"monitor: {self.predictions} predictions in {self.seconds:.1f} s ({labels})",
            f"monitor: mean inference {mean_text}, missed samples {self.missed_total}, "
            f"garbage lines {self.garbage}, board resets {self.resets}, reconnects {self.reconnects}, "
            f"errors {self.error_reports}",
            *([f"monitor: {self.csv_note}"] if self.csv_note else []),
        ]


class _MissedCounter:
    """The firmware counts missed samples since boot; sum the per-boot totals across resets."""

    def __init__(self) -> None:
        self._base = 0
        self._current = 0

    def update(self, total_since_boot: int) -> None:
        if total_since_boot < self._current:  # a reset we did not see a READY for
            self.boot()
        self._current = total_since_boot

    def boot(self) -> None:
        self._base += self._current
        self._current = 0

    @property
    def total(self) -> int:
        return self._base + self._current


class Monitor:
    """Consumes link events, keeps the statistics and draws either a live status line or plain lines."""

    CSV_HEADER = "host_time_s,seq,label,confidence,inference_ms,missed_total\n"

    def __init__(self, out: TextIO, live: bool, csv: TextIO | None = None) -> None:
        self.out, self.live = out, live
        self.summary = MonitorSummary()
        self._missed = _MissedCounter()
        self._recent: collections.deque[float] = collections.deque()
        self._last: Message | None = None
        self._last_error: str | None = None
        self._ready_seen = False
        self.csv: TextIO | None = None
        if csv is not None:
            self.attach_csv(csv)

    def attach_csv(self, csv: TextIO) -> None:
        """Log predictions to ``csv`` from now on; the header only goes into an empty file (not when appending)."""
        self.csv = csv
        if csv.tell() == 0:
            csv.write(self.CSV_HEADER)
            csv.flush()

    def handle(self, event: Event) -> None:
        if event.kind == "garbage":
            self.summary.garbage += 1
        elif event.kind == "lost":
            self._say("port lost; waiting for it to come back ...")
        elif event.kind == "back":
            self.summary.reconnects += 1
            self._say("port back")
        elif event.kind == "message" and event.message is not None:
            self._message(event.message, event.host_ns)
        if self.live:
            self._draw()

    def _message(self, message: Message, host_ns: int) -> None:
        if message.kind == protocol.READY:
            if self._ready_seen:
                self.summary.resets += 1
                self._missed.boot()
            self._ready_seen = True
            self.summary.model_hash = message["model_hash"]
            self._say(f"board ready: model {message['model_hash']}, arena {message['arena_used']} bytes")
        elif message.kind == protocol.ERROR:
            # a board in an error state repeats it every few seconds: report each new reason once
            if message["reason"] != self._last_error:
                self._last_error = message["reason"]
                self.summary.count_error(message["reason"])
                self._say(f"board error: {message['reason']}")
        elif message.kind == protocol.PRED:
            self._prediction(message, host_ns)

    def _prediction(self, message: Message, host_ns: int) -> None:
        s = self.summary
        s.predictions += 1
        s.count_label(message["label"])
        s.inference_ms_total += message["inference_ms"]
        self._missed.update(message["missed"])
        s.missed_total = self._missed.total
        now = host_ns / 1e9
        self._recent.append(now)
        while self._recent and now - self._recent[0] > 60.0:
            self._recent.popleft()
        self._last = message
        if self.csv is not None:
            self.csv.write(
                f"{now:.3f},{message['seq']},{message['label']},{message['confidence']:.3f},"
                f"{message['inference_ms']:g},{s.missed_total}\n"
            )
            self.csv.flush()
        if not self.live:
            self.out.write(self._status() + "\n")
            self.out.flush()

    def per_minute(self) -> float | None:
        if len(self._recent) < 2 or self._recent[-1] <= self._recent[0]:
            return None
        return (len(self._recent) - 1) * 60.0 / (self._recent[-1] - self._recent[0])

    def _status(self) -> str:
        m = self._last
        if m is None:
            return "waiting for predictions ..."
        rate = self.per_minute()
        rate_text = f"{rate:.1f}/min" if rate is not None else "-/min"
        return (
            f"#{m['seq']:<6} {m['label']:<12} {m['confidence']:.3f}  {m['inference_ms']:7.2f} ms  "
            f"missed {self.summary.missed_total}  {rate_text}  garbage {self.summary.garbage}"
        )

    def _say(self, text: str) -> None:
        prefix = "\r\x1b[2K" if self.live else ""
        self.out.write(f"{prefix}{text}\n")
        self.out.flush()

    def _draw(self) -> None:
        self.out.write(f"\r\x1b[2K{self._status()}")
        self.out.flush()


def monitor(
    port: str,
    baud: int = protocol.BAUD,
    seconds: float | None = None,
    csv_path: Path | None = None,
    out: TextIO | None = None,
    live: bool | None = None,
    opener: Opener = open_serial,
    open_wait_s: float = OPEN_WAIT_S,
    csv_mode: str = "new",
) -> MonitorSummary:
    """Show predictions until ``seconds`` pass or Ctrl-C; the board may reset or vanish meanwhile.

    The CSV log is flushed per line, so whatever was received survives a crash of the host too. It is
    opened only once the port is open, and an existing file is replaced only with ``csv_mode="replace"``
    (``--force``) or added to with ``"append"``: a wrong --port must never cost the user's last log.
    """
    out = out or sys.stdout
    live = out.isatty() if live is None else live
    if csv_path is not None:
        check_csv(Path(csv_path), csv_mode)
    start = time.monotonic()
    view = Monitor(out, live)
    try:
        with Link(port, baud, opener, open_wait_s, reconnect_s=None, hello=CMD_PREDICT) as link:
            if csv_path is not None:
                view.attach_csv(_open_csv(Path(csv_path), csv_mode, view.summary))
            for event in link.events():
                view.handle(event)
                if seconds is not None and time.monotonic() - start >= seconds:
                    break
    except KeyboardInterrupt:
        view.summary.interrupted = True
    finally:
        if view.csv is not None:
            view.csv.close()
        if live:
            out.write("\n")
    view.summary.seconds = time.monotonic() - start
    return view.summary


CSV_MODES = ("new", "append", "replace")


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1)


def check_csv(path: Path, mode: str) -> None:
    """Refuse a --csv that would destroy a file, before the port is opened."""
    if mode not in CSV_MODES:
        raise ValueError(f"csv_mode {mode!r}: one of {CSV_MODES}")
    if not path.parent.is_dir():
        raise EdgekitError(f"--csv {path}: folder {path.parent} does not exist; create it first")
    if path.is_dir():
        raise EdgekitError(f"--csv {path}: is a folder; pass a file name such as {path / 'predictions.csv'}")
    if not path.exists() or not path.stat().st_size or mode == "replace":
        return
    if mode == "new":
        raise EdgekitError(
            f"--csv {path}: file exists; choose a new name, pass --append to add to it, or --force to replace it"
        )
    with open(path, "rb") as handle:
        first = handle.readline(len(Monitor.CSV_HEADER) + 1)
    if first.decode("ascii", "replace") != Monitor.CSV_HEADER:
        raise EdgekitError(
            f"--csv {path}: --append adds to a log of 'edgekit monitor', and this file does not start with its "
            "header; choose a new name"
        )


def _open_csv(path: Path, mode: str, summary: MonitorSummary) -> TextIO:
    """Open the log once the port is open; says in the summary whether it was appended to."""
    appending = mode != "replace" and path.is_file() and path.stat().st_size > 0
    handle = open(path, "a" if appending else "w", encoding="ascii", newline="")  # noqa: SIM115
    if appending and _last_byte(path) != b"\n":  # a row cut off by a killed session stays one bad row
        handle.write("\n")
    summary.csv_note = f"predictions {'appended to' if appending else 'written to'} {path}"
    return handle


# ---------------------------------------------------------------- capture


@dataclass
class CaptureSummary:
    """What a capture session wrote and what it could not."""

    path: Path
    samples: int = 0
    dropped: int = 0
    resets: int = 0
    garbage: int = 0
    reconnects: int = 0
    rate_hz: float = RATE_HZ
    seconds: float = 0.0
    interrupted: bool = False
    lost: str | None = None  # why the port was lost for good, if it was

    def line(self) -> str:
        state = "interrupted, " if self.interrupted else ""
        return (
            f"capture: {self.samples} samples ({self.samples / self.rate_hz:.1f} s at {self.rate_hz:g} Hz) "
            f"appended to {self.path}; {state}dropped {self.dropped}, board resets {self.resets}, "
            f"garbage lines {self.garbage}, reconnects {self.reconnects}"
        )


def check_activity(activity: str) -> str:
    """Activity names end up as a CSV field in the WISDM format, so they cannot contain its separators."""
    name = activity.strip()
    if not name or any(ch in name for ch in ",;\r\n") or not name.isprintable():
        raise EdgekitError(
            f"--activity {activity!r}: must be a non-empty printable name without commas or semicolons; "
            "for example --activity Walking"
        )
    return name


class _Timeline:
    """Host timestamps for device samples: anchored at the first sample's host time, then seq x period.

    Host receive times jitter by tens of ms (USB frames, OS buffering); the board's sequence number
    is exact, so spacing comes from it and a dropped sample leaves a visible gap in time. A board
    reset restarts the sequence and re-anchors, never going back in time.
    """

    def __init__(self, rate_hz: float) -> None:
        self.period_ns = round(1e9 / rate_hz)
        self._anchor: tuple[int, int] | None = None  # (seq, host_ns)
        self.last_seq: int | None = None
        self.last_ns = 0

    def set_rate(self, rate_hz: float) -> None:
        self.period_ns = round(1e9 / rate_hz)
        self._anchor = None
        self.last_seq = None

    def place(self, seq: int, host_ns: int) -> tuple[int, int]:
        """Return (timestamp_ns, samples missing before this one)."""
        gap = 0
        if self.last_seq is not None and seq > self.last_seq:
            gap = seq - self.last_seq - 1
        elif self.last_seq is not None:  # sequence restarted: a reset without CAPSTART, or seq repeated
            self._anchor = None
        if self._anchor is None:
            self._anchor = (seq, max(host_ns, self.last_ns + self.period_ns))
        anchor_seq, anchor_ns = self._anchor
        self.last_seq = seq
        self.last_ns = anchor_ns + (seq - anchor_seq) * self.period_ns
        return self.last_ns, gap


def capture(
    port: str,
    user: int,
    activity: str,
    out_path: Path,
    seconds: float | None = None,
    baud: int = protocol.BAUD,
    rate_hz: float = RATE_HZ,
    first_sample_timeout_s: float = 10.0,
    reconnect_s: float = 10.0,
    opener: Opener = open_serial,
    open_wait_s: float = OPEN_WAIT_S,
    echo: Callable[[str], None] | None = None,
) -> CaptureSummary:
    """Append ``EK,CAP`` samples to ``out_path`` as WISDM v1.1 lines until ``seconds`` of data or Ctrl-C.

    Every line is written whole and flushed, so a disconnect or a killed host keeps everything received
    so far and the file stays parseable. ``seconds`` counts samples (seconds of data), not wall time.
    """
    activity = check_activity(activity)
    if user < 0:
        raise EdgekitError(f"--user {user}: must be a non-negative integer (the subject id)")
    summary = CaptureSummary(Path(out_path), rate_hz=rate_hz)
    timeline = _Timeline(rate_hz)
    wanted = None if seconds is None else max(1, round(seconds * rate_hz))
    start = time.monotonic()
    link = Link(port, baud, opener, open_wait_s, reconnect_s, hello=CMD_CAPTURE)
    sink = _AppendLog(Path(out_path))
    with contextlib.closing(sink), link:
        try:
            for event in link.events():
                if event.kind == "message" and event.message is not None:
                    _capture_message(event, sink, user, activity, timeline, summary, echo)
                elif event.kind == "garbage":
                    summary.garbage += 1
                elif event.kind == "back":
                    summary.reconnects += 1
                if wanted is not None and summary.samples >= wanted:
                    break
                if summary.samples == 0 and time.monotonic() - start > first_sample_timeout_s:
                    raise EdgekitError(
                        f"--port {port}: no {protocol.PREFIX},{protocol.CAP} lines within "
                        f"{first_sample_timeout_s:g} s; flash the capture sketch with --flash --board BOARD"
                    )
        except KeyboardInterrupt:
            summary.interrupted = True
        except PortLost as exc:
            summary.lost = str(exc)
        link.send(CMD_PREDICT)  # leave inference firmware predicting again
    summary.seconds = time.monotonic() - start
    summary.rate_hz = 1e9 / timeline.period_ns
    return summary


def _capture_message(
    event: Event,
    sink: _AppendLog,
    user: int,
    activity: str,
    timeline: _Timeline,
    summary: CaptureSummary,
    echo: Callable[[str], None] | None,
) -> None:
    message = event.message
    assert message is not None
    if message.kind == protocol.CAPSTART:
        if timeline.last_seq is not None:
            summary.resets += 1
        timeline.set_rate(message["rate_hz"])
        summary.rate_hz = message["rate_hz"]
    elif message.kind == protocol.CAP:
        restarted = timeline.last_seq is not None and message["seq"] <= timeline.last_seq
        stamp, gap = timeline.place(message["seq"], event.host_ns)
        summary.resets += int(restarted)
        summary.dropped += gap
        x, y, z = (_wisdm_number(message[axis]) for axis in ("x", "y", "z"))
        sink.write_line(f"{user},{activity},{stamp},{x},{y},{z};\n")
        summary.samples += 1
    elif message.kind == protocol.ERROR and echo is not None:
        echo(f"board error: {message['reason']}")


def _wisdm_number(value: float) -> str:
    """Plain decimal text (WISDM files never use exponents); the device sends 4 decimals."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


class _AppendLog:
    """Appends whole lines, each flushed at once; the file is created only when the first line arrives.

    A last line left unfinished by a killed earlier session is terminated first, so it stays one
    damaged line (which readers skip) instead of swallowing the first new record.
    """

    def __init__(self, path: Path) -> None:
        if path.is_dir():
            raise EdgekitError(f"--out {path}: is a folder; pass a file path such as data/me.txt")
        if not path.parent.is_dir():
            raise EdgekitError(f"--out {path}: folder {path.parent} does not exist; create it")
        self.path = path
        self._handle: TextIO | None = None

    def write_line(self, line: str) -> None:
        if self._handle is None:
            self._handle = self._open()
        self._handle.write(line)
        self._handle.flush()

    def _open(self) -> TextIO:
        needs_newline = False
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, "rb") as existing:
                existing.seek(-1, os.SEEK_END)
                needs_newline = existing.read(1) != b"\n"
        handle = open(self.path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115
        if needs_newline:
            handle.write("\n")
        return handle

    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None


# ---------------------------------------------------------------- verify


@dataclass
class VerifyReading:
    """The lines a verify session collected."""

    ready: Message | None = None
    selftest: Message | None = None
    sensor: Message | None = None
    errors: list[str] = field(default_factory=list)
    garbage: int = 0


def read_verify_lines(
    port: str,
    baud: int = protocol.BAUD,
    timeout_s: float = 30.0,
    opener: Opener = open_serial,
    open_wait_s: float = OPEN_WAIT_S,
) -> VerifyReading:
    """Collect SELFTEST and SENSOR (and READY, ERROR) lines; stop once both arrived or on an ERROR."""
    reading = VerifyReading()
    deadline = time.monotonic() + timeout_s
    with Link(port, baud, opener, open_wait_s, reconnect_s=timeout_s, hello=CMD_READY) as link:
        try:
            for event in link.events():
                if event.kind == "message" and event.message is not None:
                    _verify_message(event.message, reading)
                if reading.errors or (reading.selftest and reading.sensor) or time.monotonic() > deadline:
                    break
        except PortLost:
            pass
        reading.garbage = link.garbage
    if reading.selftest is None and not reading.errors:
        raise EdgekitError(
            f"--port {port}: no {protocol.PREFIX},{protocol.SELFTEST} line within {timeout_s:g} s; "
            "check the board runs edgekit firmware (edgekit flash, or verify --flash) and press its reset "
            "button, or raise --timeout"
        )
    return reading


def _verify_message(message: Message, reading: VerifyReading) -> None:
    if message.kind == protocol.READY:
        reading.ready = message
    elif message.kind == protocol.SELFTEST:
        reading.selftest = message
    elif message.kind == protocol.SENSOR:
        reading.sensor = message
    elif message.kind == protocol.ERROR:
        reading.errors.append(message["reason"])


@dataclass
class VerifyVerdict:
    """Report lines for the user and the first failure (None on a full pass)."""

    lines: list[str]
    failure: str | None


@dataclass(frozen=True)
class RunExpectations:
    """What the run folder says the board should show; every piece is optional (partial runs)."""

    model_sha256: str | None = None
    rate_hz: float | None = None
    desktop_ms: tuple[float, str] | None = None  # (milliseconds, where the number came from)


def run_expectations(run: Path) -> RunExpectations:
    """What the run folder says the board should show, read through the run's typed records."""
    expected = Run(run).expectations()
    return RunExpectations(expected.model_sha256, expected.rate_hz, expected.desktop_ms)


def judge(reading: VerifyReading, expected: RunExpectations | None = None) -> VerifyVerdict:
    """Turn the collected lines into report lines and the first failure, most fundamental first."""
    expected = expected or RunExpectations()
    expected_hash, expected_rate_hz, desktop_ms = expected.model_sha256, expected.rate_hz, expected.desktop_ms
    lines: list[str] = []
    failures: list[str] = [f"verify: board reported an error: {reason}" for reason in reading.errors]
    if reading.selftest is not None:
        lines.append(_selftest_line(reading.selftest, failures))
        lines.append(_timing_line(reading.selftest, desktop_ms))
    elif not reading.errors:
        failures.append("verify: no self-test line received")
    if reading.sensor is not None:
        lines.append(_sensor_line(reading.sensor, expected_rate_hz, failures))
    elif not failures:
        failures.append(f"verify: no {protocol.PREFIX},{protocol.SENSOR} line received after the self-test")
    lines.append(_hash_line(reading.ready, expected_hash, failures))
    if reading.garbage:
        lines.append(f"verify: {reading.garbage} malformed line(s) ignored")
    lines.append("verify: PASS" if not failures else "verify: FAIL")
    return VerifyVerdict(lines, failures[0] if failures else None)


def _selftest_line(selftest: Message, failures: list[str]) -> str:
    passed, total, diff = selftest["passed"], selftest["total"], _plain(selftest["max_diff"])
    if passed < total or total == 0:
        window = selftest["first_failure"]
        failures.append(
            f"verify: self-test failed at window {window}: on-device int8 output differs from the desktop "
            f"TFLM output by up to {diff} (max |int8 diff|); {passed}/{total} windows passed"
        )
    return f"self-test: {passed}/{total} windows match the desktop (max |int8 diff| {diff})"


def _timing_line(selftest: Message, desktop_ms: tuple[float, str] | None) -> str:
    device_ms = selftest["us_per_inference"] / 1000.0
    desktop = f"{desktop_ms[0]:.2f} ms ({desktop_ms[1]})" if desktop_ms else "n/a (none in the run folder)"
    return f"inference time: on-device {device_ms:.2f} ms, desktop estimate {desktop}"


def _sensor_line(sensor: Message, expected_rate_hz: float | None, failures: list[str]) -> str:
    magnitude, rate, ok = sensor["rest_magnitude"], sensor["rate_hz"], sensor["ok"]
    expected = f" (expected {expected_rate_hz:g} Hz)" if expected_rate_hz else ""
    if not ok:
        failures.append(
            f"verify: sensor check failed: resting |a| {magnitude:.2f} m/s^2 (expected about 9.81), "
            f"sample rate {rate:.2f} Hz{expected}; check the IMU wiring/orientation and the board file"
        )
    verdict = "ok" if ok else "FAIL"
    return f"sensor: resting |a| {magnitude:.2f} m/s^2, sample rate {rate:.2f} Hz{expected}: {verdict}"


def _hash_line(ready: Message | None, expected_hash: str | None, failures: list[str]) -> str:
    if ready is None:
        return "model: not checked (no READY line seen; it is printed once at boot)"
    got = ready["model_hash"]
    if expected_hash is None:
        return f"model: {got} (no run folder model to compare with)"
    if not expected_hash.lower().startswith(got):
        failures.append(
            f"verify: board runs model {got} but the run folder's model is {expected_hash[: len(got)]}; "
            "flash this run's firmware (edgekit flash --run RUN)"
        )
        return f"model: board {got} != run folder {expected_hash[: len(got)]}"
    return f"model: {got} matches the run folder"


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def raise_on_failure(verdict: VerifyVerdict) -> None:
    if verdict.failure is not None:
        raise GateFailed(verdict.failure)
