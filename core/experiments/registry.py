"""The experiment registry: a name -> (config dataclass, training function) table.

An experiment's `train(config, logger)` trains and reports through the logger (per-epoch
metrics, progress, artifacts). Later tabs register theirs with `register(...)` in a module that
`core.experiments` imports, and the training launcher and the CLI pick them up.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.config import build_config


@dataclass(frozen=True)
class Experiment:
    """One launchable experiment."""

    name: str
    description: str
    config_type: type
    train: Callable[[Any, Any], None]
    # Values that differ from the config dataclass's defaults for this experiment.
    defaults: dict[str, Any] = field(default_factory=dict)
    # The per-epoch metric to plot and compare, without its split prefix (e.g. "roc_auc").
    metric: str = "roc_auc"
    # A sweep picks its best run by this final metric (higher is better): never the test split.
    selection_metric: str = "val_roc_auc"
    # The grid a sweep of this experiment explores by default (empty: no default sweep).
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # A quick look at the data a config names (file exists, target column fits), run before a
    # run is queued so that the user hears of a bad upload at once, not from a failed run.
    check_data: Callable[[Any], None] | None = None

    def make_config(self, values: dict[str, Any] | None = None) -> Any:
        """This experiment's config: its defaults, overridden by `values` (strings are parsed)."""
        return build_config(self.config_type, {**self.defaults, **(values or {})})

    def checked_config(self, values: dict[str, Any] | None = None) -> Any:
        """`make_config`, then `check_data`: raises ValueError for bad values or unusable data."""
        config = self.make_config(values)
        if self.check_data is not None:
            self.check_data(config)
        return config


_REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    if experiment.name in _REGISTRY:
        raise ValueError(f"experiment {experiment.name!r} is already registered")
    _REGISTRY[experiment.name] = experiment
    return experiment


def unregister(name: str) -> None:
    """Remove an experiment (one registered for a test or a notebook session)."""
    _REGISTRY.pop(name, None)


def get_experiment(name: str) -> Experiment:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown experiment {name!r}; registered: {', '.join(sorted(_REGISTRY))}"
        ) from None


def list_experiments() -> list[Experiment]:
    return list(_REGISTRY.values())
