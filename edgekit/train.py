"""Training a run: data -> split -> contract -> float Keras model -> metrics, in one artifact folder.

Early stopping watches a *user-disjoint* validation set, which is noisy on WISDM (few users, very
different gaits): with patience 5 it stopped after 4 epochs at 0.78 test accuracy, and with plain Adam
the held-out accuracy swings by +-3 pp from one epoch to the next (measured: 0.78-0.86 between epochs
10 and 20), so whichever epoch early stopping picks is a lottery. Two changes make it reliable: the
weights are an exponential moving average of Adam's iterates (``ema_momentum`` 0.99, i.e. about four
epochs of averaging; validation and stopping see the averaged weights), and stopping only starts
counting after ``min_epochs`` with patience 10, restoring the best averaged weights from then on.
Training is repeatable: ``--seed`` seeds every RNG and turns on TF's deterministic kernels.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import artifacts, progress, tfenv
from .artifacts import HISTORY, MANIFEST, METRICS, MODEL_KERAS
from .contract import HOP, MAX_GAP_S, RATE_HZ, WINDOW
from .data import Windows, check_source, load_windows
from .data.prepare import Prepared, parse_users, prepare, split_users
from .errors import EdgekitError
from .model import build_model, evaluate, format_metrics, make_deterministic
from .modelspec import is_path, load_spec
from .recipe import DEFAULT_RECIPE, RECIPE_EPOCHS, Augmenter, Recipe, batches, get_recipe
from .run import data_spec


@dataclass
class TrainConfig:
    """Everything that changes the trained weights (and so the cache key)."""

    model: str = "seed"
    window: int = WINDOW
    hop: int = HOP
    rate_hz: float = RATE_HZ
    max_gap_s: float = MAX_GAP_S
    epochs: int = RECIPE_EPOCHS[DEFAULT_RECIPE][0]
    batch_size: int = 400
    learning_rate: float = 1e-3
    patience: int = RECIPE_EPOCHS[DEFAULT_RECIPE][2]
    min_epochs: int = RECIPE_EPOCHS[DEFAULT_RECIPE][1]
    val_fraction: float = 0.15
    ema_momentum: float = 0.99
    test_users: str | None = None
    recipe: str = DEFAULT_RECIPE  # a name in edgekit.recipe.RECIPES
    recipe_spec: Recipe | None = None  # explicit knobs (ablations, tune); None: the named recipe's

    def resolved_recipe(self) -> Recipe:
        return self.recipe_spec if self.recipe_spec is not None else get_recipe(self.recipe)

    def validate(self) -> None:
        for name in ("window", "hop", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise EdgekitError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1")
        if not 0 <= self.val_fraction < 1:
            raise EdgekitError(f"--val-fraction {self.val_fraction}: must be in [0, 1)")


class _EpochLog:
    """Keras callback printing one progress line per epoch (Keras's own bar is off: it floods logs)."""

    def __new__(cls, epochs: int):
        keras: Any = tfenv.keras()

        class EpochLog(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                logs = logs or {}
                progress.note(
                    f"epoch {epoch + 1}/{epochs}  loss {logs.get('loss', 0):.4f}  acc {logs.get('accuracy', 0):.4f}"
                    f"  val_loss {logs.get('val_loss', float('nan')):.4f}  val_acc {logs.get('val_accuracy', 0):.4f}"
                )

        return EpochLog()


def fit(prepared: Prepared, config: TrainConfig, seed: int, extra_callbacks: tuple[Any, ...] = ()):
    """Train the float model; returns (model, history dict, best epoch).

    ``extra_callbacks`` run after the EMA swap (they see the averaged weights' validation scores);
    ``edgekit tune`` reports each epoch to Ray through one.
    """
    keras = tfenv.keras()
    recipe = config.resolved_recipe()
    make_deterministic(seed)
    contract = prepared.contract
    model = build_model(config.model, contract.window, len(contract.axes), len(contract.labels))
    plain = recipe == Recipe()  # the seed recipe: today's code path, weight for weight
    epochs = config.epochs
    steps = int(np.ceil(len(prepared.y_train) / config.batch_size))
    model.compile(
        # named: Keras numbers unnamed optimizers per process ("adam_1"), and the name is saved in model.keras
        optimizer=keras.optimizers.Adam(
            learning_rate(config.learning_rate, recipe, epochs, steps),
            use_ema=config.ema_momentum > 0,
            ema_momentum=config.ema_momentum or 0.99,
            name="adam",
        ),
        loss="sparse_categorical_crossentropy"
        if plain
        else keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"] if plain else [keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    has_val = len(prepared.y_val) > 0
    callbacks: list[Any] = []
    if config.ema_momentum > 0:  # first, so validation and early stopping see the averaged weights
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    callbacks.append(_EpochLog(epochs))
    stopper = None
    if has_val:
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss",
            patience=config.patience,
            restore_best_weights=True,
            start_from_epoch=min(config.min_epochs, epochs - 1),
        )
        callbacks.append(stopper)
    callbacks.extend(extra_callbacks)
    if plain:
        train_args: dict[str, Any] = {
            "x": prepared.x_train,
            "y": prepared.y_train,
            "batch_size": config.batch_size,
            "shuffle": True,
        }
        val = (prepared.x_val, prepared.y_val)
    else:
        n_classes = len(contract.labels)
        augment = Augmenter(recipe, contract) if recipe.augments else None
        train_args = {"x": batches(prepared.x_train, prepared.y_train, config.batch_size, augment, seed, n_classes)}
        val = (prepared.x_val, np.eye(n_classes, dtype=np.float32)[prepared.y_val.astype(int)])
    history = model.fit(
        **train_args,
        validation_data=val if has_val else None,
        epochs=epochs,
        verbose=0,
        callbacks=callbacks,
    )
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    epochs_run = len(hist["loss"])
    best = getattr(stopper, "best_epoch", None) if stopper is not None else None
    if stopper is None or stopper.best_weights is None or best is None:
        best = epochs_run - 1  # nothing restored: the last epoch's weights are kept
    return model, hist, int(best) + 1


def learning_rate(base: float, recipe: Recipe, epochs: int, steps_per_epoch: int) -> Any:
    """A float for the constant schedule (the seed's), else linear warm-up then cosine decay to zero."""
    if recipe.lr_schedule == "constant":
        return base
    if recipe.lr_schedule != "cosine":
        raise EdgekitError(f"recipe: lr_schedule {recipe.lr_schedule!r}; choose 'constant' or 'cosine'")
    keras = tfenv.keras()
    warmup = min(recipe.warmup_epochs, max(epochs - 1, 0)) * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        base / 10 if warmup else base,
        decay_steps=max(1, epochs * steps_per_epoch - warmup),
        warmup_target=base if warmup else None,
        warmup_steps=warmup,
    )


def cache_key(data: dict[str, Any], config: TrainConfig, seed: int) -> dict[str, Any]:
    key = {"data_sha256": data["sha256"], "config": asdict(config), "seed": seed}
    if is_path(config.model):  # a description file can change under the same path
        key["model_spec"] = load_spec(config.model).to_dict()
    return key


def model_record(config: TrainConfig, params: int) -> dict[str, Any]:
    """The manifest's model section; a description file is copied in, so the run outlives the file."""
    if not is_path(config.model):
        return {"name": config.model, "params": params}
    spec = load_spec(config.model)
    return {"name": spec.name, "params": params, "file": str(config.model), "spec": spec.to_dict()}


def load_prepared(
    data: str | Path | None,
    config: TrainConfig,
    seed: int,
    check_windows: Callable[[Windows], None] | None = None,
) -> tuple[Prepared, dict[str, Any], Any]:
    """Load, split by user and normalise the data as training sees it: (prepared, data source, split).

    ``check_windows`` lets a caller refuse the data before training starts (build: labels the firmware
    cannot print), once the data is read but before the minutes of training it would otherwise waste.
    """
    with progress.step("loading data"):
        windows, source = load_windows(data, config.window, config.hop, config.max_gap_s, seed, config.rate_hz)
    if check_windows is not None:
        check_windows(windows)
    source["spec"] = data_spec(data)  # a relative path is stored absolute: later stages run elsewhere
    if windows.X.shape[-1] != 3:
        raise EdgekitError(f"--data {data}: windows have {windows.X.shape[-1]} axes; expected 3 (x, y, z)")
    split = split_users(windows.subject, parse_users(config.test_users), config.val_fraction, seed)
    prepared = prepare(windows, split, config.window, config.hop, config.rate_hz)
    if len(prepared.y_train) < config.batch_size // 4:
        raise EdgekitError(
            f"--data {data}: only {len(prepared.y_train)} training windows for --batch-size {config.batch_size}; "
            "use more data or a smaller --batch-size"
        )
    return prepared, source, split


def train_into(
    stage: Path,
    data: str | Path | None,
    config: TrainConfig,
    seed: int,
    check_windows: Callable[[Windows], None] | None = None,
) -> dict[str, Any]:
    """Train and write model, metrics, history and manifest into ``stage``; returns the manifest."""
    config.validate()
    prepared, source, split = load_prepared(data, config, seed, check_windows)
    start = time.perf_counter()
    with progress.step(f"training '{config.model}' on {len(prepared.y_train)} windows"):
        model, history, best_epoch = fit(prepared, config, seed)
    wall = time.perf_counter() - start
    probs = model.predict(prepared.x_test, batch_size=1024, verbose=0)
    metrics = evaluate(probs, prepared.y_test, prepared.contract.labels)
    metrics["partition"] = "test"
    save_model(model, stage / MODEL_KERAS)
    artifacts.write_json_atomic(stage / METRICS, metrics)
    artifacts.write_json_atomic(stage / HISTORY, history)
    manifest = {
        "kind": artifacts.MANIFEST_KIND,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": artifacts.versions(),
        "seed": seed,
        "data": source,
        "config": asdict(config),
        "split": split.to_dict(),
        "contract": prepared.contract.to_dict(),
        "model": model_record(config, int(model.count_params())),
        "training": {
            "epochs_run": len(history["loss"]),
            "best_epoch": best_epoch,
            "wall_time_s": round(wall, 1),
            "train_windows": int(len(prepared.y_train)),
            "val_windows": int(len(prepared.y_val)),
            "test_windows": int(len(prepared.y_test)),
        },
        "cache_key": cache_key(source, config, seed),
    }
    artifacts.write_json_atomic(stage / MANIFEST, manifest)
    return manifest


def save_model(model: Any, path: Path) -> None:
    """Write ``model.keras`` so that the same weights always give the same bytes.

    Keras stamps the save time into metadata.json, numbers shared objects in config.json by their
    Python ``id()`` and dates every zip entry, so two identical models never compared equal byte for
    byte. Here the time is dropped, the ids are renumbered in order of appearance (what loading needs
    is only which references are the same object) and every entry gets the zip epoch as its date.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix=".keras-", dir=path.parent) as tmp:
        raw = Path(tmp) / path.name
        model.save(raw)
        with zipfile.ZipFile(raw) as src:
            entries = [(info, src.read(info)) for info in src.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as dst:
        for info, data in entries:
            if info.filename == "config.json":
                data = json.dumps(_renumber_shared_ids(json.loads(data), {})).encode()
            elif info.filename == "metadata.json":
                data = json.dumps({k: v for k, v in json.loads(data).items() if k != "date_saved"}).encode()
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = info.compress_type
            dst.writestr(entry, data)
    artifacts.write_bytes_atomic(path, buffer.getvalue())


def _renumber_shared_ids(node: Any, ids: dict[int, int]) -> Any:
    if isinstance(node, dict):
        return {
            key: ids.setdefault(value, len(ids) + 1) if key == "shared_object_id" else _renumber_shared_ids(value, ids)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renumber_shared_ids(value, ids) for value in node]
    return node


def train_run(
    data: str | Path | None,
    out: Path,
    config: TrainConfig | None = None,
    seed: int = 0,
    force: bool = False,
    finish: Callable[[Path], Any] | None = None,
) -> dict[str, Any]:
    """Train into a fresh artifact folder ``out``, swapped in only when complete.

    ``finish`` runs on the complete stage before the swap: the CLI passes the report writer, so report.html
    arrives with the run it describes (the report sits above training; training never imports it).
    """
    config = config or TrainConfig()
    check_source(data)
    artifacts.check_output_dir(Path(out), force)
    with artifacts.staged_dir(Path(out), force=force) as stage:
        artifacts.mark_stage_owner(stage)
        manifest = train_into(stage, data, config, seed)
        if finish is not None:
            finish(stage)
        (stage / ".pid").unlink(missing_ok=True)
    return manifest


def summary(run: Path) -> str:
    metrics = artifacts.read_json(Path(run) / METRICS, "metrics.json")
    return format_metrics(metrics)
