"""The board's TFLM runtime as a self-contained source tree, generated from the pinned sources.

The tree holds exactly what one model needs: the interpreter framework, the kernels of the model's ops
(CMSIS-NN's where TFLM has one) and the CMSIS-NN functions those call, found by following includes and
names from a few roots. It is written into the sketch (``src/tflm/``) and is also what the host and
emulated-board parity rungs compile, so the ladder tests the very files the board gets.

Three adaptations make it build the way an Arduino core builds a sketch (its ``src/`` folder recursively,
``-std=gnu++14``, no ``-I``, no ``-D``), each applied to pinned input and proved by the rungs:

* every quoted ``#include`` is rewritten to a path relative to the including file (no include path needed),
  and ``.cc`` files are renamed ``.cpp`` (older arduino-cli and IDE builds compile only .c/.cpp/.S);
* the Makefile's ``-DCMSIS_NN -DTF_LITE_STATIC_MEMORY -DKERNELS_OPTIMIZED_FOR_SPEED`` become true where TFLM
  tests them (``defined(X)``, ``#ifdef X``, ``#ifndef X``): the kernel headers then declare the CMSIS-NN
  int8 registrations, and nothing allocates from a heap (static-memory builds drop ``malloc`` paths and
  give TFLM's classes a no-op ``operator delete``);
* ``WrappingAdd``/``WrappingMul`` in ``kernels/internal/common.h`` use C++17's constexpr-if; they are
  replaced by the C++14 specialisation in ``firmware_templates/runtime/wrapping_cxx14.h``, only if the
  upstream block is byte-for-byte the pinned one.

``DebugLog`` comes from ``firmware_templates/runtime/debug_log.cpp`` (no stdio, no heap) instead of
upstream's ``vfprintf`` version.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EdgekitError
from ..resources import resource_dir
from .sources import RuntimeSources

TREE_DIR = "src/tflm"  # inside the sketch folder
MICRO = "tensorflow/lite/micro"
KERNELS = f"{MICRO}/kernels"
CMSIS_KERNELS = f"{KERNELS}/cmsis_nn"

# Where each component lands in the tree, and which of its folders act as include roots upstream.
_LAYOUT = {
    "tflite-micro": ("", ("",)),
    "flatbuffers": ("third_party/flatbuffers", ("include",)),
    "gemmlowp": ("third_party/gemmlowp", ("",)),
    "ruy": ("third_party/ruy", ("",)),
    "CMSIS-NN": ("third_party/cmsis_nn", ("", "Include")),
}
# The interpreter and what every model needs, before include-following adds the rest.
_FRAMEWORK = (
    f"{MICRO}/micro_mutable_op_resolver.h",  # what edgekit_model.cpp includes
    f"{MICRO}/micro_interpreter.cc",
    f"{MICRO}/micro_allocator.cc",
    f"{MICRO}/micro_log.cc",
    f"{MICRO}/micro_time.cc",
    f"{MICRO}/system_setup.cc",
    f"{MICRO}/micro_op_resolver.cc",
    f"{MICRO}/micro_profiler.cc",
    f"{MICRO}/micro_resource_variable.cc",
    f"{MICRO}/micro_utils.cc",
    f"{KERNELS}/kernel_util.cc",
    "tensorflow/lite/kernels/kernel_util.cc",
    "tensorflow/lite/kernels/internal/common.cc",
    "tensorflow/lite/kernels/internal/quantization_util.cc",
    "tensorflow/lite/kernels/internal/portable_tensor_utils.cc",
    "tensorflow/lite/kernels/internal/tensor_ctypes.cc",
    "tensorflow/lite/kernels/internal/runtime_shape.cc",
)
# Never taken from upstream: replaced by edgekit's (DebugLog) or test-only.
_NEVER = {
    f"{MICRO}/debug_log.cc",
    f"{MICRO}/fake_micro_context.cc",
    f"{MICRO}/mock_micro_graph.cc",
    f"{MICRO}/test_helpers.cc",
    f"{MICRO}/test_helper_custom_ops.cc",
    f"{MICRO}/recording_micro_allocator.cc",
}
_INCLUDE = re.compile(rb'^(\s*#\s*include\s*)"([^"]+)"', re.M)
_REGISTER_DEF = re.compile(rb"^TFLMRegistration (Register_\w+)\(\)", re.M)
_CMSIS_NAME = re.compile(rb"\b(arm_[a-z0-9_]+)\s*\(")
_CMSIS_DEFINITION = re.compile(rb"^(?!static)[A-Za-z_][\w \t*]*?\b(arm_[a-z0-9_]+)\s*\(", re.M)
# What TFLM's Makefile passes as -D for a CMSIS-NN build (tools/make/Makefile, ext_libs/cmsis_nn.inc).
_MAKEFILE_DEFINES = ("CMSIS_NN", "TF_LITE_STATIC_MEMORY", "KERNELS_OPTIMIZED_FOR_SPEED")
_DEFINED = re.compile(rb"defined\s*\(\s*(" + b"|".join(d.encode() for d in _MAKEFILE_DEFINES) + rb")\s*\)")
_IFDEF = re.compile(rb"^(\s*#\s*)(ifdef|ifndef)\s+(" + b"|".join(d.encode() for d in _MAKEFILE_DEFINES) + rb")\b", re.M)
_WRAPPING_BLOCK = re.compile(
    rb"template <typename T>\ninline T WrappingAdd\(T a, T b\) \{\n.*?\n\}\n\ntemplate <typename T>\n"
    rb"inline T WrappingMul\(T a, T b\) \{\n.*?\n\}\n",
    re.S,
)
# sha256 of the upstream WrappingAdd/WrappingMul block the C++14 replacement was written against.
_WRAPPING_SHA256 = "5950dcfdf15afab40ab2b12584a776c4169910938bd50960c64c6ca79fad3abf"
_COMMON_H = "tensorflow/lite/kernels/internal/common.h"


@dataclass(frozen=True)
class Kernel:
    """How the firmware registers one op and which upstream file implements it."""

    op: str
    method: str  # MicroMutableOpResolver method, e.g. AddConv2D
    registration: str  # the int8-only registration if TFLM offers one, else the generic one
    source: str  # the .cc defining it (CMSIS-NN's variant where there is one)


@dataclass
class RuntimeTree:
    """Generated runtime files (tree-relative POSIX path -> bytes) and what they were made from."""

    files: dict[str, bytes] = field(default_factory=dict)
    kernels: list[Kernel] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        return digest.hexdigest()

    def compiled(self) -> list[str]:
        """The translation units, in a stable order."""
        return sorted(n for n in self.files if n.endswith((".cpp", ".c")))


class _Reader:
    """Maps tree paths to upstream files and resolves includes the way upstream's -I flags did."""

    def __init__(self, sources: RuntimeSources) -> None:
        self._roots = []  # (tree prefix, upstream folder, include roots)
        for name, (prefix, includes) in _LAYOUT.items():
            self._roots.append((prefix, sources.root(name), includes))
        self._cache: dict[str, bytes] = {}

    def read(self, tree_path: str) -> bytes:
        if tree_path not in self._cache:
            self._cache[tree_path] = self._upstream(tree_path).read_bytes()
        return self._cache[tree_path]

    def exists(self, tree_path: str) -> bool:
        try:
            return self._upstream(tree_path).is_file()
        except EdgekitError:
            return False

    def _upstream(self, tree_path: str) -> Path:
        for prefix, folder, _ in sorted(self._roots, key=lambda r: -len(r[0])):
            if not prefix or tree_path.startswith(prefix + "/"):
                return folder / (tree_path[len(prefix) + 1 :] if prefix else tree_path)
        raise EdgekitError(f"runtime file {tree_path}: outside every runtime component")

    def resolve(self, including: str, target: str) -> str | None:
        """Tree path of ``#include "target"`` in ``including``: its own folder first, then the include roots."""
        here = posixpath.dirname(including)
        candidates = [posixpath.normpath(posixpath.join(here, target))]
        for prefix, _, includes in self._roots:
            for inc in includes:
                candidates.append(posixpath.normpath(posixpath.join(prefix, inc, target)))
        for candidate in candidates:
            if not candidate.startswith("..") and self.exists(candidate):
                return candidate
        return None


def kernel_table(sources: RuntimeSources, ops: Iterable[str], methods: dict[str, str]) -> list[Kernel]:
    """Each op's resolver method, registration and implementing file, read from the pinned TFLM."""
    reader = _Reader(sources)
    resolver = reader.read(f"{MICRO}/micro_mutable_op_resolver.h").decode()
    defined = _registrations(sources)
    kernels = []
    for op in sorted(set(ops)):
        method = methods[op]
        body = re.search(rf"TfLiteStatus {method}\((.*?)\n  \}}", resolver, re.S)
        generic = re.search(r"(Register_\w+)\(\)", body.group(1)) if body else None
        if generic is None or generic.group(1) not in defined:
            raise EdgekitError(f"op {op}: TFLM {sources.describe()['tflite-micro']} has no kernel for {method}()")
        name = generic.group(1)
        int8 = f"{name}_INT8"
        registration = int8 if int8 in defined else name
        kernels.append(Kernel(op, method, registration, defined[registration]))
    return kernels


def _registrations(sources: RuntimeSources) -> dict[str, str]:
    """Register_* function -> the kernel file defining it, CMSIS-NN's file winning over the reference one."""
    found: dict[str, str] = {}
    for folder in (KERNELS, CMSIS_KERNELS):
        for path in sorted((sources.root("tflite-micro") / folder).glob("*.cc")):
            if path.stem.endswith("_test"):
                continue
            for match in _REGISTER_DEF.finditer(path.read_bytes()):
                found[match.group(1).decode()] = f"{folder}/{path.name}"
    return found


def build_tree(sources: RuntimeSources, kernels: list[Kernel], hot_kernels: str = "Os") -> RuntimeTree:
    """Select, adapt and re-path the runtime's files for ``kernels``; pure function of its inputs.

    ``hot_kernels="O2"`` starts every CMSIS-NN source with ``firmware_templates/runtime/hot_kernels_o2.h``'s
    ``#pragma GCC optimize("O2")``: the Arduino recipe builds with -Os and a sketch cannot change flags,
    but the kernels that do the arithmetic can ask for -O2 themselves (bench/board_runtime.py: about 27 %
    fewer instructions for about 6 KB of flash, outputs bit-exact; the rungs check every build).
    """
    reader = _Reader(sources)
    roots = list(_FRAMEWORK)
    for kernel in kernels:
        roots.append(kernel.source)
        common = f"{KERNELS}/{Path(kernel.source).stem}_common.cc"
        if reader.exists(common):
            roots.append(common)
    selected = _closure(reader, roots)
    tree = RuntimeTree(kernels=kernels, sources=sources.describe())
    runtime = resource_dir("firmware_templates") / "runtime"
    pragma = (runtime / "hot_kernels_o2.h").read_bytes() if hot_kernels == "O2" else b""
    for path in sorted(selected):
        data = _adapt(path, reader.read(path))
        if path.startswith("third_party/cmsis_nn/Source/"):
            data = pragma + data
        tree.files[_renamed(path)] = _rewrite_includes(path, data, reader)
    tree.files[f"{MICRO}/debug_log.cpp"] = (runtime / "debug_log.cpp").read_bytes()
    return tree


def _closure(reader: _Reader, roots: list[str]) -> set[str]:
    """Roots plus every header they include and the sources that define what those headers declare."""
    selected: set[str] = set()
    queue = list(roots)
    cmsis_sources = _cmsis_sources(reader)
    while queue:
        path = queue.pop()
        if path in selected or path in _NEVER:
            continue
        selected.add(path)
        data = reader.read(path)
        for match in _INCLUDE.finditer(data):
            target = reader.resolve(path, match.group(2).decode())
            if target is None:
                continue
            queue.append(target)
            sibling = _sibling_source(reader, target)
            if sibling:
                queue.append(sibling)
        for name in _CMSIS_NAME.findall(data) if path.endswith((".c", ".cc")) else ():
            source = cmsis_sources.get(name.decode())
            if source:
                queue.append(source)
    return selected


def _sibling_source(reader: _Reader, header: str) -> str | None:
    """``x.cc`` beside an included ``x.h`` - except kernel files, which only an op of the model selects."""
    if not header.endswith(".h") or not header.startswith("tensorflow/"):
        return None
    source = header[:-2] + ".cc"
    if source in _NEVER or not reader.exists(source):
        return None
    if source.startswith(KERNELS + "/") and _REGISTER_DEF.search(reader.read(source)):
        return None
    return source


def _cmsis_sources(reader: _Reader) -> dict[str, str]:
    """CMSIS-NN function name -> the .c file defining it (a definition starts a line with its return type)."""
    prefix, folder, _ = next(r for r in reader._roots if r[0] == "third_party/cmsis_nn")
    found: dict[str, str] = {}
    for path in sorted((folder / "Source").rglob("*.c")):
        for name in _CMSIS_DEFINITION.findall(path.read_bytes()):
            found.setdefault(name.decode(), f"{prefix}/{path.relative_to(folder).as_posix()}")
    return found


def _adapt(path: str, data: bytes) -> bytes:
    if path == _COMMON_H:
        data = _cxx14_wrapping(data)
    if path.startswith("tensorflow/"):
        data = _IFDEF.sub(
            lambda m: (
                m.group(1) + (b"if 1" if m.group(2) == b"ifdef" else b"if 0") + b" /* edgekit: -D" + m.group(3) + b" */"
            ),
            data,
        )
        data = _DEFINED.sub(lambda m: b"1 /* edgekit: -D" + m.group(1) + b" */", data)
    return data


def _cxx14_wrapping(data: bytes) -> bytes:
    match = _WRAPPING_BLOCK.search(data)
    if match is None or hashlib.sha256(match.group(0)).hexdigest() != _WRAPPING_SHA256:
        raise EdgekitError(
            f"{_COMMON_H}: WrappingAdd/WrappingMul are not the pinned upstream code, so edgekit's C++14 "
            "replacement cannot be applied; use the pinned TFLM commit"
        )
    replacement = (resource_dir("firmware_templates") / "runtime" / "wrapping_cxx14.h").read_bytes()
    return data[: match.start()] + replacement + data[match.end() :]


def _renamed(path: str) -> str:
    return path[:-3] + ".cpp" if path.endswith(".cc") else path


def _rewrite_includes(path: str, data: bytes, reader: _Reader) -> bytes:
    here = posixpath.dirname(path)

    def relative(match: re.Match[bytes]) -> bytes:
        target = reader.resolve(path, match.group(2).decode())
        if target is None:
            return match.group(0)  # a system or toolchain header (e.g. arm_acle.h): left to the compiler
        return match.group(1) + b'"' + posixpath.relpath(_renamed(target), here).encode() + b'"'

    return _INCLUDE.sub(relative, data)
