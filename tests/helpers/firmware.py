"""The pipeline harness (tests/pipeline_harness/harness_main.cpp) and the declaration stubs: what the desktop
(tests/test_firmware.py) and QEMU (tests/test_firmware_qemu.py) runs of the generated C++ share."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from edgekit.boards import axis_map_sources
from edgekit.firmware import MODEL_SOURCE, board_to_model_axes, units_to_ms2
from edgekit.resources import resource_dir

from .fixtures import FirmwareModel

TESTS = Path(__file__).resolve().parent.parent
# The one stand-in for the Arduino core, mbed RTOS, the IMU libraries and the TFLM API (declarations only):
# every harness that runs sketch code on the desktop compiles against it and gives the bodies it needs.
STUBS = TESTS / "firmware_stubs"
PIPELINE_HARNESS = TESTS / "pipeline_harness" / "harness_main.cpp"
HARNESS_MAGIC = 0x31484B45
MODE_WINDOWS, MODE_PREDICT, MODE_QUANTIZE, MODE_QUEUE, MODE_MODEL = 1, 2, 3, 4, 5
STRICT = ["-Wall", "-Wextra", "-Werror"]
HOST_FLAGS = ["-std=c++14", *STRICT, "-Wshadow", "-Wpedantic", "-Wconversion", "-Wsign-conversion", "-O2"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def harness_io_dir() -> Path:
    """edgekit's own harness I/O, start-up code and linker script (shipped: the board-runtime rungs use them)."""
    return resource_dir("firmware_templates") / "harness"


def windows_payload(board_xyz: np.ndarray, segments: list[int]) -> bytes:
    """harness_in.bin for mode 1: the recording as IMU readings (board axes, g), segment by segment."""
    out = [struct.pack("<III", HARNESS_MAGIC, MODE_WINDOWS, len(segments))]
    offset = 0
    for n in segments:
        out.append(struct.pack("<I", n) + np.ascontiguousarray(board_xyz[offset : offset + n], "<f4").tobytes())
        offset += n
    return b"".join(out)


def simple_payload(mode: int, values: np.ndarray | None = None, rows: int | None = None) -> bytes:
    head = struct.pack("<II", HARNESS_MAGIC, mode)
    if values is None:
        return head
    return head + struct.pack("<I", rows if rows is not None else len(values)) + values.tobytes()


def run_harness(command: list[str], payload: bytes, workdir: Path, timeout: float = 60) -> bytes:
    """Run a harness (host binary or QEMU) in ``workdir`` on ``payload``; return harness_out.bin."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "harness_in.bin").write_bytes(payload)
    out = workdir / "harness_out.bin"
    out.unlink(missing_ok=True)
    result = subprocess.run(command, cwd=workdir, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    return out.read_bytes()


def model_to_board_axes(model_xyz: np.ndarray, axis_map: Sequence[str], imu_units: str = "g") -> np.ndarray:
    """The inverse of edgekit's board_to_model_axes: what the IMU would report for a model-axis recording."""
    model = np.asarray(model_xyz, dtype=np.float32).reshape(-1, 3)
    factor = np.float32(units_to_ms2(imu_units))
    board = np.empty_like(model)
    for i, (axis, negate) in enumerate(axis_map_sources(tuple(axis_map))):
        board[:, axis] = (-model[:, i] if negate else model[:, i]) / factor
    return board


def imu_stream(test_model: FirmwareModel, axis_map: tuple[str, str, str]) -> tuple[np.ndarray, np.ndarray]:
    """What the IMU would report for the recording (board axes, g), and the m/s^2 the firmware makes of it."""
    board = model_to_board_axes(test_model.stream, axis_map, "g")
    return board, board_to_model_axes(board, axis_map, "g")


def compile_each(commands: list[list[str]], timeout: float = 300) -> None:
    """Run independent compiler commands side by side (one per core); each must succeed, with its stderr shown."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(
            pool.map(lambda cmd: subprocess.run(cmd, capture_output=True, text=True, timeout=timeout), commands)
        )
    for cmd, result in zip(commands, results, strict=True):
        assert result.returncode == 0, (" ".join(cmd), result.stderr)


def compile_host_harness(sketch: Path, out: Path) -> list[str]:
    """g++, strict warnings, ASan + UBSan: any out-of-bounds access in the pipeline fails the test."""
    io = harness_io_dir()
    sources = [PIPELINE_HARNESS, io / "io_posix.cpp", sketch / MODEL_SOURCE]
    cmd = ["g++", *HOST_FLAGS, *SANITIZE, f"-I{sketch}", f"-I{io}", *map(str, sources), "-o", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return [str(out)]


def tie_and_edge_values(scale: float) -> np.ndarray:
    """Normalised inputs that land exactly on .5 after division by the input scale, plus extremes."""
    s = np.float32(scale)
    found = []
    for k in range(-140, 140):
        x = np.float32((k + 0.5) * float(s))
        for cand in (x, np.nextafter(x, np.float32(np.inf)), np.nextafter(x, np.float32(-np.inf))):
            found.append(cand)
    rng = np.random.default_rng(0)
    found.extend(rng.normal(0, 2, 2000).astype(np.float32))
    found.extend(np.float32(v) for v in (0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, 3.4e38, -3.4e38))
    return np.asarray(found, dtype=np.float32)


def real_wisdm_user(path: Path, max_samples: int = 30_000) -> tuple[np.ndarray, list[int]]:
    """The first user's contiguous runs from the raw WISDM 2019 stream (m/s^2), split like the desktop does."""
    rows, activities, stamps = [], [], []
    first_user = None
    with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as handle:
        for line in handle:
            parts = line.strip().rstrip(";").split(",")
            if len(parts) != 6:
                continue
            if first_user is None:
                first_user = parts[0]
            if parts[0] != first_user or len(rows) >= max_samples:
                break
            try:
                rows.append([float(v) for v in parts[3:6]])
                stamps.append(int(parts[2]))
            except ValueError:
                continue
            activities.append(parts[1])
    t = np.asarray(stamps, dtype=np.int64)
    breaks = (
        np.flatnonzero(
            (np.diff(t) > 1_000_000_000)
            | (np.diff(t) < 0)
            | (np.asarray(activities[1:]) != np.asarray(activities[:-1]))
        )
        + 1
    )
    bounds = np.concatenate(([0], breaks, [len(rows)]))
    return np.asarray(rows, dtype=np.float32), np.diff(bounds).tolist()
