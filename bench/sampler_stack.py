"""How much stack the sketch's sampling thread needs, measured with GCC, against the size it is given.

Compiles a generated sketch's edgekit_app.cpp, and the IMU library's own sources when given, for the
Cortex-M4F with the Arduino mbed core's flags plus ``-fstack-usage -fcallgraph-info=su``, against the
declaration stubs in tests/firmware_stubs; then adds the frames along the deepest call chain from
``sampler_main`` (edgekit.firmware.stack) and the stated allowances for what is precompiled in the core.

    python bench/sampler_stack.py SKETCH [--library DIR ...]

SKETCH is a generated sketch folder (e.g. runs/demo/firmware/edgekit_har); DIR an IMU library checkout at
the version the board file pins (e.g. Arduino_LSM9DS1 1.1.1). Without --library the driver's chain is
taken from edgekit.firmware.stack.DRIVER_STACK_BYTES.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from edgekit.firmware import stack

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "tests" / "firmware_stubs"
ARM = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os"]
ARM_CXX = ["-std=gnu++14", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics"]
COMMON = ["-ffunction-sections", "-fdata-sections", "-fstack-usage", "-fcallgraph-info=su", f"-I{STUBS}"]


def compile_graph(sources: list[Path], includes: list[Path], out: Path, extra: list[str]) -> list[str]:
    """Compile each source with the stack flags in ``out``; return the .ci texts GCC wrote."""
    texts = []
    for i, source in enumerate(sources):
        compiler = "arm-none-eabi-gcc" if source.suffix == ".c" else "arm-none-eabi-g++"
        flags = ARM + ([] if source.suffix == ".c" else ARM_CXX)
        obj = out / f"{i}_{source.stem}.o"
        cmd = [compiler, *flags, *COMMON, *extra, *(f"-I{d}" for d in includes), "-c", str(source), "-o", str(obj)]
        result = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if "error" in line]
            raise SystemExit(f"{source}: does not compile against {STUBS}: {(errors or ['?'])[0]}")
        texts.append(obj.with_suffix(".ci").read_text())
    return texts


def library_sources(library: Path) -> tuple[list[Path], list[Path]]:
    src = library / "src"
    sources = sorted(p for p in src.rglob("*") if p.suffix in (".c", ".cpp"))
    includes = sorted({p.parent for p in src.rglob("*.h")})
    return sources, includes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sketch", type=Path)
    parser.add_argument("--library", type=Path, action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        texts = compile_graph([args.sketch / "edgekit_app.cpp"], [args.sketch], out, [])
        app_total, app_chain, app_unknown = stack.CallGraph(texts).deepest_chain(
            stack.sampler_root(stack.CallGraph(texts))
        )
        for library in args.library:
            sources, includes = library_sources(library)
            texts += compile_graph(sources, includes, out, ["-include", "math.h", "-w"])
        graph = stack.CallGraph(texts)
        total, chain, unknown = graph.deepest_chain(stack.sampler_root(graph))
    print(f"sampler_main chain in edgekit_app.cpp: {app_total} B")
    for name in app_chain:
        print(f"  {graph.frames[name][0]:5d} B  {name}")
    if args.library:
        driver = total - app_total
        print(f"with {', '.join(p.name for p in args.library)}: {total} B, the driver's part {driver} B")
        for name in chain:
            print(f"  {graph.frames[name][0]:5d} B  {name}")
    else:
        driver = max(stack.DRIVER_STACK_BYTES.values())
        print(f"driver chain (edgekit.firmware.stack.DRIVER_STACK_BYTES, the largest): {driver} B")
    print(f"not compiled here, called from the chain: {', '.join(sorted(unknown or app_unknown))}")
    need = stack.sampler_need(app_total, driver)
    print(
        f"need: {app_total} app + {driver} driver + {stack.CORE_I2C_ALLOWANCE_BYTES} core I2C allowance"
        f" + {stack.CONTEXT_BYTES} interrupt/context frames = {need} B"
    )
    print(
        f"with {stack.STACK_MARGIN_PCT}% margin: {stack.with_margin(need)} B; "
        f"the sketch gives the thread {stack.SAMPLER_STACK_BYTES} B"
    )


if __name__ == "__main__":
    main()
