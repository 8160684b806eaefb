"""One Ray Tune trial: train a candidate on the training users, report validation accuracy each epoch.

Runs in a Ray worker process (one CPU each). It sees only the training and validation windows: the
driver strips the held-out test users before the data goes to the object store, so nothing in a tune
can be chosen on them. Keras early stopping is off here; ASHA decides which trials stop early, from
the best EMA validation accuracy so far, reported once per epoch.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data.prepare import Prepared


def without_test_users(prepared: Prepared) -> Prepared:
    """The same partitions with the test users' windows removed (what trials may see)."""
    empty = np.zeros((0, prepared.x_train.shape[1]), dtype=np.float32)
    none = np.zeros((0,), dtype=prepared.y_train.dtype)
    return replace(prepared, x_test=empty, y_test=none, subject_test=np.zeros((0,), dtype=np.int64))


def _single_thread() -> None:
    """One core per trial, as Ray reserved; TF's own pools would otherwise take every core."""
    from ..tfenv import tensorflow

    tf = tensorflow()

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this worker (a reused process): keep its setting
        pass


def _reporter(cost: dict[str, Any], epochs: int):
    from ray import tune

    from ..tfenv import keras as _keras

    keras: Any = _keras()

    class ReportEpoch(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best = 0.0

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            current = float(logs.get("val_accuracy", 0.0))
            self.best = max(self.best, current)
            tune.report(
                {
                    "val_accuracy": self.best,
                    "val_accuracy_epoch": current,
                    "val_loss": float(logs.get("val_loss", float("nan"))),
                    "epoch": epoch + 1,
                    "epochs": epochs,
                    "latency_ms": cost["latency_ms"],
                    "flash_bytes": cost["flash_bytes"],
                    "ram_bytes": cost["ram_bytes"],
                    "params": cost["params"],
                }
            )

    return ReportEpoch()


def run_trial(config: dict[str, Any], prepared: Prepared, epochs: int, seed: int, batch_size: int) -> None:
    """Ray function trainable: every trial trains from the same seed, so differences are the candidate's."""
    _single_thread()
    from ..train import TrainConfig, fit

    with tempfile.TemporaryDirectory(prefix="edgekit-trial-") as tmp:
        spec_path = Path(tmp) / "model.toml"
        spec_path.write_text(config["model_toml"], encoding="utf-8")
        train_config = TrainConfig(
            model=str(spec_path),
            recipe=config["recipe"],
            epochs=epochs,
            batch_size=batch_size,
            min_epochs=epochs,
            patience=epochs,
        )
        fit(prepared, train_config, seed, extra_callbacks=(_reporter(config["cost"], epochs),))
