"""What the board's runtime costs, measured on the emulated core: instructions, flash, arena, bit-exactness.

For a quantized run folder it builds the firmware's model code and TFLM runtime (the files the sketch
ships) for the board's emulated core in a few variants and prints one row each:

* ``-Os``: the Arduino core's flag throughout, int8-only kernel registrations (what nicla-sense ships);
* ``generic registrations``: the same with AddConv2D() etc. taking TFLM's default registrations, which
  link CMSIS-NN's int4/int16 code too (what the int8-only registrations save in flash);
* ``-O2 everywhere``: TFLM's own Makefile optimisation level for the whole runtime;
* ``-O2 in CMSIS-NN``: ``#pragma GCC optimize("O2")`` prepended to the CMSIS-NN sources only, the one
  per-file change a sketch can carry without build flags (what nano33, nano33-rev2 and nano-rp2040 ship:
  their boards' ``tflm.hot_kernels = "O2"``).

Every variant is compared byte for byte with the desktop TFLM on the same windows.

    python bench/board_runtime.py RUN [--windows 64] [--runtime-src DIR]
"""

from __future__ import annotations

import argparse
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np

from edgekit.runtime.harness import BoardModel, BoardRuntime, model_interface, model_sources, op_methods
from edgekit.runtime.sources import locate_sources
from edgekit.runtime.toolchain import TARGETS, Target
from edgekit.runtimes import TFLMRunner, inspect_tflite, quantize_input


def windows(run: Path, n: int) -> np.ndarray:
    from edgekit.data.prepare import prepare_run

    prepared = prepare_run(run)
    info = inspect_tflite((run / "model_int8.tflite").read_bytes())
    pick = np.linspace(0, len(prepared.x_test) - 1, min(n, len(prepared.x_test))).round().astype(int)
    return quantize_input(prepared.x_test[pick], info.input.scale, info.input.zero_point)


def generic(model: BoardModel) -> BoardModel:
    files = dict(model.files)
    files["edgekit_model.cpp"] = re.sub(rb"\(tflite::Register_\w+\(\)\)", b"()", files["edgekit_model.cpp"])
    return BoardModel(model.tree, files, model.interface)


def text_bytes(elf: Path) -> int:
    out = subprocess.run(["arm-none-eabi-size", "-A", "-d", str(elf)], capture_output=True, text=True, check=True)
    return int(re.search(r"^\.text\s+(\d+)", out.stdout, re.M).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--windows", type=int, default=64)
    parser.add_argument("--target", default="cortex-m4", choices=["cortex-m4", "cortex-m0plus"])
    parser.add_argument("--runtime-src", type=Path, default=None)
    args = parser.parse_args()
    tflite = (args.run / "model_int8.tflite").read_bytes()
    interface, sources = model_interface(tflite, inspect_tflite(tflite)), locate_sources(args.runtime_src)
    model = model_sources(tflite, interface, sources, op_methods(), "Os")
    hot = model_sources(tflite, interface, sources, op_methods(), "O2")
    x = windows(args.run, args.windows)
    desktop = TFLMRunner(tflite).run(x)
    target = TARGETS[args.target]
    flags = tuple("-O2" if f == "-Os" else f for f in target.flags)
    o2: Target = replace(target, name=f"{target.name}-O2", flags=flags)
    variants = [
        ("-Os, int8-only registrations", model, target),
        ("generic registrations (-Os)", generic(model), target),
        ("-O2 everywhere", model, o2),
        ("-O2 in CMSIS-NN only (pragma), int8-only", hot, target),
    ]
    print(f"{args.run}: {len(tflite):,} B model, {len(x)} held-out windows, {target.title} ({' '.join(target.flags)})")
    print(f"{'variant':<42}{'instructions':>14}{'.text (B)':>12}{'arena (B)':>11}{'differ':>8}")
    for title, variant, tgt in variants:
        runtime = BoardRuntime(variant, tgt)
        run = runtime.run(x)
        differ = int((run.outputs != desktop).any(axis=1).sum())
        mean = int(run.instructions.mean()) if run.instructions is not None else 0
        print(f"{title:<42}{mean:>14,}{text_bytes(runtime.program):>12,}{run.arena_used_bytes:>11,}{differ:>8}")


if __name__ == "__main__":
    main()
