"""Benchmark: peak memory and time of the data readers on hostile inputs (issue 12, items 9, 10, 11, 27).

Builds each hostile input in a temporary folder, then runs the reader or loader on it in a fresh
Python process per case and prints that process's peak RSS (``ru_maxrss`` of the child's rusage, as
``resource.getrusage(RUSAGE_CHILDREN)`` reports it, taken per child with ``os.wait4``), its wall time
and what it said. Every case has a bounded input or is refused early, so each must stay under
``--limit-mb`` (500 MB); the exit status is 1 when one does not, or when a case that must be refused
is not.

  raw-blank-lines   39 KB .txt.gz: one record, 40 M newlines, one record     -> read, 2 records
  raw-long-line     ~300 KB .gz holding one 300 MB line                      -> refused (line too long)
  raw-gzip-bomb     ~1 MB .gz of 1.1 GiB of blank lines                      -> refused (text cap)
  raw-1ns           raw stream stamped 1 ns apart                            -> refused (rate)
  npz-forged-shape  350 KB .npz declaring X of 10 M x 128 x 3 float64        -> refused (declared size)
  npz-bomb          ~900 KB .npz inflating to 600 k x 128 x 3 float32 zeros  -> refused (inflation ratio)
  fetch-endless     'edgekit data fetch' from a server that never stops       -> refused (download cap)

Run: ``python bench/hostile_memory.py [--only NAME ...]`` (about 1-2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GOOD = b"33,Jogging,49105962326000,-0.6946377,12.680544,0.50395286;\n"
MB = 1 << 20

# What the child runs: one reader call; prints "ok: ..." or "refused: <the one-line message>".
CHILD = """
import sys
from edgekit.errors import EdgekitError
kind, path = sys.argv[1], sys.argv[2]
try:
    if kind == "raw":
        from edgekit.data.raw import read_raw
        rec = read_raw(path)
        print(f"ok: {len(rec)} records, {rec.skipped.count} skipped")
    elif kind == "windows":
        from edgekit.data import load_windows
        print(f"ok: {len(load_windows(path)[0])} windows")
    elif kind == "fetch":
        from edgekit.data.fetch import fetch_wisdm
        print(f"ok: {fetch_wisdm(path, url=sys.argv[3])}")
except EdgekitError as exc:
    print(f"refused: {exc}")
"""


@dataclass
class Case:
    name: str
    kind: str  # raw | windows | fetch
    build: Callable[[Path], Path]
    refused: bool  # whether the case must end in a clear refusal


def _gzip(path: Path, pieces: Iterator[bytes], level: int = 6) -> Path:
    """Compress a stream of pieces without ever holding the whole text."""
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    with path.open("wb") as out:
        for piece in pieces:
            out.write(packer.compress(piece))
        out.write(packer.flush())
    return path


def _repeat(head: bytes, filler: bytes, times: int, tail: bytes = b"") -> Iterator[bytes]:
    yield head
    for _ in range(times):
        yield filler
    yield tail


def raw_blank_lines(tmp: Path) -> Path:
    return _gzip(tmp / "blank.txt.gz", _repeat(GOOD, b"\n" * (4 * MB), 10, GOOD), level=9)


def raw_long_line(tmp: Path) -> Path:
    return _gzip(tmp / "long_line.txt.gz", _repeat(b"", b"1" * MB, 300, b"\n"), level=9)


def raw_gzip_bomb(tmp: Path) -> Path:
    return _gzip(tmp / "bomb.txt.gz", _repeat(GOOD, b"\n" * (4 * MB), 282), level=9)  # 1.1 GiB


def raw_1ns(tmp: Path) -> Path:
    from edgekit.data.raw import write_raw
    from edgekit.data.synthetic import synthetic_recording

    rec = synthetic_recording(seed=0, users=12, seconds_per_activity=60)
    rec.t_ns = np.arange(len(rec), dtype=np.int64)  # 1 ns apart: 1 GHz
    path = tmp / "one_ns.txt"
    write_raw(path, rec)
    return path


def _npy_header(shape: tuple[int, ...], descr: str) -> bytes:
    buf = io.BytesIO()
    from numpy.lib import format as npy

    npy.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def npz_forged_shape(tmp: Path) -> Path:
    path = tmp / "forged.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("X.npy", _npy_header((10_000_000, 128, 3), "<f8") + bytes(350_000))
        archive.writestr("y.npy", _npy(np.zeros(10, np.int8)))
        archive.writestr("subject.npy", _npy(np.ones(10, np.int16)))
        archive.writestr("classes.npy", _npy(np.array(["a", "b"])))
    return path


def npz_bomb(tmp: Path) -> Path:
    """600 k zero windows, written member by member so the builder never holds the 921 MB either."""
    n = 600_000
    path = tmp / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("X.npy", "w", force_zip64=True) as member:
            member.write(_npy_header((n, 128, 3), "<f4"))
            block = bytes(128 * 3 * 4 * 10_000)
            for _ in range(n // 10_000):
                member.write(block)
        archive.writestr("y.npy", _npy(np.zeros(n, np.int8)))
        archive.writestr("subject.npy", _npy((np.arange(n) % 30 + 1).astype(np.int16)))
        archive.writestr("classes.npy", _npy(np.array(["a", "b"])))
    return path


class _Endless(http.server.BaseHTTPRequestHandler):
    """Sends zeros until the client hangs up (at most 4 GB, so a reader without a cap still ends)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        block = bytes(MB)
        with contextlib.suppress(OSError):
            for _ in range(4096):
                self.wfile.write(block)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def endless_server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/WISDM_ar_latest.tar.gz"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


CASES = [
    Case("raw-blank-lines", "raw", raw_blank_lines, refused=False),
    Case("raw-long-line", "raw", raw_long_line, refused=True),
    Case("raw-gzip-bomb", "raw", raw_gzip_bomb, refused=True),
    Case("raw-1ns", "windows", raw_1ns, refused=True),
    Case("npz-forged-shape", "windows", npz_forged_shape, refused=True),
    Case("npz-bomb", "windows", npz_bomb, refused=True),
    Case("fetch-endless", "fetch", lambda tmp: tmp / "cache", refused=True),
]


def run_child(args: list[str], timeout: float) -> tuple[float, float, str]:
    """(peak RSS MB, wall s, last stdout line or the error) of one child process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdout=out, stderr=subprocess.STDOUT)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
        wall = time.perf_counter() - start
        out.seek(0)
        lines = out.read().decode("utf-8", "replace").strip().splitlines()
    said = lines[-1] if lines else ""
    if proc.returncode != 0:
        said = f"exit {proc.returncode}: {said}"
    peak_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / MB
    return peak_mb, wall, said


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    parser.add_argument("--limit-mb", type=float, default=500)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    failed = 0
    print(f"{'case':<18}{'input':>10}{'peak MB':>9}{'wall s':>8}  result")
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        with tempfile.TemporaryDirectory(prefix="edgekit-hostile-") as tmp, contextlib.ExitStack() as stack:
            path = case.build(Path(tmp))
            size = f"{path.stat().st_size / 1e3:,.0f} KB" if path.exists() else "-"
            extra = [stack.enter_context(endless_server())] if case.kind == "fetch" else []
            peak, wall, said = run_child([case.kind, str(path), *extra], args.timeout)
        ok = peak < args.limit_mb and said.startswith("refused:" if case.refused else "ok:")
        failed += not ok
        print(f"{case.name:<18}{size:>10}{peak:>9.0f}{wall:>8.2f}  {'' if ok else 'FAIL '}{_short(said)}")
    print(f"limit {args.limit_mb:g} MB per case; {'all within' if not failed else f'{failed} case(s) failed'}")
    return 1 if failed else 0


def _short(text: str, width: int = 150) -> str:
    """The message without the temporary folder's path, cut to one screen line."""
    text = text.replace(tempfile.gettempdir() + os.sep, "")
    return text if len(text) <= width else text[: width - 3] + "..."


if __name__ == "__main__":
    sys.exit(main())
