"""``edgekit monitor``: the board's live predictions, a closing summary, and an optional CSV log.

The board may reset or be replugged during a session: the link reopens the port, resets are counted
from repeated READY lines, and the missed-sample counter (per boot on the board) is summed across them.
"""

from __future__ import annotations

import collections
import csv as csvlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .. import protocol
from ..errors import EdgekitError
from .link import CMD_PREDICT, OPEN_WAIT_S, Event, Link, Message, Opener, open_serial

MAX_SUMMARY_KEYS = 32  # distinct labels / error reasons a monitor summary counts by name; the rest are "other"


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
        self._rows: Any = None  # a csv.writer over self.csv: quoting, should a label ever hold a separator
        if csv is not None:
            self.attach_csv(csv)

    def attach_csv(self, csv: TextIO) -> None:
        """Log predictions to ``csv`` from now on; the header only goes into an empty file (not when appending)."""
        self.csv = csv
        self._rows = csvlib.writer(csv, lineterminator="\n")
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
            self._rows.writerow(
                [
                    f"{now:.3f}",
                    message["seq"],
                    message["label"],
                    f"{message['confidence']:.3f}",
                    f"{message['inference_ms']:g}",
                    s.missed_total,
                ]
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


def csv_mode(path: Path | None, append: bool = False, force: bool = False) -> str:
    """The CSV mode ``--append`` / ``--force`` ask for, with the log checked so no existing file is lost."""
    if append and force:
        raise EdgekitError("--append and --force: pick one (add to the --csv file, or replace it)")
    if (append or force) and path is None:
        raise EdgekitError(f"--{'append' if append else 'force'}: only applies to --csv FILE; add --csv or drop it")
    mode = "append" if append else "replace" if force else "new"
    if path is not None:
        check_csv(path, mode)
    return mode


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
