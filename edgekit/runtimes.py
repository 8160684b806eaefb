"""Desktop int8 runtimes (LiteRT and the TFLM interpreter) behind one small interface.

Parity is only meaningful if both runtimes see exactly the same int8 input the firmware will
produce, so input quantization lives here, once, with its rounding rule spelled out, and every
runner takes int8 in and gives int8 out. TensorFlow is not needed here (``tf.lite`` is only the last
fallback interpreter), so a ``.tflite`` file can be checked on a machine with just the interpreters.

Reading a ``.tflite``: every file is first loaded by LiteRT, whose loader runs the flatbuffer
verifier, so a corrupt or truncated file becomes one clear error instead of a crash in TFLM (which
trusts its input). The op list is then read straight from the flatbuffer with the schema module
that ships inside ``tflite_micro`` (``runtime.convert_bytearray_to_object``), not from an
interpreter's private ``_get_ops_details()``: the file is what the firmware's op resolver must
cover, whatever a desktop interpreter or delegate does with it, and it is the schema TFLM parses.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import tfenv
from .errors import EdgekitError

INT8_MIN = -128
INT8_MAX = 127
LITERT_RESOLVER = "BUILTIN_WITHOUT_DEFAULT_DELEGATES"


# --------------------------------------------------------------------------- quantization rule


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round to nearest, ties away from zero: C's ``lroundf``/``std::round``, which TFLite uses.

    numpy's ``np.round`` rounds ties to even, so it would disagree with the firmware on exact
    halves. The float32 quotient is widened to float64 first so that ``|v| + 0.5`` is exact
    (the float32 sum ``0.49999997 + 0.5`` would round up to 1).
    """
    wide = np.asarray(values, dtype=np.float64)
    return np.copysign(np.floor(np.abs(wide) + 0.5), wide)


def quantize_input(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float model input -> int8 model input, exactly as TFLite's reference AffineQuantize does it.

    Rule (the generated C++ must do the same, in float32)::

        q = clamp(lroundf(x / scale) + zero_point, -128, 127)

    i.e. divide in float32 (not multiply by 1/scale: that can differ in the last bit), round to
    nearest with ties away from zero, add the zero point, saturate to int8.
    """
    x = np.asarray(x, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        raise EdgekitError("model input: contains NaN or infinite values; check the data and its normalisation")
    quotient = x / np.float32(scale)
    q = round_half_away(quotient) + int(zero_point)
    return np.clip(q, INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 output -> float (``(q - zero_point) * scale``), the inverse the firmware uses for scores."""
    return ((np.asarray(q, dtype=np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(np.float32)


# --------------------------------------------------------------------------- model inspection


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output as the firmware sees it."""

    dtype: str
    shape: list[int]
    scale: float
    zero_point: int


@dataclass(frozen=True)
class TfliteInfo:
    """What a validated int8 ``.tflite`` holds: enough to quantize inputs and generate firmware."""

    input: TensorInfo
    output: TensorInfo
    ops_in_order: list[str]

    @property
    def ops(self) -> list[str]:
        """Unique op names, sorted: what a ``MicroMutableOpResolver`` must register."""
        return sorted(set(self.ops_in_order))


def read_ops(tflite: bytes) -> list[str]:
    """Op names of the main subgraph in execution order, read from the flatbuffer itself.

    Only call this on bytes that passed :func:`inspect_tflite` (the flatbuffer parser does not
    verify its input).
    """
    from tflite_micro.python.tflite_micro import runtime as tflm

    names = {value: key for key, value in vars(tflm.schema_fb.BuiltinOperator).items() if not key.startswith("_")}
    model = tflm.convert_bytearray_to_object(bytearray(tflite))
    ops = []
    for subgraph in model.subgraphs[:1]:
        for op in subgraph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            builtin = tflm.get_builtin_code_from_operator_code(code)
            name = names.get(builtin, f"BUILTIN_{builtin}")
            if name == "CUSTOM":
                custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
                name = f"CUSTOM:{custom}"
            ops.append(name)
    return ops


def inspect_tflite(tflite: bytes, source: str = "model_int8.tflite") -> TfliteInfo:
    """Validate an int8 ``.tflite`` and describe it; each problem becomes one EdgekitError line.

    ``source`` names the file in messages. Checks: loadable (verifier), one input and one output,
    both int8 with per-tensor quantization, and a static batch of 1.
    """
    if not tflite:
        raise EdgekitError(f"{source}: file is empty; re-create it with 'edgekit quantize RUN_DIR'")
    if len(tflite) < 8 or tflite[4:8] != b"TFL3":
        raise EdgekitError(f"{source}: not a TensorFlow Lite flatbuffer; re-create it with 'edgekit quantize RUN_DIR'")
    interpreter = _litert_interpreter(tflite, source)
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise EdgekitError(
            f"{source}: has {len(inputs)} inputs and {len(outputs)} outputs, expected 1 and 1; "
            "export the model with 'edgekit quantize'"
        )
    info = TfliteInfo(
        input=_tensor_info(inputs[0], source, "input"),
        output=_tensor_info(outputs[0], source, "output"),
        ops_in_order=read_ops(tflite),
    )
    return info


def _tensor_info(detail: dict[str, Any], source: str, role: str) -> TensorInfo:
    dtype = np.dtype(detail["dtype"]).name
    if dtype != "int8":
        raise EdgekitError(
            f"{source}: {role} tensor is {dtype}, not int8; export a full-integer model with 'edgekit quantize RUN_DIR'"
        )
    params = detail.get("quantization_parameters", {})
    scales, zero_points = params.get("scales", []), params.get("zero_points", [])
    if len(scales) != 1 or len(zero_points) != 1:
        raise EdgekitError(
            f"{source}: {role} tensor has {len(scales)} scales, expected one (per-tensor) scale; "
            "export with 'edgekit quantize RUN_DIR'"
        )
    shape = [int(d) for d in detail["shape"]]
    signature = [int(d) for d in detail.get("shape_signature", detail["shape"])]
    if not shape or shape[0] != 1 or signature[0] != 1:
        raise EdgekitError(
            f"{source}: {role} tensor shape {signature} has no static batch of 1; "
            "export with 'edgekit quantize RUN_DIR'"
        )
    return TensorInfo(dtype=dtype, shape=shape, scale=float(scales[0]), zero_point=int(zero_points[0]))


def read_tflite(path: Path) -> bytes:
    """Read a ``.tflite`` file with messages that name it and say how to make one."""
    path = Path(path)
    if not path.is_file():
        raise EdgekitError(f"{path}: int8 model not found; create it with 'edgekit quantize {path.parent}'")
    return path.read_bytes()


# --------------------------------------------------------------------------- runners


class Int8Runner(Protocol):
    """A runtime that maps int8 model inputs ``(n, F)`` to int8 outputs ``(n, C)``, one window at a time."""

    name: str

    def run(self, x_int8: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict[str, str]: ...


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _litert_backend() -> tuple[Any, Any, str, str]:
    """(Interpreter class, resolver enum, package name, version): first of LiteRT, tflite_runtime, tf.lite."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        return Interpreter, OpResolverType, "ai-edge-litert", _dist_version("ai-edge-litert")
    except ImportError:
        pass
    try:  # pragma: no cover - only on machines with the legacy runtime instead of LiteRT
        from tflite_runtime.interpreter import Interpreter, OpResolverType

        return Interpreter, OpResolverType, "tflite-runtime", _dist_version("tflite-runtime")
    except ImportError:
        pass
    try:  # pragma: no cover
        tf = tfenv.tensorflow()
        return tf.lite.Interpreter, tf.lite.experimental.OpResolverType, "tensorflow.lite", tf.__version__
    except ImportError as exc:  # pragma: no cover
        raise EdgekitError("no TFLite interpreter installed; pip install ai-edge-litert") from exc


def _litert_interpreter(tflite: bytes, source: str) -> Any:
    interpreter_cls, resolver, _, _ = _litert_backend()
    try:
        with capture_c_output():
            interpreter = interpreter_cls(
                model_content=tflite,
                experimental_op_resolver_type=getattr(resolver, LITERT_RESOLVER),
                num_threads=1,
            )
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgekitError(
            f"{source}: not a loadable TFLite model ({reason}); re-create it with 'edgekit quantize RUN_DIR'"
        ) from None
    return interpreter


class LiteRTRunner:
    """LiteRT with the builtin kernels and no default delegate.

    With the default XNNPACK delegate int8 outputs differ from TFLM by one step in ~10% of windows;
    with the plain builtin (reference-compatible) kernels they are bit-identical, which is what
    lets parity demand zero differing windows.
    """

    name = "litert"

    def __init__(self, tflite: bytes, source: str = "model_int8.tflite") -> None:
        _, _, self.package, self.version = _litert_backend()
        self._interpreter = _litert_interpreter(tflite, source)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "package": self.package, "version": self.version, "resolver": LITERT_RESOLVER}

    def run(self, x_int8: np.ndarray) -> np.ndarray:
        x_int8 = _check_batch(x_int8, self._input["shape"])
        out = np.empty((x_int8.shape[0], *self._output["shape"][1:]), dtype=np.int8)
        for i in range(x_int8.shape[0]):
            self._interpreter.set_tensor(self._input["index"], x_int8[i : i + 1])
            self._interpreter.invoke()
            out[i] = self._interpreter.get_tensor(self._output["index"])[0]
        return out


class TFLMRunner:
    """The TensorFlow Lite Micro interpreter (same kernels as the firmware, compiled for the host)."""

    name = "tflm"

    def __init__(self, tflite: bytes, arena_size: int | None = None) -> None:
        from tflite_micro.python.tflite_micro import runtime as tflm

        self.version = _dist_version("tflite-micro")
        self.arena_size = arena_size or default_arena_size(tflite)
        try:
            with capture_c_output():
                self._interpreter = tflm.Interpreter.from_bytes(tflite, arena_size=self.arena_size)
        except RuntimeError as exc:
            raise EdgekitError(
                f"TFLM: could not prepare the model with a {self.arena_size}-byte arena ({exc}); "
                "the model is too large or uses ops TFLM lacks"
            ) from None
        self._in_shape = [int(d) for d in self._interpreter.get_input_details(0)["shape"]]
        self._out_shape = [int(d) for d in self._interpreter.get_output_details(0)["shape"]]

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "package": "tflite-micro", "version": self.version, "resolver": "PythonOpsResolver"}

    def run(self, x_int8: np.ndarray) -> np.ndarray:
        x_int8 = _check_batch(x_int8, self._in_shape)
        out = np.empty((x_int8.shape[0], *self._out_shape[1:]), dtype=np.int8)
        for i in range(x_int8.shape[0]):
            self._interpreter.set_input(x_int8[i : i + 1], 0)
            self._interpreter.invoke()
            out[i] = self._interpreter.get_output(0)[0]
        return out

    def print_allocations(self) -> str:
        """The RecordingMicroAllocator report, captured from the C side (it bypasses ``sys.stdout``)."""
        with capture_c_output() as captured:
            self._interpreter.print_allocations()
        return captured.getvalue()


def first_divergence(tflite: bytes, x_int8: np.ndarray) -> list[dict[str, Any]]:
    """For each window, the first op whose int8 output differs between LiteRT and TFLM.

    Both interpreters are rerun with every intermediate tensor preserved, so a bit-exactness
    failure names the kernel to blame (e.g. FULLY_CONNECTED, where LiteRT and TFLM break exact
    rounding ties of the requantization differently) instead of only the final scores.
    """
    from tflite_micro.python.tflite_micro import runtime as tflm

    interpreter_cls, resolver, _, _ = _litert_backend()
    with capture_c_output():
        lite = interpreter_cls(
            model_content=tflite,
            experimental_op_resolver_type=getattr(resolver, LITERT_RESOLVER),
            experimental_preserve_all_tensors=True,
            num_threads=1,
        )
        lite.allocate_tensors()
        micro = tflm.Interpreter.from_bytes(
            tflite, arena_size=default_arena_size(tflite), intrepreter_config=tflm.InterpreterConfig.kPreserveAllTensors
        )
    graph = tflm.convert_bytearray_to_object(bytearray(tflite)).subgraphs[0]
    names = read_ops(tflite)
    index = lite.get_input_details()[0]["index"]
    found = []
    for row in np.asarray(x_int8, dtype=np.int8):
        lite.set_tensor(index, row[None])
        lite.invoke()
        micro.set_input(row[None], 0)
        micro.invoke()
        found.append(_first_differing_op(lite, micro, graph, names))
    return found


def _first_differing_op(lite: Any, micro: Any, graph: Any, names: list[str]) -> dict[str, Any]:
    for position, op in enumerate(graph.operators):
        tensor = int(op.outputs[0])
        a = np.asarray(lite.get_tensor(tensor))
        b = np.asarray(micro.GetTensor(tensor, 0)["tensor_data"]).reshape(a.shape)
        if not np.array_equal(a, b):
            step = int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())
            return {"op_index": position, "op": names[position], "max_step": step}
    return {"op_index": None, "op": None, "max_step": 0}


def _check_batch(x_int8: np.ndarray, model_shape: Any) -> np.ndarray:
    x_int8 = np.asarray(x_int8)
    want = [int(d) for d in model_shape][1:]
    if x_int8.dtype != np.int8 or list(x_int8.shape[1:]) != want:
        raise EdgekitError(
            f"int8 runner: input is {x_int8.dtype}{list(x_int8.shape)}, expected int8[n, {', '.join(map(str, want))}]; "
            "quantize float inputs with edgekit.runtimes.quantize_input"
        )
    return np.ascontiguousarray(x_int8)


def default_arena_size(tflite: bytes) -> int:
    """A generous desktop arena: activations never exceed a few times the weights for these models."""
    return 4 * len(tflite) + (1 << 20)


# --------------------------------------------------------------------------- C-level output capture


@contextlib.contextmanager
def capture_c_output() -> Iterator[io.StringIO]:
    """Capture what C/C++ code writes to file descriptors 1 and 2 (plus Python's sys.stdout/stderr).

    TFLM's ``print_allocations`` and the TFLite converter write with C stdio / absl logging, which
    ``contextlib.redirect_stdout`` cannot see. Both descriptors are pointed at one temporary file,
    C stdio is flushed on the way in and out, and the text is available after the block.
    """
    captured = io.StringIO()
    libc = _libc()
    sys.stdout.flush()
    sys.stderr.flush()
    if libc is not None:
        libc.fflush(None)
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                yield captured
        finally:
            if libc is not None:
                libc.fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            captured.write(sink.read().decode("utf-8", errors="replace"))


def _libc() -> Any:
    try:
        return ctypes.CDLL(None)
    except OSError:  # pragma: no cover - non-POSIX
        return None


def tflm_op_outputs(tflite: bytes, x_int8: np.ndarray) -> list[list[np.ndarray]]:
    """Every op's first output tensor in graph order, per window, from the desktop TFLM (all tensors kept).

    The board-runtime rungs compare these with the same tensors dumped by the board's runtime, so a
    differing window names the first kernel that computed something else.
    """
    from tflite_micro.python.tflite_micro import runtime as tflm

    with capture_c_output():
        micro = tflm.Interpreter.from_bytes(
            tflite, arena_size=default_arena_size(tflite), intrepreter_config=tflm.InterpreterConfig.kPreserveAllTensors
        )
    graph = tflm.convert_bytearray_to_object(bytearray(tflite)).subgraphs[0]
    found = []
    for row in np.asarray(x_int8, dtype=np.int8):
        micro.set_input(row[None], 0)
        micro.invoke()
        found.append(
            [np.asarray(micro.GetTensor(int(op.outputs[0]), 0)["tensor_data"]).ravel().copy() for op in graph.operators]
        )
    return found
