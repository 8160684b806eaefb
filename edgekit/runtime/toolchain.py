"""Compilers and flags for the board runtime, and a cache of compiled runtimes.

A target is a compiler, the board's code-generation flags and how its programs run (directly, or under
``qemu-system-arm`` on an emulated Cortex-M). Compiling the runtime tree is the slow part (about a hundred
files), so the static library is cached under edgekit's cache folder, keyed by the tree's content hash,
the compiler's version and every flag: a rebuild of an unchanged model costs seconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import EdgekitError
from .sources import cache_dir
from .tree import RuntimeTree

# What TFLM's own Makefile warns about, as errors; upstream leaves parameters unused on purpose.
RUNTIME_WARNINGS = ("-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter")
EDGEKIT_WARNINGS = ("-Wall", "-Wextra", "-Werror")
CXX_ONLY = ("-std=gnu++14", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics")
C_ONLY = ("-std=gnu11",)
SECTIONS = ("-ffunction-sections", "-fdata-sections")


@dataclass(frozen=True)
class Target:
    """Where the board runtime is compiled for and how its programs are run."""

    name: str
    title: str
    prefix: str  # toolchain prefix: "" for the host compiler, "arm-none-eabi-" for the boards
    flags: tuple[str, ...]  # code generation, shared by C and C++
    machine: str | None  # qemu-system-arm -machine, None to run on the host
    fpu: bool = False

    @property
    def tools(self) -> tuple[str, ...]:
        names = (f"{self.prefix}gcc", f"{self.prefix}g++", f"{self.prefix}ar")
        return names + (("qemu-system-arm",) if self.machine else ())

    def missing(self) -> list[str]:
        return [tool for tool in self.tools if shutil.which(tool) is None]


# The Arduino mbed core's flags for the Nano 33 BLE (nRF52840) and, for the RP2040's Cortex-M0+, the
# ARMv6-M subset run on mps2-an385 (a Cortex-M3 executes ARMv6-M code: instruction counts, not cycles).
TARGETS: dict[str, Target] = {
    "host": Target("host", "board runtime, host", "", ("-O2",), None),
    "cortex-m4": Target(
        "cortex-m4",
        "board runtime, emulated Cortex-M4",
        "arm-none-eabi-",
        ("-Os", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16"),
        "mps2-an386",
        fpu=True,
    ),
    "cortex-m0plus": Target(
        "cortex-m0plus",
        "board runtime, emulated Cortex-M0+",
        "arm-none-eabi-",
        ("-Os", "-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"),
        "mps2-an385",
    ),
}


@cache
def compiler_version(compiler: str) -> str:
    result = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.splitlines()[0] if result.stdout else compiler


def compile_command(
    target: Target,
    source: Path,
    obj: Path,
    includes: tuple[Path, ...] = (),
    warnings: tuple[str, ...] = RUNTIME_WARNINGS,
) -> list[str]:
    is_c = source.suffix == ".c"
    compiler = f"{target.prefix}{'gcc' if is_c else 'g++'}"
    language = C_ONLY if is_c else CXX_ONLY
    return [
        compiler,
        *language,
        *target.flags,
        *SECTIONS,
        *warnings,
        *(f"-I{i}" for i in includes),
        "-c",
        str(source),
        "-o",
        str(obj),
    ]


def run_tool(cmd: list[str], cwd: Path | None = None) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        errors = [line for line in lines if "error" in line or "undefined reference" in line] or lines
        errors.sort(key=lambda line: "collect2" in line)
        raise EdgekitError(
            f"{Path(cmd[0]).name} failed on {cmd[-3] if '-c' in cmd else cmd[-1]}: {' | '.join(errors[:2])}"
        )


def compile_all(jobs: list[list[str]]) -> None:
    """Run compile commands on every core; the first failure is raised."""
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        for future in [pool.submit(run_tool, cmd) for cmd in jobs]:
            future.result()


def runtime_library(tree: RuntimeTree, target: Target) -> Path:
    """The runtime tree compiled for ``target`` as a static library, from the cache when it is there."""
    key = hashlib.sha256(
        "\n".join(
            [
                tree.sha256,
                target.name,
                *target.flags,
                *RUNTIME_WARNINGS,
                compiler_version(f"{target.prefix}g++"),
                compiler_version(f"{target.prefix}gcc"),
            ]
        ).encode()
    ).hexdigest()[:20]
    final = cache_dir() / "builds" / f"{target.name}-{key}"
    library = final / "libtflm.a"
    if library.is_file():
        return library
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.stage-", dir=final.parent))
    try:
        write_tree(tree, stage / "src" / "tflm")
        objects, jobs = [], []
        for i, name in enumerate(tree.compiled()):
            obj = stage / "obj" / f"{i:04d}_{Path(name).stem}.o"
            obj.parent.mkdir(parents=True, exist_ok=True)
            objects.append(obj)
            jobs.append(compile_command(target, stage / "src" / "tflm" / name, obj))
        compile_all(jobs)
        run_tool([f"{target.prefix}ar", "rcsD", str(stage / "libtflm.a"), *map(str, objects)])
        shutil.rmtree(stage / "obj")
        try:
            stage.rename(final)
        except OSError:  # another build finished the same library first
            shutil.rmtree(stage, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return library


def write_tree(tree: RuntimeTree, root: Path) -> None:
    for name, data in sorted(tree.files.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
