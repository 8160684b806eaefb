"""Model architectures, training helpers and evaluation.

Architectures are data: ``edgekit/architectures/<name>.toml`` model descriptions (format and parser
in :mod:`edgekit.modelspec`), and ``--model`` also takes the path of such a file (what ``edgekit tune``
writes). The seed network is reproduced exactly (520,486 parameters for 6 classes and 80x3 windows)
because users compare edgekit against the published article; it takes the flat 240-value vector the
article feeds it and reshapes inside the graph, which is also what the firmware's int8 input tensor
holds. Descriptions are independent of window, axes and classes so other data sets work unchanged.

``compact`` is a small network for boards where the seed's ~0.3 s per inference or ~540 KB of int8
flash is too much: about 1/11 of the seed's multiply-accumulates and 1/12 of its parameters at about
the same accuracy on held-out WISDM users (``bench/models.py`` has the measured comparison).

Why compact has this shape (80x3 windows at 20 Hz; counts for 6 classes):
- Where the seed's cost is: its second Conv1D(100, 10) runs at the full 62-step rate on 100 input
  and output channels and is 6.2 M of its 8.7 M MACs, and its last two convs hold 80 % of its
  weights. Here a MaxPooling1D(2) follows each of the first two convs, so conv2 runs on 35 steps
  and conv3 on 13, with 32-64 channels instead of 100-160.
- conv1 Conv1D(32, 10): kernel 10 = 0.5 s, as in the seed, about one step. On 3 input channels it
  is cheap (68 k MACs, 1 k weights), so it can afford 32 filters; 16-24 cost 1-3 pp on held-out users.
- Pool by 2 twice rather than by 3 once: one MaxPooling1D(3) after conv1 gives the same weights for
  560 k MACs, but was 3 pp worse on average over three training seeds (held-out accuracy 0.820 vs
  0.850; the seed model 0.842); halving keeps more timing detail for conv2, where the
  step-to-step pattern is formed. Max rather than average pooling keeps the sharpest foot-strike
  response, which is what separates walking, stairs and jogging.
- conv2 Conv1D(64, 10) on the half-rate sequence spans 20 raw samples = 1 s, about one gait cycle;
  after the second pool, conv3 Conv1D(64, 5) brings the receptive field to 47 samples = 2.35 s, so
  the averaged features have seen two cycles. 48 or 56 channels lost 1-1.5 pp; strided convs
  instead of pooling ~5 pp and depthwise-separable convs ~4 pp (one seed each).
- Valid padding and stride 1 everywhere: no PAD op, and the int8 graph is only RESHAPE, CONV_2D,
  MAX_POOL_2D, MEAN, FULLY_CONNECTED and SOFTMAX, all TFLM int8 kernels (CMSIS-NN for conv/FC/pool).
- No BatchNorm: nothing to fold and nothing extra to calibrate; Dropout(0.5) before the classifier
  as in the seed (free at inference; 0.25 was worse).
Result: 42,470 parameters and 785,344 MACs per window (seed: 520,486 and 8,685,960); the int8
.tflite is ~52 KB (seed ~540 KB). Weights are the binding budget: the flatbuffer holds ~8.6 KB of
names and per-channel scales on top of them, so 1/10 of the seed's flash leaves ~44 k parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import tfenv
from .contract import N_CLASSES, WINDOW
from .errors import EdgekitError
from .modelspec import build_keras, load_spec, shipped_names


def _keras():
    return tfenv.keras()


def model_names() -> list[str]:
    """The shipped architectures (``edgekit/architectures/*.toml``)."""
    return shipped_names()


def build_model(
    name: str | Path = "seed",
    window: int = WINDOW,
    n_axes: int = 3,
    n_classes: int = N_CLASSES,
    batch_size: int | None = None,
):
    """Build architecture ``name`` (a shipped name or a .toml model description) for the given shapes."""
    return build_keras(load_spec(name), window, n_axes, n_classes, batch_size)


def load_model(run_dir: Path):
    """Load a run's float Keras model, with an error that names the folder."""
    from .artifacts import MODEL_KERAS

    path = Path(run_dir) / MODEL_KERAS
    if not path.is_file():
        raise EdgekitError(f"{run_dir}: no {MODEL_KERAS} in the artifact folder; run 'edgekit train --out {run_dir}'")
    try:
        return _keras().models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged zip
        raise EdgekitError(f"{path}: cannot load the Keras model ({exc}); retrain with 'edgekit train'") from None


def make_deterministic(seed: int) -> None:
    """Same seed, same weights: seed every RNG and ask TF for deterministic kernels."""
    tf = tfenv.tensorflow()
    _keras().utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def evaluate(probs: np.ndarray, y: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, log loss, per-class precision/recall/F1/support and confusion matrix (scikit-learn)."""
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, log_loss

    labels = list(range(len(classes)))
    pred = probs.argmax(axis=1)
    report = classification_report(y, pred, labels=labels, target_names=classes, output_dict=True, zero_division=0)
    clipped = np.clip(probs.astype(np.float64), 1e-7, 1.0)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "loss": float(log_loss(y, clipped / clipped.sum(axis=1, keepdims=True), labels=labels)),
        "per_class": {c: {k: float(v) for k, v in report[c].items()} for c in classes},
        "weighted": {k: float(v) for k, v in report["weighted avg"].items()},
        "macro": {k: float(v) for k, v in report["macro avg"].items()},
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
        "classes": list(classes),
        "n": int(len(y)),
    }


def format_metrics(metrics: dict[str, Any]) -> str:
    """A readable per-class table with totals, as the CLI prints it."""
    rows = [f"{'class':<12}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"]
    for name in metrics["classes"]:
        m = metrics["per_class"][name]
        rows.append(f"{name:<12}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1-score']:>8.3f}{int(m['support']):>9}")
    w = metrics["weighted"]
    rows.append(
        f"{'weighted':<12}{w['precision']:>10.3f}{w['recall']:>8.3f}{w['f1-score']:>8.3f}{int(w['support']):>9}"
    )
    rows.append(f"accuracy {metrics['accuracy']:.4f}   loss {metrics['loss']:.4f}   n {metrics['n']}")
    return "\n".join(rows)
