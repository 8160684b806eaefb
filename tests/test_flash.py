"""`edgekit flash`: sketch.yaml profiles, port choice, and the exact arduino-cli / pio calls (fake tools on PATH)."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest
import serial.tools.list_ports
from click.testing import CliRunner
from helpers.fakeboard import FAKE_ARDUINO_CLI, FAKE_PIO, SKETCH_YAML, install_tool, port_info, read_log

from edgekit.boards import load_board
from edgekit.cli import main
from edgekit.device.flash import find_sketch, plan_flash, read_profile
from edgekit.errors import EdgekitError
from edgekit.resources import resource_dir


def make_sketch(parent: Path, name: str = "edgekit_har", yaml: str = SKETCH_YAML) -> Path:
    sketch = parent / name
    sketch.mkdir(parents=True)
    (sketch / f"{name}.ino").touch()  # the fake arduino-cli never reads it
    (sketch / "sketch.yaml").write_text(yaml)
    return sketch


def make_run(parent: Path) -> tuple[Path, Path]:
    run = parent / "run"
    sketch = make_sketch(run / "firmware")
    (run / "manifest.json").write_text('{"kind": "edgekit-run"}\n')
    return run, sketch


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake arduino-cli and pio first on PATH; returns the log of their calls."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.jsonl"
    install_tool(bin_dir, "arduino-cli", FAKE_ARDUINO_CLI)
    install_tool(bin_dir, "pio", FAKE_PIO)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("EDGEKIT_FAKE_LOG", str(log))
    return log


def plug(monkeypatch: pytest.MonkeyPatch, *devices: str) -> None:
    """The system's serial ports as pyserial reports them: /dev/ttyS0 plus one board per device."""
    ports = [port_info("/dev/ttyS0", vid=None, pid=None)] + [port_info(d) for d in devices]
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: ports)


def flash(*args: str):
    return CliRunner().invoke(main, ["flash", *args])


# ---------------------------------------------------------------- sketch.yaml and the sketch folder


def test_read_profile_picks_default_then_only_profile(tmp_path: Path) -> None:
    profile = read_profile(make_sketch(tmp_path))
    assert (profile.name, profile.fqbn) == ("nano33", "arduino:mbed_nano:nano33ble")
    assert profile.platforms == ("arduino:mbed_nano (4.4.1)",)
    assert profile.libraries == ("Arduino_LSM9DS1 (1.1.1)",)
    only = make_sketch(tmp_path, "b", SKETCH_YAML.replace("default_profile: nano33\n", ""))
    assert read_profile(only).name == "nano33"
    two = SKETCH_YAML.replace("default_profile: nano33\n", "  rp:\n    fqbn: arduino:mbed_nano:nanorp2040connect\n")
    with pytest.raises(EdgekitError, match=r"no profile None \(profiles: nano33, rp\); set default_profile"):
        read_profile(make_sketch(tmp_path, "c", two))
    assert read_profile(tmp_path / "c", "rp").fqbn == "arduino:mbed_nano:nanorp2040connect"


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("", "no 'profiles:' section"),
        ("profiles:\n  nano33:\n    notes: no board\n", "has no fqbn"),
        ("profiles:\n\tnano33:\n", r"sketch.yaml:2: found character '.t' that cannot start any token"),
        ("profiles:\n  nano33:\n    fqbn: a:b:c\n   bad: indent\n", r"sketch.yaml:4: expected <block end>"),
        ("[" * 5000, "nested too deeply"),
        ("profiles: {1: {fqbn: a:b:c}, x: {fqbn: a:b:c}}\n", r"profiles: 1, x\); set default_profile"),
        ("profiles: [nano33]\n", "no 'profiles:' section"),
    ],
)
def test_read_profile_errors_name_the_file(tmp_path: Path, yaml: str, message: str) -> None:
    sketch = make_sketch(tmp_path, yaml=yaml)
    with pytest.raises(EdgekitError, match=message) as info:
        read_profile(sketch)
    assert str(sketch / "sketch.yaml") in str(info.value)


def test_read_profile_takes_what_yaml_allows_beyond_the_generated_form(tmp_path: Path) -> None:
    """Flow style, anchors and comments are YAML a user may write (arduino-cli reads them); PyYAML does too."""
    text = (
        "libs: &libs [Arduino_LSM9DS1 (1.1.1), 'x (2)']  # flow list\n"
        "profiles:\n  nano33: {fqbn: 'arduino:mbed_nano:nano33ble', libraries: *libs,\n"
        "    platforms: [{platform: arduino:mbed_nano (4.4.1), platform_index_url: https://e.org/i.json}]}\n"
    )
    profile = read_profile(make_sketch(tmp_path, yaml=text))
    assert profile.libraries == ("Arduino_LSM9DS1 (1.1.1)", "x (2)")
    assert profile.platforms == ("arduino:mbed_nano (4.4.1)",)


@pytest.mark.parametrize("name", ["nano33", "nano33-rev2", "nano-rp2040"])
def test_read_profile_understands_the_generated_sketch_yaml(name: str, tmp_path: Path) -> None:
    """The firmware generator's sketch.yaml template, filled from a board file, reads back as arduino-cli would."""
    board = load_board(name)
    template = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("firmware_templates") / "sketch")),
        trim_blocks=True, lstrip_blocks=True,
    ).get_template("sketch.yaml.j2")  # fmt: skip
    text = template.render(
        board_name=board.name, fqbn=board.fqbn, platform=board.platform,
        platform_version=board.platform_version, libraries=board.libraries, edgekit_version="test",
    )  # fmt: skip
    profile = read_profile(make_sketch(tmp_path, yaml=text))
    assert (profile.name, profile.fqbn) == (name, board.fqbn)
    assert profile.libraries == tuple(f"{lib.name} ({lib.version})" for lib in board.libraries)


def test_find_sketch_in_a_run_folder(tmp_path: Path) -> None:
    run, sketch = make_run(tmp_path)
    assert find_sketch(run, None) == sketch
    assert find_sketch(run, tmp_path / "run" / "firmware" / "edgekit_har") == sketch
    other = make_sketch(run / "firmware", "edgekit_har_nano-rp2040")
    with pytest.raises(EdgekitError, match="several sketches"):
        find_sketch(run, None)
    assert find_sketch(run, None, board="nano-rp2040") == other
    with pytest.raises(EdgekitError, match=r"no firmware/ folder; generate the sketch with 'edgekit build"):
        find_sketch(tmp_path / "elsewhere", None)
    with pytest.raises(EdgekitError, match=r"--sketch .*: folder not found"):
        find_sketch(None, tmp_path / "nope")


def test_plan_flash_dry_run_uses_a_placeholder_port(tmp_path: Path) -> None:
    def no_board() -> str:
        raise EdgekitError("--port: no board found")

    plan = plan_flash(make_sketch(tmp_path), port=None, find_port=no_board, dry_run=True)
    assert plan.port == "<PORT>" and "-p '<PORT>'" in plan.shell_lines()[-1]
    with pytest.raises(EdgekitError, match="no board found"):
        plan_flash(tmp_path / "edgekit_har", port=None, find_port=no_board)


# ---------------------------------------------------------------- the command


def test_flash_dry_run_prints_the_exact_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Path) -> None:
    run, sketch = make_run(tmp_path)
    plug(monkeypatch, "/dev/ttyACM0")
    result = flash("--board", "nano33", "--run", str(run), "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "arduino-cli update",
        f"arduino-cli compile --profile nano33 -- {sketch}",
        f"arduino-cli upload --profile nano33 --fqbn arduino:mbed_nano:nano33ble -p /dev/ttyACM0 -- {sketch}",
    ]
    assert read_log(tools) == []  # nothing ran


def test_flash_runs_update_compile_upload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Path) -> None:
    run, sketch = make_run(tmp_path)
    plug(monkeypatch, "/dev/ttyACM0")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "edgekit-run").symlink_to(run)  # the default --run
    result = flash("--board", "nano33")
    assert result.exit_code == 0, result.output
    assert read_log(tools) == [
        ["arduino-cli", "update"],
        ["arduino-cli", "compile", "--profile", "nano33", "--", str(tmp_path / "edgekit-run/firmware/edgekit_har")],
        ["arduino-cli", "upload", "--profile", "nano33", "--fqbn", "arduino:mbed_nano:nano33ble", "-p",
         "/dev/ttyACM0", "--", str(tmp_path / "edgekit-run/firmware/edgekit_har")],
    ]  # fmt: skip
    assert "flashed edgekit-run/firmware/edgekit_har to /dev/ttyACM0" in result.output


def test_flash_goes_on_when_the_index_refresh_fails_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Path
) -> None:
    sketch = make_sketch(tmp_path)
    monkeypatch.setenv("EDGEKIT_FAKE_FAIL", "update")
    result = flash("--sketch", str(sketch), "--port", "/dev/ttyACM7")
    assert result.exit_code == 0, result.output
    assert [c[1] for c in read_log(tools)] == ["update", "compile", "upload"]


def test_flash_without_arduino_cli_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = flash("--sketch", str(make_sketch(tmp_path)), "--port", "/dev/ttyACM0")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1  # one line
    assert "arduino-cli not found on PATH; install it (https://arduino.github.io/arduino-cli" in result.output


def test_flash_without_a_board_connected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Path) -> None:
    plug(monkeypatch)
    result = flash("--sketch", str(make_sketch(tmp_path)))
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "no board found on USB" in result.output and "(serial ports seen: /dev/ttyS0)" in result.output
    assert read_log(tools) == []


def test_flash_board_finds_its_own_port_by_the_board_files_usb_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Path
) -> None:
    """With --board, a Nano 33 (2341:805A) beside a Nano RP2040 (2341:805E) is no longer two candidates."""
    ports = [port_info("/dev/ttyACM0"), port_info("/dev/ttyACM1", pid=0x805E, product="Nano RP2040 Connect")]
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: ports)
    sketch = str(make_sketch(tmp_path))
    assert "2 boards connected" in flash("--sketch", sketch).output
    result = flash("--sketch", sketch, "--board", "nano33")
    assert result.exit_code == 0, result.output
    assert read_log(tools)[-1][-4:] == ["-p", "/dev/ttyACM0", "--", str(Path(sketch).resolve())]


def test_flash_with_two_boards_lists_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Path) -> None:
    plug(monkeypatch, "/dev/ttyACM1", "/dev/ttyACM0")
    sketch = str(make_sketch(tmp_path))
    result = flash("--sketch", sketch)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "2 boards connected: /dev/ttyACM0 (Nano 33 BLE [2341:805A]), /dev/ttyACM1" in result.output
    assert read_log(tools) == []
    dry = flash("--sketch", sketch, "--dry-run")  # a dry run still shows the commands
    assert dry.exit_code == 0 and "-p '<PORT>'" in dry.output


def test_flash_compile_error_is_one_line_and_stops_before_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Path
) -> None:
    monkeypatch.setenv("EDGEKIT_FAKE_FAIL", "compile")
    monkeypatch.setenv("EDGEKIT_PROGRESS", "0")  # progress would echo the tool's output on stderr before the error
    result = flash("--sketch", str(make_sketch(tmp_path)), "--port", "/dev/ttyACM0")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "arduino-cli compile failed (exit 1): " in result.output
    assert "error: 'oops' was not declared in this scope" in result.output
    assert [c[1] for c in read_log(tools)] == ["update", "compile"]


def test_flash_with_platformio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Path) -> None:
    sketch = make_sketch(tmp_path)
    result = flash("--sketch", str(sketch), "--tool", "pio", "--port", "/dev/ttyACM0")
    assert result.exit_code == 2 and "no platformio.ini" in result.output
    (sketch / "platformio.ini").write_text("[env:nano33]\n")
    result = flash("--sketch", str(sketch), "--tool", "pio", "--port", "/dev/ttyACM0")
    assert result.exit_code == 0, result.output
    assert read_log(tools) == [["pio", "run", "-t", "upload", "-d", str(sketch), "--upload-port", "/dev/ttyACM0"]]
    plug(monkeypatch)  # no board edgekit recognises: PlatformIO may still find it
    assert flash("--sketch", str(sketch), "--tool", "pio").exit_code == 0
    assert read_log(tools)[-1] == ["pio", "run", "-t", "upload", "-d", str(sketch)]
    monkeypatch.setenv("PATH", str(tmp_path))
    result = flash("--sketch", str(sketch), "--tool", "pio")
    assert result.exit_code == 2 and "pio not found on PATH; install PlatformIO Core" in result.output


def test_flash_default_run_missing_says_what_to_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = flash("--port", "/dev/ttyACM0")
    assert result.exit_code == 2
    assert "--run edgekit-run: no firmware/ folder" in result.output and "--sketch DIR" in result.output


# ---------------------------------------------------------------- issue 12: what reaches the build tool


def test_a_sketch_path_never_becomes_an_arduino_cli_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Path
) -> None:
    """--sketch '--config-file=evil.yaml' was passed as an option: now an absolute path after '--'."""
    monkeypatch.chdir(tmp_path)
    make_sketch(tmp_path, name="--config-file=evil.yaml")
    result = flash("--sketch", "--config-file=evil.yaml", "--port", "/dev/ttyACM0")
    assert result.exit_code == 0, result.output
    sketch = str(tmp_path / "--config-file=evil.yaml")
    calls = read_log(tools)
    assert calls[1] == ["arduino-cli", "compile", "--profile", "nano33", "--", sketch]
    assert calls[2][-2:] == ["--", sketch]
    assert not any(arg.startswith("--config-file") for call in calls for arg in call)
    (tmp_path / "--config-file=evil.yaml" / "platformio.ini").write_text("[env:nano33]\n")
    assert flash("--sketch", "--config-file=evil.yaml", "--tool", "pio", "--port", "/dev/ttyACM0").exit_code == 0
    assert read_log(tools)[-1][:6] == ["pio", "run", "-t", "upload", "-d", sketch]


@pytest.mark.parametrize("port", ["--config-file=evil.yaml", "socket://127.0.0.1:9", "spy:///dev/ttyACM0"])
def test_flash_port_must_be_a_device_path(tmp_path: Path, tools: Path, port: str) -> None:
    sketch = make_sketch(tmp_path)
    for dry in ([], ["--dry-run"]):
        result = flash("--sketch", str(sketch), "--port", port, *dry)
        assert result.exit_code == 2 and "not a serial device path" in result.output, result.output
    assert read_log(tools) == []


def sketch_for(sketch: Path, board: str) -> Path:
    """What edgekit build records in the sketch folder: the board it generated the sketch for."""
    from edgekit.firmware import SKETCH_KIND, SKETCH_MANIFEST

    (sketch / SKETCH_MANIFEST).write_text(f'{{"kind": "{SKETCH_KIND}", "board": "{board}"}}\n')
    return sketch


@pytest.mark.parametrize("board", ["uno", "nano33-rev2", "nano-rp2040"])
def test_flash_refuses_a_board_the_sketch_was_not_generated_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Path, board: str
) -> None:
    run, sketch = make_run(tmp_path)
    sketch_for(sketch, "nano33")
    plug(monkeypatch, "/dev/ttyACM0")
    result = flash("--board", board, "--run", str(run), "--dry-run")
    assert result.exit_code == 2, result.output
    assert f"--board {board}: {sketch} was generated for board nano33" in result.output
    assert "arduino-cli" not in result.output.replace("with 'edgekit build", "")
    result = flash("--board", board, "--sketch", str(sketch), "--port", "/dev/ttyACM0")
    assert result.exit_code == 2 and read_log(tools) == []
    assert flash("--board", "nano33", "--run", str(run), "--dry-run").exit_code == 0


def test_find_sketch_picks_by_the_recorded_board_not_a_name_fragment(tmp_path: Path) -> None:
    run, sketch = make_run(tmp_path)
    sketch_for(sketch, "nano33")
    rev2 = sketch_for(make_sketch(run / "firmware", "edgekit_har_nano33-rev2"), "nano33-rev2")
    assert find_sketch(run, None, board="nano33") == sketch  # 'nano33' is part of the other's name
    assert find_sketch(run, None, board="nano33-rev2") == rev2
