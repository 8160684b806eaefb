"""Board files: strict validation, the numbers they carry, axis maps and the fit check."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.boards import (
    axis_map_sources,
    board_names,
    boards_dir,
    fit_check,
    list_boards,
    load_board,
    parse_axis_map,
)
from edgekit.errors import EdgekitError

SEED_TFLITE_BYTES = 530_000  # about the size of the int8 seed model (520k parameters)
SEED_ARENA_BYTES = 40_000


def test_shipped_boards_load_and_are_the_expected_set():
    assert {"nano33", "nano33-rev2", "nano-rp2040", "uno"} <= set(board_names())
    assert [b.name for b in list_boards()] == board_names()


def test_nano33_carries_the_documented_numbers():
    b = load_board("nano33")
    assert (b.mcu, b.core, b.clock_hz, b.fpu) == ("nRF52840", "Cortex-M4F", 64_000_000, True)
    assert (b.flash_bytes, b.ram_bytes) == (1 << 20, 256 << 10)
    assert (b.app_flash_bytes, b.app_ram_bytes) == (983_040, 262_144)  # arduino:mbed_nano boards.txt
    assert b.fqbn == "arduino:mbed_nano:nano33ble"
    assert b.tflm is not None and b.tflm.emulator == "cortex-m4"  # the runtime ships in the sketch, not a library
    assert b.imu is not None
    assert (b.imu.chip, b.imu.library.name, b.imu.library.header, b.imu.object) == (
        "LSM9DS1",
        "Arduino_LSM9DS1",
        "Arduino_LSM9DS1.h",
        "IMU",
    )
    assert (b.imu.units, b.imu.range_g, b.imu.native_rate_hz) == ("g", 4.0, 119.0)
    assert b.imu.axis_map == ("-y", "x", "z")
    assert "USB connector pointing up" in b.imu.mounting
    assert "nano33-rev2" in b.imu.not_found
    assert (b.led.kind, b.led.pins, b.led.active_low) == ("rgb", ("LEDR", "LEDG", "LEDB"), True)
    assert (b.pio_platform, b.pio_board) == ("nordicnrf52", "nano33ble")
    assert "estimate" in b.reserved_source


def test_other_boards():
    rev2 = load_board("nano33-rev2")
    assert rev2.imu is not None and (rev2.imu.chip, rev2.imu.library.name, rev2.imu.native_rate_hz) == (
        "BMI270",
        "Arduino_BMI270_BMM150",
        100.0,
    )
    assert rev2.fqbn == "arduino:mbed_nano:nano33ble"
    rp = load_board("nano-rp2040")
    assert (rp.mcu, rp.core, rp.clock_hz) == ("RP2040", "Cortex-M0+", 133_000_000)
    assert (rp.flash_bytes, rp.app_ram_bytes) == (16 << 20, 270_336)
    assert rp.fqbn == "arduino:mbed_nano:nanorp2040connect"
    assert rp.imu is not None and rp.imu.library.name == "Arduino_LSM6DSOX"
    uno = load_board("uno")
    assert (uno.app_flash_bytes, uno.app_ram_bytes, uno.imu, uno.sampler) == (32_256, 2048, None, "none")


def test_every_tflm_board_pins_every_library():
    for board in list_boards():
        for lib in board.libraries:
            assert re.fullmatch(r"\d+\.\d+\.\d+", lib.version), (board.name, lib)
        assert board.platform_version
        if board.sampler != "none":
            assert board.tflm is not None and board.imu is not None


def test_load_board_by_path_and_unknown_name(tmp_path: Path):
    copy = tmp_path / "mine.toml"
    copy.write_text((boards_dir() / "nano33.toml").read_text())
    assert load_board(copy).name == "mine"
    assert load_board(str(copy)).fqbn == "arduino:mbed_nano:nano33ble"
    with pytest.raises(EdgekitError, match=r"--board nano99: unknown board; choose one of .*nano33"):
        load_board("nano99")
    with pytest.raises(EdgekitError, match="board file not found"):
        load_board(tmp_path / "missing.toml")


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = (boards_dir() / "nano33.toml").read_text()
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('clock = "64 MHz"', 'clock = "64 Mhz"', r"mcu\.clock: unknown unit 'Mhz'; use one of Hz, kHz, MHz"),
        ('ram = "256 KiB"', 'ram = "256 kb"', r"memory\.ram: unknown unit 'kb'"),
        ('app_flash = "960 KiB"', 'app_flash = "960"', r"memory\.app_flash: '960' is not a size"),
        ('app_ram = "256 KiB"', 'app_ram = "0.5 B"', r"memory\.app_ram: .* not a whole positive number of bytes"),
        ('native_rate = "119 Hz"', 'native_rate = "119 g"', r"imu\.native_rate: unknown unit 'g'"),
        ("fpu = true", 'fpu = "yes"', r"mcu\.fpu: must be true or false"),
        ('fqbn = "arduino:mbed_nano:nano33ble"', 'fqbn = "nano33ble"', r"arduino\.fqbn: 'nano33ble' has characters"),
        ('axis_map = ["-y", "x", "z"]', 'axis_map = ["-y", "y", "z"]', r"imu\.axis_map .*exactly once"),
        ('axis_map = ["-y", "x", "z"]', 'axis_map = "-y,x,z"', r"imu\.axis_map: must be a list"),
        ('units = "g"', 'units = "mg"', r"imu\.units: 'mg' is not one of g, m/s\^2"),
        ('pins = ["LEDR", "LEDG", "LEDB"]', 'pins = ["LEDR"]', r"led\.pins: a 'rgb' LED needs 3 pins"),
        ("[mcu]\n", '[mcu]\nvoltage = "3.3 V"\n', r"mcu\.voltage: unknown key; allowed keys here: clock, core"),
        ('flash = "224 KiB"\n', "", r"reserved\.flash: missing; add it to the board file"),
        ("title = ", "titel = ", r"titel: unknown key"),
        ('flash = "224 KiB"', 'flash = "2 MiB"', r"reserved\.flash: leaves no flash for a model"),
        ("[platformio]", "[platformio", r"not valid TOML"),
    ],
)
def test_bad_board_files_name_file_and_key(tmp_path: Path, old: str, new: str, message: str):
    path = _broken(tmp_path, old, new)
    with pytest.raises(EdgekitError) as info:
        load_board(path)
    assert str(path) in str(info.value)
    assert re.search(message, str(info.value)), str(info.value)


@pytest.mark.parametrize(
    "stem",
    [
        'nano33\n#include <stdlib.h>\n#define setup() system("id")',
        "nano33 (copy)",
        "Nano33",
        "my#board",
        "x" * 41,
        "-nano33",
    ],
)
def test_a_board_file_name_that_cannot_be_a_profile_is_refused(tmp_path: Path, stem: str):
    """The stem becomes the sketch.yaml profile, [env:...] and C++ comments: it is checked like a --board name."""
    path = tmp_path / f"{stem}.toml"
    path.write_text((boards_dir() / "nano33.toml").read_text())
    with pytest.raises(EdgekitError) as info:
        load_board(path)
    message = str(info.value)
    assert "\n" not in message and "is not a board name" in message and "rename the file" in message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('title = "Arduino Nano 33 BLE Sense (Rev1)"', 'title = "Nano \\\\"', "title"),
        ('title = "Arduino Nano 33 BLE Sense (Rev1)"', 'title = "Nano | `x` <b>"', "title"),
        ('part = "nRF52840"', 'part = "nRF*/52840"', "mcu.part"),
        ('core = "Cortex-M4F"', 'core = "Cortex#M4F"', "mcu.core"),
        ('mounting = "Board upright', 'mounting = "[click](http://x) Board upright', "imu.mounting"),
    ],
)
def test_board_texts_that_would_break_out_of_a_comment_or_table_are_refused(
    tmp_path: Path, old: str, new: str, key: str
):
    """Titles and notes land in C++ // comments (a trailing backslash continues them), YAML and Markdown."""
    with pytest.raises(EdgekitError, match=rf"{re.escape(key)}: .* cannot go into the sketch \(.+\); remove them"):
        load_board(_broken(tmp_path, old, new))


def test_cli_capture_flash_refuses_a_board_file_named_like_code(tmp_path: Path):
    """The reported attack: the stem reached capture.ino; now the CLI stops at load with exit 2 and one line."""
    from edgekit.cli import main

    path = tmp_path / 'nano33\n#include <stdlib.h>\n#define setup() system("touch pwned").toml'
    path.write_text((boards_dir() / "nano33.toml").read_text())
    result = CliRunner().invoke(
        main,
        [
            "capture",
            "--board",
            str(path),
            "--flash",
            "--port",
            "/dev/null-edgekit",
            "--user",
            "1",
            "--activity",
            "Walking",
            "--out",
            str(tmp_path / "me.txt"),
        ],
    )
    assert result.exit_code == 2, (result.output, result.exception)
    assert len(result.stderr.splitlines()) == 1 and "is not a board name" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-y,x,z", ("-y", "x", "z")),
        (" x , y , z ", ("x", "y", "z")),
        ("+z,-x,y", ("z", "-x", "y")),
        (["-y", "x", "z"], ("-y", "x", "z")),
    ],
)
def test_parse_axis_map(text, expected):
    assert parse_axis_map(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x,y", "needs 3"),
        ("x,y,z,x", "needs 3"),
        ("x,x,z", "exactly once"),
        ("w,y,z", "'w' is not x, y or z"),
        ("--x,y,z", "'--x'"),
        ("", "needs 3"),
    ],
)
def test_parse_axis_map_rejects(text, message):
    with pytest.raises(EdgekitError, match=message):
        parse_axis_map(text)


def test_every_signed_permutation_parses_and_maps_back():
    for perm in itertools.permutations("xyz"):
        for signs in itertools.product("+-", repeat=3):
            text = ",".join(("-" if s == "-" else "") + a for s, a in zip(signs, perm, strict=True))
            mapping = parse_axis_map(text)
            sources = axis_map_sources(mapping)
            assert [("-" if neg else "") + "xyz"[axis] for axis, neg in sources] == list(mapping)


def test_seed_model_fits_the_nano33_with_percentages():
    report = fit_check(
        load_board("nano33"), SEED_TFLITE_BYTES, SEED_ARENA_BYTES, extra_ram_bytes=3000, extra_flash_bytes=12_000
    )
    assert report.fits
    assert report.flash_used == 229_376 + SEED_TFLITE_BYTES + 12_000
    assert report.ram_used == 65_536 + SEED_ARENA_BYTES + 3000
    assert report.flash_pct == pytest.approx(100 * report.flash_used / 983_040)
    assert 0 < report.ram_pct < 100
    report.raise_if_not_fit()
    data = report.to_dict()
    assert data["flash"]["items"]["model"] == SEED_TFLITE_BYTES and data["fits"] is True
    assert "board nano33: flash" in report.summary()


def test_uno_refuses_with_numbers_and_what_to_try():
    report = fit_check(load_board("uno"), SEED_TFLITE_BYTES, SEED_ARENA_BYTES)
    assert not report.fits
    assert report.flash_pct > 1000
    with pytest.raises(EdgekitError) as info:
        report.raise_if_not_fit()
    message = str(info.value)
    assert "--board uno: the model does not fit" in message
    assert f"model {SEED_TFLITE_BYTES:,}" in message and "32,256 B" in message and "2,048 B" in message
    assert "--model compact" in message and "--board nano33" in message and "--board uno," not in message


def test_a_refusal_never_suggests_the_model_already_chosen():
    """'--model compact' on the uno was told to try '--model compact': the advice follows the choice."""
    report = fit_check(load_board("uno"), 42_470, 0)
    with pytest.raises(EdgekitError) as info:
        report.raise_if_not_fit("compact")
    message = str(info.value)
    assert "try a smaller model" not in message
    assert "--model compact is already the smallest model; try a board it fits: --board nano-rp2040" in message
    with pytest.raises(EdgekitError, match=r"try a smaller model \(--model compact\) or a board it fits"):
        report.raise_if_not_fit("seed")
    nowhere = fit_check(load_board("nano33"), 10**9, 0)
    with pytest.raises(EdgekitError, match=r"already the smallest model; pick a board with more flash and RAM"):
        nowhere.raise_if_not_fit("compact")


def test_smallest_model_is_a_model_edgekit_has():
    from edgekit.boards import SMALLEST_MODEL
    from edgekit.model import model_names

    assert SMALLEST_MODEL in model_names()


def test_estimate_fit_for_compact_on_the_uno_does_not_suggest_compact():
    from edgekit.build import estimate_fit
    from edgekit.train import TrainConfig

    with pytest.raises(EdgekitError) as info:
        estimate_fit(load_board("uno"), TrainConfig(model="compact"))
    assert "(--model compact)" not in str(info.value) and "already the smallest model" in str(info.value)


def test_fit_limits_are_inclusive_and_ram_alone_can_fail():
    board = load_board("nano33")
    exact = board.app_flash_bytes - board.reserved_flash_bytes
    assert fit_check(board, exact, 1).fits
    assert not fit_check(board, exact + 1, 1).fits
    too_much_ram = fit_check(board, 1000, board.model_ram_budget + 1)
    assert not too_much_ram.fits
    with pytest.raises(EdgekitError, match=r"RAM .* > 262,144 B"):
        too_much_ram.raise_if_not_fit()
    with pytest.raises(EdgekitError, match="negative"):
        fit_check(board, -1, 0)


def test_cli_boards_table_and_json():
    from edgekit.cli import main

    result = CliRunner().invoke(main, ["boards"])
    assert result.exit_code == 0, result.output
    assert "nano33-rev2" in result.output and "arduino:mbed_nano:nano33ble" in result.output
    assert "736 KiB" in result.output  # nano33 flash left for the model
    result = CliRunner().invoke(main, ["boards", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["nano33"]["app_flash_bytes"] == 983_040
    assert rows["nano33"]["libraries"] == {"Arduino_LSM9DS1": "1.1.1"}
    assert rows["uno"]["imu"] is None


def test_every_shipped_board_lists_its_usb_ids_and_boards_json_shows_them():
    """Issue 13 item 4: USB ids live in the board files (port detection reads them), not in code."""
    from click.testing import CliRunner

    from edgekit.cli import main

    assert all(board.usb_ids for board in list_boards())
    shown = {b["name"]: b["usb_ids"] for b in json.loads(CliRunner().invoke(main, ["boards", "--json"]).stdout)}
    assert shown["nano33"] == ["2341:805A", "2341:005A"] and shown["uno"][-1] == "2A03:0043"
