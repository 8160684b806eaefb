"""The report's sections about the data, the training and the parity ladder, each from typed records.

A section is a dict the template reads; a section whose input is missing or unreadable is
``{"missing": "what to do"}``, said by the caller that read the input (see :mod:`edgekit.report.page`).
"""

from __future__ import annotations

from typing import Any

from ..contract import Contract
from ..records import DataSource, LayerError, ParityReport, TrainingSection
from .charts import RUNG_COLORS, RUNG_TITLES, SPLIT_COLORS, class_chart, curves_chart, f1_chart, users_chart
from .formatting import abbreviations, differ, integer, nbytes, signed, user_list

RUNGS = ("float", "litert", "tflm")
ROUNDING_NOISE = 0.29  # RMSE/scale of a uniform error of one quantization step: pure rounding

Section = dict[str, Any]


def data_section(
    data: DataSource | None, split: dict[str, Any], training: TrainingSection | None, contract: Contract | None
) -> Section:
    if data is None or data.windows_per_class is None:
        return {"missing": "The manifest has no data summary; re-create the run with 'edgekit train'."}
    per_class = data.windows_per_class
    classes = list(data.classes or per_class)
    per_user = sorted(((int(u), n) for u, n in (data.windows_per_user or {}).items()), key=lambda x: x[0])
    partition = {int(u): part for part in ("train", "val", "test") for u in split.get(part, [])}
    source = [
        ("source", data.kind),
        ("file", data.path or data.spec),
        ("sha256", data.sha256),
        ("records", integer(data.records)),
        ("windows", integer(data.windows)),
        (
            "window",
            f"{contract.window} samples, hop {contract.hop}, {contract.rate_hz} Hz" if contract is not None else None,
        ),
        ("units", data.units),
    ]
    counts: dict[str, int | None] = {"train": None, "val": None, "test": None}
    if training is not None:
        counts = {"train": training.train_windows, "val": training.val_windows, "test": training.test_windows}
    splits = [
        {"name": part, "users": user_list(split.get(part, [])), "windows": counts[part], "color": SPLIT_COLORS[part]}
        for part in ("train", "val", "test")
        if part in split
    ]
    return {
        "source": [(k, v) for k, v in source if v not in (None, "")],
        "classes_chart": class_chart(classes, [int(per_class.get(c, 0)) for c in classes]),
        "users_chart": users_chart(per_user, partition) if per_user else None,
        "splits": splits,
        "skipped": _skipped(data.skipped),
    }


def _skipped(skipped: dict[str, Any] | None) -> dict[str, Any]:
    """Lines the reader dropped, by reason; pre-cut windows (.npz) have no lines to skip."""
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


def training_section(history: dict[str, Any] | None, problem: str | None, training: TrainingSection | None) -> Section:
    if history is None:
        return {"missing": problem}
    loss = history.get("loss")
    if not isinstance(loss, list) or not loss:
        return {"missing": "history.json has no epochs; retrain with 'edgekit train'."}
    best = training.best_epoch if training is not None else None
    facts = [
        ("epochs run", training.epochs_run if training is not None else len(loss)),
        ("best epoch (weights kept)", best),
        ("training time", f"{training.wall_time_s} s" if training is not None else None),
        (
            "windows train / val / test",
            " / ".join(str(n) for n in (training.train_windows, training.val_windows, training.test_windows))
            if training is not None
            else "? / ? / ?",
        ),
        ("reused model from", training.reused_from if training is not None else None),
    ]
    return {"chart": curves_chart(history, best), "facts": [(k, v) for k, v in facts if v is not None]}


def accuracy_section(metrics: dict[str, Any] | None, problem: str | None, parity: ParityReport | None) -> Section:
    """Per-class precision/recall of the float model, with F1 of every rung side by side."""
    if metrics is None:
        return {"missing": problem}
    classes = metrics["classes"]
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
        if parity is not None:
            row["f1"] = {r: parity.rungs[r].f1[c] for r in RUNGS}
            row["change"] = row["f1"]["tflm"] - row["f1"]["float"]
        rows.append(row)
    f1 = {r: [row["f1"][r] for row in rows] for r in (RUNGS if parity is not None else ("float",))}
    return {
        "rows": rows,
        "int8": parity is not None,
        "chart": f1_chart(classes, f1),
        "accuracy": metrics["accuracy"],
        "loss": metrics.get("loss"),
        "macro_f1": metrics.get("macro", {}).get("f1-score"),
        "note": None if parity is not None else "int8 columns appear once 'edgekit parity' has run.",
    }


def parity_section(parity: ParityReport | None, problem: str | None) -> Section:
    if parity is None:
        return {"missing": problem}
    rungs = [
        {
            "name": RUNG_TITLES[r],
            "accuracy": parity.rungs[r].accuracy,
            "macro_f1": parity.rungs[r].macro_f1,
            "runtime": runtime_label(parity, r),
            "color": RUNG_COLORS[r],
        }
        for r in RUNGS
    ]
    pairs = []
    for key, pair in parity.pairs.items():
        upper, lower = key.split("->")
        pairs.append({"step": f"{RUNG_TITLES[upper]} → {RUNG_TITLES[lower]}", **pair.to_dict()})
    gates = parity.gates or {}
    runtime_gates = [gates[k] for k in ("int8_step", "bit_exact") if k in gates]
    return {
        "n_test": parity.n_test,
        "users": user_list(parity.test_users or []),
        "n_users": len(parity.test_users or []),
        "rungs": rungs,
        "pairs": pairs,
        "gates": _gates(parity),
        "passed": parity.passed,
        "confusions": _confusions(parity),
        "divergence": parity.runtime_pair.first_divergence or [],
        # the differing windows are a finding, not a failure, unless a runtime gate failed on them
        "divergence_failed": any(not g.passed for g in runtime_gates),
        "board": _board_rungs(parity),
        "saturated": parity.input_quantization.get("saturated_fraction"),
    }


def _board_rungs(parity: ParityReport) -> list[dict[str, Any]]:
    """The board-runtime rungs: windows that differ from desktop TFLM, or why a rung did not run."""
    rows = []
    for rung in parity.board.rungs.values():
        instructions = (rung.instructions or {}).get("mean") if rung.ran else None
        rows.append(
            {
                "title": rung.title,
                "ran": rung.ran,
                "reason": rung.reason,
                "windows": rung.windows,
                "differ": rung.windows_differ,
                "max_step": rung.max_step,
                "arena": rung.arena_used_bytes,
                "instructions": instructions,
                "flags": rung.flags,
                "divergence": rung.first_divergence or [],
            }
        )
    if not rows and parity.board.skipped:
        rows.append({"title": "board runtime", "ran": False, "reason": parity.board.skipped})
    return rows


def _gates(parity: ParityReport) -> list[dict[str, Any]]:
    gates = parity.gates
    if not gates:
        return []
    rows = []
    if (drop := gates.get("accuracy_drop_pp")) is not None:
        rows.append(
            {
                "name": gate_title("accuracy_drop_pp"),
                "value": f"{signed(drop.value)} pp ({RUNG_TITLES.get(drop.rung or '', drop.rung)})",
                "rule": f"≤ {drop.threshold:.2f} pp",
                "passed": drop.passed,
            }
        )
    if (step := gates.get("int8_step")) is not None:
        rows.append(
            {
                "name": gate_title("int8_step"),
                "value": f"max {step.value} int8 step",
                "rule": f"≤ {step.threshold} step",
                "passed": step.passed,
            }
        )
    if (exact := gates.get("bit_exact")) is not None:
        rows.append(
            {
                "name": gate_title("bit_exact"),
                "value": differ(exact.value),
                "rule": "0 windows differ" if exact.required is not False else "not required",
                "passed": exact.passed,
            }
        )
    for key, gate in parity.board_gates().items():
        rung = parity.board.rungs.get(key)
        rows.append(
            {
                "name": f"{rung.title if rung else key} = desktop TFLM",
                "value": differ(gate.value) if gate.ran else f"not run ({gate.reason})",
                "rule": "0 windows differ" + ("; must run" if gate.required else ""),
                "passed": gate.passed,
            }
        )
    return rows


def gate_title(name: str) -> str:
    return {
        "accuracy_drop_pp": "accuracy drop float → int8",
        "int8_step": "LiteRT vs TFLM int8 difference",
        "bit_exact": "LiteRT = TFLM bit-exact",
    }.get(name, name)


def _confusions(parity: ParityReport) -> list[dict[str, Any]]:
    """Row-normalised shading (recall per true class); int8 cells that differ from float are marked."""
    classes = parity.classes
    short = abbreviations(classes)
    base = parity.rungs["float"].confusion
    matrices = []
    for rung in RUNGS:
        rows = []
        for i, row in enumerate(parity.rungs[rung].confusion):
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
                "accuracy": parity.rungs[rung].accuracy,
                "columns": list(zip(short, classes, strict=True)),
                "rows": rows,
                "color": RUNG_COLORS[rung],
            }
        )
    return matrices


def _shade(share: float, diagonal: bool) -> float:
    """Cell colour strength: linear on the diagonal, square-root off it so a 5 % confusion is still visible."""
    return round(0.1 + 0.8 * share if diagonal else 0.85 * share**0.5, 3)


def layers_section(parity: ParityReport | None, problem: str | None) -> Section:
    if parity is None:
        return {"missing": problem}
    worst = parity.layers.worst
    if not worst:
        return {"missing": "No per-layer analysis in parity.json (it was run with --layer-windows 0)."}
    # The scale reaches at least 3x rounding noise, so layers at noise level look short, not alarming.
    full = max(max(x.rmse_over_scale or 0.0 for x in worst), 3 * ROUNDING_NOISE)
    rows = [
        dict(x.to_dict(), layer=layer_label(x), bar=round(100 * (x.rmse_over_scale or 0.0) / full, 1)) for x in worst
    ]
    return {
        "rows": rows,
        "windows": parity.layers.windows,
        "total": len(parity.layers.all),
        "noise": ROUNDING_NOISE,
        "noise_bar": round(100 * ROUNDING_NOISE / full, 1),
    }


def layer_label(x: LayerError) -> str:
    """The Keras layer a tensor belongs to, saying so when the op is one the converter added around it.

    TFLite runs a Conv1D as a Conv2D: the converter adds a RESHAPE (ExpandDims) before it and one (Squeeze)
    after it, named after the layer. Shown as plain 'conv1' next to RESHAPE it read as if conv1 were a reshape.
    """
    if x.op != "RESHAPE":
        return x.layer
    first = x.tensor.split(";")[0]
    if "ExpandDims" in first:
        return f"{x.layer} (input reshape added by the converter)"
    if "Squeeze" in first:
        return f"{x.layer} (output reshape added by the converter)"
    return x.layer


def runtime_label(parity: ParityReport, rung: str) -> str:
    rt = parity.runtimes.get(rung, {})
    extra = f", {rt['resolver']}" if rt.get("resolver") else ""
    return f"{rt.get('package', '?')} {rt.get('version', '')}{extra}".strip()


def details_section(raw: dict[str, Any], contract: Contract | None) -> Section:
    """Everything needed to reproduce the numbers: versions, seed, config, model hash."""
    quant = contract.quant if contract is not None else None
    model: dict[str, Any] = raw["model"] if isinstance(raw.get("model"), dict) else {}
    rows = [
        ("created", raw.get("created")),
        ("seed", raw.get("seed")),
        ("model", f"{model.get('name')} ({integer(model.get('params'))} params)"),
        (
            "int8 model",
            f"{nbytes_or_none(quant.tflite_bytes)}, sha256 {quant.tflite_sha256 or '?'}"
            if quant is not None and quant.tflite_bytes
            else None,
        ),
        ("tensor arena", nbytes_or_none(quant.arena_bytes) if quant is not None and quant.arena_bytes else None),
        ("ops", ", ".join(quant.ops) if quant is not None and quant.ops else None),
    ]
    config = sorted((k, v) for k, v in (raw.get("config") or {}).items())
    versions = sorted((raw.get("versions") or {}).items())
    return {"rows": [(k, v) for k, v in rows if v is not None], "config": config, "versions": versions}


def nbytes_or_none(value: int | None) -> str | None:
    return None if value is None else nbytes(value)
