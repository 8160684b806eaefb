"""``edgekit capture``: labelled accelerometer samples from the board, appended to a WISDM v1.1 raw file.

The file is the training data a user will spend hours recording, so it is only ever appended to, line
by whole line, each flushed as it arrives; a disconnect or a killed host keeps everything received.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .. import protocol
from ..contract import RATE_HZ
from ..errors import EdgekitError
from .link import CMD_CAPTURE, CMD_PREDICT, OPEN_WAIT_S, Event, Link, Opener, PortLost, open_serial

USER_MAX = 2**63 - 1  # the raw reader keeps user ids as int64


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
    """The activity becomes a field of every WISDM line and later a label the firmware prints and the
    line parser reads back, so it is held to the one label rule (:data:`edgekit.protocol.LABEL_PATTERN`) here,
    before a session is recorded under a name 'edgekit build' would refuse afterwards."""
    name = activity.strip()
    if not protocol.LABEL.fullmatch(name):
        raise EdgekitError(
            f"--activity {activity!r}: must be 1 to 64 letters, digits, spaces or _ . / + ( ) - (it becomes a "
            "label the firmware prints); for example --activity Walking"
        )
    return name


def check_user(user: int) -> int:
    """The subject id is read back as a 64-bit integer: a larger one would make the file unreadable."""
    if not 0 <= user <= USER_MAX:
        raise EdgekitError(f"--user {user}: must be an integer from 0 to {USER_MAX} (the subject id)")
    return user


def start_note(port: str, user: int, activity: str, out: Path) -> str:
    """What a capture session is about to do; says 'appending to' for a file that has data (never truncated)."""
    verb = "appending to" if out.is_file() and out.stat().st_size else "into"
    return f"capturing '{activity}' for user {user} from {port} {verb} {out} (Ctrl-C to stop)"


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
    activity, user = check_activity(activity), check_user(user)
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
