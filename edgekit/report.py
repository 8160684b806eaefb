"""``report.html``: one self-contained page a person reads to judge a run.

The run folder is what gets attached to a CI job or sent to a colleague, so its report must open
from disk, offline, years later: charts are SVG drawn by matplotlib (vector, small, text stays
text), the styles live in the Jinja2 template, there is no script, and a Content-Security-Policy
forbids any fetch. The page reads only the files the folder already holds and every section says
plainly what is missing, so the same call serves a folder right after ``train`` and after a full
``build``. Same files in, same bytes out: JSON is read with sorted keys, the SVG ids come from a
fixed hash salt, and nothing is taken from the clock.
"""

from __future__ import annotations

import html
import importlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__, artifacts, progress
from .artifacts import HISTORY, METRICS, PARITY_JSON, REPORT_HTML
from .errors import EdgekitError
from .firmware.render import environment
from .wording import ms_range, plural, windows_differ

TEMPLATE = "report.html.j2"
RUNGS = ("float", "litert", "tflm")
RUNG_TITLES = {"float": "float Keras", "litert": "int8 LiteRT", "tflm": "int8 TFLM"}
RUNG_COLORS = {"float": "#2563eb", "litert": "#f59e0b", "tflm": "#059669"}
SPLIT_COLORS = {"train": "#2563eb", "val": "#f59e0b", "test": "#9333ea", "unused": "#9ca3af"}
ITEM_COLORS = {"core+runtime": "#9ca3af", "model": "#2563eb", "arena": "#059669", "edgekit": "#f59e0b"}
OTHER_COLOR = "#6b7280"
ROUNDING_NOISE = 0.29  # RMSE/scale of a uniform error of one quantization step: pure rounding
MAX_PROFILE_ROWS = 25
UNKNOWN_VERDICT = {"status": "none", "text": "The parity verdict could not be read from parity.json."}

# Charts: fixed salt and no metadata, so the same numbers always give the same SVG bytes.
_RC = {
    "svg.hashsalt": "edgekit-report",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9ca3af",
    "axes.labelcolor": "#374151",
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.6,
    "xtick.color": "#4b5563",
    "ytick.color": "#4b5563",
    "legend.frameon": False,
    "legend.fontsize": 8.5,
}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}

Section = dict[str, Any]


# --------------------------------------------------------------------------- public API


def write_report(run_dir: Path, out: Path | None = None, force: bool = False) -> Path:
    """Render the report of ``run_dir`` into ``out`` (default ``run_dir/report.html``) atomically.

    An existing ``out`` is replaced only when it is an edgekit report or with ``force``: a mistyped
    --out (notes.html, README.md) must not cost the user that file.
    """
    run_dir = Path(run_dir)
    artifacts.load_manifest(run_dir)  # first say so when RUN_DIR is wrong, before any --out complaint
    target = Path(out) if out is not None else run_dir / REPORT_HTML
    if target.is_dir():
        raise EdgekitError(f"--out {target}: is a folder; pass a file name such as {target / REPORT_HTML}")
    if not target.parent.is_dir():
        raise EdgekitError(f"--out {target}: folder {target.parent} does not exist; create it first")
    if out is not None and not force and target.exists() and not _is_report(target):
        raise EdgekitError(
            f"--out {target}: file exists and is not an edgekit report; choose another name or pass --force to "
            "replace it"
        )
    with progress.step("writing report.html"):
        text = render_report(run_dir)
        artifacts.write_text_atomic(target, text)
    return target


def _is_report(path: Path) -> bool:
    """True when ``path`` starts like a page this module rendered (its generator meta tag)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return b'<meta name="generator" content="edgekit ' in head


def render_report(run_dir: Path) -> str:
    """The report as HTML text (raises only when ``run_dir`` is not an artifact folder)."""
    env = environment()
    env.filters.update(pct=_pct, num=_num, nbytes=_nbytes, signed=_signed)
    return env.get_template(f"report/{TEMPLATE}").render(**report_context(run_dir))


def report_context(run_dir: Path) -> dict[str, Any]:
    """Everything the template shows, section by section; a missing input becomes a ``missing`` note."""
    run_dir = Path(run_dir)
    manifest = artifacts.load_manifest(run_dir)
    history, history_problem = _read_optional(run_dir / HISTORY, "history.json", "edgekit train")
    metrics, metrics_problem = _read_optional(run_dir / METRICS, "metrics.json", "edgekit train")
    parity, parity_problem = _read_optional(
        run_dir / PARITY_JSON, "parity.json", "edgekit quantize RUN && edgekit parity RUN"
    )
    profile, profile_problem = _load_profile(run_dir, manifest)
    sections = {
        "data": _guarded("data", _data_section, manifest),
        "training": _guarded("training", _training_section, history, history_problem, manifest),
        "accuracy": _guarded("accuracy", _accuracy_section, metrics, metrics_problem, parity),
        "parity": _guarded("parity", _parity_section, parity, parity_problem),
        "layers": _guarded("layers", _layers_section, parity, parity_problem),
        "footprint": _guarded("footprint", _footprint_section, manifest, profile),
        "latency": _guarded("latency", _latency_section, profile, profile_problem, parity),
    }
    return {
        "run": _run_summary(manifest),
        "cards": _safely([], _cards, metrics, parity, sections),
        "verdict": _safely(UNKNOWN_VERDICT, _verdict, parity, manifest),
        "sections": sections,
        "details": _guarded("details", _details_section, manifest),
        "version": __version__,
    }


# --------------------------------------------------------------------------- inputs


def _read_optional(path: Path, name: str, how: str) -> tuple[Any, str | None]:
    """A JSON file that may not exist yet: (content, None) or (None, what to do about it)."""
    if not path.is_file():
        return None, f"No {name} in this folder yet; create it with '{how}'."
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{name} cannot be read ({exc}); re-create it with '{how}'."


def _guarded(name: str, build: Callable[..., Section], *args: Any) -> Section:
    """One section, or a note when its input has an unexpected shape (e.g. from another edgekit version).

    A report is read after the work is done; one odd file must not cost the reader every other section.
    """
    try:
        section = build(*args)
        section.setdefault("missing", None)
        return section
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        return {
            "missing": f"The {name} section could not be drawn ({type(exc).__name__}: {exc}); "
            "the file may come from another edgekit version."
        }


def _safely(default: Any, build: Callable[..., Any], *args: Any) -> Any:
    """Like :func:`_guarded` for the header parts, which have no section to carry a note."""
    try:
        return build(*args)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return default


# --------------------------------------------------------------------------- sections


def _run_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    model = manifest.get("model", {})
    data = manifest.get("data", {})
    build = manifest.get("build") or {}
    return {
        "model": model.get("name", "?"),
        "params": model.get("params"),
        "data_kind": data.get("kind", "?"),
        "data_spec": data.get("spec") or data.get("path"),
        "seed": manifest.get("seed"),
        "created": manifest.get("created"),
        "board": build.get("board"),
        "fqbn": build.get("fqbn"),
    }


def _verdict(parity: Any, manifest: dict[str, Any]) -> dict[str, str]:
    """The one line at the top: did the int8 model keep its promise?"""
    if not isinstance(parity, dict) or "gates" not in parity:
        return {"status": "none", "text": "Parity not checked yet: the int8 model has not been compared with float."}
    failed = [name for name, gate in sorted(parity["gates"].items()) if not gate.get("passed")]
    if failed:
        return {"status": "fail", "text": f"Parity gate failed: {', '.join(_gate_title(g) for g in failed)}."}
    fit = (manifest.get("build") or {}).get("fit")
    if fit and not fit.get("fits", True):
        return {"status": "fail", "text": "Parity gates passed, but the model does not fit the board."}
    exact = parity["gates"].get("bit_exact", {})
    if exact.get("value"):
        step = parity["gates"].get("int8_step", {}).get("value")
        most = plural(step, "int8 step") if isinstance(step, int) else "? int8 steps"
        return {
            "status": "ok",
            "text": f"Parity gates passed; LiteRT and TFLM were not required to be bit-exact "
            f"and {_differ(exact['value'])} (by at most {most}).",
        }
    return {"status": "ok", "text": "All parity gates passed: int8 on TFLM agrees with the float model."}


def _cards(metrics: Any, parity: Any, sections: dict[str, Section]) -> list[dict]:
    """Headline numbers; a card whose input is missing says 'not yet' rather than disappearing."""
    cards = []
    if isinstance(metrics, dict) and "accuracy" in metrics:
        cards.append(
            _card(
                "Float test accuracy",
                _pct(metrics["accuracy"]),
                f"macro F1 {_num(metrics.get('macro', {}).get('f1-score'))}, {metrics.get('n', '?')} held-out windows",
            )
        )
    else:
        cards.append(_card("Float test accuracy", "not yet", "run 'edgekit train'", "none"))
    if isinstance(parity, dict) and "rungs" in parity:
        drop = parity["pairs"]["float->tflm"]["accuracy_drop_pp"]
        gate = parity.get("gates", {}).get("accuracy_drop_pp", {})
        cards.append(
            _card(
                "int8 TFLM accuracy",
                _pct(parity["rungs"]["tflm"]["accuracy"]),
                f"{_signed(-drop)} pp vs float",
                _status(gate.get("passed")),
            )
        )
        exact = parity.get("gates", {}).get("bit_exact", {})
        differ = parity["pairs"]["litert->tflm"].get("int8_windows_differ", "?")
        if differ == 0:
            cards.append(_card("LiteRT vs TFLM", "bit-exact", f"int8 outputs on {parity['n_test']} windows", "ok"))
        else:
            status = "fail" if exact.get("passed") is False else "info"
            value = f"{differ} / {parity['n_test']}"
            cards.append(_card("LiteRT vs TFLM", value, "windows with different int8 outputs", status))
    else:
        cards.append(_card("int8 TFLM accuracy", "not yet", "run 'edgekit quantize' and 'edgekit parity'", "none"))
    footprint = sections["footprint"]
    if not footprint.get("missing"):
        for part in footprint["parts"]:
            cards.append(
                _card(
                    f"{part['title']} on {footprint['board']}",
                    f"{part['pct']:.1f} %",
                    f"{_nbytes(part['used'])} of {_nbytes(part['capacity'])}",
                    _status(part["fits"]),
                )
            )
    else:
        cards.append(_card("Board fit", "not yet", "run 'edgekit build --board NAME'", "none"))
    latency = sections["latency"].get("estimate")
    if latency:
        where = f"on {latency['board']}" if latency.get("board") else "on the board"
        cards.append(_card(f"Latency {where}", latency["value"], latency["detail"], latency["status"]))
    return cards


def _card(label: str, value: str, detail: str, status: str = "info") -> dict[str, str]:
    return {"label": label, "value": value, "detail": detail, "status": status}


def _status(passed: bool | None) -> str:
    return "info" if passed is None else ("ok" if passed else "fail")


def _data_section(manifest: dict[str, Any]) -> Section:
    data = manifest.get("data")
    if not isinstance(data, dict) or "windows_per_class" not in data:
        return {"missing": "The manifest has no data summary; re-create the run with 'edgekit train'."}
    per_class = data["windows_per_class"]
    classes = list(data.get("classes") or per_class)
    per_user = sorted(((int(u), n) for u, n in data.get("windows_per_user", {}).items()), key=lambda x: x[0])
    split = manifest.get("split") or {}
    partition = {int(u): part for part in ("train", "val", "test") for u in split.get(part, [])}
    training = manifest.get("training", {})
    contract = manifest.get("contract", {})
    source = [
        ("source", data.get("kind")),
        ("file", data.get("path") or data.get("spec")),
        ("sha256", data.get("sha256")),
        ("records", _int(data.get("records"))),
        ("windows", _int(data.get("windows"))),
        (
            "window",
            f"{contract.get('window', '?')} samples, hop {contract.get('hop', '?')}, {contract.get('rate_hz', '?')} Hz"
            if contract
            else None,
        ),
        ("units", data.get("units")),
    ]
    splits = [
        {
            "name": part,
            "users": _user_list(split.get(part, [])),
            "windows": training.get(f"{part}_windows"),
            "color": SPLIT_COLORS[part],
        }
        for part in ("train", "val", "test")
        if part in split
    ]
    return {
        "source": [(k, v) for k, v in source if v not in (None, "")],
        "classes_chart": _class_chart(classes, [int(per_class.get(c, 0)) for c in classes]),
        "users_chart": _users_chart(per_user, partition) if per_user else None,
        "splits": splits,
        "skipped": _skipped(data),
    }


def _skipped(data: dict[str, Any]) -> dict[str, Any]:
    """Lines the reader dropped, by reason; pre-cut windows (.npz) have no lines to skip."""
    skipped = data.get("skipped")
    if skipped is None:
        return {"note": "Not applicable: the windows came pre-cut (no raw lines were parsed)."}
    reasons = sorted(skipped.get("reasons", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "note": None,
        "count": skipped.get("count", 0),
        "recovered": skipped.get("recovered", 0),
        "reasons": reasons,
        "first": [(row["line"], row["reason"]) for row in skipped.get("first", [])],
    }


def _training_section(history: Any, problem: str | None, manifest: dict[str, Any]) -> Section:
    if history is None:
        return {"missing": problem}
    if not history.get("loss"):
        return {"missing": "history.json has no epochs; retrain with 'edgekit train'."}
    training = manifest.get("training", {})
    best = training.get("best_epoch")
    facts = [
        ("epochs run", training.get("epochs_run", len(history["loss"]))),
        ("best epoch (weights kept)", best),
        ("training time", f"{training['wall_time_s']} s" if "wall_time_s" in training else None),
        (
            "windows train / val / test",
            " / ".join(str(training.get(f"{p}_windows", "?")) for p in ("train", "val", "test")),
        ),
        ("reused model from", training.get("reused_from")),
    ]
    return {"chart": _curves_chart(history, best), "facts": [(k, v) for k, v in facts if v is not None]}


def _accuracy_section(metrics: Any, problem: str | None, parity: Any) -> Section:
    """Per-class precision/recall of the float model, with F1 of every rung side by side."""
    if metrics is None:
        return {"missing": problem}
    classes = metrics["classes"]
    rungs = parity["rungs"] if isinstance(parity, dict) and "rungs" in parity else None
    rows = []
    for c in classes:
        m = metrics["per_class"][c]
        row = {
            "name": c,
            "support": int(m["support"]),
            "precision": m["precision"],
            "recall": m["recall"],
            "f1": {"float": m["f1-score"]},
        }
        if rungs:
            row["f1"] = {r: rungs[r]["f1"][c] for r in RUNGS}
            row["change"] = row["f1"]["tflm"] - row["f1"]["float"]
        rows.append(row)
    f1 = {r: [row["f1"][r] for row in rows] for r in (RUNGS if rungs else ("float",))}
    return {
        "rows": rows,
        "int8": rungs is not None,
        "chart": _f1_chart(classes, f1),
        "accuracy": metrics["accuracy"],
        "loss": metrics.get("loss"),
        "macro_f1": metrics.get("macro", {}).get("f1-score"),
        "note": None if rungs else "int8 columns appear once 'edgekit parity' has run.",
    }


def _parity_section(parity: Any, problem: str | None) -> Section:
    if parity is None:
        return {"missing": problem}
    classes = parity["classes"]
    rungs = [
        {
            "name": RUNG_TITLES[r],
            "accuracy": parity["rungs"][r]["accuracy"],
            "macro_f1": parity["rungs"][r]["macro_f1"],
            "runtime": _runtime(parity, r),
            "color": RUNG_COLORS[r],
        }
        for r in RUNGS
    ]
    pairs = []
    for key, pair in parity["pairs"].items():
        upper, lower = key.split("->")
        pairs.append({"step": f"{RUNG_TITLES[upper]} → {RUNG_TITLES[lower]}", **pair})
    return {
        "n_test": parity["n_test"],
        "users": _user_list(parity.get("test_users", [])),
        "n_users": len(parity.get("test_users", [])),
        "rungs": rungs,
        "pairs": pairs,
        "gates": _gates(parity),
        "passed": parity.get("passed"),
        "confusions": _confusions(parity, classes),
        "divergence": parity["pairs"].get("litert->tflm", {}).get("first_divergence", []),
        "board": _board_rungs(parity),
        "saturated": parity.get("input_quantization", {}).get("saturated_fraction"),
    }


def _board_rungs(parity: dict[str, Any]) -> list[dict[str, Any]]:
    """The board-runtime rungs: windows that differ from desktop TFLM, or why a rung did not run."""
    board = parity.get("board") or {}
    rows = []
    for rung in board.get("rungs", {}).values():
        ran = rung.get("status") == "ran"
        instructions = (rung.get("instructions") or {}).get("mean") if ran else None
        rows.append(
            {
                "title": rung.get("title"),
                "ran": ran,
                "reason": rung.get("reason"),
                "windows": rung.get("windows"),
                "differ": rung.get("windows_differ"),
                "max_step": rung.get("max_step"),
                "arena": rung.get("arena_used_bytes"),
                "instructions": instructions,
                "flags": rung.get("flags"),
                "divergence": rung.get("first_divergence", []),
            }
        )
    if not rows and board.get("skipped"):
        rows.append({"title": "board runtime", "ran": False, "reason": board["skipped"]})
    return rows


def _gates(parity: dict[str, Any]) -> list[dict[str, Any]]:
    gates = parity.get("gates")
    if not gates:
        return []
    rows = []
    drop = gates.get("accuracy_drop_pp")
    if drop:
        rows.append(
            {
                "name": _gate_title("accuracy_drop_pp"),
                "value": f"{_signed(drop['value'])} pp ({RUNG_TITLES.get(drop.get('rung'), drop.get('rung'))})",
                "rule": f"≤ {drop['threshold']:.2f} pp",
                "passed": drop["passed"],
            }
        )
    step = gates.get("int8_step")
    if step:
        rows.append(
            {
                "name": _gate_title("int8_step"),
                "value": f"max {step['value']} int8 step",
                "rule": f"≤ {step['threshold']} step",
                "passed": step["passed"],
            }
        )
    exact = gates.get("bit_exact")
    if exact:
        rule = "0 windows differ" if exact.get("required", True) else "not required"
        rows.append(
            {
                "name": _gate_title("bit_exact"),
                "value": _differ(exact["value"]),
                "rule": rule,
                "passed": exact["passed"],
            }
        )
    titles = {name: rung.get("title", name) for name, rung in ((parity.get("board") or {}).get("rungs") or {}).items()}
    for name, gate in sorted(gates.items()):
        if not name.startswith("board_"):
            continue
        key = name[len("board_") :]
        value = _differ(gate["value"]) if gate.get("ran") else f"not run ({gate.get('reason')})"
        rows.append(
            {
                "name": f"{titles.get(key, key)} = desktop TFLM",
                "value": value,
                "rule": "0 windows differ" + ("; must run" if gate.get("required") else ""),
                "passed": gate["passed"],
            }
        )
    return rows


def _gate_title(name: str) -> str:
    return {
        "accuracy_drop_pp": "accuracy drop float → int8",
        "int8_step": "LiteRT vs TFLM int8 difference",
        "bit_exact": "LiteRT = TFLM bit-exact",
    }.get(name, name)


def _confusions(parity: dict[str, Any], classes: list[str]) -> list[dict[str, Any]]:
    """Row-normalised shading (recall per true class); int8 cells that differ from float are marked."""
    short = _abbreviations(classes)
    base = parity["rungs"]["float"]["confusion"]
    matrices = []
    for rung in RUNGS:
        matrix = parity["rungs"][rung]["confusion"]
        rows = []
        for i, row in enumerate(matrix):
            total = sum(row) or 1
            cells = [
                {
                    "n": n,
                    "shade": _shade(n / total, i == j),
                    "diag": i == j,
                    "changed": rung != "float" and n != base[i][j],
                    "title": f"true {classes[i]}, predicted {classes[j]}: {n} of {sum(row)}",
                }
                for j, n in enumerate(row)
            ]
            rows.append({"name": classes[i], "cells": cells, "total": sum(row)})
        matrices.append(
            {
                "title": RUNG_TITLES[rung],
                "accuracy": parity["rungs"][rung]["accuracy"],
                "columns": list(zip(short, classes, strict=True)),
                "rows": rows,
                "color": RUNG_COLORS[rung],
            }
        )
    return matrices


def _shade(share: float, diagonal: bool) -> float:
    """Cell colour strength: linear on the diagonal, square-root off it so a 5 % confusion is still visible."""
    return round(0.1 + 0.8 * share if diagonal else 0.85 * share**0.5, 3)


def _layers_section(parity: Any, problem: str | None) -> Section:
    if parity is None:
        return {"missing": problem}
    layers = parity.get("layers") or {}
    worst = layers.get("worst") or []
    if not worst:
        return {"missing": "No per-layer analysis in parity.json (it was run with --layer-windows 0)."}
    # The scale reaches at least 3x rounding noise, so layers at noise level look short, not alarming.
    full = max(max(x["rmse_over_scale"] or 0.0 for x in worst), 3 * ROUNDING_NOISE)
    rows = [dict(x, bar=round(100 * (x["rmse_over_scale"] or 0.0) / full, 1)) for x in worst]
    return {
        "rows": rows,
        "windows": layers.get("windows"),
        "total": len(layers.get("all", [])),
        "noise": ROUNDING_NOISE,
        "noise_bar": round(100 * ROUNDING_NOISE / full, 1),
    }


def _footprint_section(manifest: dict[str, Any], profile: Any) -> Section:
    """The build's fit check; before a build, the same check from ``edgekit profile`` (marked as such)."""
    build = manifest.get("build") or {}
    fit, source = build.get("fit"), None
    if not fit and isinstance(profile, dict):
        fit = (profile.get("board") or {}).get("fit")
        source = "profile"
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
        "chart": _footprint_chart(parts),
        "sketch": build.get("sketch"),
    }


def _latency_section(profile: Any, problem: str | None, parity: Any) -> Section:
    """Estimated time per inference on the board (``edgekit profile``), with the desktop time for scale."""
    desktop = None
    if isinstance(parity, dict):
        desktop = parity.get("timing", {}).get("tflm_ms_per_inference")
    if not isinstance(profile, dict) or not profile:
        return {
            "missing": problem
            or "No latency estimate yet: run 'edgekit quantize RUN', or 'edgekit profile RUN --board NAME'.",
            "desktop_ms": desktop,
        }
    if profile.get("kind") == "edgekit-profile":
        measured = _measured(profile)
        return {
            "desktop_ms": desktop,
            "profile": _edgekit_profile(profile),
            "measured": measured,
            "estimate": _measured_card(measured) or _profile_estimate(profile),
        }
    # Another shape (e.g. a hand-written manifest section): show what it holds, generically.
    scalars = [(k, v) for k, v in sorted(profile.items()) if isinstance(v, str | int | float | bool) or v is None]
    tables = [
        _profile_table(k, v)
        for k, v in sorted(profile.items())
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)
    ]
    return {
        "estimate": _latency_estimate(profile),
        "facts": scalars,
        "tables": tables,
        "desktop_ms": desktop,
        "profile": None,
    }


def _load_profile(run_dir: Path, manifest: dict[str, Any]) -> tuple[Any, str | None]:
    """The manifest's "profile" section, else ``edgekit.profile.profile_run`` on a quantized run.

    Only a quantized run is profiled here: profiling a float-only run exports it to int8 in memory,
    which would make writing the report as slow as quantizing. Never fails the report.
    """
    if manifest.get("profile"):
        return manifest["profile"], None
    if not (run_dir / artifacts.MODEL_TFLITE).is_file():
        return None, None
    try:
        profile_run = importlib.import_module("edgekit.profile").profile_run
    except (ImportError, AttributeError):
        return None, None
    from .runtimes import capture_c_output

    try:
        # TensorFlow's C++ start-up chatter is not part of the report's output.
        with progress.step("estimating the latency on the board (edgekit profile)"), capture_c_output():
            result = profile_run(run_dir, (manifest.get("build") or {}).get("board"))
    except Exception as exc:  # a profiler problem must not cost the reader the whole report
        return None, f"The latency estimate is not available ({type(exc).__name__}: {_first_line(exc)})."
    if hasattr(result, "to_dict"):
        result = result.to_dict()
    return (result if isinstance(result, dict) else None), None


def _edgekit_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """What ``edgekit profile`` estimated, reduced to what a reader needs (no paths, so bytes stay stable)."""
    board = profile.get("board") or {}
    est = profile.get("estimate") or {}
    view: dict[str, Any] = {
        "board": board.get("name"),
        "board_title": board.get("title"),
        "available": bool(est.get("available")),
        "reason": est.get("reason"),
    }
    if not view["available"]:
        return view
    per_layer = est.get("instructions_per_layer", {})
    total = max(est.get("instructions") or 1, 1)
    layers = []
    for row in profile.get("layers", []):
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
    lo, hi = est["seconds"]
    duty_lo, duty_hi = est.get("duty_cycle", [None, None])
    view.update(
        core=est.get("core_title"),
        kernels=est.get("kernels"),
        clock_mhz=est.get("clock_hz", 0) / 1e6,
        ms_low=1000 * lo,
        ms_high=1000 * hi,
        ms_range=ms_range((lo, hi), "–"),
        ms_mid=1000 * est.get("seconds_mid", (lo + hi) / 2),
        instructions=est.get("instructions"),
        hop_s=est.get("hop_s"),
        duty_low=duty_lo,
        duty_high=duty_hi,
        keeps_up=est.get("keeps_up"),
        layers=layers,
        assumptions=est.get("assumptions", []),
        macs=(profile.get("totals") or {}).get("macs"),
    )
    return view


def _measured(profile: dict[str, Any]) -> dict[str, Any] | None:
    """Instructions measured on the board's emulated core (``profile["measured"]``), for the latency section."""
    m = profile.get("measured") or {}
    if not m.get("available"):
        return {"available": False, "reason": m.get("reason")} if m else None
    lo, hi = m["seconds"]
    return {
        "available": True,
        "instructions": m["instructions"],
        "range": m.get("instructions_range"),
        "source": m["source"],
        "ms_low": 1000 * lo,
        "ms_high": 1000 * hi,
        "ms_range": ms_range((lo, hi), "–"),
        "cpi": m["cpi"],
        "clock_mhz": m["clock_hz"] / 1e6,
        "hop_s": m["hop_s"],
        "duty_high": m["duty_cycle"][1],
        "arena": m.get("arena_used_bytes"),
        "per_op": m.get("per_op", []),
        "board": (profile.get("board") or {}).get("name"),
    }


def _measured_card(measured: dict[str, Any] | None) -> dict[str, str] | None:
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
        "status": _status(measured["duty_high"] < 1),
    }


def _profile_estimate(profile: dict[str, Any]) -> dict[str, str] | None:
    """The headline card for an ``edgekit profile`` result."""
    view = _edgekit_profile(profile)
    if not view["available"]:
        return None
    detail = f"cost-model estimate (not measured) {view['ms_range']} ms"
    if view["duty_high"] is not None:
        detail += f"; {100 * view['duty_high']:.0f} % of the {view['hop_s']:g} s hop"
    return {
        "value": f"≈{view['ms_mid']:,.0f} ms",
        "detail": detail,
        "board": view["board"],
        "status": _status(view["keeps_up"]),
    }


def _latency_estimate(profile: dict[str, Any]) -> dict[str, str] | None:
    """The headline number of a profile of unknown shape: the first millisecond figure, by usual key names."""
    for key in ("estimate_ms", "estimated_ms", "latency_ms", "total_ms", "ms_per_inference", "ms"):
        value = profile.get(key)
        if isinstance(value, int | float):
            basis = profile.get("method") or profile.get("source") or key
            return {"value": f"{value:,.1f} ms", "detail": str(basis), "board": profile.get("board"), "status": "info"}
    return None


def _profile_table(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A list of records in the profile (e.g. per op) as a table of its scalar columns."""
    columns = sorted({k for row in rows for k, v in row.items() if not isinstance(v, dict | list)})
    shown = rows[:MAX_PROFILE_ROWS]
    text = [c for c in columns if any(isinstance(row.get(c), str) for row in shown)]
    return {
        "name": name,
        "columns": columns,
        "rows": [[row.get(c) for c in columns] for row in shown],
        "text_columns": text,
        "more": len(rows) - len(shown),
    }


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:300]


def _details_section(manifest: dict[str, Any]) -> Section:
    """Everything needed to reproduce the numbers: versions, seed, config, model hash."""
    quant = (manifest.get("contract") or {}).get("quant") or {}
    rows = [
        ("created", manifest.get("created")),
        ("seed", manifest.get("seed")),
        ("model", f"{manifest.get('model', {}).get('name')} ({_int(manifest.get('model', {}).get('params'))} params)"),
        (
            "int8 model",
            f"{_nbytes(quant['tflite_bytes'])}, sha256 {quant.get('tflite_sha256', '?')}"
            if quant.get("tflite_bytes")
            else None,
        ),
        ("tensor arena", _nbytes(quant["arena_bytes"]) if quant.get("arena_bytes") else None),
        ("ops", ", ".join(quant.get("ops", [])) or None),
    ]
    config = sorted((k, v) for k, v in (manifest.get("config") or {}).items())
    versions = sorted((manifest.get("versions") or {}).items())
    return {"rows": [(k, v) for k, v in rows if v is not None], "config": config, "versions": versions}


# --------------------------------------------------------------------------- charts


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Any, key: str, label: str) -> Any:
    """Inline-ready SVG: no XML prolog or metadata, ids prefixed per chart so charts cannot clash."""
    import matplotlib
    from markupsafe import Markup

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": _RC["svg.hashsalt"], "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata=_SVG_METADATA)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r"<style[^>]*>.*?</style>\s*", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", text)
    text = re.sub(r'\bid="', f'id="{key}-', text)
    text = text.replace('href="#', f'href="#{key}-').replace("url(#", f"url(#{key}-")
    text = text.replace("<svg ", f'<svg class="chart" role="img" aria-label="{html.escape(label)}" ', 1)
    return Markup(text.strip())


def _charting(draw: Callable[..., Any]) -> Callable[..., Any]:
    """Run a chart function under the report's matplotlib style."""

    def wrapper(*args: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(_RC):
            return draw(*args)

    wrapper.__doc__ = draw.__doc__
    return wrapper


@_charting
def _class_chart(classes: list[str], counts: list[int]) -> Any:
    """Windows per class: imbalance is the first thing to know about a data set."""
    fig = _figure(4.6, 2.8)
    ax = fig.add_subplot()
    bars = ax.barh(classes[::-1], counts[::-1], color="#2563eb", height=0.62)
    ax.bar_label(bars, labels=[f"{n:,}" for n in counts[::-1]], padding=3, fontsize=8, color="#374151")
    ax.set_title("Windows per class")
    ax.grid(axis="y", visible=False)
    ax.set_xlim(0, max(counts + [1]) * 1.18)
    return _svg(fig, "classes", "bar chart of windows per class")


@_charting
def _users_chart(per_user: list[tuple[int, int]], partition: dict[int, str]) -> Any:
    """Windows per user, coloured by the partition each user was put in (users never straddle two)."""
    from matplotlib.patches import Patch

    fig = _figure(7.4, 2.8)
    ax = fig.add_subplot()
    users = [u for u, _ in per_user]
    parts = [partition.get(u, "unused") for u in users]
    ax.bar(range(len(users)), [n for _, n in per_user], color=[SPLIT_COLORS[p] for p in parts], width=0.75)
    ax.set_xticks(range(len(users)), [str(u) for u in users], fontsize=7 if len(users) > 24 else 8)
    ax.set_xlim(-0.7, len(users) - 0.3)
    ax.set_xlabel("user id")
    ax.set_title("Windows per user")
    ax.grid(axis="x", visible=False)
    shown = [p for p in ("train", "val", "test", "unused") if p in parts]
    ax.legend(
        handles=[Patch(color=SPLIT_COLORS[p], label=p) for p in shown], loc="upper left", bbox_to_anchor=(1.0, 1.0)
    )
    return _svg(fig, "users", "bar chart of windows per user by partition")


@_charting
def _curves_chart(history: dict[str, list[float]], best_epoch: int | None) -> Any:
    """Loss and accuracy per epoch, train against validation, with the epoch whose weights were kept."""
    fig = _figure(10.4, 2.8)
    axes = fig.subplots(1, 2)
    for ax, metric, title in ((axes[0], "loss", "Loss"), (axes[1], "accuracy", "Accuracy")):
        for key, label, color in ((metric, "train", "#2563eb"), (f"val_{metric}", "validation", "#f59e0b")):
            values = history.get(key)
            if values:
                epochs = range(1, len(values) + 1)
                ax.plot(
                    epochs,
                    values,
                    color=color,
                    label=label,
                    linewidth=1.8,
                    marker="o" if len(values) <= 30 else None,
                    markersize=3.5,
                )
        if best_epoch:
            ax.axvline(best_epoch, color="#6b7280", linestyle=":", linewidth=1.2, label=f"best epoch {best_epoch}")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if metric == "accuracy":
            ax.set_ylim(top=1.0)
        ax.legend(loc="best")
    return _svg(fig, "curves", "training and validation loss and accuracy per epoch")


@_charting
def _f1_chart(classes: list[str], f1: dict[str, list[float]]) -> Any:
    """Per-class F1 of each rung side by side: a class that int8 hurts stands out as a shorter bar."""
    import numpy as np

    fig = _figure(10.4, 2.6)
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    width = 0.8 / len(f1)
    for i, (rung, values) in enumerate(f1.items()):
        ax.bar(
            x + (i - (len(f1) - 1) / 2) * width, values, width * 0.92, label=RUNG_TITLES[rung], color=RUNG_COLORS[rung]
        )
    ax.set_xticks(x, classes)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("F1")
    ax.set_title("Per-class F1 on held-out users")
    ax.grid(axis="x", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig, "f1", "bar chart of per-class F1, float against int8")


@_charting
def _footprint_chart(parts: list[dict[str, Any]]) -> Any:
    """Flash and RAM as stacked bars against the board's capacity (dashed line)."""
    fig = _figure(10.4, 2.4)
    axes = fig.subplots(len(parts), 1)
    for ax, part in zip(axes, parts, strict=True):
        left = 0.0
        capacity = part["capacity"] / 1024
        for name, size, color in sorted(part["items"], key=lambda item: item[0] != "core+runtime"):
            kib = size / 1024
            ax.barh([0], [kib], left=left, height=0.6, color=color, edgecolor="white", linewidth=1)
            if kib >= 0.09 * max(capacity, part["used"] / 1024):
                ax.text(
                    left + kib / 2,
                    0,
                    f"{name}\n{kib:,.0f} KiB",
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="white" if name != "core+runtime" else "#111827",
                )
            left += kib
        ax.axvline(capacity, color="#dc2626", linestyle="--", linewidth=1.4)
        ax.text(
            capacity, 0.42, f" capacity {capacity:,.0f} KiB", color="#dc2626", fontsize=7.5, va="bottom", ha="right"
        )
        ax.set_xlim(0, max(capacity, left) * 1.02)
        ax.set_ylim(-0.45, 0.62)
        ax.set_yticks([0], [f"{part['title']} {part['pct']:.1f} %"])
        ax.grid(axis="y", visible=False)
        ax.tick_params(axis="y", length=0)
    axes[-1].set_xlabel("KiB")
    return _svg(fig, "footprint", "stacked bars of flash and RAM use against the board's capacity")


# --------------------------------------------------------------------------- formatting (template filters)


def _pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{100.0 * float(value):.{digits}f} %"


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def _signed(value: Any, digits: int = 2) -> str:
    """'+0.05', '−0.01' (a real minus sign) and '0.00' for what rounds to zero, never '−0.00'."""
    if value is None:
        return "–"
    text = f"{float(value):+.{digits}f}"
    return text[1:] if float(text) == 0 else text.replace("-", "−")


def _nbytes(value: Any) -> str:
    if value is None:
        return "–"
    n = int(value)
    return f"{n:,} B" if n < 1024 else f"{n / 1024:,.1f} KiB"


def _differ(n: Any) -> str:
    return windows_differ(int(n))


def _int(value: Any) -> str | None:
    return None if value is None else f"{int(value):,}"


def _user_list(users: list[int]) -> str:
    """'29-36' for a contiguous run of ids, else the ids; long lists stay readable."""
    users = sorted(int(u) for u in users)
    if not users:
        return "–"
    if len(users) > 2 and users == list(range(users[0], users[-1] + 1)):
        return f"{users[0]}–{users[-1]}"
    return ", ".join(map(str, users))


def _abbreviations(classes: list[str]) -> list[str]:
    """Shortest unique prefixes of at least 3 letters, for the confusion matrices' column headers."""
    for k in range(3, max((len(c) for c in classes), default=3) + 1):
        short = [c[:k] for c in classes]
        if len(set(short)) == len(short):
            return short
    return list(classes)


def _runtime(parity: dict[str, Any], rung: str) -> str:
    rt = parity.get("runtimes", {}).get(rung, {})
    extra = f", {rt['resolver']}" if rt.get("resolver") else ""
    return f"{rt.get('package', '?')} {rt.get('version', '')}{extra}".strip()


__all__ = ["render_report", "report_context", "write_report"]
