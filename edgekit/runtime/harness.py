"""Run int8 windows through the board's own model code and TFLM runtime, on the host or an emulated Cortex-M.

:func:`model_sources` renders what the sketch gets beside the runtime tree (``edgekit_model.cpp``, the
model array); :class:`BoardRuntime` links those with the cached runtime library and
``firmware_templates/harness/runtime_main.cpp`` and runs the program directly or under
``qemu-system-arm -icount shift=0``. Under QEMU every instruction advances virtual time by 1 ns and
SysTick counts the 25 MHz MPS2 core clock, so one tick is :data:`INSTRUCTIONS_PER_TICK` instructions:
instruction counts, not cycles (QEMU does not model pipelines or wait states).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import EdgekitError
from ..resources import load_toml, resource_dir, template_environment
from .sources import RuntimeSources, cache_dir
from .toolchain import EDGEKIT_WARNINGS, Target, compile_all, compile_command, run_tool, runtime_library
from .tree import TREE_DIR, Kernel, RuntimeTree, build_tree, kernel_table

INSTRUCTIONS_PER_TICK = 40  # 1 ns per instruction (-icount shift=0) / 25 MHz SysTick clock = 40
MAGIC = 0x31524B45  # "EKR1"
MODE_OUTPUTS, MODE_TENSORS = 1, 2
HARNESS_ARENA_BYTES = 160 * 1024  # fits the emulated board's 256 KiB with the harness's own buffers
QEMU_SECONDS_PER_MINSTR = 0.05  # generous: QEMU with -icount runs well above 20 M instructions per second
MODEL_FILES = ("edgekit_model.h", "edgekit_model.cpp", "model_data.h", "model_data.cpp")


@dataclass(frozen=True)
class ModelInterface:
    """What the model code checks at start-up, taken from the .tflite."""

    input_size: int
    num_classes: int
    input_scale: str  # exact float32 decimal, as the templates print it
    input_zero_point: int
    output_scale: str
    output_zero_point: int
    ops: tuple[str, ...]


@dataclass
class BoardModel:
    """Runtime tree + the model's code, exactly the files the sketch gets (paths relative to the sketch)."""

    tree: RuntimeTree
    files: dict[str, bytes]
    interface: ModelInterface

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256(self.tree.sha256.encode())
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        return digest.hexdigest()


@dataclass
class RuntimeRun:
    """What one harness run reports."""

    outputs: np.ndarray  # int8 (n, classes)
    arena_used_bytes: int
    instructions: np.ndarray | None = None  # per window, None where not measured (host)
    op_instructions: list[int] = field(default_factory=list)  # per op, summed over the windows


def c_float(value: float, what: str) -> str:
    """Shortest decimal that parses back to the same float32 (the compiler reads it as a float literal)."""
    f32 = np.float32(value)
    if not np.isfinite(f32):
        raise EdgekitError(f"{what} = {value}: not a finite float32; re-run training/quantization")
    return np.format_float_positional(f32, unique=True, trim="0")


def op_methods() -> dict[str, str]:
    """TFLite op name -> MicroMutableOpResolver method (firmware_templates/ops.toml)."""
    path = resource_dir("firmware_templates") / "ops.toml"
    table = load_toml(path.read_text(encoding="utf-8")).get("ops", {})
    return {str(k): str(v) for k, v in table.items()}


def model_interface(tflite_bytes: bytes, info: Any) -> ModelInterface:
    """The interface edgekit_model.cpp checks, from an inspected .tflite (edgekit.runtimes.TfliteInfo)."""
    return ModelInterface(
        input_size=int(info.input.shape[-1]),
        num_classes=int(info.output.shape[-1]),
        input_scale=c_float(info.input.scale, "input scale"),
        input_zero_point=int(info.input.zero_point),
        output_scale=c_float(info.output.scale, "output scale"),
        output_zero_point=int(info.output.zero_point),
        ops=tuple(info.ops),
    )


def render_model_code(tflite_bytes: bytes, interface: ModelInterface, kernels: list[Kernel]) -> dict[str, bytes]:
    """edgekit_model.h/.cpp and model_data.h/.cpp for this model (the sketch's and the harness's)."""

    from ..artifacts import sha256_bytes

    digest = sha256_bytes(tflite_bytes)
    context = {
        "edgekit_version": __version__,
        "model_sha256": digest,
        "model_len": len(tflite_bytes),
        "model_source": "the run's int8 .tflite",
        "model_hex_lines": [
            ", ".join(f"0x{b:02x}" for b in tflite_bytes[i : i + 12]) + "," for i in range(0, len(tflite_bytes), 12)
        ],
        "kernels": kernels,
        **vars(interface),
    }
    env = template_environment()
    files = {"edgekit_model.h": (resource_dir("firmware_templates") / "runtime" / "edgekit_model.h").read_bytes()}
    for name, template in (
        ("edgekit_model.cpp", "runtime/edgekit_model.cpp.j2"),
        ("model_data.h", "sketch/model_data.h.j2"),
        ("model_data.cpp", "sketch/model_data.cpp.j2"),
    ):
        files[name] = env.get_template(template).render(**context).encode()
    return files


def model_sources(
    tflite_bytes: bytes,
    interface: ModelInterface,
    sources: RuntimeSources,
    methods: dict[str, str],
    hot_kernels: str = "Os",
    extra_ops: tuple[str, ...] = (),
) -> BoardModel:
    """The sketch's model code and runtime tree; ``extra_ops`` registers more kernels than the model uses, so
    that many models of one family share one compiled runtime library (``edgekit tune`` measures each)."""
    kernels = kernel_table(sources, (*interface.ops, *extra_ops), methods)
    tree = build_tree(sources, kernels, hot_kernels)
    return BoardModel(tree, render_model_code(tflite_bytes, interface, kernels), interface)


class BoardRuntime:
    """The harness program for one model and target, built (or taken from the cache) on construction."""

    def __init__(self, model: BoardModel, target: Target) -> None:
        missing = target.missing()
        if missing:
            raise EdgekitError(f"{target.title}: needs {', '.join(missing)} (apt: gcc-arm-none-eabi qemu-system-arm)")
        self.model = model
        self.target = target
        self.program = self._build()

    def _build(self) -> Path:
        library = runtime_library(self.model.tree, self.target)
        harness = resource_dir("firmware_templates") / "harness"
        key = hashlib.sha256(f"{self.model.sha256}{library}".encode())
        for path in sorted(harness.iterdir()):
            key.update(path.name.encode() + path.read_bytes())
        out = cache_dir() / "harness" / f"{self.target.name}-{key.hexdigest()[:20]}"
        program = out / ("harness.elf" if self.target.machine else "harness")
        if program.is_file():
            return program
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.stage-", dir=out.parent))
        try:
            self._link(stage, harness, library, program.name)
            try:
                stage.rename(out)
            except OSError:
                shutil.rmtree(stage, ignore_errors=True)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return program

    def _link(self, stage: Path, harness: Path, library: Path, name: str) -> None:
        """Compile the model code and harness with -Werror, link them with the runtime library."""
        for file, data in self.model.files.items():
            (stage / file).write_bytes(data)
        (stage / TREE_DIR).parent.mkdir(parents=True, exist_ok=True)
        (stage / TREE_DIR).symlink_to(library.parent / TREE_DIR)  # the cached library keeps its sources
        interface = self.model.interface
        defines = (
            f"-DEDGEKIT_HARNESS_INPUT_SIZE={interface.input_size}",
            f"-DEDGEKIT_HARNESS_CLASSES={interface.num_classes}",
            f"-DEDGEKIT_HARNESS_ARENA_BYTES={HARNESS_ARENA_BYTES}",
        )
        io = "io_semihost.cpp" if self.target.machine else "io_posix.cpp"
        sources = [stage / "edgekit_model.cpp", stage / "model_data.cpp", harness / "runtime_main.cpp", harness / io]
        if self.target.machine:
            sources.append(harness / "startup_cm4.c")
        jobs, objects = [], []
        for source in sources:
            obj = stage / f"{source.stem}.o"
            cmd = compile_command(self.target, source, obj, (stage, harness), EDGEKIT_WARNINGS)
            jobs.append(cmd[:-4] + list(defines) + cmd[-4:])
            objects.append(obj)
        compile_all(jobs)
        link = [f"{self.target.prefix}g++", *self.target.flags, "-Wl,--gc-sections", *map(str, objects), str(library)]
        if self.target.machine:
            link[1:1] = ["-nostartfiles", "-T", str(harness / "cm4.ld")]
            link += ["-Wl,-Map," + str(stage / "harness.map"), "-lc", "-lgcc"]
        run_tool([*link, "-o", str(stage / name)])
        for obj in objects:
            obj.unlink()

    def run(self, x_int8: np.ndarray) -> RuntimeRun:
        """Every window through Invoke(); outputs, arena use and (emulated) instruction counts."""
        x = self._windows(x_int8)
        data, ops, timed = self._execute(MODE_OUTPUTS, x)
        n, classes = len(x), self.model.interface.num_classes
        rows = np.frombuffer(data[: n * (classes + 4)], dtype=np.uint8).reshape(n, classes + 4)
        outputs = rows[:, :classes].copy().view(np.int8)
        ticks = rows[:, classes:].copy().view("<u4").ravel().astype(np.int64)
        op_ticks = np.frombuffer(data[n * (classes + 4) :], dtype="<u4").astype(np.int64)
        if len(op_ticks) != ops:
            raise EdgekitError(f"{self.target.title}: harness output is truncated ({len(op_ticks)} of {ops} ops)")
        run = RuntimeRun(outputs, self._arena)
        if timed:
            run.instructions = ticks * INSTRUCTIONS_PER_TICK
            run.op_instructions = [int(t) * INSTRUCTIONS_PER_TICK for t in op_ticks]
        return run

    def tensors(self, x_int8: np.ndarray) -> list[list[np.ndarray]]:
        """Each op's first output tensor (raw int8 bytes) for every window, all tensors kept."""
        x = self._windows(x_int8)
        data, ops, _ = self._execute(MODE_TENSORS, x)
        found, pos = [], 0
        for _ in range(len(x)):
            window = []
            for _ in range(ops):
                size = int.from_bytes(data[pos : pos + 4], "little")
                window.append(np.frombuffer(data[pos + 4 : pos + 4 + size], dtype=np.int8).copy())
                pos += 4 + size
            found.append(window)
        return found

    def _windows(self, x_int8: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(x_int8, dtype=np.int8))
        if x.ndim != 2 or x.shape[1] != self.model.interface.input_size:
            raise EdgekitError(f"windows {x.shape}: expected (n, {self.model.interface.input_size}) int8")
        return x

    def _execute(self, mode: int, x: np.ndarray) -> tuple[bytes, int, bool]:
        with tempfile.TemporaryDirectory(prefix="edgekit-harness-") as tmp:
            work = Path(tmp)
            header = np.array([MAGIC, mode, len(x)], dtype="<u4").tobytes()
            (work / "harness_in.bin").write_bytes(header + x.tobytes())
            cmd = [str(self.program)]
            if self.target.machine:
                cmd = [
                    "qemu-system-arm",
                    "-machine",
                    self.target.machine,
                    "-nographic",
                    "-monitor",
                    "none",
                    "-icount",
                    "shift=0",
                    "-semihosting-config",
                    "enable=on,target=native",
                    "-kernel",
                    str(self.program),
                ]
            timeout = 120 + len(x) * 40 * QEMU_SECONDS_PER_MINSTR
            result = subprocess.run(
                cmd, cwd=work, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
            )
            if result.returncode != 0:
                said = (result.stdout + result.stderr).decode(errors="replace").strip().splitlines()
                raise EdgekitError(f"{self.target.title}: the harness failed ({' | '.join(said[-3:])})")
            out = (work / "harness_out.bin").read_bytes()
        arena, ops, timed = np.frombuffer(out[:12], dtype="<u4").tolist()
        self._arena = int(arena)
        return out[12:], int(ops), bool(timed)
