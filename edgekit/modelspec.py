"""Architectures as data: a small TOML model description, parsed into a typed :class:`ModelSpec`.

Why a file rather than a builder function: ``edgekit tune`` proposes architectures and must hand the
chosen one to ``edgekit build`` as a normal run, and a user must be able to read, diff, and edit what
was built. The shipped ``seed`` and ``compact`` networks are files of this kind
(``edgekit/architectures/*.toml``). A description lists the body's layers in order; the input
(a flat window*axes vector), the Reshape to (window, axes) and the softmax classifier over the
data's classes are implicit, because every edgekit model has them and the firmware relies on them.

    name = "compact"
    [[layers]]
    kind = "conv"       # Conv1D, valid padding, stride 1: kernel, filters, activation ("relu" or "linear")
    filters = 32
    kernel = 10
    [[layers]]
    kind = "maxpool"    # MaxPooling1D(size); "avgpool" likewise
    size = 2
    [[layers]]
    kind = "gap"        # GlobalAveragePooling1D (the MEAN op)
    [[layers]]
    kind = "dense"      # a hidden Dense(units, relu) in the head
    units = 32
    [[layers]]
    kind = "dropout"
    rate = 0.5

Each layer may carry a ``name`` (the Keras layer name, which ends up in the .tflite); unnamed layers
get ``conv1``, ``pool1``, ... in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EdgekitError
from .resources import TOMLDecodeError, load_toml

ARCH_DIR = Path(__file__).resolve().parent / "architectures"
SUFFIX = ".toml"
ACTIVATIONS = ("relu", "linear")
# kind -> (required integer/float fields, name prefix)
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "conv": (("filters", "kernel"), "conv"),
    "maxpool": (("size",), "pool"),
    "avgpool": (("size",), "pool"),
    "gap": ((), "gap"),
    "dense": (("units",), "dense"),
    "dropout": (("rate",), "dropout"),
}
FIELDS = ("kind", "name", "filters", "kernel", "size", "units", "rate", "activation")


@dataclass(frozen=True)
class Layer:
    """One body layer; only the fields its kind uses are meaningful."""

    kind: str
    name: str
    filters: int = 0
    kernel: int = 0
    size: int = 0
    units: int = 0
    rate: float = 0.0
    activation: str = "relu"

    def to_dict(self) -> dict[str, Any]:
        required, _ = KINDS[self.kind]
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        out.update({k: getattr(self, k) for k in required})
        if self.kind in ("conv", "dense") and self.activation != "relu":
            out["activation"] = self.activation
        return out


@dataclass(frozen=True)
class ModelSpec:
    """A whole architecture: its name and body layers (input, reshape and classifier implicit)."""

    name: str
    layers: tuple[Layer, ...]
    description: str = ""
    source: str = field(default="", compare=False)  # where it was read from, for error messages

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["layers"] = [layer.to_dict() for layer in self.layers]
        return out

    def to_toml(self) -> str:
        """The description as TOML text that :func:`parse_spec` reads back to an equal spec."""
        lines = [f"name = {_toml_value(self.name)}"]
        if self.description:
            lines.append(f"description = {_toml_value(self.description)}")
        for layer in self.layers:
            lines += ["", "[[layers]]"] + [f"{k} = {_toml_value(v)}" for k, v in layer.to_dict().items()]
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def shipped_names() -> list[str]:
    return sorted(p.stem for p in ARCH_DIR.glob(f"*{SUFFIX}"))


def is_path(model: str | Path) -> bool:
    """A --model value naming a file rather than a shipped architecture."""
    text = str(model)
    return text.endswith(SUFFIX) or "/" in text or "\\" in text


def load_spec(model: str | Path) -> ModelSpec:
    """A shipped name ('seed', 'compact') or a path to a .toml model description -> ModelSpec."""
    if is_path(model):
        path = Path(model)
        if not path.is_file():
            raise EdgekitError(f"--model {model}: no such model description file; pass a .toml path or a name")
    else:
        path = ARCH_DIR / f"{model}{SUFFIX}"
        if not path.is_file():
            raise EdgekitError(f"--model {model}: unknown model; choose one of {', '.join(shipped_names())} or a .toml")
    try:
        data = load_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TOMLDecodeError) as exc:
        raise EdgekitError(f"--model {path}: not a readable TOML model description ({exc})") from None
    return parse_spec(data, str(path))


def parse_spec(data: dict[str, Any], source: str = "model description") -> ModelSpec:
    """Validate a parsed TOML table into a ModelSpec; every error names the file and the layer."""
    unknown = sorted(set(data) - {"name", "description", "layers"})
    if unknown:
        raise EdgekitError(f"{source}: unknown key(s) {', '.join(unknown)}; expected name, description, layers")
    name = data.get("name")
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise EdgekitError(f"{source}: 'name' must be a word of letters, digits, '-' or '_' (got {name!r})")
    raw_layers = data.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise EdgekitError(f"{source}: needs at least one [[layers]] table")
    counters: dict[str, int] = {}
    layers = tuple(_parse_layer(item, f"{source}: layer {i + 1}", counters) for i, item in enumerate(raw_layers))
    _check_order(layers, source)
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names) or {"window", "reshape", "probs"} & set(names):
        raise EdgekitError(f"{source}: layer names must be unique and not window/reshape/probs ({names})")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise EdgekitError(f"{source}: 'description' must be a string")
    return ModelSpec(name=name, layers=layers, description=description, source=source)


def _parse_layer(item: Any, where: str, counters: dict[str, int]) -> Layer:
    if not isinstance(item, dict) or item.get("kind") not in KINDS:
        raise EdgekitError(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
    kind = item["kind"]
    required, prefix = KINDS[kind]
    allowed = {"kind", "name", *required} | ({"activation"} if kind in ("conv", "dense") else set())
    extra = sorted(set(item) - allowed)
    if extra:
        raise EdgekitError(f"{where} ({kind}): unexpected key(s) {', '.join(extra)}; allowed: {', '.join(allowed)}")
    values: dict[str, Any] = {}
    for key in required:
        value = item.get(key)
        if key == "rate":
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
                raise EdgekitError(f"{where} ({kind}): 'rate' must be a number in [0, 1) (got {value!r})")
            values[key] = float(value)
        elif not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 4096:
            raise EdgekitError(f"{where} ({kind}): '{key}' must be an integer in 1..4096 (got {value!r})")
        else:
            values[key] = value
    activation = item.get("activation", "relu")
    if activation not in ACTIVATIONS:
        raise EdgekitError(f"{where} ({kind}): 'activation' must be one of {', '.join(ACTIVATIONS)}")
    counters[prefix] = counters.get(prefix, 0) + 1
    name = item.get("name", f"{prefix}{counters[prefix]}")
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise EdgekitError(f"{where} ({kind}): 'name' must be letters, digits and '_' (got {name!r})")
    return Layer(kind=kind, name=name, activation=activation, **values)


def _check_order(layers: tuple[Layer, ...], source: str) -> None:
    """Convs and pools on the sequence, then exactly one global pool, then the head (dense/dropout)."""
    pools = [i for i, layer in enumerate(layers) if layer.kind == "gap"]
    if len(pools) != 1:
        raise EdgekitError(f"{source}: needs exactly one global pool layer (kind 'gap')")
    g = pools[0]
    if not any(layer.kind == "conv" for layer in layers[:g]):
        raise EdgekitError(f"{source}: needs at least one 'conv' layer before the global pool")
    for i, layer in enumerate(layers):
        sequence = layer.kind in ("conv", "maxpool", "avgpool")
        if (i < g and layer.kind in ("dense",)) or (i > g and sequence):
            raise EdgekitError(
                f"{source}: layer {i + 1} ({layer.kind}) is on the wrong side of the global pool; "
                "conv/pool layers come before it, dense after it"
            )


def sequence_length(spec: ModelSpec, window: int) -> int:
    """Time steps left before the global pool (valid convs shrink by kernel-1, pools divide)."""
    steps = window
    for layer in spec.layers:
        if layer.kind == "conv":
            steps -= layer.kernel - 1
        elif layer.kind in ("maxpool", "avgpool"):
            steps //= layer.size
        if steps < 1:
            break
    return steps


def build_keras(spec: ModelSpec, window: int, n_axes: int, n_classes: int, batch_size: int | None = None):
    """The Keras functional model for ``spec``; layer creation order fixes the seeded initial weights."""
    from .tfenv import keras as _keras

    keras = _keras()
    if sequence_length(spec, window) < 1:
        raise EdgekitError(f"{spec.source or spec.name}: the convs and pools shrink a {window}-step window to nothing")
    layers = keras.layers
    inputs = keras.Input(shape=(window * n_axes,), batch_size=batch_size, name="window")
    x = layers.Reshape((window, n_axes), name="reshape")(inputs)
    for layer in spec.layers:
        x = _keras_layer(layers, layer)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=spec.name)


def _keras_layer(layers: Any, layer: Layer) -> Any:
    if layer.kind == "conv":
        return layers.Conv1D(layer.filters, layer.kernel, activation=layer.activation, name=layer.name)
    if layer.kind == "maxpool":
        return layers.MaxPooling1D(layer.size, name=layer.name)
    if layer.kind == "avgpool":
        return layers.AveragePooling1D(layer.size, name=layer.name)
    if layer.kind == "gap":
        return layers.GlobalAveragePooling1D(name=layer.name)
    if layer.kind == "dense":
        return layers.Dense(layer.units, activation=layer.activation, name=layer.name)
    return layers.Dropout(layer.rate, name=layer.name)
