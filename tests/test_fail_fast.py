"""Every check that can be made before training is made before training (issue 12, items 14, 15 and 24).

Progress lines are on (as for any user whose stderr is a log file), so "before training" is observable: a
refusal must come before the ``training`` step is announced and before any epoch, and leave nothing behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.data.raw import write_raw
from edgekit.data.synthetic import synthetic_recording


def run_cli(args: list[str], cwd: Path | None = None):
    runner = CliRunner()
    env = {"EDGEKIT_QUIET": None, "EDGEKIT_PROGRESS": None}
    if cwd is None:
        return runner.invoke(main, args, env=env)
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(main, args, env=env)


def refused_before_training(result, *words: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output + result.stderr
    assert lines and lines[-1].startswith("edgekit: error: "), result.stderr
    assert not any("training" in line or "epoch" in line for line in lines[:-1]), result.stderr
    for word in words:
        assert word in lines[-1], lines[-1]
    return lines[-1]


@pytest.fixture(scope="module")
def raw_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ff") / "raw.txt"
    write_raw(path, synthetic_recording(seed=2, users=6, seconds_per_activity=12))
    return path


@pytest.fixture(scope="module")
def bad_label_file(raw_file: Path) -> Path:
    path = raw_file.with_name("bad-label.txt")
    path.write_text(raw_file.read_text().replace(",Downstairs,", ",Downstairs!,"))
    return path


def test_a_missing_norm_from_is_named_before_training(tmp_path: Path, raw_file: Path):
    missing = tmp_path / "calib.txt"
    result = run_cli(
        [
            "build",
            "--board",
            "nano33",
            "--data",
            "synthetic",
            "--norm-from",
            str(missing),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    line = refused_before_training(result, "--norm-from", str(missing))
    assert "--data" not in line and "synthetic" not in line
    assert not (tmp_path / "run").exists()


def test_norm_from_with_data_in_m_s2_is_refused_before_training(tmp_path: Path, raw_file: Path):
    result = run_cli(
        [
            "build",
            "--board",
            "nano33",
            "--data",
            str(raw_file),
            "--norm-from",
            str(raw_file),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    refused_before_training(result, "--norm-from")
    assert not (tmp_path / "run").exists()


def test_representative_zero_is_refused_before_training(tmp_path: Path):
    result = run_cli(
        ["build", "--board", "nano33", "--data", "synthetic", "--representative", "0", "--out", str(tmp_path / "run")]
    )
    refused_before_training(result, "--representative")


def test_labels_the_firmware_refuses_stop_the_build_before_training(tmp_path: Path, bad_label_file: Path):
    result = run_cli(["build", "--board", "nano33", "--data", str(bad_label_file), "--out", str(tmp_path / "run")])
    refused_before_training(result, "Downstairs!")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ["build", "train"])
def test_out_dot_is_refused_before_training(tmp_path: Path, command: str):
    args = [command, "--data", "synthetic", "--out", "."]
    if command == "build":
        args[1:1] = ["--board", "nano33"]
    result = run_cli(args, cwd=tmp_path)
    refused_before_training(result, "--out")


def test_a_missing_data_file_is_reported_before_tensorflow_is_imported(tmp_path: Path):
    """`build --data typo.txt` answered in 0.3 s, not after importing TensorFlow (6.7 s)."""
    script = textwrap.dedent(
        f"""
        import sys
        from edgekit.cli import main
        try:
            main(["build", "--board", "nano33", "--data", {str(tmp_path / "typo.txt")!r},
                  "--out", {str(tmp_path / "run")!r}])
        except SystemExit as exc:
            print(exc.code, "tensorflow" in sys.modules)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "False"], proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("edgekit: error: --data")


def test_the_uno_refusal_is_exactly_one_line_on_stderr(tmp_path: Path):
    """TensorFlow's native start-up log (oneDNN, CUDA stubs, cuInit) must not bury the one line."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgekit",
            "build",
            "--board",
            "uno",
            "--data",
            "synthetic",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: --board uno"), proc.stderr


def test_progress_lines_are_printed_when_stderr_is_not_a_terminal(tmp_path: Path):
    """Piped into a log, a build says what it is doing (one plain line per stage); --quiet after the
    subcommand silences it as --quiet before it does."""
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "manifest.json").write_text('{"kind": "edgekit-run"}')
    env = {k: v for k, v in os.environ.items() if k not in ("EDGEKIT_QUIET", "EDGEKIT_PROGRESS")}
    loud = subprocess.run(
        [sys.executable, "-m", "edgekit", "report", str(bare)], capture_output=True, text=True, timeout=120, env=env
    )
    assert loud.returncode == 0, loud.stderr
    assert "edgekit: writing report.html ..." in loud.stderr.splitlines()
    assert "\r" not in loud.stderr
    quiet = subprocess.run(
        [sys.executable, "-m", "edgekit", "report", str(bare), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


@pytest.mark.slow  # trains (one epoch)
def test_a_training_run_prints_only_edgekit_lines_on_stderr(tmp_path: Path):
    """TensorFlow's own ERROR lines during training (``NodeDef mentions attribute use_unbounded_threadpool``
    from the augmentation pipeline) are not the user's business: stderr holds edgekit's progress only."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "EDGEKIT_QUIET")}
    proc = subprocess.run(
        [sys.executable, "-m", "edgekit", "train", "--data", "synthetic", "--recipe", "robust", "--epochs", "1",
         "--min-epochs", "1", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    foreign = [line for line in proc.stderr.splitlines() if not line.startswith("edgekit: ")]
    assert not foreign, foreign
