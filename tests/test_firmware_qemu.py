"""The firmware's pipeline cross-compiled for a Cortex-M4F and run under QEMU (mps2-an386).

Same harness, same generated headers and the same checks as the desktop run in test_firmware.py:
float32 on a real FPU instruction set (hard-float ABI, fpv4-sp-d16) must give the same int8 windows
bit for bit, the embedded model must come back byte-identical, and nothing may link a heap.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import firmware as helpers
from helpers.fixtures import FirmwareModel, firmware_model

from edgekit.firmware import (
    MODEL_SOURCE,
    board_to_model_axes,
    generate_firmware,
    reference_int8_windows,
)

CROSS = ("arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-size", "arm-none-eabi-nm", "qemu-system-arm")
pytestmark = [
    pytest.mark.slow,  # QEMU
    pytest.mark.skipif(
        any(shutil.which(tool) is None for tool in CROSS),
        reason=f"needs {', '.join(CROSS)} (apt: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)",
    ),
]

CPU = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
WARN = ["-Wall", "-Wextra", "-Werror"]
COMMON = [*CPU, *WARN, "-O2", "-ffunction-sections", "-fdata-sections"]
CXX = ["-std=c++14", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics"]
QEMU_TIMEOUT_S = 60
HEAP_SYMBOLS = re.compile(
    r"^(malloc|free|calloc|realloc|_malloc_r|_free_r|_calloc_r|_realloc_r|_sbrk|sbrk|"
    r"_Znwj|_Znaj|_ZdlPv|_ZdaPv|_ZdlPvj|_ZdaPvj|_ZnwjRKSt9nothrow_t|_ZnajRKSt9nothrow_t)$"
)


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (cmd, result.stderr)
    return result.stdout


def build_arm_harness(sketch: Path, build: Path) -> Path:
    """Compile and link the harness for mps2-an386 with edgekit's own startup code and linker script."""
    h = helpers.harness_io_dir()
    build.mkdir(parents=True, exist_ok=True)
    objects = [build / "startup_cm4.o"]
    _run(["arm-none-eabi-gcc", "-std=c11", *COMMON, "-c", str(h / "startup_cm4.c"), "-o", str(objects[0])])
    for source in (helpers.PIPELINE_HARNESS, h / "io_semihost.cpp", sketch / MODEL_SOURCE):
        obj = build / f"{source.stem}.o"
        _run(["arm-none-eabi-g++", *CXX, *COMMON, f"-I{sketch}", f"-I{h}", "-c", str(source), "-o", str(obj)])
        objects.append(obj)
    elf = build / "harness.elf"
    _run(
        [
            "arm-none-eabi-g++",
            *CPU,
            "-nostartfiles",
            "-T",
            str(h / "cm4.ld"),
            "-Wl,--gc-sections",
            f"-Wl,-Map,{build / 'harness.map'}",
            *map(str, objects),
            "-lc",
            "-lgcc",
            "-o",
            str(elf),
        ]
    )
    return elf


def qemu_command(elf: Path) -> list[str]:
    return [
        "qemu-system-arm",
        "-machine",
        "mps2-an386",
        "-nographic",
        "-monitor",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
        "-kernel",
        str(elf),
    ]


@pytest.fixture(scope="module")
def test_model() -> FirmwareModel:
    return firmware_model()


@pytest.fixture(scope="module")
def sketch(test_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("qemu-sketch")
    return generate_firmware(test_model.tflite, test_model.contract, "nano33", out, axis_map="-y,x,z")


@pytest.fixture(scope="module")
def elf(sketch, tmp_path_factory) -> Path:
    return build_arm_harness(sketch, tmp_path_factory.mktemp("arm"))


def test_sections_fit_and_no_heap_is_linked(elf: Path, test_model):
    sizes = _run(["arm-none-eabi-size", "-A", "-d", str(elf)])
    section = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)\s+\d+", sizes, re.M)}
    print(f"\narm-none-eabi-size -A -d harness.elf\n{sizes}")
    assert section[".text"] >= len(test_model.tflite)  # the model is in flash (.rodata inside .text)
    assert section.get(".data", 0) + section.get(".bss", 0) < 8 * 1024  # window ring + I/O buffers, no arena here
    symbols = _run(["arm-none-eabi-nm", "--defined-only", str(elf)]).split()
    undefined = _run(["arm-none-eabi-nm", "--undefined-only", str(elf)]).split()
    heap = sorted(s for s in symbols + undefined if HEAP_SYMBOLS.match(s))
    assert heap == [], f"heap functions linked: {heap}"
    disassembly = _run(["arm-none-eabi-objdump", "-d", str(elf)]) if shutil.which("arm-none-eabi-objdump") else ""
    if disassembly:
        assert "vdiv.f32" in disassembly  # the FPU really does the arithmetic
        assert not re.search(r"\bv(fma|fms|fnma|fnms|mla|mls)\.f32", disassembly)  # no fused multiply-add


def test_qemu_model_bytes_are_the_tflite(elf: Path, test_model, tmp_path: Path):
    out = helpers.run_harness(
        qemu_command(elf), helpers.simple_payload(helpers.MODE_MODEL), tmp_path, timeout=QEMU_TIMEOUT_S
    )
    assert out[:-4] == test_model.tflite
    assert int.from_bytes(out[-4:], "little") == 0  # alignas(16) honoured by the ARM toolchain


def test_qemu_windows_equal_python_windows(elf: Path, test_model, tmp_path: Path):
    board, ms2 = helpers.imu_stream(test_model, ("-y", "x", "z"))
    out = helpers.run_harness(
        qemu_command(elf), helpers.windows_payload(board, test_model.segments), tmp_path, timeout=QEMU_TIMEOUT_S
    )
    got = np.frombuffer(out, dtype=np.int8).reshape(-1, test_model.contract.n_features)
    want = reference_int8_windows(ms2, test_model.contract, test_model.segments)
    assert len(want) >= 40
    np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(not os.environ.get("EDGEKIT_WISDM_RAW"), reason="EDGEKIT_WISDM_RAW not set")
def test_qemu_windows_equal_python_windows_on_real_wisdm(elf: Path, test_model, tmp_path: Path):
    xyz, segments = helpers.real_wisdm_user(Path(os.environ["EDGEKIT_WISDM_RAW"]))
    board = helpers.model_to_board_axes(xyz, ("-y", "x", "z"), "g")
    ms2 = board_to_model_axes(board, ("-y", "x", "z"), "g")
    out = helpers.run_harness(
        qemu_command(elf), helpers.windows_payload(board, segments), tmp_path, timeout=QEMU_TIMEOUT_S
    )
    got = np.frombuffer(out, dtype=np.int8).reshape(-1, test_model.contract.n_features)
    np.testing.assert_array_equal(got, reference_int8_windows(ms2, test_model.contract, segments))


def test_qemu_quantize_and_predict_match_python(elf: Path, test_model, tmp_path: Path):
    from edgekit.runtimes import TFLMRunner, dequantize, quantize_input

    quant = test_model.contract.quant
    values = helpers.tie_and_edge_values(quant.input_scale)
    out = helpers.run_harness(
        qemu_command(elf), helpers.simple_payload(helpers.MODE_QUANTIZE, values), tmp_path / "q", timeout=QEMU_TIMEOUT_S
    )
    with np.errstate(over="ignore", invalid="ignore"):
        want = quantize_input(values, quant.input_scale, quant.input_zero_point)
    np.testing.assert_array_equal(np.frombuffer(out, np.int8), want)
    scores = TFLMRunner(test_model.tflite).run(
        reference_int8_windows(test_model.stream, test_model.contract, test_model.segments)
    )
    out = helpers.run_harness(
        qemu_command(elf), helpers.simple_payload(helpers.MODE_PREDICT, scores), tmp_path / "p", timeout=QEMU_TIMEOUT_S
    )
    got = np.frombuffer(out, dtype=[("index", "<i4"), ("confidence", "<f4")])
    np.testing.assert_array_equal(got["index"], scores.argmax(axis=1))
    best = scores[np.arange(len(scores)), scores.argmax(axis=1)]
    np.testing.assert_array_equal(got["confidence"], dequantize(best, quant.output_scale, quant.output_zero_point))


def test_qemu_sample_queue(elf: Path, tmp_path: Path):
    out = helpers.run_harness(
        qemu_command(elf), helpers.simple_payload(helpers.MODE_QUEUE), tmp_path, timeout=QEMU_TIMEOUT_S
    )
    assert np.frombuffer(out, "<u4").tolist() == [8, 9, 0, 10, 0, 1, 2, 3, 4, 5, 6, 7, 100, 101]


def test_qemu_reports_a_bad_input_file(elf: Path, tmp_path: Path):
    (tmp_path / "harness_in.bin").write_bytes(b"nope")
    result = subprocess.run(
        qemu_command(elf), cwd=tmp_path, capture_output=True, timeout=QEMU_TIMEOUT_S, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 1
    assert b"bad or truncated harness_in.bin" in result.stdout + result.stderr
