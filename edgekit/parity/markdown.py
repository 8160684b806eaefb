"""parity.md and the table ``edgekit parity`` prints: the numbers of parity.json as a reviewer reads them."""

from __future__ import annotations

from typing import Any

from ..wording import plural, windows_differ

RUNGS = ("float", "litert", "tflm")
RUNG_TITLES = {"float": "float Keras", "litert": "int8 LiteRT", "tflm": "int8 TFLM"}
PAIRS = (("float", "litert"), ("float", "tflm"), ("litert", "tflm"))


def _runtime_label(report: dict[str, Any], rung: str) -> str:
    rt = report["runtimes"][rung]
    extra = f", {rt['resolver']}" if rt.get("resolver") else ""
    return f"{rt['package']} {rt['version']}{extra}"


def format_table(report: dict[str, Any]) -> str:
    """The compact table the CLI prints."""
    users = report.get("test_users")
    lines = [f"parity on {report['n_test']} held-out windows" + (f" (users {_users(users)})" if users else "")]
    lines.append(f"{'rung':<14}{'accuracy':>9}{'macro F1':>10}  runtime")
    for rung in RUNGS:
        m = report["rungs"][rung]
        runtime = _runtime_label(report, rung)
        lines.append(f"{RUNG_TITLES[rung]:<14}{m['accuracy']:>9.4f}{m['macro_f1']:>10.4f}  {runtime}")
    lines.append(f"{'step':<18}{'drop pp':>8}{'top-1 agree':>12}{'mean|dp|':>10}{'max|dp|':>9}{'int8 differ':>12}")
    for a, b in PAIRS:
        p = report["pairs"][f"{a}->{b}"]
        differ = str(p["int8_windows_differ"]) if "int8_windows_differ" in p else "-"
        lines.append(
            f"{a + ' -> ' + b:<18}{p['accuracy_drop_pp']:>8.2f}{p['top1_agreement']:>12.4f}"
            f"{p['prob_abs_diff_mean']:>10.4f}{p['prob_abs_diff_max']:>9.4f}{differ:>12}"
        )
    divergence = _divergence_text(report)
    if divergence:
        lines.append(divergence)
    lines += board_lines(report)
    worst = report["layers"]["worst"][:3]
    if worst:
        named = ", ".join(f"{x['layer']} ({x['op']}) {x['rmse_over_scale']:.3f}" for x in worst)
        lines.append(f"worst layers (RMSE/scale): {named}")
    if "tflm_ms_per_inference" in report.get("timing", {}):
        lines.append(f"desktop TFLM: {report['timing']['tflm_ms_per_inference']:.2f} ms/inference")
    if "gates" in report:
        lines.append(_gate_line(report))
    return "\n".join(lines)


def board_lines(report: dict[str, Any]) -> list[str]:
    """One line per board-runtime rung: how many windows differ from desktop TFLM, or why it did not run."""
    board = report.get("board") or {}
    if board.get("skipped"):
        return [f"board runtime: not run ({board['skipped']})"]
    lines = []
    for rung in board.get("rungs", {}).values():
        if rung["status"] != "ran":
            lines.append(f"{rung['title']}: not run ({rung['reason']})")
            continue
        text = (
            f"{rung['title']}: {windows_differ(rung['windows_differ'], rung['windows'])} from desktop TFLM "
            f"(max {plural(rung['max_step'], 'step')}); arena {rung['arena_used_bytes']:,} B"
        )
        if "instructions" in rung:
            text += f"; {rung['instructions']['mean'] / 1e6:.3f} M instructions per inference"
        spots = ", ".join(
            f"window {d['window']} at op {d['op_index']} {d['op']}" for d in rung.get("first_divergence", [])
        )
        lines.append(text + (f"; first differ: {spots}" if spots else ""))
    return lines


def _divergence_text(report: dict[str, Any]) -> str:
    found = report["pairs"]["litert->tflm"].get("first_divergence", [])
    if not found:
        return ""
    spots = ", ".join(f"window {d['window']} at op {d['op_index']} {d['op']} (max {d['max_step']} step)" for d in found)
    return f"LiteRT vs TFLM first differ: {spots}"


def _op_table_md(report: dict[str, Any]) -> list[str]:
    rows = []
    for rung in (report.get("board") or {}).get("rungs", {}).values():
        for op in rung.get("op_instructions", []):
            rows.append(f"| {rung['title']} | {op['op']} | {op['instructions']:,} |")
    if not rows:
        return []
    return ["", "| rung | op (graph order) | instructions per inference |", "|---|---|---:|", *rows]


def _gate_line(report: dict[str, Any]) -> str:
    drop, exact = report["gates"]["accuracy_drop_pp"], report["gates"]["bit_exact"]
    step = report["gates"]["int8_step"]
    bit = "not required" if not exact["required"] else ("ok" if exact["passed"] else "FAILED")
    board = []
    for name, gate in sorted(report["gates"].items()):
        if name.startswith("board_"):
            verdict = (
                ("ok" if gate["passed"] else "FAILED")
                if gate["ran"]
                else ("FAILED (not run)" if not gate["passed"] else "not run")
            )
            board.append(f"board {name[len('board_') :]} {gate['value'] if gate['ran'] else '-'} differ {verdict}")
    return (
        f"gates: accuracy drop {drop['value']:.2f} pp <= {drop['threshold']:.2f} pp "
        f"{'ok' if drop['passed'] else 'FAILED'}; LiteRT vs TFLM max {step['value']} int8 step <= "
        f"{step['threshold']} {'ok' if step['passed'] else 'FAILED'}; "
        f"bit-exact ({windows_differ(exact['value'])}) {bit}" + "".join(f"; {b}" for b in board)
    )


def _users(users: list[int]) -> str:
    if users == list(range(users[0], users[-1] + 1)):
        return f"{users[0]}-{users[-1]}"
    return ",".join(map(str, users))


def render_markdown(report: dict[str, Any]) -> str:
    """parity.md: the same numbers as parity.json, as tables a reviewer can read."""
    classes = report["classes"]
    out = ["# Parity: float vs int8 LiteRT vs int8 TFLM", ""]
    if report.get("tflite_sha256"):
        out += [
            f"Model `model_int8.tflite` sha256 `{report['tflite_sha256']}`, {report['n_test']} held-out windows"
            + (f" from users {_users(report['test_users'])}." if report.get("test_users") else "."),
            "",
        ]
    out += ["| rung | accuracy | macro F1 | runtime |", "|---|---:|---:|---|"]
    for rung in RUNGS:
        m = report["rungs"][rung]
        runtime = _runtime_label(report, rung)
        out.append(f"| {RUNG_TITLES[rung]} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {runtime} |")
    out += [
        "",
        "| step | accuracy drop (pp) | top-1 agreement | mean abs prob diff | max abs prob diff "
        "| int8 windows differ |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for a, b in PAIRS:
        p = report["pairs"][f"{a}->{b}"]
        out.append(
            f"| {a} -> {b} | {p['accuracy_drop_pp']:.2f} | {p['top1_agreement']:.4f} | {p['prob_abs_diff_mean']:.5f} "
            f"| {p['prob_abs_diff_max']:.5f} | {p.get('int8_windows_differ', '-')} |"
        )
    divergence = _divergence_text(report)
    if divergence:
        out += ["", divergence + "."]
    board = board_lines(report)
    if board:
        out += ["", "## The board's own runtime", "", *[f"- {line}" for line in board]]
        out += _op_table_md(report)
    out += [
        "",
        "## Per-class F1",
        "",
        "| class | float | LiteRT | TFLM | change float -> TFLM |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in classes:
        f = [report["rungs"][r]["f1"][c] for r in RUNGS]
        change = report["pairs"]["float->tflm"]["f1_change"][c]
        out.append(f"| {c} | {f[0]:.4f} | {f[1]:.4f} | {f[2]:.4f} | {change:+.4f} |")
    for rung in ("float", "tflm"):
        out += [
            "",
            f"## Confusion matrix, {RUNG_TITLES[rung]} (rows: true, columns: predicted)",
            "",
            "| true \\ predicted | " + " | ".join(classes) + " |",
            "|---|" + "---:|" * len(classes),
        ]
        for c, row in zip(classes, report["rungs"][rung]["confusion"], strict=True):
            out.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    layers = report["layers"]
    if layers["all"]:
        out += [
            "",
            f"## Per-layer int8 error ({layers['windows']} test windows, QuantizationDebugger)",
            "",
            "| op | layer | RMSE/scale | RMSE | scale | max abs error |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for x in layers["all"]:
            ros = "-" if x["rmse_over_scale"] is None else f"{x['rmse_over_scale']:.3f}"
            out.append(
                f"| {x['op']} | {x['layer']} | {ros} | {x['rmse']:.5f} | {x['scale']:.5f} | {x['max_abs_error']:.5f} |"
            )
    if "gates" in report:
        out += ["", "## Gates", "", _gate_line(report), "", f"Passed: **{'yes' if report['passed'] else 'no'}**"]
    out.append("")
    return "\n".join(out)
