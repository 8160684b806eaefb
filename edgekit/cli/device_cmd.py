"""``edgekit flash | monitor | capture | verify``: the commands that talk to a connected board.

They only resolve options (run folder, sketch, port, board) and print; the work is in
:mod:`edgekit.device`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from .. import progress, protocol
from ..boards import Board, load_board
from ..device import capture as capturing
from ..device import flash as flashing
from ..device import monitor as monitoring
from ..device import verify as verifying
from ..device.link import OPEN_WAIT_S
from ..device.ports import detect_port
from ..errors import EdgekitError, GateFailed
from . import main
from .options import BAUD, count, seconds
from .train_cmd import DEFAULT_OUT

DEFAULT_RUN = Path(DEFAULT_OUT)  # the folder train and build write by default
AFTER_FLASH_WAIT_S = 15.0  # a freshly flashed board re-enumerates, and the mbed cores take a while

_run_option = click.option(
    "--run",
    "run",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"Artifact folder from 'edgekit build' [default: {DEFAULT_RUN}, e.g. a symlink to your newest run].",
)
_port_option = click.option(
    "--port", default=None, help="Serial port, e.g. /dev/ttyACM0 or COM5 [default: the one connected board]."
)
_baud_option = click.option("--baud", type=BAUD, default=protocol.BAUD, show_default=True, help="Serial speed.")
_board_option = click.option("--board", default=None, help="Board file name, e.g. nano33 (see 'edgekit boards').")
_tool_option = click.option(
    "--tool",
    type=click.Choice(flashing.TOOLS),
    default=flashing.ARDUINO_CLI,
    show_default=True,
    help="Build and upload tool.",
)


def _load_board(name: str | None) -> Board | None:
    return None if name is None else load_board(name)


def _flash_sketch(sketch: Path, tool: str, port: str | None, board: Board | None, dry_run: bool = False) -> str | None:
    """Plan, print (dry run) or run the flash; returns the port used."""
    if not dry_run:
        flashing.check_tool(tool)  # the first thing to fix, before any port question
    plan = flashing.plan_flash(sketch, tool, port, lambda: detect_port(None, board), dry_run)
    warning = flashing.edit_warning(sketch)
    if warning is not None:
        click.echo(f"edgekit: warning: {warning}", err=True)
    if dry_run:
        for line in plan.shell_lines():
            click.echo(line)
        if plan.port == flashing.PORT_PLACEHOLDER:
            click.echo(f"edgekit: no single board found; {plan.port} stands for --port", err=True)
        hint = flashing.missing_tool_hint(plan.tool)
        if hint is not None:
            click.echo(f"edgekit: note: {hint}", err=True)
        return plan.port
    flashing.run_plan(plan)
    click.echo(f"flashed {sketch} to {plan.port or 'the board'}")
    return plan.port


@main.command("flash")
@_board_option
@_run_option
@click.option(
    "--sketch",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Sketch folder to flash [default: the one sketch in RUN/firmware/].",
)
@_port_option
@_tool_option
@click.option("--dry-run", is_flag=True, help="Print the exact commands instead of running them.")
def flash_cmd(
    board: str | None, run: Path | None, sketch: Path | None, port: str | None, tool: str, dry_run: bool
) -> None:
    """Compile and upload the generated sketch (arduino-cli with the sketch.yaml build profile).

    \b
    The profile pins the core and library versions; 'arduino-cli compile --profile' installs exactly
    those on first use, so the first flash downloads them (minutes) and later ones are quick.

    \b
    Example:
      edgekit flash --board nano33 --run runs/demo
      edgekit flash --board nano33 --run runs/demo --dry-run
    """
    board_info = _load_board(board)  # a typo in --board is an error even when the sketch needs no board file
    folder = flashing.find_sketch(run or DEFAULT_RUN, sketch, board)
    flashing.check_sketch_board(folder, board_info)
    _flash_sketch(folder, tool, port, board_info, dry_run)


@main.command("monitor")
@_port_option
@_baud_option
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also log every prediction to this CSV file (flushed per line); an existing file needs --append or --force.",
)
@click.option("--append", is_flag=True, help="Add to an existing --csv log of 'edgekit monitor'.")
@click.option("--force", is_flag=True, help="Replace an existing --csv file.")
@click.option(
    "--seconds",
    type=seconds(),
    default=None,
    help="Stop after this many seconds [default: run until Ctrl-C].",
)
def monitor_cmd(
    port: str | None, baud: int, csv_path: Path | None, append: bool, force: bool, seconds: float | None
) -> None:
    """Show the board's live predictions: label, confidence, inference time, missed samples.

    Survives board resets and a replugged cable; Ctrl-C ends with a summary.

    \b
    Example:
      edgekit monitor
      edgekit monitor --port /dev/ttyACM0 --seconds 60 --csv predictions.csv
    """
    mode = monitoring.csv_mode(csv_path, append, force)  # before looking for a board: the first thing to fix
    device = detect_port(port)
    progress.note(f"monitoring {device} at {baud} baud (Ctrl-C to stop)")
    summary = monitoring.monitor(device, baud, seconds, csv_path, out=click.get_text_stream("stdout"), csv_mode=mode)
    for line in summary.lines():
        click.echo(line)


@main.command("capture")
@_board_option
@click.option("--user", type=count(0), required=True, help="Subject id written in every line.")
@click.option(
    "--activity", required=True, help="Activity name, e.g. Walking: up to 64 letters, digits, spaces or _ . / + ( ) -."
)
@click.option(
    "--seconds",
    type=seconds(),
    default=None,
    help="Seconds of data to record [default: until Ctrl-C].",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="WISDM v1.1 raw file to append to (created if missing).",
)
@_port_option
@_baud_option
@click.option(
    "--flash/--no-flash",
    "do_flash",
    default=False,
    show_default=True,
    help="First render and flash the capture sketch for --board.",
)
@_tool_option
@click.option(
    "--axis-map",
    default=None,
    metavar="MAP",
    help="With --flash: board-to-WISDM axis map, e.g. '-y,x,z' [default: the board file's]; "
    "use the same one as 'edgekit build --axis-map'.",
)
@click.option(
    "--reconnect-timeout",
    "reconnect_s",
    type=seconds(min_open=False),
    default=10.0,
    show_default=True,
    help="Seconds to wait for an unplugged or reset board to come back before stopping.",
)
def capture_cmd(
    board: str | None,
    user: int,
    activity: str,
    seconds: float | None,
    out: Path,
    port: str | None,
    baud: int,
    do_flash: bool,
    tool: str,
    axis_map: str | None,
    reconnect_s: float,
) -> None:
    """Record labelled accelerometer data from the board into a WISDM-format file for 'edgekit train'.

    \b
    Lines are 'user,activity,timestamp_ns,x,y,z;' in m/s^2. Timestamps are the host clock at the first
    sample plus sequence number x sample period, so spacing is exact and dropped samples leave a gap.
    Every line is flushed as it arrives: an unplugged board or Ctrl-C keeps everything received.
    Works with the edgekit firmware as flashed (it is asked to stream samples) or, before there is a
    model, with the capture-only sketch (--flash --board BOARD).

    \b
    Example:
      edgekit capture --user 1 --activity Walking --seconds 120 --out me.txt
      edgekit capture --board nano33 --flash --user 1 --activity Sitting --out me.txt
    """
    capturing.check_activity(activity)
    board_info = _load_board(board)
    if do_flash and board_info is None:
        raise EdgekitError("--flash: needs --board to render the capture sketch, e.g. --board nano33")
    if axis_map is not None and not do_flash:
        raise EdgekitError(
            "--axis-map: only applies to the capture sketch (--flash); the inference firmware maps axes as built"
        )
    device = detect_port(port, board_info)
    wait = OPEN_WAIT_S
    if board_info is not None and do_flash:
        _flash_capture_sketch(board_info, tool, device, axis_map)
        wait = AFTER_FLASH_WAIT_S
    progress.note(capturing.start_note(device, user, activity, out))
    summary = capturing.capture(
        device,
        user,
        activity,
        out,
        seconds,
        baud,
        reconnect_s=reconnect_s,
        open_wait_s=wait,
        echo=lambda text: click.echo(text, err=True),
    )
    click.echo(summary.line())
    if summary.lost:
        raise GateFailed(f"{summary.lost}; the {summary.samples} samples received are saved in {out}")
    if summary.samples == 0:
        raise GateFailed(f"capture: no samples received from {device}; nothing was written to {out}")


def _flash_capture_sketch(board: Board, tool: str, port: str, axis_map: str | None) -> None:
    from ..firmware.capture import render_capture_sketch

    with tempfile.TemporaryDirectory(prefix="edgekit-capture-") as tmp:
        _flash_sketch(render_capture_sketch(board, Path(tmp), axis_map=axis_map), tool, port, board)


@main.command("verify")
@_port_option
@_baud_option
@_run_option
@_board_option
@click.option("--flash", "do_flash", is_flag=True, help="Flash the run's sketch first (--board picks it).")
@_tool_option
@click.option(
    "--timeout",
    "timeout_s",
    type=seconds(),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the self-test line (without a self-test: the READY and first prediction lines).",
)
def verify_cmd(
    port: str | None,
    baud: int,
    run: Path | None,
    board: str | None,
    do_flash: bool,
    tool: str,
    timeout_s: float,
) -> None:
    """Check the board: on-device self-test against the desktop, sensor sanity, model identity, timing.

    A sketch built without --selftest (the run folder says so) is checked on what it has: the model
    hash in its READY line and the inference time of its predictions.

    Exit 0 only on a full pass; 1 when a check fails (the line names the first failing window);
    2 when no self-test line (or, without one, no READY line) arrives: wrong port or firmware.

    \b
    Example:
      edgekit verify --run runs/demo
      edgekit verify --run runs/demo --board nano33 --flash
    """
    board_info = _load_board(board)
    run_dir = run or (DEFAULT_RUN if DEFAULT_RUN.is_dir() else None)
    if do_flash and run_dir is None:
        raise EdgekitError(f"--flash: needs --run DIR with the firmware ({DEFAULT_RUN} does not exist)")
    expected = verifying.run_expectations(run_dir) if run_dir is not None else verifying.RunExpectations()
    folder = flashing.find_sketch(run_dir, None, board) if do_flash and run_dir is not None else None
    if folder is not None:
        flashing.check_sketch_board(folder, board_info)
    device = detect_port(port, board_info)
    wait = OPEN_WAIT_S
    if folder is not None:
        _flash_sketch(folder, tool, device, board_info)
        wait = AFTER_FLASH_WAIT_S
    verdict = verifying.verify_board(device, expected, baud, timeout_s, open_wait_s=wait)
    for line in verdict.lines:
        click.echo(line)
    verifying.raise_on_failure(verdict)
