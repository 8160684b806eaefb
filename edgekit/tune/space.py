"""The search space: the compact family of architectures plus the recipe, as Optuna define-by-run.

A candidate is 2-4 conv blocks (filters, kernel, and the pooling after each block), the global
average pool, an optional hidden dense layer, a dropout rate and a training recipe. The compact model
is a point of this space (blocks 3: 32/10/max2, 64/10/max2, 64/5/none; no dense; dropout 0.5), so
the search can only do as well or better on validation if TPE finds its region; it is suggested first.
"""

from __future__ import annotations

from typing import Any

from ..modelspec import Layer, ModelSpec
from ..recipe import recipe_names

FILTERS = (8, 16, 24, 32, 48, 64, 96)
KERNELS = (3, 5, 7, 10)
POOLS = ("none", "max2", "avg2")
DENSE = (0, 16, 32, 64)
DROPOUT = (0.25, 0.5)
MAX_BLOCKS = 4

COMPACT_POINT: dict[str, Any] = {
    "blocks": 3,
    "filters_1": 32,
    "kernel_1": 10,
    "pool_1": "max2",
    "filters_2": 64,
    "kernel_2": 10,
    "pool_2": "max2",
    "filters_3": 64,
    "kernel_3": 5,
    "pool_3": "none",
    "dense": 0,
    "dropout": 0.5,
    "recipe": "seed",
}


def define_space(trial: Any) -> None:
    """Optuna define-by-run: only the blocks that exist get parameters, so TPE is not fed dead ones."""
    blocks = trial.suggest_int("blocks", 2, MAX_BLOCKS)
    for i in range(1, blocks + 1):
        trial.suggest_categorical(f"filters_{i}", FILTERS)
        trial.suggest_categorical(f"kernel_{i}", KERNELS)
        trial.suggest_categorical(f"pool_{i}", POOLS)
    trial.suggest_categorical("dense", DENSE)
    trial.suggest_categorical("dropout", DROPOUT)
    trial.suggest_categorical("recipe", recipe_names())


def spec_from_params(params: dict[str, Any], name: str = "tuned") -> ModelSpec:
    """A candidate's parameters -> the model description ``edgekit build --model`` reads."""
    layers: list[Layer] = []
    pools = 0
    for i in range(1, int(params["blocks"]) + 1):
        layers.append(
            Layer(kind="conv", name=f"conv{i}", filters=int(params[f"filters_{i}"]), kernel=int(params[f"kernel_{i}"]))
        )
        pool = params[f"pool_{i}"]
        if pool != "none":
            pools += 1
            kind = "maxpool" if pool.startswith("max") else "avgpool"
            layers.append(Layer(kind=kind, name=f"pool{pools}", size=int(pool[3:])))
    layers.append(Layer(kind="gap", name="gap"))
    if int(params["dense"]):
        layers.append(Layer(kind="dense", name="dense1", units=int(params["dense"])))
    layers.append(Layer(kind="dropout", name="dropout", rate=float(params["dropout"])))
    return ModelSpec(name=name, layers=tuple(layers))


def describe(params: dict[str, Any]) -> str:
    """A short architecture label: '32k10m-64k10m-64k5 d0 p0.5 seed'."""
    blocks = []
    for i in range(1, int(params["blocks"]) + 1):
        pool = {"none": "", "max2": "m", "avg2": "a"}[params[f"pool_{i}"]]
        blocks.append(f"{params[f'filters_{i}']}k{params[f'kernel_{i}']}{pool}")
    head = f" fc{params['dense']}" if int(params["dense"]) else ""
    return f"{'-'.join(blocks)}{head} p{params['dropout']} {params['recipe']}"
