"""Split, normalisation without test users, the seed model, repeatable training and the train CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.cli import main
from edgekit.data import load_windows
from edgekit.data.prepare import model_inputs, parse_users, prepare, split_users
from edgekit.errors import EdgekitError
from edgekit.model import build_model


def test_seed_model_has_the_articles_parameter_count():
    model = build_model("seed", window=80, n_axes=3, n_classes=6)
    assert model.count_params() == 520_486
    assert model.input_shape == (None, 240)
    assert build_model("seed", n_classes=5).output_shape == (None, 5)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(EdgekitError, match="--model tiny: unknown model"):
        build_model("tiny")


def test_default_split_is_the_seeds_users_29_to_36():
    split = split_users(np.arange(1, 37), seed=0)
    assert split.test == list(range(29, 37))
    assert not set(split.val) & set(split.train) and len(split.val) == 4
    assert sorted(split.train + split.val) == list(range(1, 29))


def test_split_for_other_ids_holds_out_last_users():
    split = split_users(np.arange(1600, 1651), seed=0)
    assert split.test == list(range(1640, 1651))
    assert parse_users("1,5,7-9") == [1, 5, 7, 8, 9]
    with pytest.raises(EdgekitError, match="--test-users 'a-b'"):
        parse_users("a-b")


def test_normalisation_uses_training_users_only():
    windows, _ = load_windows("synthetic")
    split = split_users(windows.subject, seed=0)
    base = prepare(windows, split, 80, 40, 20.0).contract
    # Make test users' data wildly different: a leak would move mean/std/clip.
    test_mask = np.isin(windows.subject, split.test)
    windows.X[test_mask] += 1000.0
    leaked = prepare(windows, split, 80, 40, 20.0)
    assert leaked.contract.mean == base.mean and leaked.contract.std == base.std
    assert leaked.contract.clip_high == base.clip_high
    train_samples = windows.X[np.isin(windows.subject, split.train)].reshape(-1, 3)
    assert np.allclose(base.mean, train_samples.mean(axis=0), atol=1e-4)
    # ... and the test inputs are clipped to the training range, not passed through
    assert np.abs(leaked.x_test).max() <= np.abs(model_inputs(windows.X[~test_mask], base)).max() + 1e-5


def test_class_missing_from_training_users_is_refused():
    windows, _ = load_windows("synthetic")
    split = split_users(windows.subject, seed=0)
    windows.y[np.isin(windows.subject, split.train + split.val) & (windows.y == 2)] = 1
    with pytest.raises(EdgekitError, match="class Sitting has no windows from the training users"):
        prepare(windows, split, 80, 40, 20.0)


def _weights(run):
    from edgekit.model import load_model

    return load_model(run).get_weights()


def test_same_seed_same_weights(tmp_path, synthetic_run):
    from edgekit.train import TrainConfig, train_run

    train_run("synthetic", tmp_path / "again", TrainConfig(epochs=4, min_epochs=2, patience=2), seed=0)
    for a, b in zip(_weights(synthetic_run), _weights(tmp_path / "again"), strict=True):
        assert np.array_equal(a, b)
    m1 = json.loads((synthetic_run / "metrics.json").read_text())
    m2 = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert m1 == m2


@pytest.mark.slow
def test_cli_train_end_to_end_on_synthetic(tmp_path):
    out = tmp_path / "runs" / "nested" / "run"  # missing parents are created, as the README's 'runs/demo' needs
    result = CliRunner().invoke(
        main,
        [
            "train",
            "--data",
            "synthetic",
            "--epochs",
            "1",  # plumbing: one epoch is enough
            "--min-epochs",
            "1",
            "--seed",
            "1",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert 0.0 < summary["accuracy"] <= 1.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["data"]["kind"] == "synthetic"
    assert manifest["model"]["params"] == 520_486
    assert manifest["contract"]["window"] == 80 and manifest["contract"]["units"] == "m/s^2"
    assert set(manifest["split"]) == {"train", "val", "test"}
    assert {p.name for p in out.iterdir()} >= {"manifest.json", "model.keras", "metrics.json", "history.json"}
    assert not list(out.parent.glob(".edgekit-*"))  # nothing half-written left beside it


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "missing.txt"], "--data missing.txt: file not found"),
        (["--data", "synthetic", "--epochs", "0"], "Invalid value for '--epochs': 0 is not in the range 1<=x"),
        (["--data", "synthetic", "--test-users", "90-99"], "--test-users: none of"),
    ],
)
def test_cli_train_bad_input_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(main, ["train", *args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "o").exists()


def test_cli_refuses_foreign_output_folder(tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "thesis.tex").write_text("precious")
    result = CliRunner().invoke(main, ["train", "--data", "synthetic", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not created by edgekit" in result.output
    assert (tmp_path / "o" / "thesis.tex").read_text() == "precious"
