"""``edgekit verify``: read what the board reports at boot and judge it against the run folder.

The board's self-test (desktop golden windows through the on-board interpreter), its sensor check, the
model hash in its READY line and its inference time are compared with what the run says it should be.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import protocol
from ..errors import EdgekitError, GateFailed
from ..run import Run
from .link import CMD_PREDICT, CMD_READY, OPEN_WAIT_S, Link, Message, Opener, PortLost, open_serial


@dataclass
class VerifyReading:
    """The lines a verify session collected."""

    ready: Message | None = None
    selftest: Message | None = None
    sensor: Message | None = None
    prediction: Message | None = None  # the first EK,PRED: the inference time of a sketch without a self-test
    errors: list[str] = field(default_factory=list)
    garbage: int = 0


def read_verify_lines(
    port: str,
    baud: int = protocol.BAUD,
    timeout_s: float = 30.0,
    opener: Opener = open_serial,
    open_wait_s: float = OPEN_WAIT_S,
    selftest: bool | None = None,
) -> VerifyReading:
    """Collect what the sketch can show; stop once it all arrived, on an ERROR, or at the deadline.

    ``selftest`` says whether the sketch embeds a self-test (the run records it; None: not known). With one,
    that is the SELFTEST and SENSOR lines it prints at boot; without, the READY line (asked for again) and
    the first prediction, whose inference time is the only timing such a sketch reports.
    """
    reading = VerifyReading()
    deadline = time.monotonic() + timeout_s
    hello = CMD_READY if selftest is not False else CMD_PREDICT + CMD_READY  # a capture-mode board predicts again
    with Link(port, baud, opener, open_wait_s, reconnect_s=timeout_s, hello=hello) as link:
        try:
            for event in link.events():
                if event.kind == "message" and event.message is not None:
                    _verify_message(event.message, reading)
                if reading.errors or _complete(reading, selftest) or time.monotonic() > deadline:
                    break
        except PortLost:
            pass
        reading.garbage = link.garbage
    if not reading.errors:
        _raise_if_silent(reading, port, timeout_s, selftest)
    return reading


def _complete(reading: VerifyReading, selftest: bool | None) -> bool:
    if selftest is False:
        return reading.ready is not None and reading.prediction is not None
    return reading.selftest is not None and reading.sensor is not None


def _raise_if_silent(reading: VerifyReading, port: str, timeout_s: float, selftest: bool | None) -> None:
    """No line that says the board runs this kind of edgekit sketch: the port or the firmware is wrong (exit 2)."""
    firmware = "check the board runs edgekit firmware (edgekit flash, or verify --flash)"
    if selftest is False and reading.ready is None:
        raise EdgekitError(
            f"--port {port}: no {protocol.PREFIX},{protocol.READY} line within {timeout_s:g} s; {firmware}, "
            "or raise --timeout"
        )
    if selftest is not False and reading.selftest is None:
        unknown = (
            "; if it was built without --selftest, pass --run with its run folder"
            if selftest is None and reading.ready is not None
            else ""
        )
        raise EdgekitError(
            f"--port {port}: no {protocol.PREFIX},{protocol.SELFTEST} line within {timeout_s:g} s; {firmware} "
            f"and press its reset button (the self-test runs once at boot), or raise --timeout{unknown}"
        )


def _verify_message(message: Message, reading: VerifyReading) -> None:
    if message.kind == protocol.READY:
        reading.ready = message
    elif message.kind == protocol.SELFTEST:
        reading.selftest = message
    elif message.kind == protocol.SENSOR:
        reading.sensor = message
    elif message.kind == protocol.PRED and reading.prediction is None:
        reading.prediction = message
    elif message.kind == protocol.ERROR:
        reading.errors.append(message["reason"])


@dataclass
class VerifyVerdict:
    """Report lines for the user and the first failure (None on a full pass)."""

    lines: list[str]
    failure: str | None


@dataclass(frozen=True)
class RunExpectations:
    """What the run folder says the board should show; every piece is optional (partial runs)."""

    model_sha256: str | None = None
    rate_hz: float | None = None
    desktop_ms: tuple[float, str] | None = None  # (milliseconds, where the number came from)
    selftest_windows: int | None = None  # golden windows in the run's sketch: 0 = built without --selftest

    @property
    def selftest(self) -> bool | None:
        """Whether the sketch runs a self-test at boot; None when the run does not say (no build yet)."""
        return None if self.selftest_windows is None else self.selftest_windows > 0


def run_expectations(run: Path) -> RunExpectations:
    """What the run folder says the board should show, read through the run's typed records before the port
    is opened (a run whose model file was replaced is refused by :class:`~edgekit.run.Run` here)."""
    opened = Run(run)
    expected = opened.expectations()
    build = opened.manifest.build
    selftest = None if build is None else build.selftest_windows  # no build: no sketch, nothing known
    return RunExpectations(expected.model_sha256, expected.rate_hz, expected.desktop_ms, selftest)


def judge(reading: VerifyReading, expected: RunExpectations | None = None) -> VerifyVerdict:
    """Turn the collected lines into report lines and the first failure, most fundamental first.

    A sketch built without a self-test is judged on what it has: its READY line (the model hash) and the
    inference time of its predictions; the self-test and sensor lines are reported as not in the sketch.
    """
    expected = expected or RunExpectations()
    lines: list[str] = []
    failures: list[str] = [f"verify: board reported an error: {reason}" for reason in reading.errors]
    if reading.selftest is not None:
        lines.append(_selftest_line(reading.selftest, failures))
        lines.append(_timing_line(reading.selftest["us_per_inference"] / 1000.0, expected.desktop_ms))
    elif expected.selftest is False:
        lines.append("self-test: not in this sketch (built without --selftest): outputs not compared on the board")
        lines.append(_prediction_timing_line(reading, expected.desktop_ms, failures))
    elif not reading.errors:
        failures.append("verify: no self-test line received")
    if reading.sensor is not None:
        lines.append(_sensor_line(reading.sensor, expected.rate_hz, failures))
    elif expected.selftest is False and reading.selftest is None:
        lines.append("sensor: not checked (the sensor check runs with the self-test: build with --selftest N)")
    elif not failures:
        failures.append(f"verify: no {protocol.PREFIX},{protocol.SENSOR} line received after the self-test")
    lines.append(_hash_line(reading.ready, expected.model_sha256, failures))
    if reading.garbage:
        lines.append(f"verify: {reading.garbage} malformed line(s) ignored")
    lines.append("verify: PASS" if not failures else "verify: FAIL")
    return VerifyVerdict(lines, failures[0] if failures else None)


def _selftest_line(selftest: Message, failures: list[str]) -> str:
    passed, total, diff = selftest["passed"], selftest["total"], _plain(selftest["max_diff"])
    if passed < total or total == 0:
        window = selftest["first_failure"]
        failures.append(
            f"verify: self-test failed at window {window}: on-device int8 output differs from the desktop "
            f"TFLM output by up to {diff} (max |int8 diff|); {passed}/{total} windows passed"
        )
    return f"self-test: {passed}/{total} windows match the desktop (max |int8 diff| {diff})"


def _prediction_timing_line(reading: VerifyReading, desktop_ms: tuple[float, str] | None, failures: list[str]) -> str:
    if reading.prediction is None:
        if not failures:
            failures.append(
                f"verify: the board is ready but sent no {protocol.PREFIX},{protocol.PRED} line: it is not "
                "receiving samples; check the IMU and the board file, press reset, or raise --timeout"
            )
        return "inference time: n/a (no prediction received)"
    return _timing_line(float(reading.prediction["inference_ms"]), desktop_ms, " (from a prediction)")


def _timing_line(device_ms: float, desktop_ms: tuple[float, str] | None, source: str = "") -> str:
    desktop = f"{desktop_ms[0]:.2f} ms ({desktop_ms[1]})" if desktop_ms else "n/a (none in the run folder)"
    return f"inference time: on-device {device_ms:.2f} ms{source}, desktop estimate {desktop}"


def _sensor_line(sensor: Message, expected_rate_hz: float | None, failures: list[str]) -> str:
    magnitude, rate, ok = sensor["rest_magnitude"], sensor["rate_hz"], sensor["ok"]
    expected = f" (expected {expected_rate_hz:g} Hz)" if expected_rate_hz else ""
    if not ok:
        failures.append(
            f"verify: sensor check failed: resting |a| {magnitude:.2f} m/s^2 (expected about 9.81), "
            f"sample rate {rate:.2f} Hz{expected}; check the IMU wiring/orientation and the board file"
        )
    verdict = "ok" if ok else "FAIL"
    return f"sensor: resting |a| {magnitude:.2f} m/s^2, sample rate {rate:.2f} Hz{expected}: {verdict}"


def _hash_line(ready: Message | None, expected_hash: str | None, failures: list[str]) -> str:
    if ready is None:
        return "model: not checked (no READY line seen; it is printed once at boot)"
    got = ready["model_hash"]
    if expected_hash is None:
        return f"model: {got} (no run folder model to compare with)"
    if not expected_hash.lower().startswith(got):
        failures.append(
            f"verify: board runs model {got} but the run folder's model is {expected_hash[: len(got)]}; "
            "flash this run's firmware (edgekit flash --run RUN)"
        )
        return f"model: board {got} != run folder {expected_hash[: len(got)]}"
    return f"model: {got} matches the run folder"


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def verify_board(
    port: str,
    expected: RunExpectations | None = None,
    baud: int = protocol.BAUD,
    timeout_s: float = 30.0,
    opener: Opener = open_serial,
    open_wait_s: float = OPEN_WAIT_S,
) -> VerifyVerdict:
    """Read the board's lines and judge them against ``expected`` (what ``edgekit verify`` does, port known)."""
    expected = expected or RunExpectations()
    reading = read_verify_lines(port, baud, timeout_s, opener, open_wait_s, selftest=expected.selftest)
    return judge(reading, expected)


def raise_on_failure(verdict: VerifyVerdict) -> None:
    if verdict.failure is not None:
        raise GateFailed(verdict.failure)
