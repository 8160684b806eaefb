"""The smallest tensor arena desktop TFLM runs a model in, found by bisection in a helper process.

Desktop TFLM (the tflite-micro wheel) is the only interpreter that plans memory as the board does,
so the arena the firmware reserves starts from its answer. Its failure mode on a too-small arena is
not always an error (see :class:`ArenaProbe`), which is why the tries are isolated here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import EdgekitError
from .runtimes import TFLMRunner, default_arena_size

_ARENA_TOTAL = re.compile(r"Arena allocation total\s+(\d+)\s+bytes")

ARENA_ALIGNMENT = 16


def recorded_arena_total(tflite: bytes) -> int:
    """The "Arena allocation total" TFLM's RecordingMicroAllocator reports after one inference.

    It counts what stays allocated (head + tail) but not the temporary memory the memory planner
    uses inside AllocateTensors, so for small models it is too small to run with (a 3-layer test
    model: 3,280 reported, 3,632 needed); :func:`measure_arena` uses it only as a starting point.
    """
    runner = TFLMRunner(tflite)
    runner.run(np.zeros(runner._in_shape, dtype=np.int8))
    report = runner.print_allocations()
    match = _ARENA_TOTAL.search(report)
    if not match:
        first = report.strip().splitlines()[0] if report.strip() else "no output"
        raise EdgekitError(
            f"TFLM: could not read the arena size from print_allocations ({first}); did tflite-micro change?"
        )
    return int(match.group(1))


def arena_fits(tflite: bytes, arena_size: int) -> bool:
    """True when TFLM can prepare the model in ``arena_size`` bytes and run one inference.

    Asked in a helper process: see :class:`ArenaProbe`.
    """
    with ArenaProbe(tflite) as probe:
        return probe.fits(arena_size)


def _fits_here(tflite: bytes, arena_size: int) -> bool:
    try:
        runner = TFLMRunner(tflite, arena_size=arena_size)
        runner.run(np.zeros(runner._in_shape, dtype=np.int8))
    except EdgekitError:
        return False
    return True


class ArenaProbe:
    """Asks desktop TFLM whether an arena fits, in a helper process whose crash means "no".

    The tflite-micro wheel does not always fail cleanly on an arena that is too small: for some
    valid graphs (an average pool after a conv, e.g. 8k10a-96k5m-32k7a) ``ConvPrepare`` dereferences
    the temporary tensor the allocator could not give it and the process dies with SIGSEGV (4,096
    bytes crashes where 1,024 and 8,192 fail cleanly). The bisection must try arenas that are too
    small, so the tries run in a helper (``python -m edgekit.desktop_arena``, which answers one size per
    line and never imports TensorFlow: 0.4 s to start); a helper killed by a signal is a try that did
    not fit, and the next try starts a new one. A subprocess rather than multiprocessing, so that a
    user's script without a ``__main__`` guard is never re-run.
    """

    def __init__(self, tflite: bytes) -> None:
        self._file = tempfile.NamedTemporaryFile(prefix="edgekit-arena-", suffix=".tflite")  # noqa: SIM115
        self._file.write(tflite)
        self._file.flush()
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ArenaProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fits(self, arena_size: int) -> bool:
        if self._proc is None:
            command = [sys.executable, "-m", "edgekit.desktop_arena", self._file.name]
            here = str(Path(__file__).resolve().parents[1])  # this edgekit, however the caller found it
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(f"{int(arena_size)}\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died: the answer below is the exit status
        answer = self._proc.stdout.readline().strip()
        if answer in ("0", "1"):
            return answer == "1"
        code = self._proc.wait()
        self._proc = None
        if code < 0:  # killed by a signal while preparing: TFLM could not allocate what it needed
            return False
        raise EdgekitError(f"TFLM: the arena helper (python -m edgekit.desktop_arena) exited with status {code}")

    def close(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait()
            self._proc = None
        self._file.close()


def _serve_probes(path: str) -> None:
    """The helper side of :class:`ArenaProbe`: one arena size per line in, '1' or '0' per line out."""
    tflite = Path(path).read_bytes()
    for line in sys.stdin:
        print("1" if _fits_here(tflite, int(line)) else "0", flush=True)


def measure_arena(tflite: bytes, recorded_total: int | None = None) -> int:
    """Smallest tensor arena (a multiple of 16 bytes) with which TFLM prepares and runs the model.

    Found by bisection over real TFLM interpreters, starting from the RecordingMicroAllocator total,
    so it includes the planner's temporary memory the recorded total leaves out. Multiples of 16
    keep the answer independent of how the end of the buffer aligns, and match the firmware's
    ``alignas(16)`` arena. Measured on the 64-bit host, where TFLM's bookkeeping structs are larger
    than on a 32-bit Cortex-M, so it is an upper bound for the MCU. Each try runs in a helper
    process (:class:`ArenaProbe`), so a model that crashes TFLM at a too-small arena is measured too.
    ``recorded_total``: :func:`recorded_arena_total`, when the caller already has it.
    """
    hint = _round_up(recorded_total if recorded_total is not None else recorded_arena_total(tflite))
    limit = 4 * default_arena_size(tflite)
    high = hint
    with ArenaProbe(tflite) as probe:
        while not probe.fits(high):
            if high >= limit:
                raise EdgekitError(f"TFLM: the model does not run even with a {limit}-byte arena; it is too large")
            high = min(_round_up(high * 2), limit)
        lo, hi = 0, high // ARENA_ALIGNMENT  # in units of ARENA_ALIGNMENT: ``lo`` fails, ``hi`` fits
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if probe.fits(mid * ARENA_ALIGNMENT):
                hi = mid
            else:
                lo = mid
    return hi * ARENA_ALIGNMENT


def _round_up(n: int) -> int:
    return -(-int(n) // ARENA_ALIGNMENT) * ARENA_ALIGNMENT


if __name__ == "__main__":
    _serve_probes(sys.argv[1])
