"""Issue 12, nothing lost: what ``--out`` may replace, whose leftovers recovery takes, links and permissions.

Everything here runs the real staging code on real folders; the two builds reuse the session's trained
model (same data, config and seed), so they only quantize, check parity and generate the sketch.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit import artifacts
from edgekit.cli import main
from edgekit.errors import EdgekitError

RUN_MANIFEST = '{"kind": "edgekit-run"}\n'


def edgekit_dir(path: Path, note: str = "") -> Path:
    path.mkdir(parents=True)
    (path / artifacts.MANIFEST).write_text(json.dumps({"kind": artifacts.MANIFEST_KIND, "note": note}))
    return path


def note_of(path: Path) -> str:
    return json.loads((path / artifacts.MANIFEST).read_text())["note"]


def write_run(out: Path, note: str, force: bool = False) -> None:
    """What train does to ``out``, minus the training: stage a folder and swap it in."""
    with artifacts.staged_dir(out, force=force) as stage:
        artifacts.write_json_atomic(stage / artifacts.MANIFEST, {"kind": artifacts.MANIFEST_KIND, "note": note})


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# ---------------------------------------------------------------- item 3: whose leftovers


def test_recovery_never_takes_a_sibling_runs_leftovers(tmp_path: Path) -> None:
    """A kill of --out pfx/a-b mid-swap leaves its only copy aside; a run of pfx/a must not adopt it."""
    pfx = tmp_path / "pfx"
    displaced = edgekit_dir(pfx / ".edgekit-old-a-b-x1y2z3w4", note="a-b's only copy")
    stage = pfx / ".edgekit-stage-a-b-q1w2e3r4"
    stage.mkdir()
    (stage / ".pid").write_text(str(dead_pid()))
    write_run(pfx / "a", note="a")
    assert note_of(pfx / "a") == "a"
    assert note_of(displaced) == "a-b's only copy" and stage.is_dir()
    write_run(pfx / "a-b", note="a-b again")  # a-b's own next run recovers its copy, then replaces it
    assert not displaced.exists() and not stage.exists()
    assert sorted(p.name for p in pfx.iterdir()) == ["a", "a-b"]


def test_sketch_recovery_never_takes_another_sketchs_leftovers(tmp_path: Path) -> None:
    """The sketch folders in firmware/ use the same mechanism (prefix + fixed-length suffix)."""
    from edgekit.firmware import SKETCH_KIND, SKETCH_MANIFEST
    from edgekit.firmware.sketch_io import recover_stale

    other = tmp_path / ".har.old-b.old-x1y2z3w4"  # sketch 'har.old-b' killed mid-swap
    other.mkdir()
    (other / SKETCH_MANIFEST).write_text(json.dumps({"kind": SKETCH_KIND}))
    other_stage = tmp_path / ".har.stage-b.stage-q1w2e3r4"
    other_stage.mkdir()
    recover_stale(tmp_path, "har")
    assert other.is_dir() and other_stage.is_dir() and not (tmp_path / "har").exists()
    recover_stale(tmp_path, "har.old-b")
    assert (tmp_path / "har.old-b" / SKETCH_MANIFEST).is_file() and not other.exists()


# ---------------------------------------------------------------- item 4: folders --force never replaces


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder holding the user's work, with the shell in a folder inside it."""
    home = tmp_path / "home"
    work = home / "work" / "src"
    work.mkdir(parents=True)
    (home / "thesis.tex").write_text("years of work")
    (work / "notes.txt").write_text("today")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home


@pytest.mark.parametrize(
    ("out", "why"),
    [
        ("HOME", "is your home folder"),
        (".", "is the current folder"),
        ("..", "is a parent of the current folder"),
        ("HOME/..", "is a parent of your home folder"),
    ],
)
def test_force_never_replaces_home_or_the_current_folder(home: Path, out: str, why: str) -> None:
    target = Path(out.replace("HOME", str(home)))
    with pytest.raises(EdgekitError, match=rf"--out .*: {why}.*even with --force"):
        write_run(target, note="run", force=True)
    assert (home / "thesis.tex").read_text() == "years of work"
    assert (home / "work" / "src" / "notes.txt").read_text() == "today"
    assert not [p for p in home.rglob(".edgekit-*")]


def test_train_force_out_home_exits_2_before_training(home: Path) -> None:
    result = CliRunner().invoke(main, ["train", "--data", "synthetic", "--epochs", "1", "--force", "--out", str(home)])
    assert result.exit_code == 2 and "is your home folder" in result.output, result.output
    assert "\n" not in result.output.strip()
    assert (home / "thesis.tex").is_file()


def test_force_still_replaces_a_folder_inside_the_current_one(home: Path) -> None:
    mine = home / "work" / "src" / "old"
    mine.mkdir()
    (mine / "x.txt").write_text("replace me")
    write_run(Path("old"), note="run", force=True)
    assert note_of(mine) == "run" and not (mine / "x.txt").exists()


# ---------------------------------------------------------------- item 5: a symlinked --out


def test_a_symlinked_out_writes_the_run_into_its_target(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    target = edgekit_dir(tmp_path / "disk2" / "exp3", note="old")
    link = runs / "latest"
    link.symlink_to(target)
    write_run(link, note="new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert note_of(target) == "new"
    assert sorted(p.name for p in runs.iterdir()) == ["latest"]  # no .edgekit-old-latest-* left behind
    assert sorted(p.name for p in target.parent.iterdir()) == ["exp3"]


def test_a_symlink_to_another_filesystem_works(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev or not os.access(shm, os.W_OK):
        pytest.skip("needs /dev/shm on another filesystem than the test folder")
    with tempfile.TemporaryDirectory(dir=shm) as other:
        target = edgekit_dir(Path(other) / "exp", note="old")
        link = tmp_path / "latest"
        link.symlink_to(target)
        write_run(link, note="new")  # was: 'Invalid cross-device link' once the whole pipeline had run
        assert link.is_symlink() and note_of(target) == "new"
        assert sorted(p.name for p in Path(other).iterdir()) == ["exp"]


def test_a_symlink_to_a_file_is_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("precious")
    link = tmp_path / "latest"
    link.symlink_to(tmp_path / "data.txt")
    with pytest.raises(EdgekitError, match="--out .*latest: is a file"):
        write_run(link, note="new", force=True)
    assert (tmp_path / "data.txt").read_text() == "precious" and link.is_symlink()


# ---------------------------------------------------------------- item 23: permissions follow the umask


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_run_folders_and_files_honour_the_umask(tmp_path: Path, mask: int) -> None:
    from edgekit.firmware.sketch_io import write_sketch

    old = os.umask(mask)
    try:
        write_run(tmp_path / "run", note="run")
        sketch = write_sketch(tmp_path / "run" / "firmware", "har", {"har.ino": b"void setup() {}\n"})
    finally:
        os.umask(old)
    for folder in (tmp_path / "run", sketch):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~mask, folder
    assert stat.S_IMODE((tmp_path / "run" / artifacts.MANIFEST).stat().st_mode) == 0o666 & ~mask


# ---------------------------------------------------------------- item 2: the .failed copy of a build


def build_reusing(out: Path, monkeypatch: pytest.MonkeyPatch | None = None, meanwhile=None) -> dict:
    """A build that reuses the session model in ``out`` (gates wide open: this is about folders)."""
    from edgekit import profile
    from edgekit.build import build_run
    from edgekit.train import TrainConfig

    if meanwhile is not None and monkeypatch is not None:
        real = profile.profile_run

        def profile_then_meanwhile(*args, **kwargs):  # the real step, then what another process does
            result = real(*args, **kwargs)
            meanwhile()
            return result

        monkeypatch.setattr(profile, "profile_run", profile_then_meanwhile)
    return build_run(
        "nano33",
        "synthetic",
        out,
        TrainConfig(epochs=4, min_epochs=2, patience=2),
        seed=0,
        max_drop_pp=100.0,
        max_int8_step=255,
        representative=50,
    )


def test_a_successful_build_keeps_a_failed_copy_holding_user_files(synthetic_run: Path, tmp_path: Path) -> None:
    out, failed = tmp_path / "exp", tmp_path / "exp.failed"
    shutil.copytree(synthetic_run, out)
    shutil.copytree(synthetic_run, failed)
    (failed / "why-it-failed.md").write_text("my analysis")
    build_reusing(out)
    assert (failed / "why-it-failed.md").read_text() == "my analysis"
    assert artifacts.is_edgekit_dir(failed)


def test_a_successful_build_keeps_a_failed_copy_another_build_made_meanwhile(
    synthetic_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two builds of one --out: the loser points its user to exp.failed, the winner must not delete it."""
    from edgekit.build import _keep_failed

    out, failed = tmp_path / "exp", tmp_path / "exp.failed"
    shutil.copytree(synthetic_run, out)
    shutil.copytree(synthetic_run, failed)  # stale: from before both builds
    loser_stage = tmp_path / "loser"
    shutil.copytree(synthetic_run, loser_stage)
    (loser_stage / artifacts.PARITY_MD).write_text("the loser's parity report\n")
    build_reusing(out, monkeypatch, meanwhile=lambda: _keep_failed(loser_stage, out, failed))
    assert (failed / artifacts.PARITY_MD).read_text() == "the loser's parity report\n"


def test_keep_failed_never_replaces_a_copy_holding_user_files(synthetic_run: Path, tmp_path: Path) -> None:
    from edgekit.build import _keep_failed

    out, failed = tmp_path / "exp", tmp_path / "exp.failed"
    shutil.copytree(synthetic_run, failed)
    (failed / "notes.txt").write_text("mine")
    kept = _keep_failed(synthetic_run, out, failed)
    assert kept != failed and kept.name.startswith("exp.failed-") and artifacts.is_edgekit_dir(kept)
    assert (failed / "notes.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".edgekit-*"))


# ---------------------------------------------------------------- item 1's sibling: report --out FILE


def test_report_out_never_replaces_a_file_that_is_not_a_report(synthetic_run: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.html"
    notes.write_text("<p>mine</p>\n")
    result = CliRunner().invoke(main, ["report", str(synthetic_run), "--out", str(notes)])
    assert result.exit_code == 2 and f"--out {notes}: file exists and is not an edgekit report" in result.output
    assert notes.read_text() == "<p>mine</p>\n"
    page = tmp_path / "page.html"
    for _ in range(2):  # a new file, then its own earlier report: no --force needed
        assert CliRunner().invoke(main, ["report", str(synthetic_run), "--out", str(page)]).exit_code == 0
    result = CliRunner().invoke(main, ["report", str(synthetic_run), "--out", str(notes), "--force"])
    assert result.exit_code == 0 and "<!DOCTYPE html>" in notes.read_text()
