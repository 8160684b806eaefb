"""`edgekit capture`: the capture sketch (rendered, compiled, run on the desktop) and the host writer."""

from __future__ import annotations

import _thread
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers.fakeboard import FAKE_ARDUINO_CLI, BoardThread, FakeBoard, install_tool, read_log, wait_for
from helpers.firmware import STUBS

from edgekit.boards import AXES, list_boards, load_board
from edgekit.cli import main
from edgekit.contract import STANDARD_GRAVITY
from edgekit.data.raw import read_raw
from edgekit.device.capture import capture, check_activity
from edgekit.device.link import parse_line
from edgekit.errors import EdgekitError
from edgekit.firmware.capture import SKETCH_NAME, render_capture_sketch

HARNESS = Path(__file__).parent / "capture_harness" / "main.cc"
IMU_BOARDS = [b.name for b in list_boards() if b.imu is not None and b.imu.driver == "arduino-imu"]
BOARD_READING = (0.5, -1.0, 0.25)  # what the harness IMU reports, in the library's units
SAFETY_S = 20.0


@pytest.fixture
def board(tmp_path: Path):
    fake = FakeBoard(tmp_path)
    yield fake
    fake.close()


def cap_lines(first_seq: int, n: int, skip: tuple[int, ...] = ()) -> list[str]:
    return [
        f"EK,CAP,{seq},{0.01 * seq:.4f},9.8066,-0.5000" for seq in range(first_seq, first_seq + n) if seq not in skip
    ]


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


# ---------------------------------------------------------------- the sketch


def expected_wisdm(board_name: str) -> list[float]:
    """The harness reading in WISDM axes and m/s^2, worked out from the board file independently."""
    imu = load_board(board_name).imu
    scale = STANDARD_GRAVITY if imu.units == "g" else 1.0
    out = []
    for item in imu.axis_map:
        value = BOARD_READING[AXES.index(item.lstrip("-"))] * scale
        out.append(-value if item.startswith("-") else value)
    return out


@pytest.mark.parametrize("name", IMU_BOARDS)
def test_capture_sketch_uses_the_board_files_imu(name: str, tmp_path: Path) -> None:
    board = load_board(name)
    sketch = render_capture_sketch(board, tmp_path)
    assert sketch.name == SKETCH_NAME
    ino = (sketch / f"{SKETCH_NAME}.ino").read_text()
    assert f"#include <{board.imu.library.header}>" in ino
    assert f"{board.imu.class_name}& g_imu = {board.imu.object};" in ino
    assert board.imu.not_found in ino
    yaml = (sketch / "sketch.yaml").read_text()
    assert f"fqbn: {board.fqbn}" in yaml and f"{board.imu.library.name} ({board.imu.library.version})" in yaml
    assert f"{board.platform} ({board.platform_version})" in yaml and f"default_profile: {name}" in yaml
    again = render_capture_sketch(board, tmp_path / "again")
    assert all((again / f.name).read_bytes() == f.read_bytes() for f in sketch.iterdir())  # deterministic


def test_capture_sketch_axis_map_override(tmp_path: Path) -> None:
    ino = (render_capture_sketch(load_board("nano33"), tmp_path, axis_map="x,-z,y") / f"{SKETCH_NAME}.ino").read_text()
    assert "WISDM axes in m/s^2 (x,-z,y)" in ino and "// WISDM y <- board -z" in ino
    with pytest.raises(EdgekitError, match="each of x, y, z must appear exactly once"):
        render_capture_sketch(load_board("nano33"), tmp_path / "bad", axis_map="x,x,z")


def test_capture_sketch_refuses_a_board_without_imu(tmp_path: Path) -> None:
    no_imu = [b for b in list_boards() if b.imu is None]
    if not no_imu:
        pytest.skip("every shipped board has an IMU")
    with pytest.raises(EdgekitError, match="has no IMU"):
        render_capture_sketch(no_imu[0], tmp_path)


def compile_harness(name: str, tmp_path: Path) -> Path:
    board = load_board(name)
    stub = STUBS / board.imu.library.header
    assert stub.is_file(), f"add a declaration stub {stub} for board {name}'s IMU library"
    sketch = render_capture_sketch(board, tmp_path)
    exe = tmp_path / "capture_harness"
    subprocess.run(
        ["g++", "-std=c++14", "-Wall", "-Wextra", "-Werror", "-O1", f"-I{sketch}", f"-I{STUBS}",
         f'-DSTUB_IMU_HEADER="{board.imu.library.header}"', f"-DSTUB_IMU_CLASS={board.imu.class_name}",
         "-x", "c++", str(sketch / f"{SKETCH_NAME}.ino"), "-x", "c++", str(HARNESS),
         str(STUBS / "host" / "serial.cc"), "-o", str(exe)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return exe


def run_harness(exe: Path, imu: int = 1, run_ms: int = 3000, connect_at: int = 100, stall_at: int = 1000,
                stall_ms: int = 130, fail_read: int = 30) -> list[str]:  # fmt: skip
    args = [str(a) for a in (imu, run_ms, connect_at, stall_at, stall_ms, fail_read)]
    out = subprocess.run([str(exe), *args], check=True, capture_output=True, timeout=30).stdout
    assert out.endswith(b"\r\n")
    return out.decode("ascii").split("\r\n")[:-1]


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
@pytest.mark.parametrize("name", IMU_BOARDS)
def test_capture_sketch_runs_and_speaks_the_protocol(name: str, tmp_path: Path) -> None:
    exe = compile_harness(name, tmp_path)
    messages = [parse_line(line) for line in run_harness(exe)]  # every line must parse
    assert messages[0].kind == "CAPSTART" and messages[0]["rate_hz"] == 20.0
    samples = messages[1:]
    assert all(m.kind == "CAP" for m in samples)
    seqs = [m["seq"] for m in samples]
    assert seqs[0] == 0 and seqs == sorted(seqs)
    # 2900 ms connected at 50 ms: 58 slots; the 130 ms stall loses 2 and the failed read 1
    assert seqs[-1] == 57 and len(seqs) == 58 - 3
    want = expected_wisdm(name)
    for m in samples:
        assert [m[a] for a in AXES] == pytest.approx(want, abs=0.00005 + 1e-9)


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_capture_sketch_reports_a_missing_imu(tmp_path: Path) -> None:
    exe = compile_harness("nano33", tmp_path)
    lines = run_harness(exe, imu=0, run_ms=4500)
    messages = [parse_line(line) for line in lines]
    assert [m.kind for m in messages] == ["ERROR", "ERROR", "ERROR"]  # at connect, then every 2 s
    assert messages[0]["reason"] == load_board("nano33").imu.not_found


@pytest.mark.skipif(shutil.which("arm-none-eabi-g++") is None, reason="arm-none-eabi-g++ not installed")
@pytest.mark.parametrize(
    ("name", "cpu"), [("nano33", ["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]),
                      ("nano-rp2040", ["-mcpu=cortex-m0plus"])],
)  # fmt: skip
def test_capture_sketch_cross_compiles(name: str, cpu: list[str], tmp_path: Path) -> None:
    sketch = render_capture_sketch(load_board(name), tmp_path)
    subprocess.run(
        ["arm-none-eabi-g++", "-std=c++14", "-mthumb", *cpu, "-Os", "-Wall", "-Wextra", "-Werror",
         f"-I{sketch}", f"-I{STUBS}", "-x", "c++", "-c", str(sketch / f"{SKETCH_NAME}.ino"),
         "-o", str(tmp_path / "capture.o")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


# ---------------------------------------------------------------- the host writer


def test_capture_writes_wisdm_lines_with_sequence_timestamps(board: FakeBoard, tmp_path: Path) -> None:
    out = tmp_path / "me.txt"

    def script() -> None:
        board.wait_host()
        board.send("EK,CAPSTART,20.00", "not a sample", *cap_lines(0, 30, skip=(10, 11)))

    thread = BoardThread(script)
    thread.start()
    summary = capture(board.port, 7, "Walking", out, seconds=1.0)
    thread.finish()
    assert board.from_host(timeout=1.0).startswith(b"c")  # asked the board to stream
    assert (summary.samples, summary.dropped, summary.garbage, summary.resets) == (20, 2, 1, 0)
    lines = out.read_text().splitlines()
    assert len(lines) == 20 and all(line.startswith("7,Walking,") and line.endswith(";") for line in lines)
    assert lines[0].split(",")[3:] == ["0", "9.8066", "-0.5;"]
    rec = read_raw(out)
    assert len(rec) == 20 and rec.skipped.count == 0 and rec.labels == ["Walking"]
    steps = np.diff(rec.t_ns)
    assert steps.tolist() == [50_000_000] * 9 + [150_000_000] + [50_000_000] * 9  # the gap stays visible
    assert rec.xyz[5].tolist() == pytest.approx([0.05, 9.8066, -0.5])
    assert "20 samples (1.0 s at 20 Hz)" in summary.line() and "dropped 2" in summary.line()


def test_capture_interrupted_half_way_keeps_every_received_line(board: FakeBoard, tmp_path: Path) -> None:
    out = tmp_path / "me.txt"
    out.write_text("3,Sitting,1000,0.1,9.8,0.2;\n3,Sitting,50001000,0.1,9.8")  # a killed session's tail

    def script() -> None:
        board.wait_host()
        board.send("EK,CAPSTART,20.00", *cap_lines(0, 25))
        wait_for(lambda: line_count(out) == 2 + 25, "25 samples on disk")
        _thread.interrupt_main()  # Ctrl-C half-way through a 60 s capture
        board.send(*cap_lines(25, 5))

    thread = BoardThread(script, board)
    thread.start()
    summary = capture(board.port, 7, "Jogging", out, seconds=60.0, first_sample_timeout_s=SAFETY_S)
    thread.finish()
    assert summary.interrupted and summary.samples == 25
    rec = read_raw(out)  # the unfinished old line is skipped, everything received is there
    assert len(rec) == 1 + 25 and rec.skipped.count == 1
    assert rec.labels == ["Jogging", "Sitting"] and (rec.user == np.array([3] + [7] * 25)).all()


def unplug_after_12_samples(board: FakeBoard, out: Path) -> BoardThread:
    """The board streams 12 samples, waits until they are on disk, then its cable is pulled for good."""

    def script() -> None:
        board.wait_host()
        board.send("EK,CAPSTART,20.00", *cap_lines(0, 12))
        wait_for(lambda: line_count(out) == 12, "12 samples on disk")
        board.unplug()

    thread = BoardThread(script)
    thread.start()
    return thread


def test_capture_port_lost_for_good_keeps_data(board: FakeBoard, tmp_path: Path) -> None:
    out = tmp_path / "me.txt"

    thread = unplug_after_12_samples(board, out)
    summary = capture(board.port, 1, "Standing", out, seconds=60.0, reconnect_s=0.5)
    thread.finish()
    assert summary.lost and "did not come back within 0.5 s" in summary.lost
    assert len(read_raw(out)) == 12


def test_capture_reconnects_and_reanchors_after_a_reset(board: FakeBoard, tmp_path: Path) -> None:
    out = tmp_path / "me.txt"

    def script() -> None:
        board.wait_host()
        board.send("EK,CAPSTART,20.00", *cap_lines(0, 10))
        wait_for(lambda: line_count(out) == 10, "samples before the reset")
        board.unplug()
        board.plug()
        board.wait_host()
        board.send("EK,CAPSTART,20.00", *cap_lines(0, 10))

    thread = BoardThread(script)
    thread.start()
    summary = capture(board.port, 1, "Upstairs", out, seconds=1.0)
    thread.finish()
    assert (summary.samples, summary.reconnects, summary.resets, summary.dropped) == (20, 1, 1, 0)
    t_ns = read_raw(out).t_ns
    assert (np.diff(t_ns) > 0).all()  # time never runs backwards across the reset
    assert board.from_host(timeout=1.0).startswith(b"c")  # streaming requested again after the replug


def test_capture_without_samples_says_what_to_do(board: FakeBoard, tmp_path: Path) -> None:
    def script() -> None:
        board.wait_host()
        board.send("EK,PRED,1,Walking,0.9,10,0")  # inference firmware that ignores 'c'

    thread = BoardThread(script)
    thread.start()
    with pytest.raises(EdgekitError, match=r"no EK,CAP lines within 0.5 s; flash the capture sketch"):
        capture(board.port, 1, "Walking", tmp_path / "me.txt", seconds=5, first_sample_timeout_s=0.5)
    thread.finish()
    assert not (tmp_path / "me.txt").exists()  # no data, no file


@pytest.mark.parametrize("activity", ["Walk,ing", "", "  ", "a;b", "line\nbreak", "Walking!", "A" * 65, "A" * 100])
def test_capture_cli_rejects_bad_activity_names(activity: str, tmp_path: Path) -> None:
    """Issue 12 item 14: 'Walking!' and a 100-character name were recorded, then refused by build as labels."""
    result = CliRunner().invoke(
        main, ["capture", "--user", "1", "--activity", activity, "--out", str(tmp_path / "x.txt"), "--port", "x"]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.startswith("edgekit: error: --activity ") and result.stderr.count("\n") == 1
    assert "1 to 64 letters, digits" in result.stderr
    assert not (tmp_path / "x.txt").exists()


def test_capture_accepts_every_label_the_firmware_accepts() -> None:
    for name in ["Walking", "Upstairs", "Stand up", "walk/run", "a.b+c(d)-e_f", "A" * 64]:
        assert check_activity(name) == name
    assert check_activity(" Walking ") == "Walking"


@pytest.mark.parametrize("user", ["99999999999999999999999", "-1", "1.5"])
def test_capture_cli_refuses_a_bad_user_before_anything(user: str, tmp_path: Path) -> None:
    """Issue 12 item 14: --user 99999999999999999999999 is refused up front, exit 2, one error line."""
    result = CliRunner().invoke(
        main, ["capture", "--user", user, "--activity", "Walking", "--out", str(tmp_path / "x.txt"), "--port", "x"]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if "rror" in line]
    assert len(errors) == 1 and "--user" in errors[0]
    assert not (tmp_path / "x.txt").exists()
    with pytest.raises(EdgekitError, match=r"--user 9223372036854775808: must be an integer from 0 to"):
        capture("x", 2**63, "Walking", tmp_path / "x.txt")


def test_capture_cli_flashes_the_capture_sketch_then_records(
    board: FakeBoard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir, log, out = tmp_path / "bin", tmp_path / "calls.jsonl", tmp_path / "data" / "me.txt"
    out.parent.mkdir()
    install_tool(bin_dir, "arduino-cli", FAKE_ARDUINO_CLI)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("EDGEKIT_FAKE_LOG", str(log))

    def script() -> None:
        board.wait_host()
        board.send("EK,CAPSTART,20.00", *cap_lines(0, 40))

    thread = BoardThread(script)
    thread.start()
    result = CliRunner().invoke(
        main,
        ["capture", "--board", "nano33", "--user", "31", "--activity", "Downstairs", "--seconds", "2",
         "--out", str(out), "--port", board.port, "--flash"],
    )  # fmt: skip
    thread.finish()
    assert result.exit_code == 0, result.output
    update, build, upload = read_log(log)
    assert update == ["arduino-cli", "update"]
    assert build[:4] == ["arduino-cli", "compile", "--profile", "nano33"] and build[-1].endswith(SKETCH_NAME)
    assert upload[1:8] == ["upload", "--profile", "nano33", "--fqbn", "arduino:mbed_nano:nano33ble", "-p", board.port]
    assert not Path(build[-1]).exists()  # the rendered sketch was a temporary folder
    assert "capture: 40 samples (2.0 s at 20 Hz)" in result.output
    rec = read_raw(out)
    assert len(rec) == 40 and rec.labels == ["Downstairs"] and set(rec.user.tolist()) == {31}


def test_capture_cli_lost_port_exits_1_naming_the_saved_samples(board: FakeBoard, tmp_path: Path) -> None:
    out = tmp_path / "me.txt"

    thread = unplug_after_12_samples(board, out)
    args = ["capture", "--user", "2", "--activity", "Sitting", "--out", str(out), "--port", board.port]
    result = CliRunner().invoke(main, [*args, "--reconnect-timeout", "0.5"])
    thread.finish()
    assert result.exit_code == 1, result.output
    assert "the 12 samples received are saved in" in result.output
    assert len(read_raw(out)) == 12


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_capture_sketch_output_through_the_host_writer(board: FakeBoard, tmp_path: Path) -> None:
    """End to end: the sketch's own bytes, through a serial port, into a file edgekit can train on."""
    stream = run_harness(compile_harness("nano33", tmp_path), run_ms=1700, stall_at=800, fail_read=0)
    out = tmp_path / "me.txt"

    def script() -> None:
        board.wait_host()
        board.send(*stream)

    thread = BoardThread(script)
    thread.start()
    summary = capture(board.port, 5, "Walking", out, seconds=1.5)
    thread.finish()
    assert (summary.samples, summary.dropped) == (30, 2)
    rec = read_raw(out)
    assert rec.xyz[0].tolist() == pytest.approx(expected_wisdm("nano33"), abs=1e-4)
    assert math.isclose(float(np.median(np.diff(rec.t_ns))), 50e6)
