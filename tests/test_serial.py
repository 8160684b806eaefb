"""Host serial side: line parsing, port detection, and `edgekit monitor` against a board on a pty."""

from __future__ import annotations

import _thread
import io
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import serial.tools.list_ports
from click.testing import CliRunner
from helpers.fakeboard import BoardThread, FakeBoard, port_info, wait_for

from edgekit.artifacts import sha256_file
from edgekit.boards import load_board
from edgekit.cli import main
from edgekit.contract import Contract
from edgekit.device.link import LineError, LineSplitter, parse_line
from edgekit.device.monitor import monitor
from edgekit.device.ports import AmbiguousPort, detect_port
from edgekit.errors import EdgekitError
from edgekit.records import BuildSummary
from edgekit.records.build import ArenaMeasured, MeasuredLatency
from edgekit.records.profile import Estimate, ProfileResult

HASH = "0123456789abcdef"
SAFETY_S = 20.0  # bounds a broken test; healthy ones stop on their own in well under a second


@pytest.fixture
def board(tmp_path: Path):
    fake = FakeBoard(tmp_path)
    yield fake
    fake.close()


def csv_rows(path: Path) -> int:
    return max(0, len(path.read_text().splitlines()) - 1) if path.is_file() else 0


# ---------------------------------------------------------------- parsing


def test_parse_every_tag_with_types() -> None:
    assert parse_line(f"EK,READY,{HASH},41234").values == {"model_hash": HASH, "arena_used": 41234}
    pred = parse_line("EK,PRED,17,Walking,0.912,12.25,3")
    assert pred.values == {"seq": 17, "label": "Walking", "confidence": 0.912, "inference_ms": 12.25, "missed": 3}
    selftest = parse_line("EK,SELFTEST,38,40,5,43210,7")
    assert (selftest["passed"], selftest["total"], selftest["first_failure"]) == (38, 40, 7)
    assert parse_line("EK,SENSOR,9.79,19.98,1").values == {"rest_magnitude": 9.79, "rate_hz": 19.98, "ok": 1}
    assert parse_line("EK,CAPSTART,20")["rate_hz"] == 20.0
    assert parse_line("EK,CAP,5,-0.6946,12.6805,0.5040").values == {
        "seq": 5, "x": -0.6946, "y": 12.6805, "z": 0.504,
    }  # fmt: skip
    assert parse_line("EK,ERROR,IMU init failed, check wiring")["reason"] == "IMU init failed, check wiring"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "hello from setup()",
        "EK",
        "EK,PRED,1,Walking,0.9,12.0",  # a field short
        "EK,PRED,1,Walking,0.9,12.0,0,extra",
        "EK,PRED,1,Walking,1.5,12.0,0",  # confidence above 1
        "EK,PRED,-1,Walking,0.5,12.0,0",
        "EK,PRED,1,Walking,nan,12.0,0",
        "EK,PRED,1,Walking,0.5,1e3,0",  # exponents are not what the firmware prints
        "EK,PRED,1,Wal,king,0.5,12.0,0",
        "EK,PRED,1EK,PRED,2,Walking,0.5,12.0,0",  # two lines run together
        "EK,CAP,1,0.1,0.2",
        "EK,CAP,1,0.1,0.2,0x3",
        "EK,CAP,1, 0.1,0.2,0.3",
        "EK,SELFTEST,41,40,0,100,-1",  # passed > total
        "EK,SENSOR,9.8,20.0,2",
        f"EK,READY,{HASH[:4]}zz,100",
        "EK,CAPSTART,0",
        "EK,ERROR,",
        "EK,BOGUS,1",
        "ek,PRED,1,Walking,0.5,12.0,0",
    ],
)
def test_malformed_lines_are_rejected(line: str) -> None:
    with pytest.raises(LineError):
        parse_line(line)


def test_the_parser_takes_fields_and_their_order_from_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    """protocol.FIELDS is the one list of every line's fields (the templates print from it too)."""
    from edgekit import protocol

    sample = {"model_hash": "0123456789abcdef", "label": "Walking", "ok": "1"}
    for kind, names in protocol.FIELDS.items():
        if kind == protocol.ERROR:
            continue
        message = parse_line(",".join([protocol.PREFIX, kind, *(sample.get(name, "1") for name in names)]))
        assert tuple(message.values) == names
    swapped = {**protocol.FIELDS, protocol.SENSOR: ("ok", "rate_hz", "rest_magnitude")}
    monkeypatch.setattr(protocol, "FIELDS", swapped)  # a reordered line in the protocol: the parser follows
    assert parse_line("EK,SENSOR,1,19.98,9.79").values == {"ok": 1, "rate_hz": 19.98, "rest_magnitude": 9.79}


def test_line_splitter_joins_partial_lines_and_drops_run_ons() -> None:
    splitter = LineSplitter(max_line=32)
    assert splitter.feed(b"EK,PRED,1,Walk") == []
    assert splitter.feed(b"ing,0.9,1.0,0\r\nEK,CAP") == [b"EK,PRED,1,Walking,0.9,1.0,0"]
    assert splitter.feed(b",1,2,3,4\n") == [b"EK,CAP,1,2,3,4"]
    assert splitter.feed(b"x" * 40) == [] and splitter.overflows == 1
    assert splitter.feed(b"y" * 40 + b"tail\nEK,CAP,2,0,0,0\n") == [b"EK,CAP,2,0,0,0"]
    assert splitter.overflows == 1  # one run-on line, counted once


# ---------------------------------------------------------------- port detection


def test_detect_port_picks_the_only_board() -> None:
    ports = [port_info("/dev/ttyS0", vid=None, pid=None), port_info("/dev/ttyACM0")]
    assert detect_port(None, list_ports=lambda: ports) == "/dev/ttyACM0"
    assert detect_port("/dev/ttyUSB7", list_ports=lambda: ports) == "/dev/ttyUSB7"  # explicit wins
    rp2040 = [port_info("/dev/ttyACM3", vid=0x2341, pid=0x805E, product="Nano RP2040 Connect")]
    assert detect_port(None, list_ports=lambda: rp2040) == "/dev/ttyACM3"


def test_detect_port_uses_the_board_files_usb_ids(tmp_path: Path) -> None:
    """The ids come from boards/*.toml: --board narrows to its own; without it any shipped board's count."""
    nano33, rp2040, uno = load_board("nano33"), load_board("nano-rp2040"), load_board("uno")
    assert [str(i) for i in nano33.usb_ids] == ["2341:805A", "2341:005A"]
    ports = [port_info("/dev/ttyACM0"), port_info("/dev/ttyACM1", pid=0x805E), port_info("/dev/ttyUSB0", pid=0x8036)]
    assert detect_port(None, nano33, list_ports=lambda: ports) == "/dev/ttyACM0"
    assert detect_port(None, rp2040, list_ports=lambda: ports) == "/dev/ttyACM1"
    with pytest.raises(EdgekitError, match=r"no Arduino Uno.* on USB with vendor:product id 2341:0001, 2341:0043,"):
        detect_port(None, uno, list_ports=lambda: ports)
    with pytest.raises(AmbiguousPort):  # a Leonardo (2341:8036) is no edgekit board: two, not three
        detect_port(None, list_ports=lambda: ports)
    bootloader = [port_info("/dev/ttyACM5", pid=0x005A)]  # double-tapped reset: the bootloader's id
    assert detect_port(None, nano33, list_ports=lambda: bootloader) == "/dev/ttyACM5"
    custom = tmp_path / "custom.toml"  # a board file without [usb] is found by the shipped boards' ids
    custom.write_text(nano33.path.read_text().split("\n[usb]")[0])
    assert load_board(custom).usb_ids == ()
    assert detect_port(None, load_board(custom), list_ports=lambda: ports[:1]) == "/dev/ttyACM0"


@pytest.mark.parametrize("ids", ['["2341"]', '"2341:805A"', "[]", '["2341:805G"]', "[0x2341]"])
def test_board_file_usb_ids_are_checked(tmp_path: Path, ids: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(load_board("nano33").path.read_text().split("\n[usb]")[0] + f"\n[usb]\nids = {ids}\n")
    with pytest.raises(EdgekitError, match=r"bad.toml: usb.ids: must be a non-empty list of \"VID:PID\""):
        load_board(bad)


def test_detect_port_errors_name_the_choices() -> None:
    two = [port_info("/dev/ttyACM1"), port_info("/dev/ttyACM0", product="Nano RP2040 Connect")]
    with pytest.raises(AmbiguousPort, match=r"2 boards connected: /dev/ttyACM0 .*Nano RP2040.*/dev/ttyACM1"):
        detect_port(None, list_ports=lambda: two)
    with pytest.raises(EdgekitError, match=r"no board found.*serial ports seen: /dev/ttyS0.*--port"):
        detect_port(None, list_ports=lambda: [port_info("/dev/ttyS0", vid=None, pid=None)])
    with pytest.raises(EdgekitError, match="no serial ports at all"):
        detect_port(None, list_ports=lambda: [])
    # a board file's vendor/product ids narrow the search
    only = detect_port(None, load_board("nano33"), list_ports=lambda: two[:1] + [port_info("/dev/x", pid=1)])
    assert only == "/dev/ttyACM1"


# ---------------------------------------------------------------- monitor


def test_monitor_survives_garbage_partial_lines_and_reset(board: FakeBoard, tmp_path: Path) -> None:
    log = tmp_path / "preds.csv"

    def script() -> None:
        board.wait_host()
        board.send(f"EK,READY,{HASH},41234", "debug: imu ok")
        board.write(b"\xff\xfe\x00garbage\r\n")
        board.send("EK,PRED,1,Walking,0.912,12.5,0")
        board.write(b"EK,PRED,2,Jog")  # the rest arrives later
        wait_for(lambda: csv_rows(log) == 1, "first prediction logged")
        board.write(b"ging,0.800,13.5,2\r\n")
        board.send("EK,PRED,3,Jogging,0.7,bad,2")  # malformed
        board.send(f"EK,READY,{HASH},41234", "EK,PRED,1,Sitting,0.990,12.0,3")  # board reset
        board.send("EK,ERROR,IMU read failed", "EK,ERROR,IMU read failed")
        wait_for(lambda: csv_rows(log) == 3, "all predictions logged")
        _thread.interrupt_main()  # Ctrl-C

    out = io.StringIO()
    thread = BoardThread(script, board)
    thread.start()
    summary = monitor(board.port, seconds=SAFETY_S, csv_path=log, out=out, live=False)
    thread.finish()
    assert summary.interrupted
    assert summary.predictions == 3
    assert summary.per_label == {"Walking": 1, "Jogging": 1, "Sitting": 1}
    assert summary.mean_inference_ms == pytest.approx((12.5 + 13.5 + 12.0) / 3)
    assert summary.missed_total == 5  # 2 before the reset + 3 after (the count restarts at boot)
    assert summary.resets == 1
    assert summary.garbage == 3  # the debug print, the binary junk, the malformed PRED
    assert summary.errors == ["IMU read failed"]
    rows = log.read_text().splitlines()
    assert rows[0] == "host_time_s,seq,label,confidence,inference_ms,missed_total"
    assert [r.split(",")[1:4] for r in rows[1:]] == [
        ["1", "Walking", "0.912"], ["2", "Jogging", "0.800"], ["1", "Sitting", "0.990"],
    ]  # fmt: skip
    text = out.getvalue()
    assert "board ready: model 0123456789abcdef" in text and "board error: IMU read failed" in text
    assert "Jogging" in text and "\x1b[" not in text  # plain lines when not a terminal


def test_monitor_reconnects_when_the_port_comes_back(board: FakeBoard, tmp_path: Path) -> None:
    log = tmp_path / "preds.csv"

    def script() -> None:
        board.wait_host()
        board.send(f"EK,READY,{HASH},100", "EK,PRED,1,Walking,0.9,10.0,0", "EK,PRED,2,Walking,0.9,10.0,0")
        wait_for(lambda: csv_rows(log) == 2, "predictions before the unplug")
        board.unplug()
        board.plug()
        board.wait_host()
        board.send(f"EK,READY,{HASH},100", "EK,PRED,1,Standing,0.8,11.0,0")
        wait_for(lambda: csv_rows(log) == 3, "prediction after the replug")
        _thread.interrupt_main()

    thread = BoardThread(script, board)
    thread.start()
    summary = monitor(board.port, seconds=SAFETY_S, csv_path=log, out=io.StringIO(), live=False)
    thread.finish()
    assert (summary.predictions, summary.reconnects, summary.resets) == (3, 1, 1)
    assert summary.per_label == {"Walking": 2, "Standing": 1}


def test_monitor_live_view_redraws_one_line(board: FakeBoard) -> None:
    out = io.StringIO()

    def script() -> None:
        board.wait_host()
        board.send("EK,PRED,7,Upstairs,0.650,20.0,0")
        wait_for(lambda: "Upstairs" in out.getvalue(), "the live line")
        _thread.interrupt_main()

    thread = BoardThread(script, board)
    thread.start()
    summary = monitor(board.port, seconds=SAFETY_S, out=out, live=True)
    thread.finish()
    assert summary.predictions == 1 and summary.interrupted
    assert "\r\x1b[2K#7      Upstairs     0.650" in out.getvalue()


def test_monitor_seconds_bounds_a_quiet_run(board: FakeBoard) -> None:
    summary = monitor(board.port, seconds=0.3, out=io.StringIO(), live=False)
    assert not summary.interrupted and summary.predictions == 0
    assert 0.3 <= summary.seconds < SAFETY_S


def test_monitor_cli_prints_summary(board: FakeBoard, tmp_path: Path) -> None:
    log = tmp_path / "preds.csv"

    def script() -> None:
        board.wait_host()
        board.send("noise", "EK,PRED,1,Sitting,0.990,9.0,0", "EK,PRED,2,Sitting,0.980,11.0,4")
        wait_for(lambda: csv_rows(log) == 2, "both predictions logged")
        _thread.interrupt_main()

    thread = BoardThread(script, board)
    thread.start()
    args = ["monitor", "--port", board.port, "--seconds", str(SAFETY_S), "--csv", str(log)]
    result = CliRunner().invoke(main, args)
    thread.finish()
    assert result.exit_code == 0, result.output
    assert "monitor: 2 predictions" in result.output and "(Sitting 2)" in result.output
    assert "mean inference 10.00 ms, missed samples 4, garbage lines 1" in result.output


def test_monitor_cli_port_detection_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: [])
    result = runner.invoke(main, ["monitor", "--seconds", "1"])
    assert result.exit_code == 2 and "no board found" in result.output
    two = [port_info("/dev/ttyACM0"), port_info("/dev/ttyACM1")]
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: two)
    result = runner.invoke(main, ["monitor", "--seconds", "1"])
    assert result.exit_code == 2 and "/dev/ttyACM0" in result.output and "/dev/ttyACM1" in result.output
    assert "Traceback" not in result.output


def test_monitor_port_that_never_existed(tmp_path: Path) -> None:
    with pytest.raises(EdgekitError, match=r"--port .*ttyNOPE: cannot open"):
        monitor(str(tmp_path / "ttyNOPE"), seconds=1.0, out=io.StringIO(), open_wait_s=0.3)


# ---------------------------------------------------------------- verify


def build_record(**fields: object) -> dict:
    """Manifest ``build`` as edgekit build writes it (the record's own to_dict), with ``fields`` changed."""
    summary = BuildSummary(
        board="nano33",
        fqbn="arduino:mbed_nano:nano33ble",
        float_accuracy=0.85,
        litert_accuracy=0.85,
        tflm_accuracy=0.85,
        accuracy_drop_pp=0.0,
        agreement_float_tflm=1.0,
        int8_windows_differ=0,
        int8_max_step_diff=0,
        model_bytes=32,
        arena_bytes=8192,
        arena_measured=ArenaMeasured(bytes=7424, source="emulated Cortex-M4"),
        fit={},
        fit_summary="fits",
        sketch="firmware/edgekit_har",
        selftest_windows=40,
    )
    return replace(summary, **fields).to_dict()  # type: ignore[arg-type]


MEASURED = MeasuredLatency(instructions=2430287, ms=[41.8, 53.2], duty_cycle=[0.02, 0.03], source="qemu")


def make_run(
    parent: Path, build: dict | None = None, profile: dict | None = None, parity: str | None = None
) -> tuple[Path, str]:
    """A run folder with what verify reads, in the shapes edgekit writes: contract, build and profile records."""
    run = parent / "run"
    run.mkdir()
    contract = Contract(80, 40, 20.0, ["Walking"], "m/s^2", [0.0] * 3, [1.0] * 3, [-20.0] * 3, [20.0] * 3)
    manifest = {"kind": "edgekit-run", "contract": contract.to_dict()}
    manifest.update({k: v for k, v in (("build", build), ("profile", profile)) if v is not None})
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "model_int8.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3 stand-in model bytes")
    if parity is not None:
        (run / "parity.json").write_text(parity)
    return run, sha256_file(run / "model_int8.tflite")[:16]


def verify(board: FakeBoard, lines: list[str], *args: str):
    def script() -> None:
        board.wait_host()
        board.send(*lines)

    thread = BoardThread(script)
    thread.start()
    result = CliRunner().invoke(main, ["verify", "--port", board.port, *args])
    thread.finish()
    return result


def test_verify_full_pass(board: FakeBoard, tmp_path: Path) -> None:
    run, model = make_run(tmp_path, build_record(measured=MEASURED))
    lines = ["garbage", f"EK,READY,{model},41234", "EK,SELFTEST,40,40,0,43210,-1", "EK,SENSOR,9.79,19.98,1"]
    result = verify(board, lines, "--run", str(run))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "self-test: 40/40 windows match the desktop (max |int8 diff| 0)",
        "inference time: on-device 43.21 ms, desktop estimate 47.50 ms (42-53 ms from 2.43 M instructions measured "
        "on the emulated board, manifest.json build.measured)",
        "sensor: resting |a| 9.79 m/s^2, sample rate 19.98 Hz (expected 20 Hz): ok",
        f"model: {model} matches the run folder",
        "verify: 1 malformed line(s) ignored",
        "verify: PASS",
    ]
    assert board.from_host(timeout=1.0).startswith(b"r")  # asked for the READY line again


def test_verify_falls_back_to_the_cost_model_record_profile_writes(board: FakeBoard, tmp_path: Path) -> None:
    """Without a measurement, the estimate in the shape edgekit.profile writes it (estimate.seconds)."""
    estimate = Estimate(available=True, seconds=[0.265, 0.338])
    profile = ProfileResult(kind="edgekit-profile", model="compact", layers=[], totals={}, estimate=estimate)
    run, model = make_run(tmp_path, profile=profile.to_dict())
    lines = [f"EK,READY,{model},41234", "EK,SELFTEST,40,40,0,290000,-1", "EK,SENSOR,9.79,19.98,1"]
    result = verify(board, lines, "--run", str(run))
    assert result.exit_code == 0, result.output
    assert (
        "inference time: on-device 290.00 ms, desktop estimate 301.50 ms (265-338 ms, cost-model estimate, "
        "manifest.json profile.estimate)"
    ) in result.stdout


def test_verify_failing_selftest_names_the_first_window(board: FakeBoard, tmp_path: Path) -> None:
    run, model = make_run(tmp_path, parity='{"timing": {"tflm_ms_per_inference": 12.0}}')
    lines = [f"EK,READY,{model},41234", "EK,SELFTEST,38,40,5,43210,7", "EK,SENSOR,9.79,19.98,1"]
    result = verify(board, lines, "--run", str(run))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "edgekit: error: verify: self-test failed at window 7: on-device int8 output differs from the desktop "
        "TFLM output by up to 5 (max |int8 diff|); 38/40 windows passed"
    ]
    assert (
        "desktop estimate 12.00 ms (desktop TFLM on this PC, parity.json timing.tflm_ms_per_inference)" in result.stdout
    )
    assert "verify: FAIL" in result.stdout


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["EK,ERROR,IMU LSM9DS1 not found"], "board reported an error: IMU LSM9DS1 not found"),
        (["EK,READY,ffffffffffffffff,1", "EK,SELFTEST,40,40,0,43210,-1", "EK,SENSOR,9.8,20.0,1"],
         "board runs model ffffffffffffffff but the run folder's model is"),
        (["EK,SELFTEST,40,40,0,43210,-1", "EK,SENSOR,2.10,20.00,0"], "sensor check failed: resting |a| 2.10"),
    ],
)  # fmt: skip
def test_verify_other_failures_exit_1(board: FakeBoard, tmp_path: Path, lines: list[str], message: str) -> None:
    run, _ = make_run(tmp_path)
    result = verify(board, lines, "--run", str(run))
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_verify_times_out_without_a_selftest_line(board: FakeBoard, tmp_path: Path) -> None:
    run, _ = make_run(tmp_path)
    result = verify(board, ["EK,PRED,1,Walking,0.9,10,0"], "--timeout", "0.5", "--run", str(run))
    assert result.exit_code == 2
    assert "no EK,SELFTEST line within 0.5 s" in result.stderr and "press its reset button" in result.stderr


NO_SELFTEST = build_record(selftest_windows=0, measured=MEASURED)


def test_verify_a_sketch_built_without_selftest_checks_what_it_has(board: FakeBoard, tmp_path: Path) -> None:
    """Issue 12 item 18: such a sketch never prints EK,SELFTEST; verify reads the run and checks READY and timing."""
    run, model = make_run(tmp_path, NO_SELFTEST)
    lines = ["noise", f"EK,READY,{model},41234", "EK,PRED,1,Walking,0.912,44,0"]
    result = verify(board, lines, "--run", str(run), "--timeout", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "self-test: not in this sketch (built without --selftest): outputs not compared on the board",
        "inference time: on-device 44.00 ms (from a prediction), desktop estimate 47.50 ms (42-53 ms from 2.43 M "
        "instructions measured on the emulated board, manifest.json build.measured)",
        "sensor: not checked (the sensor check runs with the self-test: build with --selftest N)",
        f"model: {model} matches the run folder",
        "verify: 1 malformed line(s) ignored",
        "verify: PASS",
    ]
    assert board.from_host(timeout=1.0).startswith(b"pr")  # back to predicting, then the READY line again


@pytest.mark.parametrize(
    ("lines", "code", "message"),
    [
        (["EK,READY,ffffffffffffffff,1", "EK,PRED,1,Walking,0.9,44,0"], 1, "board runs model ffffffffffffffff"),
        (["EK,READY,{model},1"], 1, "the board is ready but sent no EK,PRED line"),
        (["EK,PRED,1,Walking,0.9,44,0"], 2, "no EK,READY line within 0.5 s; check the board runs edgekit firmware"),
        (["EK,ERROR,IMU LSM9DS1 not found"], 1, "board reported an error: IMU LSM9DS1 not found"),
    ],
)
def test_verify_without_selftest_failures(
    board: FakeBoard, tmp_path: Path, lines: list[str], code: int, message: str
) -> None:
    run, model = make_run(tmp_path, NO_SELFTEST)
    result = verify(board, [line.format(model=model) for line in lines], "--run", str(run), "--timeout", "0.5")
    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_verify_of_an_unknown_sketch_that_is_ready_suggests_the_run(board: FakeBoard, tmp_path: Path) -> None:
    """A run without a build record: whether the sketch has a self-test is unknown, so one is expected."""
    run, model = make_run(tmp_path)  # a run without a build section: no sketch recorded
    result = verify(board, [f"EK,READY,{model},1"], "--run", str(run), "--timeout", "0.5")
    assert result.exit_code == 2
    assert "no EK,SELFTEST line within 0.5 s" in result.stderr
    assert "if it was built without --selftest, pass --run with its run folder" in result.stderr


def test_verify_without_a_run_folder_still_checks_the_board(
    board: FakeBoard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no edgekit-run here
    result = verify(board, ["EK,SENSOR,9.81,20.01,1", "EK,SELFTEST,40,40,1,9000,-1"])
    assert result.exit_code == 0, result.output
    assert "desktop estimate n/a (none in the run folder)" in result.stdout
    assert "model: not checked (no READY line seen" in result.stdout
    missing = CliRunner().invoke(main, ["verify", "--port", board.port, "--run", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "artifact folder not found" in missing.stderr


# ---------------------------------------------------------------- issue 12: nothing lost, nothing unbounded


HEADER = "host_time_s,seq,label,confidence,inference_ms,missed_total"


def test_monitor_csv_never_truncates_an_existing_file_when_the_port_fails(tmp_path: Path) -> None:
    """A wrong --port used to leave the 9 MB log as a bare header: the file is opened only once the port is."""
    log = tmp_path / "data.csv"
    log.write_text("weeks,of,data\n" * 1000)
    before = log.read_bytes()
    for extra in ([], ["--force"], ["--append"]):
        args = ["monitor", "--csv", str(log), "--port", str(tmp_path / "ttyNOPE"), "--seconds", "1", *extra]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (extra, result.output)
        assert log.read_bytes() == before, extra
    assert "--csv" in CliRunner().invoke(main, args[:-1]).output  # without a flag: the file is named first


def test_monitor_csv_refuses_to_replace_without_force(board: FakeBoard, tmp_path: Path) -> None:
    log = tmp_path / "data.csv"
    log.write_text("mine\n")
    result = CliRunner().invoke(main, ["monitor", "--port", board.port, "--seconds", "0.2", "--csv", str(log)])
    assert result.exit_code == 2 and f"--csv {log}: file exists" in result.output and "--append" in result.output
    assert log.read_text() == "mine\n"
    result = CliRunner().invoke(
        main, ["monitor", "--port", board.port, "--seconds", "0.2", "--csv", str(log), "--append"]
    )
    assert result.exit_code == 2 and "does not start with its header" in result.output
    assert log.read_text() == "mine\n"
    result = CliRunner().invoke(
        main, ["monitor", "--port", board.port, "--seconds", "0.2", "--csv", str(log), "--force"]
    )
    assert result.exit_code == 0, result.output
    assert log.read_text().splitlines() == [HEADER] and f"predictions written to {log}" in result.output


def test_monitor_append_adds_rows_under_the_existing_header(board: FakeBoard, tmp_path: Path) -> None:
    log = tmp_path / "preds.csv"
    log.write_text(f"{HEADER}\n1.000,1,Walking,0.900,10,0")  # the last row cut off by a killed session

    def script() -> None:
        board.wait_host()
        board.send("EK,PRED,2,Sitting,0.990,9.0,0")
        wait_for(lambda: "Sitting" in log.read_text(), "the appended prediction")
        _thread.interrupt_main()

    thread = BoardThread(script, board)
    thread.start()
    args = ["monitor", "--port", board.port, "--seconds", str(SAFETY_S), "--csv", str(log), "--append"]
    result = CliRunner().invoke(main, args)
    thread.finish()
    assert result.exit_code == 0, result.output
    rows = log.read_text().splitlines()
    assert rows[:2] == [HEADER, "1.000,1,Walking,0.900,10,0"] and rows[2].split(",")[1:3] == ["2", "Sitting"]
    assert len(rows) == 3 and f"predictions appended to {log}" in result.output


def test_monitor_summary_stays_small_whatever_the_board_sends() -> None:
    """Endless distinct labels and error reasons (a buggy firmware, a noisy link) are counted, not kept."""
    from edgekit.device.link import Event, Message
    from edgekit.device.monitor import MAX_SUMMARY_KEYS, Monitor

    with open(os.devnull, "w") as null:
        view = Monitor(null, live=False)
        for i in range(5000):
            view.handle(
                Event(
                    "message",
                    i,
                    Message(
                        "PRED", {"seq": i, "label": f"L{i:05d}", "confidence": 0.5, "inference_ms": 1.0, "missed": 0}
                    ),
                )
            )
            view.handle(Event("message", i, Message("ERROR", {"reason": f"reason {i}"})))
    summary = view.summary
    assert len(summary.per_label) == MAX_SUMMARY_KEYS and len(summary.errors) == MAX_SUMMARY_KEYS
    assert summary.predictions == 5000 and sum(summary.per_label.values()) + summary.other_labels == 5000
    assert summary.error_reports == 5000
    lines = summary.lines()
    assert f"{5000 - MAX_SUMMARY_KEYS} with other labels" in lines[0] and "errors 5000" in lines[1]
    assert sum(len(line) for line in lines) < 100 * MAX_SUMMARY_KEYS


@pytest.mark.parametrize(
    "command",
    [
        ["monitor", "--seconds", "0.3"],
        ["capture", "--user", "1", "--activity", "Walking", "--seconds", "0.3", "--out", "OUT"],
        ["verify", "--timeout", "0.3"],
    ],
)
def test_port_must_be_a_device_path_not_a_pyserial_url(board: FakeBoard, tmp_path: Path, command: list[str]) -> None:
    """spy://...?file=PATH wrote any file, socket:// opened a network connection: --port is a device path."""
    spy_log = tmp_path / "spy.txt"
    args = [arg.replace("OUT", str(tmp_path / "me.txt")) for arg in command]
    for port in (f"spy://{board.port}?file={spy_log}", "socket://127.0.0.1:9", "loop://", "--help"):
        result = CliRunner().invoke(main, [*args, "--port", port])
        assert result.exit_code == 2, (port, result.output)
        assert "not a serial device path" in result.output, result.output
    assert not spy_log.exists() and not (tmp_path / "me.txt").exists()


def test_open_serial_never_interprets_urls(tmp_path: Path) -> None:
    from edgekit.device.link import open_serial

    with pytest.raises(EdgekitError, match="not a serial device path"):
        open_serial(f"spy://{tmp_path}/x?file={tmp_path / 'spy.txt'}", 115200)
    assert not (tmp_path / "spy.txt").exists()
