"""Which serial port is the board: detection by the USB ids in the board files, and the --port check.

A board is recognised by the USB vendor:product ids its board file lists (``[usb] ids``), the way
PlatformIO's board manifests carry ``hwids``: with ``--board`` only that board's ids count, without it
any shipped board's. Several matches are an error, never a guess: flashing the wrong board is worse
than asking.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..boards import Board, UsbId, list_boards
from ..errors import EdgekitError

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")  # pyserial URL handlers: spy:// writes files, socket:// dials out

PortLister = Callable[[], Sequence[Any]]


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


def board_usb_ids(board: Board | None = None) -> dict[UsbId, str]:
    """The ids to look for, each with the title of a board that has it: ``board``'s own, else every shipped board's.

    A board file without ``[usb]`` (a custom board) cannot be recognised by its ids, so detection falls back
    to the shipped boards' ids, which are what its USB chip most likely uses when it is a variant of one.
    """
    if board is not None and board.usb_ids:
        return {usb_id: board.title for usb_id in board.usb_ids}
    ids: dict[UsbId, str] = {}
    for shipped in list_boards():
        for usb_id in shipped.usb_ids:
            ids.setdefault(usb_id, shipped.title)
    return ids


def matching_ports(
    ids: dict[UsbId, str] | None = None,
    list_ports: PortLister | None = None,
) -> tuple[list[PortChoice], list[str]]:
    """Ports whose USB vendor and product id match, plus every port seen (for the error message)."""
    ids = board_usb_ids() if ids is None else ids
    ports = (list_ports or system_ports)()
    found, seen = [], []
    for port in ports:
        device = str(getattr(port, "device", port))
        seen.append(device)
        vid, pid = getattr(port, "vid", None), getattr(port, "pid", None)
        if vid is None or pid is None or UsbId(vid, pid) not in ids:
            continue
        description = getattr(port, "description", None) or getattr(port, "product", None) or ids[UsbId(vid, pid)]
        found.append(PortChoice(device, vid, pid, str(description)))
    return sorted(found, key=lambda p: p.device), sorted(seen)


def detect_port(
    port: str | None = None,
    board: Board | None = None,
    list_ports: PortLister | None = None,
) -> str:
    """``port`` if given, else the only connected board; several or none is an error the user can act on."""
    if port is not None:
        return check_port(port)
    ids = board_usb_ids(board)
    found, seen = matching_ports(ids, list_ports)
    if len(found) == 1:
        return found[0].device
    if found:
        choices = ", ".join(str(p) for p in found)
        raise AmbiguousPort(f"--port: {len(found)} boards connected: {choices}; pass --port with one of them")
    what = board.title if board is not None and board.usb_ids else "board"
    wanted = ", ".join(str(usb_id) for usb_id in sorted(ids))
    others = f" (serial ports seen: {', '.join(seen)})" if seen else " (no serial ports at all)"
    raise EdgekitError(
        f"--port: no {what} found on USB with vendor:product id {wanted}{others}; "
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
