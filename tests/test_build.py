"""`edgekit build`: every stage into one folder, the fit check, model reuse and the summary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fakeboard import BoardThread, FakeBoard

from edgekit.build import build_run
from edgekit.cli import main
from edgekit.train import TrainConfig

FAST = TrainConfig(epochs=3, min_epochs=1, patience=2)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("build") / "run"
    summary = build_run("nano33", "synthetic", out, FAST, seed=0, selftest=4)
    return out, summary


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
    build_run("nano33", "synthetic", copy, FAST, seed=0)
    return copy


def test_second_build_reuses_the_trained_model(built, rebuilt):
    out, _ = built
    manifest = json.loads((rebuilt / "manifest.json").read_text())
    assert manifest["training"]["reused_from"] == str(rebuilt)
    assert (rebuilt / "model.keras").read_bytes() == (out / "model.keras").read_bytes()
    tflite_a = (out / "model_int8.tflite").read_bytes()
    assert (rebuilt / "model_int8.tflite").read_bytes() == tflite_a  # deterministic quantization


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
