"""Trial records, the Pareto front (accuracy up, latency and flash down) and the per-trial progress line."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any

from ray.tune import Callback


@dataclass(frozen=True)
class TrialRecord:
    """One trained candidate as the report shows it (validation users only; test users never enter)."""

    trial_id: str
    label: str
    val_accuracy: float
    latency_ms: float
    flash_bytes: int
    ram_bytes: int
    params: int
    epochs_run: int
    epochs: int
    recipe: str
    model_toml: str
    latency_source: str = "estimate"  # "measured" on the emulated core, or the cost model's "estimate"

    @property
    def kept(self) -> bool:
        """Trained to the last epoch (ASHA did not prune it)."""
        return self.epochs_run >= self.epochs

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), kept=self.kept)


def record(trial_id: str, config: dict[str, Any], result: dict[str, Any]) -> TrialRecord:
    cost = config["cost"]
    return TrialRecord(
        trial_id=trial_id,
        label=config.get("label", ""),
        val_accuracy=float(result.get("val_accuracy", 0.0)),
        latency_ms=float(cost["latency_ms"]),
        flash_bytes=int(cost["flash_bytes"]),
        ram_bytes=int(cost["ram_bytes"]),
        params=int(cost["params"]),
        epochs_run=int(result.get("epoch", 0)),
        epochs=int(result.get("epochs", 0)) or 1,
        recipe=str(config["recipe"]),
        model_toml=config["model_toml"],
        latency_source=str(cost.get("latency_source", "estimate")),
    )


def dominates(a: TrialRecord, b: TrialRecord) -> bool:
    no_worse = a.val_accuracy >= b.val_accuracy and a.latency_ms <= b.latency_ms and a.flash_bytes <= b.flash_bytes
    better = a.val_accuracy > b.val_accuracy or a.latency_ms < b.latency_ms or a.flash_bytes < b.flash_bytes
    return no_worse and better


def pareto_front(records: list[TrialRecord]) -> list[TrialRecord]:
    """Kept trials no other kept trial beats on all three objectives; most accurate first."""
    kept = [r for r in records if r.kept]
    front = [r for r in kept if not any(dominates(o, r) for o in kept if o is not r)]
    return sorted(front, key=lambda r: (-r.val_accuracy, r.latency_ms, r.flash_bytes, r.trial_id))


def best(records: list[TrialRecord]) -> TrialRecord | None:
    """The front's most accurate candidate (ties: faster, then smaller)."""
    front = pareto_front(records)
    return front[0] if front else None


def front_line(front: list[TrialRecord]) -> str:
    return "front: " + (
        ", ".join(f"{r.val_accuracy:.3f}@{r.latency_ms:.1f}ms/{r.flash_bytes / 1024:.0f}KB" for r in front) or "-"
    )


class ProgressLines(Callback):
    """One stdout line per finished trial, then the current front (runs in the driver)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.records: dict[str, TrialRecord] = {}

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        if "val_accuracy" not in result:
            return
        rec = record(trial.trial_id, trial.config, result)
        self.records[trial.trial_id] = rec
        state = "kept" if rec.kept else f"pruned@{rec.epochs_run}"
        print(
            f"trial {len(self.records)}/{self.total} {rec.label}: val_acc {rec.val_accuracy:.3f}  "
            f"latency {rec.latency_ms:.1f} ms ({rec.latency_source})  flash {rec.flash_bytes:,} B  {state}",
            flush=True,
        )
        print("  " + front_line(pareto_front(list(self.records.values()))), flush=True)
        sys.stdout.flush()
