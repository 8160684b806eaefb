"""The Nicla Sense ME: the board the compact model fits and the seed model does not.

The seed's numbers are the int8 export measured by bench/models.py (README, "A smaller model"); the compact
model is the committed fixture run's (tests/fixtures/compact_run), and its sketch for the Nicla goes through
the same strict stub compile as the other boards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers.firmware import STRICT, STUBS, compile_each
from helpers.fixtures import COMPACT_RUN

from edgekit.boards import fit_check, load_board
from edgekit.contract import Contract
from edgekit.errors import EdgekitError
from edgekit.firmware import generate_firmware, sketch_fit

BOARD = "nicla-sense"
SEED_TFLITE_BYTES = 539_800
SEED_ARENA_BYTES = 20_320
SOURCES = ("edgekit_app.cpp", "edgekit_har.ino")


@pytest.fixture(scope="module")
def compact() -> tuple[bytes, Contract]:
    """The committed compact run's int8 model and the contract (quantization included) that describes it."""
    from edgekit.quantize import load_quantized

    tflite, _, contract = load_quantized(COMPACT_RUN)
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


@pytest.mark.slow  # the TFLM headers, twice per compiler (test_firmware.py keeps one such compile in the fast tier)
@pytest.mark.parametrize(
    ("compiler", "arch"),
    [("g++", []), ("arm-none-eabi-g++", ["-mcpu=cortex-m4", "-mthumb", "-funsigned-char"])],
    ids=["host", "arm"],
)
def test_nicla_sketch_compiles_against_the_bhy2_stubs(compact, tmp_path: Path, compiler: str, arch: list[str]):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    tflite, contract = compact
    sketch = generate_firmware(tflite, contract, BOARD, tmp_path)
    app = (sketch / "edgekit_app.cpp").read_text()
    assert "BHY2.begin(NICLA_STANDALONE)" in app and "SensorXYZ g_accel(SENSOR_ID_ACC);" in app
    assert "kImuGPerLsb = 0.00024414062f" in app  # 8 g / 32768 LSB
    assert "readAcceleration" not in app
    yaml = (sketch / "sketch.yaml").read_text()
    assert "platform: arduino:mbed_nicla (4.4.1)" in yaml and "ArduinoBLE (1.3.7)" in yaml
    flags = [*arch, *STRICT, "-Wshadow", "-fsyntax-only", "-x", "c++", "-include", "Arduino.h", f"-I{STUBS}"]
    compile_each([[compiler, "-std=gnu++14", *flags, f"-I{sketch}", str(sketch / s)] for s in SOURCES])


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
