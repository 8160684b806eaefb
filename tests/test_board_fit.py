"""The Nicla Sense ME: the board the compact model fits and the seed model does not.

The seed's numbers are the int8 export measured by bench/models.py (README, "A smaller model"); the compact
model is built and quantized here (random weights and calibration: size, ops and arena do not depend on
training), and its sketch for the Nicla goes through the same strict stub compile as the other boards.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from edgekit.boards import fit_check, load_board
from edgekit.contract import Contract
from edgekit.errors import EdgekitError
from edgekit.firmware import generate_firmware, sketch_fit
from edgekit.quantize import quantization_record

BOARD = "nicla-sense"
SEED_TFLITE_BYTES = 539_800
SEED_ARENA_BYTES = 20_320


def _firmware_tests() -> ModuleType:
    """tests/test_firmware.py (its stub folder, warning flags and model helpers): imported once, by path."""
    module = sys.modules.get("test_firmware") or sys.modules.get("_edgekit_test_firmware")
    if module is None:
        path = Path(__file__).with_name("test_firmware.py")
        spec = importlib.util.spec_from_file_location("_edgekit_test_firmware", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compact(tmp_path_factory) -> tuple[bytes, Contract]:
    """The compact architecture as int8 .tflite, with a contract that describes exactly that model."""
    from edgekit.data.prepare import fit_contract
    from edgekit.data.synthetic import synthetic_recording
    from edgekit.data.windows import window_recording
    from edgekit.model import build_model
    from edgekit.quantize import quantize_model
    from edgekit.runtimes import inspect_tflite, measure_arena

    windows = window_recording(synthetic_recording(seed=0, users=2, seconds_per_activity=10))
    contract = fit_contract(windows, 80, 40, 20.0)
    rep = np.random.default_rng(0).standard_normal((8, contract.n_features)).astype(np.float32)
    tflite = quantize_model(build_model("compact"), rep)
    info = inspect_tflite(tflite)
    contract.quant = quantization_record(tflite, info, measure_arena(tflite))
    return tflite, contract


def test_nicla_carries_the_documented_numbers():
    b = load_board(BOARD)
    assert (b.mcu, b.core, b.clock_hz, b.fpu) == ("nRF52832", "Cortex-M4F", 64_000_000, True)
    assert (b.flash_bytes, b.ram_bytes) == (512 << 10, 64 << 10)
    assert (b.app_flash_bytes, b.app_ram_bytes) == (0x70000, 64_288)  # linker script; boards.txt data size
    assert (b.fqbn, b.platform, b.sampler) == (
        "arduino:mbed_nicla:nicla_sense",
        "arduino:mbed_nicla",
        "mbed-rtos-thread",
    )
    assert b.imu is not None and b.tflm is not None
    assert (b.imu.driver, b.imu.chip, b.imu.object, b.imu.units, b.imu.range_g) == (
        "bhy2",
        "BHI260AP",
        "BHY2",
        "g",
        8.0,
    )
    assert [(lib.name, lib.version) for lib in b.libraries] == [("Arduino_BHY2", "1.0.7"), ("ArduinoBLE", "1.3.7")]
    assert b.led.kind == "none" and "estimate" in b.reserved_source


def test_the_seed_is_refused_with_its_numbers_and_pointed_to_compact():
    report = fit_check(load_board(BOARD), SEED_TFLITE_BYTES, SEED_ARENA_BYTES)
    assert not report.fits
    assert SEED_TFLITE_BYTES > report.flash_capacity  # the model alone is larger than the sketch may be
    with pytest.raises(EdgekitError) as info:
        report.raise_if_not_fit()
    message = str(info.value)
    assert f"--board {BOARD}: the model does not fit" in message
    assert f"model {SEED_TFLITE_BYTES:,}" in message and "458,752 B" in message
    assert "--model compact" in message and "--board nano33" in message


def test_every_other_tflm_board_still_takes_the_seed():
    """The Nicla is the only shipped board that needs the compact model (uno takes neither)."""
    for name in ("nano33", "nano33-rev2", "nano-rp2040"):
        assert fit_check(load_board(name), SEED_TFLITE_BYTES, SEED_ARENA_BYTES, 5000, 13_000).fits, name


def test_compact_fits_where_the_seed_does_not(compact):
    tflite, contract = compact
    report = sketch_fit(tflite, contract, BOARD)
    assert report.fits, report.summary()
    assert report.flash_items["model"] == len(tflite) < 60_000
    seed = fit_check(
        load_board(BOARD),
        SEED_TFLITE_BYTES,
        SEED_ARENA_BYTES,
        report.ram_items["edgekit"],
        report.flash_items["edgekit"],
    )
    assert not seed.fits


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_nicla_sketch_compiles_against_the_bhy2_stubs(compact, tmp_path: Path):
    tflite, contract = compact
    sketch = generate_firmware(tflite, contract, BOARD, tmp_path)
    app = (sketch / "edgekit_app.cpp").read_text()
    assert "BHY2.begin(NICLA_STANDALONE)" in app and "SensorXYZ g_accel(SENSOR_ID_ACC);" in app
    assert "kImuGPerLsb = 0.00024414062f" in app  # 8 g / 32768 LSB
    assert "readAcceleration" not in app
    yaml = (sketch / "sketch.yaml").read_text()
    assert "platform: arduino:mbed_nicla (4.4.1)" in yaml and "ArduinoBLE (1.3.7)" in yaml
    fw = _firmware_tests()
    compilers = [("g++", [])]
    if shutil.which("arm-none-eabi-g++"):
        compilers.append(("arm-none-eabi-g++", ["-mcpu=cortex-m4", "-mthumb", "-funsigned-char"]))
    for compiler, arch in compilers:
        for source in ("edgekit_app.cpp", "edgekit_har.ino"):
            cmd = [
                compiler,
                "-std=gnu++14",
                *arch,
                *fw.STRICT,
                "-Wshadow",
                "-fsyntax-only",
                "-x",
                "c++",
                "-include",
                "Arduino.h",
                f"-I{fw.STUBS}",
                f"-I{sketch}",
                str(sketch / source),
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, (compiler, source, result.stderr)


def test_bhy2_range_must_be_one_the_hub_accepts(compact, tmp_path: Path):
    tflite, contract = compact
    text = load_board(BOARD).path.read_text().replace('range = "8 g"', 'range = "6 g"')
    board = tmp_path / "nicla-6g.toml"
    board.write_text(text)
    with pytest.raises(EdgekitError, match=r"imu\.range 6 g is not one the BHI260AP accepts"):
        generate_firmware(tflite, contract, str(board), tmp_path / "out")
    assert not (tmp_path / "out" / "edgekit_har").exists()


def test_capture_only_sketch_refuses_a_bhy2_board():
    from edgekit.boards import load_board
    from edgekit.errors import EdgekitError
    from edgekit.firmware.capture import capture_sketch_context

    with pytest.raises(EdgekitError, match="capture without --flash"):
        capture_sketch_context(load_board("nicla-sense"))
