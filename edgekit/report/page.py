"""The page: read the run folder's files into typed records once, build every section, render the template.

Each input is read on its own and turned into its record; a file that is missing or does not have the
shape its record demands becomes a note in the sections that need it (naming the file and the fix), so
one odd file never costs the reader the other sections, and no section has to guess at keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .. import __version__, artifacts, progress
from ..artifacts import HISTORY, MANIFEST, METRICS, PARITY_JSON, REPORT_HTML
from ..contract import Contract
from ..errors import EdgekitError
from ..firmware.render import environment
from ..records import BuildSummary, DataSource, ParityReport, ProfileResult, Record, TrainingSection
from ..wording import plural
from .formatting import differ, nbytes, num, pct, signed
from .latency import footprint_section, latency_section, status
from .sections import (
    accuracy_section,
    data_section,
    details_section,
    gate_title,
    layers_section,
    parity_section,
    training_section,
)

TEMPLATE = "report.html.j2"
UNKNOWN_VERDICT = {"status": "none", "text": "The parity verdict could not be read from parity.json."}
R = TypeVar("R", bound=Record)


@dataclass
class Inputs:
    """Everything the report reads, typed; ``problems`` says why an input is absent, by input name."""

    raw: dict[str, Any]
    data: DataSource | None = None
    training: TrainingSection | None = None
    contract: Contract | None = None
    build: BuildSummary | None = None
    profile: ProfileResult | None = None
    parity: ParityReport | None = None
    metrics: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    parity_unreadable: bool = False  # parity.json is there but is not a parity report
    problems: dict[str, str | None] = field(default_factory=dict)


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
    env.filters.update(pct=pct, num=num, nbytes=nbytes, signed=signed)
    return env.get_template(f"report/{TEMPLATE}").render(**report_context(run_dir))


def report_context(run_dir: Path) -> dict[str, Any]:
    """Everything the template shows, section by section; a missing input becomes a ``missing`` note."""
    i = read_inputs(Path(run_dir))
    split = i.raw.get("split") if isinstance(i.raw.get("split"), dict) else {}
    sections = {
        "data": data_section(i.data, split or {}, i.training, i.contract),
        "training": training_section(i.history, i.problems.get("history"), i.training),
        "accuracy": accuracy_section(i.metrics, i.problems.get("metrics"), i.parity),
        "parity": parity_section(i.parity, i.problems.get("parity")),
        "layers": layers_section(i.parity, i.problems.get("parity")),
        "footprint": footprint_section(i.build, i.profile),
        "latency": latency_section(i.profile, i.problems.get("profile"), i.parity),
    }
    for section in sections.values():
        section.setdefault("missing", None)
    details = details_section(i.raw, i.contract)
    details.setdefault("missing", None)
    return {
        "run": _run_summary(i),
        "cards": _cards(i, sections),
        "verdict": _verdict(i),
        "sections": sections,
        "details": details,
        "version": __version__,
    }


# --------------------------------------------------------------------------- inputs


def read_inputs(run_dir: Path) -> Inputs:
    raw = artifacts.load_manifest(run_dir)
    where = str(run_dir / MANIFEST)
    i = Inputs(raw=raw)
    i.data, i.problems["data"] = _section(DataSource, raw, "data", where)
    i.training, i.problems["training"] = _section(TrainingSection, raw, "training", where)
    i.build, i.problems["build"] = _section(BuildSummary, raw, "build", where)
    i.profile, i.problems["profile"] = _section(ProfileResult, raw, "profile", where)
    if isinstance(raw.get("contract"), dict):
        try:
            i.contract = Contract.from_dict(raw["contract"])
        except EdgekitError as exc:
            i.problems["contract"] = str(exc)
    i.history, i.problems["history"] = _read_optional(run_dir / HISTORY, "history.json", "edgekit train")
    i.metrics, i.problems["metrics"] = _read_optional(run_dir / METRICS, "metrics.json", "edgekit train")
    how = "edgekit quantize RUN && edgekit parity RUN"
    parity, i.problems["parity"] = _read_optional(run_dir / PARITY_JSON, "parity.json", how)
    i.parity_unreadable = (run_dir / PARITY_JSON).is_file() and parity is None
    if parity is not None:
        try:
            i.parity = ParityReport.from_dict(parity, str(run_dir / PARITY_JSON))
        except EdgekitError as exc:
            i.problems["parity"], i.parity_unreadable = f"{exc}.", True
    if i.profile is None and i.problems["profile"] is None:
        i.profile, i.problems["profile"] = _profile_now(run_dir, i.build)
    return i


def _section(cls: type[R], raw: dict[str, Any], key: str, where: str) -> tuple[R | None, str | None]:
    """Manifest section ``key`` as record ``cls``: (record, None), (None, None) when absent, or the problem."""
    if raw.get(key) is None:
        return None, None
    try:
        return cls.from_dict(raw[key], f"{where}: {key}"), None
    except EdgekitError as exc:
        return None, f"{exc}."


def _read_optional(path: Path, name: str, how: str) -> tuple[Any, str | None]:
    """A JSON file that may not exist yet: (content, None) or (None, what to do about it)."""
    if not path.is_file():
        return None, f"No {name} in this folder yet; create it with '{how}'."
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{name} cannot be read ({exc}); re-create it with '{how}'."
    if not isinstance(content, dict):
        return None, f"{name} is not a JSON object; re-create it with '{how}'."
    return content, None


def _profile_now(run_dir: Path, build: BuildSummary | None) -> tuple[ProfileResult | None, str | None]:
    """``edgekit profile`` on a quantized run without a profile section (a run not built yet).

    Only a quantized run is profiled here: profiling a float-only run exports it to int8 in memory,
    which would make writing the report as slow as quantizing. A profiler problem is a note, not a failure.
    """
    if not (run_dir / artifacts.MODEL_TFLITE).is_file():
        return None, None
    from ..profile import profile_run
    from ..runtimes import capture_c_output

    try:
        # TensorFlow's C++ start-up chatter is not part of the report's output.
        with progress.step("estimating the latency on the board (edgekit profile)"), capture_c_output():
            result = profile_run(run_dir)
        return ProfileResult.from_dict(result), None
    except Exception as exc:  # noqa: BLE001 - a profiler problem must not cost the reader the whole report
        first = (str(exc).splitlines() or [""])[0][:300]
        return None, f"The latency estimate is not available ({type(exc).__name__}: {first})."


# --------------------------------------------------------------------------- header


def _run_summary(i: Inputs) -> dict[str, Any]:
    model: dict[str, Any] = i.raw["model"] if isinstance(i.raw.get("model"), dict) else {}
    return {
        "model": model.get("name", "?"),
        "params": model.get("params"),
        "data_kind": i.data.kind if i.data else "?",
        "data_spec": (i.data.spec or i.data.path) if i.data else None,
        "seed": i.raw.get("seed"),
        "created": i.raw.get("created"),
        "board": i.build.board if i.build else None,
        "fqbn": i.build.fqbn if i.build else None,
    }


def _verdict(i: Inputs) -> dict[str, str]:
    """The one line at the top: did the int8 model keep its promise?"""
    parity = i.parity
    if i.parity_unreadable:
        return UNKNOWN_VERDICT
    if parity is None or parity.gates is None:
        return {"status": "none", "text": "Parity not checked yet: the int8 model has not been compared with float."}
    failed = [name for name, gate in sorted(parity.gates.items()) if not gate.passed]
    if failed:
        return {"status": "fail", "text": f"Parity gate failed: {', '.join(gate_title(g) for g in failed)}."}
    if i.build is not None and not i.build.fit.get("fits", True):
        return {"status": "fail", "text": "Parity gates passed, but the model does not fit the board."}
    exact = parity.gates.get("bit_exact")
    if exact is not None and exact.value:
        step = parity.gates["int8_step"].value if "int8_step" in parity.gates else None
        most = plural(step, "int8 step") if isinstance(step, int) else "? int8 steps"
        return {
            "status": "ok",
            "text": f"Parity gates passed; LiteRT and TFLM were not required to be bit-exact "
            f"and {differ(exact.value)} (by at most {most}).",
        }
    return {"status": "ok", "text": "All parity gates passed: int8 on TFLM agrees with the float model."}


def _cards(i: Inputs, sections: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Headline numbers; a card whose input is missing says 'not yet' rather than disappearing."""
    cards = []
    metrics = i.metrics
    if metrics is not None and "accuracy" in metrics:
        cards.append(
            _card(
                "Float test accuracy",
                pct(metrics["accuracy"]),
                f"macro F1 {num(metrics.get('macro', {}).get('f1-score'))}, {metrics.get('n', '?')} held-out windows",
            )
        )
    else:
        cards.append(_card("Float test accuracy", "not yet", "run 'edgekit train'", "none"))
    cards += _parity_cards(i.parity)
    footprint = sections["footprint"]
    if not footprint.get("missing"):
        for part in footprint["parts"]:
            cards.append(
                _card(
                    f"{part['title']} on {footprint['board']}",
                    f"{part['pct']:.1f} %",
                    f"{nbytes(part['used'])} of {nbytes(part['capacity'])}",
                    status(part["fits"]),
                )
            )
    else:
        cards.append(_card("Board fit", "not yet", "run 'edgekit build --board NAME'", "none"))
    latency = sections["latency"].get("estimate")
    if latency:
        where = f"on {latency['board']}" if latency.get("board") else "on the board"
        cards.append(_card(f"Latency {where}", latency["value"], latency["detail"], latency["status"]))
    return cards


def _parity_cards(parity: ParityReport | None) -> list[dict[str, str]]:
    if parity is None:
        return [_card("int8 TFLM accuracy", "not yet", "run 'edgekit quantize' and 'edgekit parity'", "none")]
    gates = parity.gates or {}
    drop = parity.pairs["float->tflm"].accuracy_drop_pp
    gate = gates.get("accuracy_drop_pp")
    cards = [
        _card(
            "int8 TFLM accuracy",
            pct(parity.rungs["tflm"].accuracy),
            f"{signed(-drop)} pp vs float",
            status(gate.passed if gate else None),
        )
    ]
    exact = gates.get("bit_exact")
    n = parity.runtime_pair.int8_windows_differ
    if n == 0:
        cards.append(_card("LiteRT vs TFLM", "bit-exact", f"int8 outputs on {parity.n_test} windows", "ok"))
    else:
        verdict = "fail" if exact is not None and exact.passed is False else "info"
        value = f"{'?' if n is None else n} / {parity.n_test}"
        cards.append(_card("LiteRT vs TFLM", value, "windows with different int8 outputs", verdict))
    return cards


def _card(label: str, value: str, detail: str, state: str = "info") -> dict[str, str]:
    return {"label": label, "value": value, "detail": detail, "status": state}
