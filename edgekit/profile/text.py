"""``edgekit profile``'s printed table and summary lines."""

from __future__ import annotations

from typing import Any


def _kilo(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return f"{n:.0f}"


def _time(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def format_profile(result: dict[str, Any]) -> str:
    """The table and summary lines ``edgekit profile`` prints."""
    est = result.get("estimate") or {}
    per_layer = est.get("instructions_per_layer", {})
    head = f"{'layer':<12}{'op':<26}{'output':>10}{'params':>10}{'MACs':>12}{'other ops':>18}{'int8 B':>9}"
    lines = [
        f"model {result['model']}: {result['totals']['params']:,} parameters, "
        f"{result['totals']['macs']:,} MACs per window",
        head + (f"{'instr':>10}" if per_layer else ""),
    ]
    for r in result["layers"]:
        other = f"{r['elements']:,} {r['element_op']}" if r["elements"] else "-"
        shape = "x".join(map(str, r["output_shape"]))
        line = (
            f"{r['name']:<12}{r['op']:<26}{shape:>10}{r['params']:>10,}{r['macs']:>12,}{other:>18}{r['int8_bytes']:>9,}"
        )
        lines.append(line + (f"{_kilo(per_layer.get(r['name'], 0)):>10}" if per_layer else ""))
    t = result["totals"]
    lines.append(
        f"{'total':<12}{'':<26}{'':>10}{t['params']:>10,}{t['macs']:>12,}{t['elements']:>18,}"
        f"{t['int8_bytes']:>9,}" + (f"{_kilo(est['instructions']):>10}" if per_layer else "")
    )
    if "int8" in result:
        q = result["int8"]
        lines.append(
            f"int8 model {q['tflite_bytes']:,} B (weights+biases {q['weights_bytes']:,} B, flatbuffer "
            f"{q['overhead_bytes']:,} B); TFLM arena {q['arena_bytes']:,} B ({q['arena_source']})"
        )
    board: dict[str, Any] = result.get("board") or {}  # measured and estimate come only with a board
    if "fit" in board:
        fit = board["fit"]
        lines.append(f"{fit['summary']}{'' if fit['fits'] else '  DOES NOT FIT'}")
    measured = result.get("measured") or {}
    if measured.get("available"):
        lo, hi = measured["seconds"]
        lines.append(
            f"measured for {board['name']}: {_kilo(measured['instructions'])} instructions per inference "
            f"({measured['source']}) -> {_time(lo)} to {_time(hi)} at {measured['clock_hz'] / 1e6:g} MHz "
            f"(CPI {measured['cpi'][0]:g}-{measured['cpi'][1]:g}); duty cycle {100 * measured['duty_cycle'][0]:.1f}-"
            f"{100 * measured['duty_cycle'][1]:.1f} % of the {measured['hop_s']:g} s hop; arena used "
            f"{measured['arena_used_bytes']:,} B"
        )
        if measured["per_op"]:
            lines.append("  per op: " + ", ".join(f"{o['op']} {_kilo(o['instructions'])}" for o in measured["per_op"]))
    elif measured:
        lines.append(f"measured for {board['name']}: not available ({measured['reason']})")
    if est.get("available"):
        lo, hi = est["seconds"]
        lines.append(
            f"cost-model estimate on {board['name']}: {_kilo(est['instructions'])} instructions "
            f"({est['kernels']} kernels) -> "
            f"{_time(lo)} to {_time(hi)} per inference; duty cycle {100 * est['duty_cycle'][0]:.1f}-"
            f"{100 * est['duty_cycle'][1]:.1f} % of the {est['hop_s']:g} s hop"
            + ("" if est["keeps_up"] else "  (too slow for the hop)")
        )
        lines.append("assumptions (an estimate, not a measurement):")
        lines.extend(f"  - {a}" for a in est["assumptions"])
    elif est:
        lines.append(f"estimate on {board['name']}: not available ({est['reason']})")
    return "\n".join(lines)
