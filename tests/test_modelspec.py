"""Architectures as data: the shipped seed/compact descriptions build the same models as the old builders."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import EdgekitError
from edgekit.modelspec import load_spec, parse_spec, sequence_length, shipped_names
from edgekit.resources import load_toml


def _legacy_seed(window, n_axes, n_classes):
    """edgekit.model.seed_model as it was before architectures became files (frozen reference)."""
    import keras

    layers = keras.layers
    inputs = keras.Input(shape=(window * n_axes,), name="window")
    x = layers.Reshape((window, n_axes), name="reshape")(inputs)
    x = layers.Conv1D(100, 10, activation="relu", name="conv1")(x)
    x = layers.Conv1D(100, 10, activation="relu", name="conv2")(x)
    x = layers.MaxPooling1D(3, name="pool")(x)
    x = layers.Conv1D(160, 10, activation="relu", name="conv3")(x)
    x = layers.Conv1D(160, 10, activation="relu", name="conv4")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="seed")


def _legacy_compact(window, n_axes, n_classes):
    """edgekit.model.compact_model as it was before architectures became files (frozen reference)."""
    import keras

    layers = keras.layers
    inputs = keras.Input(shape=(window * n_axes,), name="window")
    x = layers.Reshape((window, n_axes), name="reshape")(inputs)
    x = layers.Conv1D(32, 10, activation="relu", name="conv1")(x)
    x = layers.MaxPooling1D(2, name="pool1")(x)
    x = layers.Conv1D(64, 10, activation="relu", name="conv2")(x)
    x = layers.MaxPooling1D(2, name="pool2")(x)
    x = layers.Conv1D(64, 5, activation="relu", name="conv3")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="compact")


@pytest.mark.parametrize(
    ("name", "legacy", "params"), [("seed", _legacy_seed, 520_486), ("compact", _legacy_compact, 42_470)]
)
def test_shipped_descriptions_build_byte_identical_models(tmp_path, name, legacy, params):
    from edgekit.model import build_model, make_deterministic
    from edgekit.train import save_model

    make_deterministic(3)
    old = legacy(80, 3, 6)
    make_deterministic(3)
    new = build_model(name, 80, 3, 6)
    assert new.count_params() == old.count_params() == params
    assert [w.name for w in new.weights] == [w.name for w in old.weights]
    for a, b in zip(new.get_weights(), old.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    save_model(old, tmp_path / "old.keras")
    save_model(new, tmp_path / "new.keras")
    assert (tmp_path / "old.keras").read_bytes() == (tmp_path / "new.keras").read_bytes()


def test_description_round_trips_through_toml(tmp_path):
    for name in shipped_names():
        spec = load_spec(name)
        again = parse_spec(load_toml(spec.to_toml()), "again")
        assert again == spec
        path = tmp_path / f"{name}.toml"
        path.write_text(spec.to_toml())
        assert load_spec(path) == spec


def test_shipped_files_are_in_the_package():
    from importlib import resources

    assert {"seed", "compact"} <= set(shipped_names())
    assert resources.files("edgekit").joinpath("architectures", "seed.toml").is_file()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\n[[layers]]\nkind = "conv"\nfilters = 8\n', "kernel"),
        ('name = "x"\n[[layers]]\nkind = "lstm"\n', "kind"),
        ('name = "x"\n[[layers]]\nkind = "conv"\nfilters = 8\nkernel = 3\n', "global pool"),
        ('name = "x"\n[[layers]]\nkind = "gap"\n[[layers]]\nkind = "conv"\nfilters = 8\nkernel = 3\n', "conv"),
        ('name = "x"\nlayer = 1\n', "unknown key"),
        ("name = [", "TOML"),
    ],
)
def test_bad_descriptions_name_the_file(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(EdgekitError, match=message) as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_sequence_length_and_window_too_short():
    from edgekit.modelspec import build_keras

    assert sequence_length(load_spec("seed"), 80) == 62 // 3 - 9 - 9
    with pytest.raises(EdgekitError, match="shrink"):
        build_keras(load_spec("seed"), 20, 3, 6)
