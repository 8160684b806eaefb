"""A build killed at any point leaves the previous folder intact and usable; the next run cleans up by itself.

For real: ``python -m edgekit build`` runs in a subprocess and is SIGKILLed (no handler runs, no finally
block) once its progress on stderr says it is training, and again once it says it is generating the
firmware. Each time the previous artifact folder must be byte for byte what it was and load (manifest,
Keras model, int8 model, sketch), the killed run's stage must still be beside it (so the kill really
landed mid-run), and the next run must succeed and leave no ``.edgekit-*`` leftovers. The moment between
the two renames of the swap cannot be hit from outside, so it is reproduced by hand below.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers.fixtures import COMPACT_RUN, copy_compact_run

from edgekit import artifacts
from edgekit.data.raw import write_raw
from edgekit.data.synthetic import synthetic_recording

KILL_TIMEOUT_S = 240  # a loaded 2-core machine; normally the line arrives within 20 s


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("atomic-data") / "small.txt"
    write_raw(path, synthetic_recording(seed=2, users=9, seconds_per_activity=20))
    return path


def build_command(data: Path, out: Path) -> list[str]:
    nice = ["nice", "-n", "5"] if shutil.which("nice") else []  # lets this process react to the line in time
    return [
        *nice,
        sys.executable,
        "-m",
        "edgekit",
        "build",
        "--board",
        "nano33",
        "--data",
        str(data),
        "--epochs",
        "2",
        "--min-epochs",
        "1",
        "--batch-size",
        "64",
        "--representative",
        "50",
        "--board-windows",
        "16",
        "--max-drop",
        "100",
        "--max-int8-step",
        "255",
        "--out",
        str(out),
    ]  # gates open: not about quality


def environment() -> dict[str, str]:
    return dict(os.environ, EDGEKIT_PROGRESS="1", EDGEKIT_QUIET="0", TF_CPP_MIN_LOG_LEVEL="2")


def kill_when(command: list[str], marker: str) -> tuple[int, list[str]]:
    """Start ``command`` and SIGKILL it as soon as a stderr line contains ``marker``; return (rc, lines read).

    The lines end with the marker line when it was seen; a watchdog kills a run that never prints it.
    """
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1, env=environment()
    )
    assert process.stderr is not None
    watchdog = threading.Timer(KILL_TIMEOUT_S, process.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        for line in process.stderr:
            lines.append(line.rstrip())
            if marker in line:
                break
    finally:
        process.kill()  # SIGKILL: no handler, no finally block runs in the build
        watchdog.cancel()
        process.stderr.close()
        process.wait(timeout=60)
    assert lines and marker in lines[-1], f"never saw {marker!r}: {lines[-20:]}"
    return process.returncode, lines


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.glob(".edgekit-*"))


def assert_usable(run: Path) -> None:
    """What later commands read from a run: its manifest and Keras model, and int8 model + sketch if built."""
    from edgekit.model import load_model

    manifest = artifacts.load_manifest(run)
    assert load_model(run).count_params() == manifest["model"]["params"]
    if (run / artifacts.MODEL_TFLITE).exists():
        from edgekit.quantize import load_quantized

        load_quantized(run)  # sha256 checked against the manifest
        assert (run / "firmware" / "edgekit_har" / "edgekit_har.ino").is_file()


@pytest.fixture(scope="module")
def previous(synthetic_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The last good folder: the conftest's trained run, copied (a different config, so the build retrains)."""
    out = tmp_path_factory.mktemp("atomic") / "run"
    shutil.copytree(synthetic_run, out)
    return out


@pytest.fixture(scope="module")
def killed_in_training(previous: Path, small_data: Path) -> dict:
    before = fingerprint(previous)
    rc, lines = kill_when(build_command(small_data, previous), "edgekit: training 'seed'")
    return {"before": before, "rc": rc, "lines": lines, "leftovers": leftovers(previous)}


@pytest.mark.slow
def test_kill_during_training_keeps_the_previous_folder(previous: Path, killed_in_training: dict):
    assert killed_in_training["rc"] == -signal.SIGKILL, killed_in_training["lines"][-20:]
    assert any(name.startswith(".edgekit-stage-run-") for name in killed_in_training["leftovers"])
    assert fingerprint(previous) == killed_in_training["before"]
    assert_usable(previous)


@pytest.fixture(scope="module")
def recovered(previous: Path, small_data: Path, killed_in_training: dict) -> Path:
    """The next build after the kill, run to the end without any manual clean-up."""
    result = subprocess.run(
        build_command(small_data, previous), capture_output=True, text=True, timeout=600, env=environment()
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return previous


@pytest.mark.slow
def test_next_run_recovers_on_its_own(recovered: Path):
    assert leftovers(recovered) == []
    manifest = artifacts.load_manifest(recovered)
    assert manifest["build"]["board"] == "nano33" and manifest["config"]["epochs"] == 2
    assert_usable(recovered)


@pytest.mark.slow
def test_kill_during_firmware_generation_keeps_the_previous_build(recovered: Path, small_data: Path):
    before = fingerprint(recovered)
    # same inputs: the model is reused, so the run reaches quantization, parity and the firmware quickly
    rc, lines = kill_when(build_command(small_data, recovered), "edgekit: generating firmware")
    assert rc == -signal.SIGKILL, lines[-20:]
    stages = [recovered.parent / name for name in leftovers(recovered)]
    assert len(stages) == 1 and stages[0].name.startswith(".edgekit-stage-run-"), stages
    assert (stages[0] / "parity.json").is_file()  # the kill landed after parity, i.e. in the firmware step
    assert fingerprint(recovered) == before
    assert_usable(recovered)
    result = subprocess.run(
        build_command(small_data, recovered), capture_output=True, text=True, timeout=600, env=environment()
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert leftovers(recovered) == []
    after = fingerprint(recovered)
    assert after["model_int8.tflite"] == before["model_int8.tflite"]  # same model and inputs, same bytes
    assert_usable(recovered)


# --------------------------------------------------------------------------- the swap itself, by hand


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_crash_between_the_two_renames_is_undone_by_the_next_run(tmp_path: Path):
    """Killed after 'out -> .edgekit-old-*' and before 'stage -> out': out is missing for a moment."""
    synthetic_run = copy_compact_run(tmp_path / "trained", quantized=False)  # a finished 'edgekit train'
    out = tmp_path / "run"
    shutil.copytree(synthetic_run, out)
    before = fingerprint(out)
    os.replace(out, tmp_path / ".edgekit-old-run-x1y2z3w4")
    stage = tmp_path / ".edgekit-stage-run-a1b2c3d4"
    shutil.copytree(synthetic_run, stage)
    (stage / ".pid").write_text(str(dead_pid()))
    with pytest.raises(RuntimeError, match="stand-in"), artifacts.staged_dir(out):  # the next run starts ...
        assert fingerprint(out) == before  # ... with the displaced folder back in place
        raise RuntimeError("stand-in for a run that fails after recovery")
    assert fingerprint(out) == before and leftovers(out) == []
    assert_usable(out)


def test_a_live_run_stage_is_left_alone_and_a_day_old_one_is_not(tmp_path: Path):
    out = tmp_path / "run"
    live = tmp_path / ".edgekit-stage-run-live_abc"
    live.mkdir()
    (live / ".pid").write_text(str(os.getppid()))  # another process that is running right now
    dead = tmp_path / ".edgekit-stage-run-dead_abc"
    dead.mkdir()
    (dead / ".pid").write_text(str(dead_pid()))
    artifacts.recover_stale(out)
    assert live.is_dir() and not dead.exists()
    day_old = time.time() - artifacts.STALE_STAGE_S - 60
    os.utime(live, (day_old, day_old))  # its pid may since belong to an unrelated long-running process
    artifacts.recover_stale(out)
    assert not live.exists()


def test_a_failed_run_is_kept_aside_without_touching_a_users_folder(tmp_path: Path):
    """A gate-failing build is copied to <out>.failed (staged, then renamed); a user's folder of that name stays."""
    synthetic_run = COMPACT_RUN  # any finished run folder (read-only)
    from edgekit.build import _keep_failed

    out, failed = tmp_path / "run", tmp_path / "run.failed"
    stage = tmp_path / ".edgekit-stage-run-abc"
    shutil.copytree(synthetic_run, stage)
    (stage / ".pid").write_text(str(os.getpid()))
    assert _keep_failed(stage, out, failed) == failed and fingerprint(failed) == fingerprint(synthetic_run)
    assert _keep_failed(stage, out, failed) == failed  # an earlier failed copy is replaced
    shutil.rmtree(failed)
    failed.mkdir()
    (failed / "mine.txt").write_text("not edgekit's")
    kept = _keep_failed(stage, out, failed)
    assert kept != failed and kept.name.startswith("run.failed-") and artifacts.is_edgekit_dir(kept)
    assert (failed / "mine.txt").read_text() == "not edgekit's"
    assert sorted(p.name for p in tmp_path.glob(".edgekit-*")) == [stage.name]  # no copy leftovers
