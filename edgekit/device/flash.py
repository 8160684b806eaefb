"""Compile and upload a generated sketch with arduino-cli (or PlatformIO).

The sketch folder carries a ``sketch.yaml`` build profile that pins the core and library versions,
and ``arduino-cli compile --profile`` installs exactly those into its isolated profile cache, so
the board gets the same build on every machine and nothing here duplicates the pins. Upload uses
the same profile, since the profile's core (with its uploader tool) is only installed in that cache.
The package indexes are refreshed first (``arduino-cli update``) so a fresh installation can resolve
the pins; that step may fail offline without stopping a flash whose profile is already cached.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import progress
from ..artifacts import FIRMWARE_DIR, MANIFEST
from ..boards import Board
from ..errors import EdgekitError
from ..sketch_folder import SKETCH_MANIFEST, sketch_edits
from .ports import AmbiguousPort, check_port

ARDUINO_CLI = "arduino-cli"
PIO = "pio"
TOOLS = (ARDUINO_CLI, PIO)
PORT_PLACEHOLDER = "<PORT>"
ARDUINO_CLI_HINT = (
    "arduino-cli not found on PATH; install it (https://arduino.github.io/arduino-cli/latest/installation/) "
    "and put it on PATH, or pass --tool pio"
)
PIO_HINT = "pio not found on PATH; install PlatformIO Core with 'pip install platformio' or pass --tool arduino-cli"
_COMPILER_ERROR = re.compile(r":\d+(:\d+)?: (fatal )?error: ")  # file:line[:col]: error: (gcc, clang)


@dataclass(frozen=True)
class SketchProfile:
    """The build profile of a sketch folder, as arduino-cli will read it."""

    sketch: Path
    name: str
    fqbn: str
    platforms: tuple[str, ...]
    libraries: tuple[str, ...]


# ---------------------------------------------------------------- sketch.yaml

MAX_SKETCH_YAML_BYTES = 64 * 1024  # edgekit writes under 1 KB; a larger file is not a sketch.yaml worth parsing


def load_sketch_yaml(path: Path) -> Any:
    """Parse ``path`` with PyYAML's safe loader; a file that is not YAML is one line naming where it breaks."""
    try:
        if path.stat().st_size > MAX_SKETCH_YAML_BYTES:
            raise EdgekitError(f"{path}: larger than {MAX_SKETCH_YAML_BYTES // 1024} KiB; regenerate the sketch")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise EdgekitError(f"{path}: not UTF-8 text; regenerate the sketch with 'edgekit build'") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise EdgekitError(f"{where}: {' '.join(str(problem).split())}; fix sketch.yaml or regenerate it") from None
    except RecursionError:  # thousands of nested brackets: PyYAML's composer recurses per level
        raise EdgekitError(f"{path}: nested too deeply to be a sketch.yaml; regenerate the sketch") from None


def read_profile(sketch: Path, wanted: str | None = None) -> SketchProfile:
    """Read the build profile arduino-cli will use: ``wanted``, else default_profile, else the only one."""
    sketch = Path(sketch)
    path = sketch / "sketch.yaml"
    if not path.is_file():
        raise EdgekitError(
            f"{path}: not found; flash needs the sketch folder 'edgekit build' wrote (it has sketch.yaml)"
        )
    data = load_sketch_yaml(path)
    profiles = data.get("profiles") if isinstance(data, dict) else None
    if not isinstance(profiles, dict) or not profiles:
        raise EdgekitError(f"{path}: no 'profiles:' section; regenerate the sketch with 'edgekit build'")
    name = wanted or data.get("default_profile") or (next(iter(profiles)) if len(profiles) == 1 else None)
    if not isinstance(name, str) or name not in profiles:  # a nested block under default_profile is no name
        choices = ", ".join(sorted(str(key) for key in profiles))
        raise EdgekitError(f"{path}: no profile {name!r} (profiles: {choices}); set default_profile in sketch.yaml")
    profile = profiles[name] or {}
    fqbn = profile.get("fqbn") if isinstance(profile, dict) else None
    if not fqbn or not isinstance(fqbn, str):
        raise EdgekitError(f"{path}: profile {name!r} has no fqbn; regenerate the sketch with 'edgekit build'")
    platforms = tuple(_platform_names(profile.get("platforms")))
    libraries = tuple(_scalar(lib) for lib in _entries(profile.get("libraries")) if _is_scalar(lib))
    return SketchProfile(sketch, str(name), str(fqbn), platforms, libraries)


def _platform_names(platforms: Any) -> list[str]:
    names = []
    for entry in _entries(platforms):
        if isinstance(entry, dict) and _is_scalar(entry.get("platform")) and entry["platform"] != "":
            names.append(_scalar(entry["platform"]))
    return names


def _entries(value: Any) -> list[Any]:
    """A YAML list, or nothing: a mapping or a string where a list belongs is not iterated item by item."""
    return value if isinstance(value, list) else []


def _is_scalar(value: Any) -> bool:
    """Text, a number or a date (YAML types them); a nested list is not turned into text: aliases can make
    one exponentially large when printed."""
    return value is not None and not isinstance(value, (list, dict))


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# ---------------------------------------------------------------- finding the sketch


def find_sketch(run: Path | None, sketch: Path | None, board: str | None = None) -> Path:
    """``--sketch`` if given, else the one sketch in ``<run>/firmware/`` (or the one named for the board)."""
    if sketch is not None:
        sketch = Path(sketch)
        if not sketch.is_dir():
            raise EdgekitError(f"--sketch {sketch}: folder not found; pass the sketch folder 'edgekit build' wrote")
        return sketch
    if run is None:
        raise EdgekitError("pass --run DIR (the folder 'edgekit build --out DIR' wrote) or --sketch DIR")
    run = Path(run)
    firmware = run / FIRMWARE_DIR
    if not firmware.is_dir():
        raise EdgekitError(
            f"--run {run}: no {FIRMWARE_DIR}/ folder; generate the sketch with 'edgekit build --board BOARD "
            f"--out {run}' or pass --sketch DIR"
        )
    sketches = sorted(p for p in firmware.iterdir() if p.is_dir() and (p / f"{p.name}.ino").is_file())
    if len(sketches) > 1 and board:
        # the board each sketch records, else a name ending in it: 'nano33' is also in 'edgekit_har_nano33-rev2'
        named = [p for p in sketches if sketch_board(p) == Path(board).stem] or [
            p for p in sketches if sketch_board(p) is None and p.name.endswith(f"_{Path(board).stem}")
        ]
        sketches = named if len(named) == 1 else sketches
    if len(sketches) == 1:
        problem = stale_sketch(run, sketches[0])
        if problem is not None:
            raise EdgekitError(problem)
        return sketches[0]
    if not sketches:
        raise EdgekitError(f"--run {run}: no sketch folder (with a .ino of the same name) in {firmware}")
    names = ", ".join(p.name for p in sketches)
    raise EdgekitError(f"--run {run}: several sketches in {firmware} ({names}); pass --sketch DIR")


def sketch_board(sketch: Path) -> str | None:
    """The board a sketch folder was generated for (its edgekit_sketch.json), or None if it does not say."""
    try:
        board = json.loads((Path(sketch) / SKETCH_MANIFEST).read_text(encoding="utf-8")).get("board")
    except (OSError, ValueError, AttributeError):
        return None
    return board if isinstance(board, str) and board else None


def check_sketch_board(sketch: Path, board: Board | None) -> None:
    """Refuse ``--board`` when the sketch was generated for another board.

    The sketch's fqbn, IMU driver and axis map are its own board's: going on would print or run the
    commands for a board the user did not name, or put firmware on a board whose sensor it cannot read.
    """
    built_for = sketch_board(sketch)
    if board is None or built_for is None or built_for == board.name:
        return
    raise EdgekitError(
        f"--board {board.name}: {sketch} was generated for board {built_for}, not {board.name}; "
        f"pass --board {built_for}, or generate a sketch for it with 'edgekit build --board {board.name} --out DIR'"
    )


def stale_sketch(run: Path, sketch: Path) -> str | None:
    """Why ``sketch`` does not hold ``run``'s current int8 model, or None (also when a record is missing).

    'edgekit quantize RUN' after 'edgekit build' replaces the run's model but not the sketch generated
    from the old one: flashing it would put a model on the board that the run's parity report is not
    about, and 'edgekit verify' would only notice afterwards.
    """
    try:
        run_sha = json.loads((run / MANIFEST).read_text(encoding="utf-8"))["contract"]["quant"]["tflite_sha256"]
        sketch_sha = json.loads((sketch / SKETCH_MANIFEST).read_text(encoding="utf-8"))["model"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not run_sha or not sketch_sha or run_sha == sketch_sha:
        return None
    return (
        f"--run {run}: {FIRMWARE_DIR}/{sketch.name} holds int8 model {str(sketch_sha)[:12]} but the run's model "
        f"is {str(run_sha)[:12]} (re-quantized after the sketch was generated); regenerate the sketch with "
        f"'edgekit build --board BOARD --out {run}'"
    )


# ---------------------------------------------------------------- commands


UPDATE_INDEX = [ARDUINO_CLI, "update"]  # refresh the core and library indexes; allowed to fail offline


def arduino_cli_commands(profile: SketchProfile, port: str) -> list[list[str]]:
    """Refresh indexes, compile (installs the profile's pinned core and libraries on first use), upload.

    The sketch goes as an absolute path after '--': a folder named like '--config-file=x.yaml' must stay
    a folder name and never become an option of arduino-cli.
    """
    sketch = tool_path(profile.sketch)
    return [
        UPDATE_INDEX,
        [ARDUINO_CLI, "compile", "--profile", profile.name, "--", sketch],
        [ARDUINO_CLI, "upload", "--profile", profile.name, "--fqbn", profile.fqbn, "-p", port, "--", sketch],
    ]


def tool_path(path: Path) -> str:
    """``path`` as an absolute path for a build tool's command line (it can never start with '-')."""
    return os.path.abspath(path)


def pio_commands(sketch: Path, port: str | None) -> list[list[str]]:
    """PlatformIO builds and uploads in one step from the sketch's platformio.ini."""
    if not (Path(sketch) / "platformio.ini").is_file():
        raise EdgekitError(
            f"--sketch {sketch}: no platformio.ini, so PlatformIO cannot build it; use --tool arduino-cli"
        )
    command = [PIO, "run", "-t", "upload", "-d", tool_path(sketch)]
    if port:
        command += ["--upload-port", port]
    return [command]


@dataclass
class FlashPlan:
    """What flashing will run (printed as-is by --dry-run)."""

    tool: str
    sketch: Path
    port: str | None
    commands: list[list[str]]
    profile: SketchProfile | None = None

    def shell_lines(self) -> list[str]:
        return [shlex.join(command) for command in self.commands]


def plan_flash(
    sketch: Path,
    tool: str = ARDUINO_CLI,
    port: str | None = None,
    find_port: Callable[[], str] | None = None,
    dry_run: bool = False,
) -> FlashPlan:
    """Build the command list; a port that cannot be found is a placeholder in a dry run, else an error."""
    if tool not in TOOLS:
        raise EdgekitError(f"--tool {tool}: unknown; use one of {', '.join(TOOLS)}")
    sketch = Path(sketch)
    if port is not None:
        check_port(port)  # it goes on the tool's command line after -p / --upload-port
    if port is None and find_port is not None:
        try:
            port = find_port()
        except AmbiguousPort:
            if not dry_run:
                raise
            port = PORT_PLACEHOLDER
        except EdgekitError:
            if tool == ARDUINO_CLI and not dry_run:
                raise
            # PlatformIO looks for the port itself; a dry run shows where the port goes
            port = PORT_PLACEHOLDER if tool == ARDUINO_CLI else None
    if tool == PIO:
        return FlashPlan(tool, sketch, port, pio_commands(sketch, port))
    profile = read_profile(sketch)
    assert port is not None, "arduino-cli needs a port (find_port or port)"
    return FlashPlan(tool, sketch, port, arduino_cli_commands(profile, port), profile)


def edit_warning(sketch: Path) -> str | None:
    """One line when generated files of ``sketch`` were edited by hand, else None.

    Flashing still goes ahead: uploading the sketch as it is on disk is what the user asked for, and the
    edits may be deliberate. But it must not happen silently, because desktop parity and the on-board
    self-test only vouch for the files edgekit generated.
    """
    edited = sketch_edits(Path(sketch))
    if not edited:
        return None
    return (
        f"{sketch}: {', '.join(edited)} edited by hand since edgekit generated it; flashing your edits "
        "(parity and the self-test vouch only for the generated files; 'edgekit build' regenerates them)"
    )


def missing_tool_hint(tool: str) -> str | None:
    """None when ``tool`` is on PATH, else one line saying how to install it."""
    if shutil.which(tool) is not None:
        return None
    return ARDUINO_CLI_HINT if tool == ARDUINO_CLI else PIO_HINT


def check_tool(tool: str) -> None:
    """Fail early, in one line, when the build tool is missing."""
    hint = missing_tool_hint(tool)
    if hint is not None:
        raise EdgekitError(hint)


def run_plan(plan: FlashPlan) -> None:
    check_tool(plan.tool)
    for command in plan.commands:
        with progress.step(shlex.join(command)):
            try:
                run_command(command)
            except EdgekitError as exc:
                if command != UPDATE_INDEX:
                    raise
                progress.note(f"could not refresh the package indexes (offline?), going on: {exc}")


def run_command(command: Sequence[str], tail_lines: int = 200) -> None:
    """Run a build tool, echoing its output as progress; a failure becomes one line with its last words."""
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    try:
        process = subprocess.Popen(
            list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
    except OSError as exc:
        raise EdgekitError(f"{command[0]}: cannot run ({exc}); check the installation") from None
    assert process.stdout is not None
    with process:
        for line in process.stdout:
            tail.append(line.rstrip())
            if progress.enabled():
                sys.stderr.write(line)
                sys.stderr.flush()
    if process.returncode != 0:
        raise EdgekitError(
            f"{shlex.join(command[:2])} failed (exit {process.returncode}): {_telling_line(tail)}; "
            f"rerun it by hand to see everything: {shlex.join(command)}"
        )


def _telling_line(lines: Sequence[str]) -> str:
    """The compiler's first error if there is one (arduino-cli's own last line only says the build failed)."""
    for line in lines:
        if _COMPILER_ERROR.search(line):
            return line.strip()
    return next((line.strip() for line in reversed(lines) if line.strip()), "no output")
