"""The report's sections about the board: the flash and RAM footprint, and the time per inference.

Both come from typed records: the build summary (``manifest.json`` ``build``) and the profile
(``manifest.json`` ``profile``, or ``edgekit profile`` run on a quantized folder that was never built).
"""

from __future__ import annotations

from typing import Any

from ..records import BuildSummary, ParityReport, ProfileResult
from ..wording import ms_range, plural
from .charts import footprint_chart

ITEM_COLORS = {"core+runtime": "#9ca3af", "model": "#2563eb", "arena": "#059669", "edgekit": "#f59e0b"}
OTHER_COLOR = "#6b7280"

Section = dict[str, Any]


def status(passed: bool | None) -> str:
    return "info" if passed is None else ("ok" if passed else "fail")


def footprint_section(build: BuildSummary | None, profile: ProfileResult | None) -> Section:
    """The build's fit check; before a build, the same check from ``edgekit profile`` (marked as such)."""
    fit, source = (build.fit if build is not None else None), None
    if not fit and profile is not None and profile.board is not None:
        fit, source = profile.board.fit, "profile"
    if not fit:
        return {
            "missing": "No board fit yet: 'edgekit build --board NAME' checks flash and RAM for a board "
            "(see 'edgekit boards')."
        }
    parts = []
    for key, title in (("flash", "Flash"), ("ram", "RAM")):
        part = fit[key]
        parts.append(
            {
                "title": title,
                "used": part["used"],
                "capacity": part["capacity"],
                "pct": part["pct"],
                "fits": part["used"] <= part["capacity"],
                "items": [
                    (name, size, ITEM_COLORS.get(name, OTHER_COLOR))
                    for name, size in sorted(part["items"].items(), key=lambda kv: (-kv[1], kv[0]))
                ],
            }
        )
    return {
        "board": fit["board"],
        "fits": fit.get("fits"),
        "parts": parts,
        "source": source,
        "chart": footprint_chart(parts),
        "sketch": build.sketch if build is not None else None,
        "inputs": board_inputs(build),
    }


def board_inputs(build: BuildSummary | None) -> list[tuple[str, str]]:
    """What the sketch holds besides the model: the --norm-from statistics and the embedded self-test."""
    if build is None:
        return []
    rows = []
    if (cal := build.calibration) is not None:
        mean = ", ".join(f"{v:.3f}" for v in cal.mean)
        std = ", ".join(f"{v:.3f}" for v in cal.std)
        records = f", {plural(cal.records, 'record')}" if cal.records is not None else ""
        rows.append(
            (
                "normalisation (--norm-from)",
                f"mean ({mean}), std ({std}) m/s² per axis x, y, z; from {cal.path}{records}",
            )
        )
    if build.selftest_windows:
        rows.append(
            (
                "self-test (--selftest)",
                f"{plural(build.selftest_windows, 'held-out window')} embedded with the outputs the board must "
                "reproduce at boot",
            )
        )
    return rows


def latency_section(profile: ProfileResult | None, problem: str | None, parity: ParityReport | None) -> Section:
    """Time per inference on the board (measured on the emulated core, else the cost model's estimate),
    with the desktop time for scale."""
    desktop = parity.timing.get("tflm_ms_per_inference") if parity is not None else None
    if profile is None:
        return {
            "missing": problem
            or "No latency estimate yet: run 'edgekit quantize RUN', or 'edgekit profile RUN --board NAME'.",
            "desktop_ms": desktop,
        }
    measured = measured_view(profile)
    return {
        "desktop_ms": desktop,
        "profile": profile_view(profile),
        "measured": measured,
        "estimate": measured_card(measured) or _estimate_card(profile),
    }


def profile_view(profile: ProfileResult) -> dict[str, Any]:
    """What ``edgekit profile`` estimated, reduced to what a reader needs (no paths, so bytes stay stable)."""
    board, est = profile.board, profile.estimate
    view: dict[str, Any] = {
        "board": board.name if board else None,
        "board_title": board.title if board else None,
        "available": bool(est and est.available),
        "reason": est.reason if est else None,
    }
    if est is None or not est.available or est.seconds is None:
        view["available"] = False
        return view
    per_layer = est.instructions_per_layer or {}
    total = max(est.instructions or 1, 1)
    layers = []
    for row in profile.layers:
        instructions = per_layer.get(row["name"], 0)
        if instructions > 0:
            layers.append(
                {
                    "name": row["name"],
                    "op": row.get("op", ""),
                    "params": row.get("params", 0),
                    "shape": "×".join(map(str, row.get("output_shape", []))),
                    "macs": row.get("macs", 0),
                    "instructions": instructions,
                    "share": round(100 * instructions / total, 1),
                }
            )
    lo, hi = est.seconds
    duty: list[float | None] = list(est.duty_cycle) if est.duty_cycle else [None, None]
    duty_lo, duty_hi = duty
    view.update(
        core=est.core_title,
        kernels=est.kernels,
        clock_mhz=(est.clock_hz or 0) / 1e6,
        ms_low=1000 * lo,
        ms_high=1000 * hi,
        ms_range=ms_range((lo, hi), "–"),
        ms_mid=1000 * (est.seconds_mid if est.seconds_mid is not None else (lo + hi) / 2),
        instructions=est.instructions,
        hop_s=est.hop_s,
        duty_low=duty_lo,
        duty_high=duty_hi,
        keeps_up=est.keeps_up,
        layers=layers,
        assumptions=est.assumptions or [],
        macs=profile.totals.get("macs"),
    )
    return view


def measured_view(profile: ProfileResult) -> dict[str, Any] | None:
    """Instructions measured on the board's emulated core (``profile.measured``), for the latency section."""
    m = profile.measured
    if m is None:
        return None
    if not m.available or m.seconds is None:
        return {"available": False, "reason": m.reason}
    lo, hi = m.seconds
    return {
        "available": True,
        "instructions": m.instructions,
        "range": m.instructions_range,
        "source": m.source,
        "ms_low": 1000 * lo,
        "ms_high": 1000 * hi,
        "ms_range": ms_range((lo, hi), "–"),
        "cpi": m.cpi,
        "clock_mhz": (m.clock_hz or 0) / 1e6,
        "hop_s": m.hop_s,
        "duty_high": (m.duty_cycle or [0.0, 0.0])[1],
        "arena": m.arena_used_bytes,
        "per_op": m.per_op or [],
        "board": profile.board.name if profile.board else None,
    }


def measured_card(measured: dict[str, Any] | None) -> dict[str, str] | None:
    if not measured or not measured.get("available"):
        return None
    detail = (
        f"measured {measured['instructions'] / 1e6:.2f} M instructions × CPI "
        f"{measured['cpi'][0]:g}–{measured['cpi'][1]:g}; {100 * measured['duty_high']:.0f} % of the "
        f"{measured['hop_s']:g} s hop at most"
    )
    return {
        "value": f"{measured['ms_range']} ms",
        "detail": detail,
        "board": measured["board"],
        "status": status(measured["duty_high"] < 1),
    }


def _estimate_card(profile: ProfileResult) -> dict[str, str] | None:
    """The headline card for the cost model's estimate (when nothing was measured)."""
    view = profile_view(profile)
    if not view["available"]:
        return None
    detail = f"cost-model estimate (not measured) {view['ms_range']} ms"
    if view["duty_high"] is not None:
        detail += f"; {100 * view['duty_high']:.0f} % of the {view['hop_s']:g} s hop"
    return {
        "value": f"≈{view['ms_mid']:,.0f} ms",
        "detail": detail,
        "board": view["board"],
        "status": status(view["keeps_up"]),
    }
