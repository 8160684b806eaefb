"""`edgekit build`: every stage into one folder, the fit check, model reuse and the summary."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers.fakeboard import BoardThread, FakeBoard

from edgekit.artifacts import update_manifest
from edgekit.boards import boards_dir, load_board
from edgekit.build import build_run, format_summary
from edgekit.cli import main
from edgekit.profile import profile_run
from edgekit.records import BuildSummary, Manifest, ParityReport
from edgekit.run import Run
from edgekit.train import TrainConfig

FAST = TrainConfig(epochs=3, min_epochs=1, patience=2)
BOARD_WINDOWS = 32  # the emulated rung runs (and measures the arena) on 32 windows: QEMU on the seed costs seconds each


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("build") / "run"
    summary = build_run("nano33", "synthetic", out, FAST, seed=0, selftest=4, board_windows=BOARD_WINDOWS)
    return out, summary.to_dict()


@pytest.mark.slow
def test_build_writes_every_stage_and_a_sketch(built):
    out, summary = built
    names = {p.name for p in out.iterdir()}
    assert {"manifest.json", "model.keras", "metrics.json", "model_int8.tflite", "parity.json", "firmware"} <= names
    sketch = Path(summary["sketch"])
    assert sketch == out / "firmware" / "edgekit_har" and (sketch / "edgekit_har.ino").is_file()
    assert (sketch / "model_data.cpp").is_file() and (sketch / "selftest_data.cpp").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["build"]["board"] == "nano33"
    assert summary["model_bytes"] == (out / "model_int8.tflite").stat().st_size
    assert summary["int8_windows_differ"] == 0
    assert summary["fit"]["fits"] and 0 < summary["fit"]["flash"]["pct"] < 100
    assert summary["arena_bytes"] >= summary["arena_measured"]["bytes"] > 0  # emulated board + margin
    assert "emulated Cortex-M4" in summary["arena_measured"]["source"]
    assert not list(out.parent.glob(".edgekit-*"))


@pytest.mark.slow
def test_sketch_carries_the_contract(built):
    out, summary = built
    config = (Path(summary["sketch"]) / "edgekit_config.h").read_text()
    contract = json.loads((out / "manifest.json").read_text())["contract"]
    for label in contract["labels"]:
        assert f'"{label}"' in config
    model_h = (Path(summary["sketch"]) / "model_data.h").read_text()
    assert contract["quant"]["tflite_sha256"] in model_h


@pytest.fixture(scope="module")
def rebuilt(built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``built`` built again without --selftest (the README's hardware loop): reuses the model."""
    out, _ = built
    copy = tmp_path_factory.mktemp("rebuild") / "run"
    shutil.copytree(out, copy)
    build_run("nano33", "synthetic", copy, FAST, seed=0, board_windows=BOARD_WINDOWS)
    return copy


@pytest.mark.slow
def test_second_build_reuses_the_trained_model(built, rebuilt):
    out, _ = built
    manifest = json.loads((rebuilt / "manifest.json").read_text())
    assert manifest["training"]["reused_from"] == str(rebuilt)
    assert (rebuilt / "model.keras").read_bytes() == (out / "model.keras").read_bytes()
    tflite_a = (out / "model_int8.tflite").read_bytes()
    assert (rebuilt / "model_int8.tflite").read_bytes() == tflite_a  # deterministic quantization


@pytest.mark.slow
def test_verify_a_board_running_a_sketch_built_without_selftest(rebuilt, tmp_path):
    """Issue 12 item 18, end to end: a real run built without --selftest, its board on a pty.

    The sketch prints READY (the first 16 hex of its model's sha256) and predictions, never EK,SELFTEST;
    verify reads from the run that there is no self-test and passes on the model hash and the timing.
    """
    sketch = json.loads((rebuilt / "firmware" / "edgekit_har" / "edgekit_sketch.json").read_text())
    assert (
        sketch["selftest"]["windows"] == 0 and not (rebuilt / "firmware" / "edgekit_har" / "selftest_data.cpp").exists()
    )
    model = sketch["model"]["sha256"][:16]
    board = FakeBoard(tmp_path)

    def script() -> None:
        board.wait_host()
        board.send(f"EK,READY,{model},7424", "EK,PRED,1,Walking,0.912,44,0")

    thread = BoardThread(script)
    thread.start()
    try:
        result = CliRunner().invoke(main, ["verify", "--port", board.port, "--run", str(rebuilt), "--timeout", "10"])
        thread.finish()
    finally:
        board.close()
    assert result.exit_code == 0, result.output
    assert f"model: {model} matches the run folder" in result.stdout
    assert "inference time: on-device 44.00 ms (from a prediction), desktop estimate" in result.stdout
    assert "measured on the emulated board" in result.stdout and result.stdout.endswith("verify: PASS\n")


def test_uno_is_refused_with_numbers_before_anything_is_written(tmp_path):
    result = CliRunner().invoke(main, ["build", "--board", "uno", "--data", "synthetic", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    line = result.output.strip()
    assert "--board uno: the model does not fit" in line and "flash" in line and "--model compact" in line
    assert "\n" not in line
    assert not (tmp_path / "o").exists()


def test_unknown_board_exit_2(tmp_path):
    args = ["build", "--board", "nano99", "--data", "synthetic", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "nano99" in result.output
    assert not (tmp_path / "o").exists()


def test_prenormalised_data_needs_norm_from(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 128, 3)).astype(np.float32)
    y = np.tile(np.arange(6), 40)
    X += y[:, None, None] * 0.8  # learnable
    subject = np.repeat(np.arange(1, 13), 20)
    path = tmp_path / "w.npz"
    np.savez(path, X=X, y=y, subject=subject, classes=np.array(["a", "b", "c", "d", "e", "f"]))
    config = TrainConfig(epochs=1, min_epochs=1, batch_size=64)
    from edgekit.errors import EdgekitError

    with pytest.raises(EdgekitError, match="pass --norm-from RECORDING"):
        build_run("nano33", path, tmp_path / "o", config, seed=0, max_drop_pp=100.0)
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_real_wisdm_build_passes_the_gates(wisdm_windows: Path, wisdm_raw: Path, tmp_path: Path):
    """Seed model, 3 epochs on the real WISDM windows (users 29-36 held out), calibrated on the real
    watch recording, through every gate with the defaults (drop <= 1 pp, LiteRT vs TFLM within 1 step)."""
    out = tmp_path / "wisdm"
    summary = build_run(
        "nano33",
        wisdm_windows,
        out,
        TrainConfig(epochs=3, min_epochs=1, patience=2),
        seed=0,
        norm_from=wisdm_raw,
        selftest=4,
    )
    assert "normalisation    mean (" in format_summary(summary)  # the board's --norm-from statistics, shown
    summary = summary.to_dict()
    report = json.loads((out / "parity.json").read_text())
    print("WISDM build:", json.dumps(summary, sort_keys=True))
    assert report["test_users"] == list(range(29, 37)) and report["n_test"] == 3500
    assert report["rungs"]["float"]["accuracy"] > 0.6
    assert summary["accuracy_drop_pp"] <= 1.0
    runtime = report["pairs"]["litert->tflm"]
    assert runtime["int8_max_step_diff"] <= 1 and runtime["top1_agreement"] >= 0.999 and report["passed"]
    ops = json.loads((out / "manifest.json").read_text())["contract"]["quant"]["ops"]
    assert not {"SHAPE", "STRIDED_SLICE", "PACK"} & set(ops)
    calibration = summary["calibration"]
    assert calibration["records"] == 607_200 and len(calibration["mean"]) == 3
    assert summary["fit"]["fits"] and Path(summary["sketch"], "edgekit_har.ino").is_file()


@pytest.mark.slow  # reads the module's trained build
def test_records_round_trip_what_build_writes(built):
    """The typed records give back the files key for key: artifacts stay byte-identical through them."""
    out, summary = built
    manifest = json.loads((out / "manifest.json").read_text())
    parity = json.loads((out / "parity.json").read_text())
    assert Manifest.from_dict(manifest).to_dict() == manifest
    assert ParityReport.from_dict(parity).to_dict() == parity
    assert manifest["build"] == summary


@pytest.mark.slow  # reads the module's trained build
def test_profile_counts_the_footprint_build_counts(built):
    """Issue 12 item 20: 'edgekit profile RUN' and 'edgekit build' give one flash and RAM figure, self-test included."""
    out, summary = built
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["selftest_windows"] == 4
    again = profile_run(out)["board"]["fit"]
    for fit in (manifest["profile"]["board"]["fit"], again):
        assert fit["flash"] == summary["fit"]["flash"] and fit["ram"] == summary["fit"]["ram"]


@pytest.mark.slow  # reads the module's trained build
def test_the_summary_names_the_embedded_self_test(built):
    _, summary = built
    text = format_summary(BuildSummary.from_dict(summary))
    assert "self-test        4 held-out windows embedded" in text


def _custom_board(path: Path, title: str, clock_hz: int) -> Path:
    text = (boards_dir() / "nano33.toml").read_text()
    text = re.sub(r'(?m)^title = ".*"$', f'title = "{title}"', text, count=1)
    text = re.sub(r"(?m)^clock = .*$", f'clock = "{clock_hz // 1_000_000} MHz"', text, count=1)
    path.write_text(text)
    assert load_board(path).clock_hz == clock_hz
    return path


@pytest.mark.slow  # trains
def test_a_board_given_as_a_file_is_the_board_used_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Issue 12 item 16: --board /path/custom.toml works end to end; profile, latency and report use that file.

    Also: after training, the stages share one Run, so the data is read once (quantize, parity and the
    self-test each read it before).
    """
    import edgekit.data

    reads = []
    real = edgekit.data.load_windows
    monkeypatch.setattr(edgekit.data, "load_windows", lambda *a, **k: reads.append(a) or real(*a, **k))
    board = _custom_board(tmp_path / "custom.toml", "My custom Nano", 32_000_000)
    out = tmp_path / "run"
    args = ["build", "--board", str(board), "--data", "synthetic", "--out", str(out), "--epochs", "2"]
    args += ["--min-epochs", "1", "--max-drop", "100", "--max-int8-step", "255", "--representative", "50"]
    args += ["--selftest", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert len(reads) == 1, f"the windows were rebuilt {len(reads)} times after training"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["build"]["board"] == "custom" and manifest["build"]["board_file"] == str(board)
    assert manifest["profile"]["board"]["title"] == "My custom Nano"
    assert manifest["profile"]["estimate"]["clock_hz"] == 32_000_000
    assert "My custom Nano" in (out / "report.html").read_text()
    shown = CliRunner().invoke(main, ["profile", str(out), "--json"])  # no --board: the run's own board file
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["board"]["clock_hz"] == 32_000_000


@pytest.mark.slow  # reads the module's trained build
def test_a_board_file_with_a_shipped_name_wins_over_the_shipped_board(built, tmp_path: Path):
    """Issue 12 item 16: a custom nano33.toml recorded by build is what later stages load, not boards/nano33.toml."""
    out, _ = built
    copy = Path(shutil.copytree(out, tmp_path / "run"))
    board = _custom_board(tmp_path / "nano33.toml", "Nano 33 at half speed", 32_000_000)
    manifest = json.loads((copy / "manifest.json").read_text())
    update_manifest(copy, build=dict(manifest["build"], board_file=str(board)))
    assert Run(copy).board.clock_hz == 32_000_000
    assert profile_run(copy)["estimate"]["clock_hz"] == 32_000_000


@pytest.mark.slow  # reads the module's trained build
def test_the_board_rungs_run_the_kernels_the_sketch_ships(built):
    """nano33 ships CMSIS-NN at -O2 (its board file): the emulated rung that measured it must have too."""
    out, _ = built
    parity = json.loads((out / "parity.json").read_text())
    assert parity["board"]["runtime"]["hot_kernels"] == "O2"
    sketch_sources = (out / "firmware" / "edgekit_har" / "src" / "tflm").rglob("*.c")
    pragma = b"#pragma GCC optimize"
    assert any(pragma in path.read_bytes() for path in sketch_sources)
