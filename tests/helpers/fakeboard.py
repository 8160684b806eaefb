"""Stand-ins for the hardware the device commands talk to: a board on a pty, and fake build tools.

The board is a pseudo-terminal pair reached through a stable symlink (like /dev/ttyACM0), so the
host code opens it with real pyserial and can watch it vanish and come back. The build tools are
small scripts on PATH that log their arguments, so the real subprocess plumbing runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import stat
import struct
import sys
import termios
import textwrap
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

from serial.tools.list_ports_common import ListPortInfo

BOOT_NOISE = b"boot\r\n"  # written before the host can open the port; pyserial's open() flushes it
WAIT_S = 10.0  # generous bound for anything the test waits on; a healthy run takes milliseconds


def _queued(fd: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, termios.TIOCINQ, b"\0\0\0\0"))[0]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class FakeBoard:
    """The board side of a USB serial link: write protocol lines, unplug, replug.

    The host opening the port is detected exactly, without sleeps: pyserial flushes the input queue
    when it opens a port, so the boot noise queued before the symlink existed disappears then.
    """

    def __init__(self, folder: Path, name: str = "ttyACM0") -> None:
        self.path = Path(folder) / name
        self._master = self._slave = -1
        self.plug()

    @property
    def port(self) -> str:
        return str(self.path)

    def plug(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.write(self._master, BOOT_NOISE)
        wait_for(lambda: _queued(self._slave) == len(BOOT_NOISE), "boot noise to reach the pty")
        os.symlink(os.ttyname(self._slave), self.path)

    def wait_host(self, timeout: float = WAIT_S) -> None:
        """Block until the host has opened the port (its open() flushed the boot noise)."""
        wait_for(lambda: _queued(self._slave) == 0, "the host to open the port", timeout)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._master, view)
            view = view[written:]

    def send(self, *lines: str) -> None:
        self.write("".join(f"{line}\r\n" for line in lines).encode("ascii"))

    def from_host(self, timeout: float = 0.0) -> bytes:
        """Whatever the host has written to the board so far (commands like 'c')."""
        chunks = []
        while select.select([self._master], [], [], timeout)[0]:
            chunks.append(os.read(self._master, 4096))
            timeout = 0.0
        return b"".join(chunks)

    def unplug(self) -> None:
        """The cable is pulled: the device node goes away and reads on the host fail."""
        if self.path.is_symlink():
            self.path.unlink()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def close(self) -> None:
        self.unplug()


class BoardThread(threading.Thread):
    """Runs a script against a FakeBoard in the background and re-raises its failure on join."""

    def __init__(self, script: Callable[[], None], board: FakeBoard | None = None) -> None:
        """``board``: unplugged when the script fails, so a host waiting for more lines (a capture
        counting samples, a monitor until Ctrl-C) returns and the test fails instead of hanging."""
        super().__init__(daemon=True)
        self._script = script
        self._board = board
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._script()
        except BaseException as exc:  # surfaced in finish()
            self.error = exc
            if self._board is not None:
                self._board.unplug()

    def finish(self, timeout: float = WAIT_S) -> None:
        self.join(timeout)
        assert not self.is_alive(), "board script did not finish"
        if self.error is not None:
            raise self.error


def port_info(device: str, vid: int | None = 0x2341, pid: int | None = 0x805A, product: str = "Nano 33 BLE"):
    """A real pyserial ListPortInfo, as comports() returns on Linux for a USB CDC board."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid = vid, pid
    info.description = product if vid is not None else "n/a"
    info.product = product if vid is not None else None
    return info


FAKE_ARDUINO_CLI = r"""
import json, os, sys
args = sys.argv[1:]
with open(os.environ["EDGEKIT_FAKE_LOG"], "a") as log:
    log.write(json.dumps(["arduino-cli"] + args) + "\n")
command = args[0] if args else ""
if command == "update":
    if os.environ.get("EDGEKIT_FAKE_FAIL") == "update":
        print("Error updating index: dial tcp: lookup downloads.arduino.cc: no such host", file=sys.stderr)
        sys.exit(1)
    print("Downloading index: package_index.tar.bz2 downloaded")
elif command == "version":
    print("arduino-cli  Version: 1.1.1 Commit: fake")
elif command == "board" and args[1:2] == ["list"]:
    print(os.environ.get("EDGEKIT_FAKE_BOARDS", '{"detected_ports": []}'))
elif command in ("compile", "upload"):
    sketch = args[-1]
    if not os.path.isfile(os.path.join(sketch, "sketch.yaml")):
        print(f"Error: no sketch.yaml in {sketch}", file=sys.stderr)
        sys.exit(1)
    if os.environ.get("EDGEKIT_FAKE_FAIL") == command:
        print("Downloading platform arduino:mbed_nano@4.1.5...")
        print(f"{sketch}/x.ino:3:1: error: 'oops' was not declared in this scope", file=sys.stderr)
        print("Error during build: exit status 1", file=sys.stderr)
        sys.exit(1)
    print("Sketch uses 312000 bytes (31%) of program storage space." if command == "compile" else "Done.")
else:
    print(f"Error: unknown command {command}", file=sys.stderr)
    sys.exit(1)
"""

FAKE_PIO = r"""
import json, os, sys
with open(os.environ["EDGEKIT_FAKE_LOG"], "a") as log:
    log.write(json.dumps(["pio"] + sys.argv[1:]) + "\n")
print("Uploading .pio/build/nano33ble/firmware.bin ... SUCCESS")
"""


def install_tool(bin_dir: Path, name: str, body: str) -> Path:
    """Write an executable script named ``name`` that runs with this interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def read_log(log: Path) -> list[list[str]]:
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


# A sketch.yaml written like edgekit build writes it (flash tests and the YAML fuzzer start from it).
SKETCH_YAML = """\
# written like edgekit build writes it
profiles:
  nano33:
    fqbn: arduino:mbed_nano:nano33ble
    platforms:
      - platform: arduino:mbed_nano (4.4.1)
    libraries:
      - Arduino_LSM9DS1 (1.1.1)
default_profile: nano33
"""
