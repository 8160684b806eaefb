"""The wrong things users do, command by command: exit 2, one line naming the problem and the fix, nothing written.

Every case runs the real CLI (click's CliRunner on ``edgekit.cli.main``) against real files: one small
synthetic run, trained and quantized (the committed tests/fixtures/compact_run), given a sketch once per
module and only ever read; cases that need to damage a run work on a copy. Each case asserts its exit code, a
substring naming the problem and one naming the fix, so a reworded or lost message fails here, and
that the folders involved are unchanged afterwards (nothing half-written, nothing replaced).

Tests run as root, and root may write to a folder whatever its mode says, so a read-only output folder
cannot be made with chmod. The case that stands in for it is an --out whose parent is a file: the
operating system refuses to create anything there for root too, and edgekit must say so before work
starts (``artifacts.check_output_dir`` also checks ``os.access(parent, W_OK)`` for ordinary users).

Documented exception: flashing a sketch whose generated files were edited by hand is allowed (the user
may mean it) but never silent: ``edgekit flash`` prints a warning naming the edited files. Rebuilding
over such a sketch is refused without ``--force``, because it would throw the edits away.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.artifacts import MODEL_TFLITE, check_output_dir, load_manifest
from edgekit.cli import main
from edgekit.contract import Contract
from edgekit.data.raw import write_raw
from edgekit.data.synthetic import CLASSES, synthetic_recording
from edgekit.data.types import Recording
from edgekit.errors import EdgekitError
from edgekit.firmware import generate_firmware

SKETCH = Path("firmware") / "edgekit_har"


# --------------------------------------------------------------------------- shared, read-only inputs


@pytest.fixture(scope="module")
def built_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed compact run (trained, quantized) with its sketch: what 'edgekit build' leaves (read-only)."""
    from helpers.fixtures import copy_compact_run

    from edgekit.quantize import load_quantized

    run = copy_compact_run(tmp_path_factory.mktemp("bad-input") / "run")
    tflite, _, contract = load_quantized(run)
    generate_firmware(tflite, contract, "nano33", run / "firmware", "edgekit_har")
    return run


@pytest.fixture(scope="module")
def other_tflite(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Another model's int8 .tflite (the committed tiny model of the firmware tests)."""
    from helpers.fixtures import firmware_model

    return firmware_model().tflite


def _subset(rec: Recording, keep: np.ndarray) -> Recording:
    return Recording(rec.user[keep], rec.activity[keep], rec.labels, rec.t_ns[keep], rec.xyz[keep])


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small raw files with the data problems users bring (read-only)."""
    folder = tmp_path_factory.mktemp("bad-data")
    rec = synthetic_recording(seed=0, users=9, seconds_per_activity=10)  # users 8 and 9 are the test users
    sitting = CLASSES.index("Sitting")
    write_raw(folder / "no_test_sitting.txt", _subset(rec, ~((rec.user >= 8) & (rec.activity == sitting))))
    write_raw(folder / "no_train_sitting.txt", _subset(rec, ~((rec.user < 8) & (rec.activity == sitting))))
    write_raw(folder / "tiny.txt", synthetic_recording(seed=0, users=4, seconds_per_activity=5))
    (folder / "empty.txt").write_bytes(b"")
    np.save(folder / "single_array.npy", np.zeros((4, 128, 3), np.float32))
    (folder / "single_array.npy").rename(folder / "single_array.npz")  # np.save'd, named .npz by mistake
    (folder / "a_folder").mkdir()
    return folder


# --------------------------------------------------------------------------- the matrix


@dataclass
class Ctx:
    """What a case may use: a private tmp folder, the shared run and data (read-only), and helpers."""

    tmp: Path
    run: Path
    data: Path
    other_tflite: bytes

    def file(self, name: str = "afile", text: str = "not a folder") -> Path:
        path = self.tmp / name
        path.write_text(text)
        return path

    def board_copy(self, stem: str) -> Path:
        """A copy of a shipped board file under the name ``stem``.toml."""
        from edgekit.boards import boards_dir

        return self.file(f"{stem}.toml", (boards_dir() / "nano33.toml").read_text())

    def foreign_dir(self) -> Path:
        """A folder of the user's that edgekit must never replace."""
        folder = self.tmp / "mine"
        folder.mkdir()
        (folder / "notes.txt").write_text("my notes")
        return folder

    def copy_run(self) -> Path:
        copy = self.tmp / "run"
        shutil.copytree(self.run, copy)
        return copy

    def run_with_notes(self) -> Path:
        run = self.copy_run()
        (run / "notes.txt").write_text("observations from the field test")
        return run

    def run_with_edited_sketch(self) -> Path:
        run = self.copy_run()
        app = run / SKETCH / "edgekit_app.cpp"
        app.write_text(app.read_text().replace("delay(2);", "delay(1);  // tuned by hand"))
        return run

    def run_with_other_tflite(self) -> Path:
        run = self.copy_run()
        (run / MODEL_TFLITE).write_bytes(self.other_tflite)
        return run

    def requantized_run(self) -> Path:
        """'edgekit quantize RUN' after 'edgekit build': a new int8 model, the old sketch."""
        from edgekit.artifacts import sha256_bytes, update_manifest

        run = self.run_with_other_tflite()
        contract = load_manifest(run)["contract"]
        contract["quant"]["tflite_sha256"] = sha256_bytes(self.other_tflite)
        update_manifest(run, contract=contract)
        return run

    def bare_manifest_run(self) -> Path:
        """A run folder with only its manifest (model.keras was deleted)."""
        run = self.tmp / "bare"
        run.mkdir()
        shutil.copy(self.run / "manifest.json", run / "manifest.json")
        return run

    def train_only_run(self) -> Path:
        run = self.copy_run()
        for name in (MODEL_TFLITE, "firmware"):
            path = run / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return run


@dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[Ctx], list[str]]
    problem: str  # substring of the error line that names the problem
    fix: str  # substring that names the fix (for click usage errors: the option)
    usage: bool = False  # a click usage error (one line too, ending in "see 'edgekit CMD --help'")


def _out(c: Ctx | None) -> str:
    return "out" if c is None else str(c.tmp / "out")  # None: only naming the case


BUILD = ["build", "--board", "nano33", "--epochs", "1"]


def _number_case_id(argv: Callable[[Ctx | None], list[str]], option: str, value: str) -> str:
    """'train-seed--1': the (sub)command first, which test_matrix_covers_every_command counts."""
    words = argv(None)
    command = words[1] if words[0] == "data" else words[0]
    return f"{command}-{option[2:]}-{value}"


def _train_argv(c: Ctx | None) -> list[str]:
    return ["train", "--data", "synthetic", "--out", _out(c)]


def _build_argv(c: Ctx | None) -> list[str]:
    return [*BUILD, "--data", "synthetic", "--out", _out(c)]


def _capture_argv(c: Ctx | None) -> list[str]:
    return ["capture", "--port", "/dev/null-edgekit", "--user", "1", "--activity", "Walking", "--out", _out(c)]


CASES = [
    # ---- tune (checked before Ray starts or anything is written)
    Case(
        "tune-unknown-board",
        lambda c: ["tune", "--board", "nope", "--data", "synthetic", "--out", _out(c)],
        "--board nope",
        "choose one of",
    ),
    Case(
        "tune-bad-address",
        lambda c: ["tune", "--board", "nano33", "--data", "synthetic", "--address", "a b", "--out", _out(c)],
        "--address a b",
        "expected HOST:PORT",
    ),
    Case(
        "tune-out-is-not-a-tune",
        lambda c: ["tune", "--board", "nano33", "--data", "synthetic", "--out", str(c.data)],
        "is a non-empty folder that is not a tune",
        "choose a new --out",
    ),
    Case(
        "tune-zero-trials",
        lambda c: ["tune", "--board", "nano33", "--data", "synthetic", "--trials", "0", "--out", _out(c)],
        "Invalid value for '--trials'",
        "is not in the range",
        usage=True,
    ),
    # ---- train
    Case(
        "train-missing-data",
        lambda c: ["train", "--data", str(c.tmp / "nope.txt"), "--out", _out(c)],
        "file not found",
        "pass a WISDM",
    ),
    Case(
        "train-data-is-a-folder",
        lambda c: ["train", "--data", str(c.data / "a_folder"), "--out", _out(c)],
        "is a folder",
        "pass the data file inside it",
    ),
    Case(
        "train-empty-data",
        lambda c: ["train", "--data", str(c.data / "empty.txt"), "--out", _out(c)],
        "file is empty",
        "pass a WISDM recording",
    ),
    Case(
        "train-npy-named-npz",
        lambda c: ["train", "--data", str(c.data / "single_array.npz"), "--out", _out(c)],
        "holds one array, not a .npz archive",
        "save it with numpy.savez",
    ),
    Case(
        "train-class-missing-from-test-users",
        lambda c: ["train", "--data", str(c.data / "no_test_sitting.txt"), "--out", _out(c)],
        "class Sitting has no windows from the test users 8..9",
        "choose other --test-users",
    ),
    Case(
        "train-class-missing-from-training-users",
        lambda c: ["train", "--data", str(c.data / "no_train_sitting.txt"), "--out", _out(c)],
        "class Sitting has no windows from the training users",
        "drop the class from the data",
    ),
    Case(
        "train-fewer-windows-than-a-batch",
        lambda c: ["train", "--data", str(c.data / "tiny.txt"), "--out", _out(c)],
        "training windows for --batch-size 400",
        "use more data or a smaller --batch-size",
    ),
    Case(
        "train-unknown-model",
        lambda c: ["train", "--data", "synthetic", "--model", "resnet", "--out", _out(c)],
        "Invalid value for '--model'",
        "'resnet' is not one of",
        usage=True,
    ),
    Case(
        "train-bad-test-users",
        lambda c: ["train", "--data", "synthetic", "--test-users", "1-1e9", "--out", _out(c)],
        "--test-users '1-1e9'",
        "expected ids like '29-36'",
    ),
    Case(
        "train-out-is-a-file",
        lambda c: ["train", "--data", "synthetic", "--out", str(c.file())],
        "is a file, not a folder",
        "choose a folder path",
    ),
    Case(
        "train-out-is-a-foreign-folder",
        lambda c: ["train", "--data", "synthetic", "--out", str(c.foreign_dir())],
        "was not created by edgekit",
        "pass --force to replace it",
    ),
    Case(
        "train-out-parent-is-a-file (read-only stand-in)",
        lambda c: ["train", "--data", "synthetic", "--out", str(c.file() / "run")],
        "afile is a file, not a folder",
        "choose an --out inside a folder",
    ),
    Case(
        "train-run-holds-user-files",
        lambda c: ["train", "--data", "synthetic", "--out", str(c.run_with_notes())],
        "replacing it would delete notes.txt",
        "pass --force to replace it anyway",
    ),
    # ---- quantize
    Case(
        "quantize-missing-run",
        lambda c: ["quantize", str(c.tmp / "nope")],
        "artifact folder not found",
        "create one with 'edgekit train",
    ),
    Case(
        "quantize-run-is-a-file",
        lambda c: ["quantize", str(c.file())],
        "is a file, not an artifact folder",
        "pass the folder 'edgekit train' wrote",
    ),
    Case(
        "quantize-foreign-folder",
        lambda c: ["quantize", str(c.foreign_dir())],
        "not an edgekit artifact folder (no manifest.json)",
        "pass a folder written by 'edgekit train'",
    ),
    Case(
        "quantize-model-deleted",
        lambda c: ["quantize", str(c.bare_manifest_run())],
        "no model.keras in the artifact folder",
        "run 'edgekit train --out",
    ),
    # ---- parity
    Case(
        "parity-missing-run",
        lambda c: ["parity", str(c.tmp / "nope")],
        "artifact folder not found",
        "create one with 'edgekit train",
    ),
    Case(
        "parity-not-quantized",
        lambda c: ["parity", str(c.train_only_run())],
        "int8 model not found",
        "run 'edgekit quantize",
    ),
    Case(
        "parity-tflite-of-another-model",
        lambda c: ["parity", str(c.run_with_other_tflite())],
        "does not match the manifest (sha256 differs",
        "re-run 'edgekit quantize",
    ),
    # ---- build
    Case(
        "build-unknown-board",
        lambda c: [*BUILD[:2], "nano99", *BUILD[3:], "--data", "synthetic", "--out", _out(c)],
        "--board nano99: unknown board",
        "choose one of",
    ),
    Case(
        "build-board-file-missing",
        lambda c: [*BUILD[:2], str(c.tmp / "my.toml"), *BUILD[3:], "--data", "synthetic", "--out", _out(c)],
        "board file not found",
        "pass one of",
    ),
    Case(
        "build-unknown-model",
        lambda c: [*BUILD, "--data", "synthetic", "--model", "resnet", "--out", _out(c)],
        "Invalid value for '--model'",
        "'resnet' is not one of",
        usage=True,
    ),
    Case(
        "build-missing-data",
        lambda c: [*BUILD, "--data", str(c.tmp / "nope.txt"), "--out", _out(c)],
        "file not found",
        "pass a WISDM",
    ),
    Case(
        "build-class-missing-from-test-users",
        lambda c: [*BUILD, "--data", str(c.data / "no_test_sitting.txt"), "--out", _out(c)],
        "class Sitting has no windows from the test users",
        "choose other --test-users",
    ),
    Case(
        "build-bad-axis-map",
        lambda c: [*BUILD, "--data", "synthetic", "--axis-map", "x,x,z", "--out", _out(c)],
        "each of x, y, z must appear exactly once",
        "like '-y,x,z'",
    ),
    Case(
        "build-out-is-a-file",
        lambda c: [*BUILD, "--data", "synthetic", "--out", str(c.file())],
        "is a file, not a folder",
        "choose a folder path",
    ),
    Case(
        "build-out-is-a-foreign-folder",
        lambda c: [*BUILD, "--data", "synthetic", "--out", str(c.foreign_dir())],
        "was not created by edgekit",
        "pass --force to replace it",
    ),
    Case(
        "build-out-parent-is-a-file (read-only stand-in)",
        lambda c: [*BUILD, "--data", "synthetic", "--out", str(c.file() / "run")],
        "afile is a file, not a folder",
        "choose an --out inside a folder",
    ),
    Case(
        "build-over-hand-edited-sketch",
        lambda c: [*BUILD, "--data", "synthetic", "--out", str(c.run_with_edited_sketch())],
        "would delete firmware/edgekit_har/edgekit_app.cpp",
        "pass --force to replace it anyway",
    ),
    Case(
        "build-run-holds-user-files",
        lambda c: [*BUILD, "--data", "synthetic", "--out", str(c.run_with_notes())],
        "replacing it would delete notes.txt",
        "move them out of the folder",
    ),
    # ---- boards
    Case("boards-unknown-option", lambda c: ["boards", "--csv"], "No such option", "--csv", usage=True),
    # ---- flash (dry run: no arduino-cli or board needed to reach the checks)
    Case(
        "flash-missing-run",
        lambda c: ["flash", "--run", str(c.tmp / "nope"), "--dry-run"],
        "no firmware/ folder",
        "generate the sketch with 'edgekit build",
    ),
    Case(
        "flash-run-without-sketch",
        lambda c: ["flash", "--run", str(c.train_only_run()), "--dry-run"],
        "no firmware/ folder",
        "or pass --sketch DIR",
    ),
    Case(
        "flash-missing-sketch",
        lambda c: ["flash", "--sketch", str(c.tmp / "nope"), "--dry-run"],
        "folder not found",
        "pass the sketch folder 'edgekit build' wrote",
    ),
    Case(
        "flash-foreign-sketch-folder",
        lambda c: ["flash", "--sketch", str(c.foreign_dir()), "--dry-run"],
        "sketch.yaml: not found",
        "flash needs the sketch folder 'edgekit build' wrote",
    ),
    Case(
        "flash-sketch-older-than-the-run's-model",
        lambda c: ["flash", "--run", str(c.requantized_run()), "--dry-run"],
        "re-quantized after the sketch was generated",
        "regenerate the sketch with 'edgekit build",
    ),
    Case(
        "flash-unknown-board",
        lambda c: ["flash", "--board", "nano99", "--run", str(c.run), "--dry-run"],
        "--board nano99: unknown board",
        "choose one of",
    ),
    # ---- monitor (--port given: no board needed to reach the checks)
    Case(
        "monitor-csv-in-missing-folder",
        lambda c: ["monitor", "--port", "/dev/null-edgekit", "--csv", str(c.tmp / "no" / "p.csv")],
        "folder",
        "does not exist; create it first",
    ),
    Case(
        "monitor-csv-is-a-folder",
        lambda c: ["monitor", "--port", "/dev/null-edgekit", "--csv", str(c.tmp)],
        "Invalid value for '--csv'",
        "is a directory",
        usage=True,
    ),
    # ---- capture
    Case(
        "capture-out-in-missing-folder",
        lambda c: [
            "capture",
            "--port",
            "/dev/null-edgekit",
            "--user",
            "1",
            "--activity",
            "Walking",
            "--out",
            str(c.tmp / "no" / "me.txt"),
        ],
        "does not exist",
        "create it",
    ),
    Case(
        "capture-out-is-a-folder",
        lambda c: [
            "capture",
            "--port",
            "/dev/null-edgekit",
            "--user",
            "1",
            "--activity",
            "Walking",
            "--out",
            str(c.tmp),
        ],
        "Invalid value for '--out'",
        "is a directory",
        usage=True,
    ),
    Case(
        "capture-activity-with-comma",
        lambda c: [
            "capture",
            "--port",
            "/dev/null-edgekit",
            "--user",
            "1",
            "--activity",
            "Walking,fast",
            "--out",
            str(c.tmp / "me.txt"),
        ],
        "must be 1 to 64 letters, digits, spaces or _ . / + ( ) -",
        "for example --activity Walking",
    ),
    Case(
        "capture-flash-without-board",
        lambda c: [
            "capture",
            "--port",
            "/dev/null-edgekit",
            "--user",
            "1",
            "--activity",
            "Walking",
            "--flash",
            "--out",
            str(c.tmp / "me.txt"),
        ],
        "--flash: needs --board",
        "e.g. --board nano33",
    ),
    # ---- verify
    Case(
        "verify-missing-run",
        lambda c: ["verify", "--port", "/dev/null-edgekit", "--run", str(c.tmp / "nope")],
        "artifact folder not found",
        "create one with 'edgekit train",
    ),
    Case(
        "verify-foreign-folder",
        lambda c: ["verify", "--port", "/dev/null-edgekit", "--run", str(c.foreign_dir())],
        "not an edgekit artifact folder",
        "pass a folder written by",
    ),
    Case(
        "verify-tflite-of-another-model",
        lambda c: ["verify", "--port", "/dev/null-edgekit", "--run", str(c.run_with_other_tflite())],
        "does not match the manifest (sha256 differs",
        "rebuild the run",
    ),
    Case(
        "verify-flash-without-run",
        lambda c: ["verify", "--port", "/dev/null-edgekit", "--flash"],
        "--flash: needs --run DIR",
        "does not exist",
    ),
    # ---- data fetch (no network: every case fails before a download starts)
    Case(
        "fetch-cache-dir-is-a-file",
        lambda c: ["data", "fetch", "--cache-dir", str(c.file())],
        "Invalid value for '--cache-dir'",
        "is a file",
        usage=True,
    ),
    Case(
        "fetch-cache-dir-under-a-file",
        lambda c: ["data", "fetch", "--cache-dir", str(c.file() / "cache")],
        "cannot create the cache folder",
        "pass --cache-dir",
    ),
    # ---- the board's runtime sources (checked before any work)
    Case(
        "show-runtime-src-missing",
        lambda c: ["runtime", "show", "--runtime-src", str(c.tmp / "nope")],
        "not a folder",
        "point it at the folder holding tflite-micro/",
    ),
    Case(
        "show-runtime-src-empty",
        lambda c: ["runtime", "show", "--runtime-src", str(c.tmp)],
        "no 'tflite-micro' folder",
        "tensorflow/tflite-micro at 90b983c2b",
    ),
    Case(
        "build-runtime-src-missing",
        lambda c: [*BUILD, "--data", "synthetic", "--runtime-src", str(c.tmp / "nope"), "--out", _out(c)],
        "not a folder",
        "point it at the folder holding tflite-micro/",
    ),
    Case(
        "parity-runtime-src-missing",
        lambda c: ["parity", str(c.run), "--runtime-src", str(c.tmp / "nope")],
        "not a folder",
        "point it at the folder holding tflite-micro/",
    ),
    # ---- numbers out of range (issue 12, item 13): click refuses them before any work, exit 2, never 3
    *[
        Case(
            _number_case_id(argv, option, value),
            lambda c, a=argv, o=option, v=value: [*a(c), o, v],
            f"Invalid value for '{option}'",
            fix,
            usage=True,
        )
        for argv, option, value, fix in [
            (_train_argv, "--seed", "-1", "0<=x<=4294967295"),
            (_train_argv, "--seed", "4294967296", "0<=x<=4294967295"),
            (_train_argv, "--patience", "-5", "0<=x"),
            (_train_argv, "--epochs", "0", "1<=x"),
            (_train_argv, "--batch-size", "0", "1<=x"),
            (_train_argv, "--min-epochs", "-1", "0<=x"),
            (_build_argv, "--selftest", "65", "0<=x<=64"),
            (_build_argv, "--representative", "0", "1<=x"),
            (_build_argv, "--board-windows", "-1", "0<=x"),
            (_build_argv, "--max-drop", "nan", "not a finite number"),
            (_build_argv, "--max-drop", "-0.5", "0<=x<=100"),
            (_build_argv, "--max-int8-step", "-1", "0<=x<=255"),
            (lambda c: ["quantize", _out(c)], "--seed", "-1", "0<=x<=4294967295"),
            (lambda c: ["parity", _out(c)], "--max-drop", "inf", "0<=x<=100"),
            (lambda c: ["monitor", "--port", "/dev/null-edgekit"], "--baud", "-1", "300<=x<=12000000"),
            (lambda c: ["monitor", "--port", "/dev/null-edgekit"], "--baud", "12345678901", "300<=x<=12000000"),
            (_capture_argv, "--seconds", "inf", "0<x<=10000000.0"),
            (_capture_argv, "--seconds", "nan", "not a finite number"),
            (lambda c: ["verify", "--port", "/dev/null-edgekit"], "--timeout", "nan", "not a finite number"),
            (lambda c: ["data", "fetch", "--cache-dir", _out(c)], "--timeout", "inf", "1<=x<=10000000.0"),
        ]
    ],
    # ---- board files (issue 12, items 6 and 21)
    Case(
        "build-board-file-name-with-spaces",
        lambda c: [*BUILD[:2], str(c.board_copy("nano33 (copy)")), *BUILD[3:], "--data", "synthetic", "--out", _out(c)],
        "board file name 'nano33 (copy)' is not a board name",
        "rename the file",
    ),
    Case(
        "build-compact-model-too-big-for-uno",
        lambda c: ["build", "--board", "uno", "--model", "compact", "--data", "synthetic", "--out", _out(c)],
        "--board uno: the model does not fit",
        "--model compact is already the smallest model",
    ),
    Case(
        "fetch-malformed-url",
        lambda c: ["data", "fetch", "--cache-dir", str(c.tmp / "cache"), "--url", "wisdm.tgz"],
        "--url wisdm.tgz: not a usable URL",
        "give a full URL like https://",
    ),
]


def _snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file (size, mtime) and folder below ``roots``: equal snapshots mean nothing was left written.

    A folder's own mtime is left out: a stage created beside --out and removed again changes it.
    """
    found = {}
    for root in roots:
        for path in [root, *root.rglob("*")]:
            stat = path.stat()
            found[str(path)] = (stat.st_size, stat.st_mtime_ns) if path.is_file() else (-1, 0)
    return found


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    case: Case, built_run: Path, datasets: Path, other_tflite: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)  # the default --run/--out (./edgekit-run) must not exist
    ctx = Ctx(tmp_path / "case", built_run, datasets, other_tflite)
    ctx.tmp.mkdir()
    argv = case.argv(ctx)
    before = _snapshot(tmp_path, built_run, datasets)
    result = CliRunner().invoke(main, argv, env={"EDGEKIT_QUIET": "1"})
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.output + result.stderr
    errors = [line for line in result.stderr.splitlines() if "rror" in line]
    assert len(errors) == 1, result.stderr
    line = errors[0]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert line.startswith("edgekit: error: "), line
    assert "--help'" in line or not case.usage, line
    assert case.problem in line and case.fix in line, line
    assert result.stdout == "", f"an error must not print results: {result.stdout!r}"
    assert _snapshot(tmp_path, built_run, datasets) == before, "a failed command wrote or changed files"


def test_matrix_covers_every_command():
    """Every command the CLI has is in the matrix, except report and profile (other test files own them)."""
    import click

    ctx = click.Context(main)
    commands = set()
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        sub = command.list_commands(ctx) if isinstance(command, click.Group) else [""]
        commands |= {sub_name or name for sub_name in sub}
    covered = {case.id.split("-")[0] for case in CASES}
    assert commands - covered <= {"report", "profile"}, commands - covered


# --------------------------------------------------------------------------- hand edits and --force


def test_flash_warns_about_a_hand_edited_sketch_but_flashes_it(built_run: Path, tmp_path: Path):
    """Documented exception: the user's edit may be deliberate, so flash goes on, with a warning line."""
    run = tmp_path / "run"
    shutil.copytree(built_run, run)
    sketch = run / SKETCH
    result = CliRunner().invoke(main, ["flash", "--sketch", str(sketch), "--dry-run", "--port", "/dev/ttyACM9"])
    assert result.exit_code == 0 and "warning" not in result.stderr
    config = sketch / "edgekit_config.h"
    config.write_text(config.read_text() + "// a hand edit\n")
    result = CliRunner().invoke(main, ["flash", "--sketch", str(sketch), "--dry-run", "--port", "/dev/ttyACM9"])
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if line.startswith("edgekit: warning:")]
    assert len(warning) == 1 and "edgekit_config.h edited by hand" in warning[0]
    assert "arduino-cli compile --profile nano33" in result.stdout


def test_regenerating_an_edited_sketch_needs_force(built_run: Path, tmp_path: Path):
    from edgekit.quantize import load_quantized

    tflite, _, contract = load_quantized(built_run)
    sketch = generate_firmware(tflite, contract, "nano33", tmp_path, "edgekit_har")
    (sketch / "edgekit_app.cpp").write_text("// mine\n")
    (sketch / "model_data.h").unlink()  # deleting a generated file loses nothing: not an edit
    with pytest.raises(EdgekitError, match=r"edgekit_har: edgekit_app\.cpp edited by hand .* pass --force"):
        generate_firmware(tflite, contract, "nano33", tmp_path, "edgekit_har")
    assert (sketch / "edgekit_app.cpp").read_text() == "// mine\n"
    generate_firmware(tflite, contract, "nano33", tmp_path, "edgekit_har", force=True)
    assert (sketch / "edgekit_app.cpp").read_text() != "// mine\n" and (sketch / "model_data.h").is_file()


def test_force_replaces_what_would_otherwise_be_refused(built_run: Path, tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(built_run, run)
    (run / "notes.txt").write_text("mine")
    (run / SKETCH / "my_helper.cpp").write_text("// added by hand\n")
    with pytest.raises(EdgekitError, match=r"notes\.txt, firmware/edgekit_har/my_helper\.cpp"):
        check_output_dir(run)
    check_output_dir(run, force=True)  # --force: the user said so
    check_output_dir(built_run)  # an untouched edgekit run is replaced without asking
    assert Contract.from_dict(load_manifest(built_run)["contract"]).quant is not None


def test_a_tflite_the_manifest_never_recorded_is_refused(built_run: Path, other_tflite: bytes, tmp_path: Path):
    """A .tflite copied into a train-only run has no manifest record to disagree with: parity would compare
    this run's float model with another model's int8 output and present it as this run's quantization."""
    from edgekit.artifacts import MANIFEST, write_json_atomic
    from edgekit.quantize import load_quantized

    run = tmp_path / "run"
    shutil.copytree(built_run, run, ignore=shutil.ignore_patterns("firmware", MODEL_TFLITE))
    manifest = load_manifest(run)
    manifest.pop("quantize")
    manifest["contract"]["quant"] = None
    write_json_atomic(run / MANIFEST, manifest)  # what 'edgekit train' leaves
    (run / MODEL_TFLITE).write_bytes(other_tflite)
    with pytest.raises(EdgekitError, match="manifest has no record of this int8 model") as info:
        load_quantized(run)
    assert "edgekit quantize" in str(info.value) and "\n" not in str(info.value)
