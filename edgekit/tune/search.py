"""Optuna TPE behind a budget gate: candidates over the board's flash/RAM or the latency budget never run.

Ray Tune asks the searcher for a configuration when a slot is free. :class:`BudgetSearch` asks Optuna
(through Ray's ``OptunaSearch``), prices the candidate (:func:`edgekit.tune.budget.candidate_cost`)
and, when it is over budget, tells Optuna the trial scored 0 (so TPE learns to avoid the region),
appends it to ``TUNE/rejected.jsonl`` and asks again. A rejected candidate therefore never becomes a
Ray trial: no trial folder, no result, no training. Accepted configurations carry their cost and
model description to the trial, so workers need no board files.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from .budget import Pricer
from .space import describe, spec_from_params

METRIC = "val_accuracy"
MAX_ATTEMPTS = 200  # rejected proposals in a row before the search gives up: the budget excludes the space


class BudgetSearch(Searcher):
    """Wraps a Ray searcher; every suggestion it passes on fits the board and the latency budget."""

    def __init__(self, inner: Searcher, pricer: Pricer, log: Path) -> None:
        super().__init__(metric=METRIC, mode="max")
        self.inner = inner
        self.pricer = pricer
        self.log = str(log)
        self.accepted = 0
        self.rejected = 0

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return self.inner.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> Any:  # a config dict, None (wait) or Searcher.FINISHED
        for attempt in range(MAX_ATTEMPTS):
            probe = f"{trial_id}-r{attempt}" if attempt else trial_id
            params = self.inner.suggest(probe)
            if params is None or params == Searcher.FINISHED:
                return params
            spec = spec_from_params(params, name=f"tuned_{self.accepted + self.rejected + 1}")
            cost = self.pricer(spec)
            if not cost.reject:
                self.accepted += 1
                return dict(params, model_toml=spec.to_toml(), cost=cost.to_dict(), label=describe(params))
            self.rejected += 1
            self.inner.on_trial_complete(probe, {METRIC: 0.0})
            with open(self.log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"params": params, "label": describe(params), "cost": cost.to_dict()}) + "\n")
        return Searcher.FINISHED

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.inner.on_trial_complete(trial_id, result=result, error=error)

    def save(self, checkpoint_path: str) -> None:
        """One pickle with the counters and the inner searcher's state (OptunaSearch keeps it in __dict__)."""
        state = {"accepted": self.accepted, "rejected": self.rejected, "inner": self.inner.__dict__.copy()}
        with open(checkpoint_path, "wb") as fh:
            pickle.dump(state, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            state = pickle.load(fh)
        self.accepted, self.rejected = state["accepted"], state["rejected"]
        self.inner.__dict__.update(state["inner"])
