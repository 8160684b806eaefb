"""``edgekit profile``: MACs from shapes, int8 bytes, the cost model's calibration and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekit.boards import board_names, load_board
from edgekit.cli import main
from edgekit.model import build_model
from edgekit.profile import COST_MODELS, SEED_CALIBRATION, core_key, profile_model

SEED_MACS = 71 * 10 * 3 * 100 + 62 * 10 * 100 * 100 + 11 * 10 * 100 * 160 + 2 * 10 * 160 * 160 + 160 * 6


@pytest.fixture(scope="module")
def seed_profile() -> dict:
    return profile_model(build_model("seed"), board=load_board("nano33"))


def test_seed_macs_params_and_int8_bytes_come_from_the_layer_shapes(seed_profile: dict):
    layers = {row["name"]: row for row in seed_profile["layers"]}
    assert seed_profile["totals"]["macs"] == SEED_MACS == SEED_CALIBRATION["macs"] == 8_685_960
    assert seed_profile["totals"]["params"] == 520_486
    assert layers["conv2"]["macs"] == 62 * 10 * 100 * 100 and layers["conv2"]["output_shape"] == [62, 100]
    assert layers["pool"]["macs"] == 0 and layers["pool"]["elements"] == 20 * 100 * 3
    assert layers["gap"]["elements"] == 2 * 160 and layers["gap"]["element_op"] == "adds"
    assert layers["probs"]["int8_bytes"] == 160 * 6 + 4 * 6  # int8 weights, int32 biases
    assert layers["dropout"]["macs"] == 0 and seed_profile["estimate"]["instructions_per_layer"]["dropout"] == 0


def test_macs_of_depthwise_grouped_and_dense_layers():
    import keras

    inputs = keras.Input(shape=(20, 4))
    x = keras.layers.DepthwiseConv1D(3, depth_multiplier=2, name="dw")(inputs)  # 18 x 8
    x = keras.layers.Conv1D(6, 5, groups=2, name="grouped")(x)  # 14 x 6, 4 inputs per group
    x = keras.layers.AveragePooling1D(2, name="avg")(x)  # 7 x 6
    outputs = keras.layers.Dense(3, name="fc")(x)  # per time step
    rows = {r["name"]: r for r in profile_model(keras.Model(inputs, outputs))["layers"]}
    assert rows["dw"]["macs"] == 18 * 8 * 3
    assert rows["grouped"]["macs"] == 14 * 5 * 4 * 6
    assert rows["avg"]["elements"] == 7 * 6 * 2 and rows["avg"]["macs"] == 0
    assert rows["fc"]["macs"] == 7 * 6 * 3


def test_layers_without_a_cost_entry_are_named_in_the_assumptions():
    import keras

    inputs = keras.Input(shape=(16, 3))
    x = keras.layers.BatchNormalization(name="bn")(keras.layers.Conv1D(4, 3, name="conv")(inputs))
    est = profile_model(keras.Model(inputs, x), board=load_board("nano33"))["estimate"]
    assert est["instructions_per_layer"]["bn"] == 0
    assert any("no cost entry" in a and "bn (BatchNormalization)" in a for a in est["assumptions"])


def test_seed_estimate_on_nano33_matches_the_measured_instruction_counts(seed_profile: dict):
    est = seed_profile["estimate"]
    assert est["core"] == "cortex-m4" and est["kernels"] == "cmsis-nn"
    assert est["instructions"] == pytest.approx(SEED_CALIBRATION["cmsis-nn"], rel=0.02)
    low, high = est["seconds"]
    assert 0.25 <= low < high <= 0.35
    assert est["duty_cycle"] == pytest.approx([low / 2.0, high / 2.0], rel=1e-4)
    reference = profile_model(build_model("seed"), board=load_board("nano33"), kernels="reference")["estimate"]
    assert reference["instructions"] == pytest.approx(SEED_CALIBRATION["reference"], rel=0.02)
    assert not reference["keeps_up"]


def test_compact_estimate_is_much_faster_than_the_seed(seed_profile: dict):
    compact = profile_model(build_model("compact"), board=load_board("nano33"))["estimate"]
    assert compact["instructions"] * 10 < seed_profile["estimate"]["instructions"]
    assert compact["seconds"][1] < 0.05 and compact["keeps_up"]


def test_every_shipped_board_has_a_cost_model():
    for name in board_names():
        key = core_key(load_board(name).core)
        assert key in COST_MODELS, f"board {name}: core has no entry in edgekit.profile.COST_MODELS"
        core = COST_MODELS[key]
        assert core.default_kernels in core.kernels and 1.0 <= core.cpi[0] < core.cpi[1]


@pytest.fixture(scope="module")
def compact_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edgekit.train import TrainConfig, train_run

    run = tmp_path_factory.mktemp("profile") / "run"
    train_run("synthetic", run, TrainConfig(model="compact", epochs=2, min_epochs=1, patience=1), seed=0)
    return run


def _invoke(args: list[str]):
    return CliRunner().invoke(main, args, env={"EDGEKIT_QUIET": "1"})


def test_cli_profiles_an_unquantized_run_without_touching_it(compact_run: Path):
    before = {p.name: p.read_bytes() for p in compact_run.iterdir()}
    result = _invoke(["profile", str(compact_run), "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    data = json.loads(result.output)
    assert data["run"]["quantized"] is False and data["board"]["name"] == "nano33"
    assert data["totals"]["macs"] == 71 * 10 * 3 * 32 + 26 * 10 * 32 * 64 + 9 * 5 * 64 * 64 + 64 * 6 == 785_344
    assert 0 < data["int8"]["weights_bytes"] < data["int8"]["tflite_bytes"]
    assert data["int8"]["arena_bytes"] > 0 and data["board"]["fit"]["fits"]
    assert data["estimate"]["available"] and data["estimate"]["seconds"][0] > 0
    assert {p.name: p.read_bytes() for p in compact_run.iterdir()} == before


def test_cli_uses_the_quantized_runs_arena_and_prints_assumptions(compact_run: Path, tmp_path: Path):
    import shutil

    from edgekit.quantize import quantize_run

    run = tmp_path / "q"
    shutil.copytree(compact_run, run)
    quant = quantize_run(run)
    result = _invoke(["profile", str(run), "--board", "nano-rp2040", "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    data = json.loads(result.output)
    assert data["int8"]["arena_bytes"] == quant.arena_bytes and data["int8"]["tflite_bytes"] == quant.tflite_bytes
    assert data["estimate"]["core"] == "cortex-m0plus" and data["estimate"]["kernels"] == "cmsis-nn"
    text = _invoke(["profile", str(run)])
    assert text.exit_code == 0
    assert "assumptions" in text.output and "CPI" in text.output and "conv3" in text.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--board", "no-such-board"], "--board no-such-board: unknown board"),
        (["--board", "uno", "--kernels", "cmsis-nn"], "--kernels cmsis-nn"),
    ],
)
def test_cli_bad_board_or_kernels_is_one_line_and_exit_2(compact_run: Path, args: list[str], message: str):
    result = _invoke(["profile", str(compact_run), *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: ") and message in lines[0]


def test_cli_missing_run_is_exit_2(tmp_path: Path):
    result = _invoke(["profile", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "artifact folder not found" in result.stderr
