"""The experiment registry: a name -> (config dataclass, training function) table.

An experiment's `train(config, logger)` trains and reports through the logger (per-epoch
metrics, progress, artifacts). Later tabs register theirs with `register(...)` in a module that
`core.experiments` imports, and the training launcher and the CLI pick them up.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from core.config import build_config

NAMES_NO_VARIANT = ("seed", "device", "resume", "data_root")  # config keys that name no variant


@dataclass(frozen=True)
class Family:
    """A group of experiments on one data set or one question, as the Training tab lists them."""

    title: str
    purpose: str


FAMILIES: dict[str, Family] = {
    "loan": Family("Loan default", "tabular MLPs predicting loan default: Exp 1-5 (ROC-AUC)"),
    "digits": Family(
        "Digits",
        "scikit-learn's 1,797 handwritten digits: the four fine-tuning recipes and a CNN "
        "from scratch (the shipped digit model's recipe)",
    ),
    "fashion": Family(
        "Fashion-MNIST", "70,000 clothing pictures: the four fine-tuning recipes and a CNN"
    ),
    "mnist": Family("MNIST", "70,000 handwritten digits: the four fine-tuning recipes"),
    "afhq": Family("AFHQ", "animal faces (cat, dog, wild): the four fine-tuning recipes"),
    "self-supervised": Family(
        "Self-supervised",
        "context-prediction pretraining without labels, then a classifier on 100/50/10 % labels",
    ),
    "pseudo-labels": Family(
        "Pseudo-labeling", "10 % of the labels, a teacher labels the rest for a student"
    ),
}


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
    # Its group in FAMILIES (the Training tab lists experiments by family).
    family: str = "loan"
    # What to provide when its data is not on this machine (None: the data is here); cheap,
    # since the Training tab asks it of every experiment.
    data_missing: Callable[[], str | None] | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown family {self.family!r}; families: {', '.join(FAMILIES)}")

    def missing_data(self) -> str | None:
        """What to provide before this experiment can run here; None when it can."""
        return self.data_missing() if self.data_missing is not None else None

    def make_config(self, values: dict[str, Any] | None = None) -> Any:
        """This experiment's config: its defaults, overridden by `values` (strings are parsed)."""
        return build_config(self.config_type, {**self.defaults, **(values or {})})

    def changed_values(self, config: dict[str, Any]) -> dict[str, Any]:
        """The values of `config` that differ from this experiment's defaults: what names a
        variant (seed, device, resume and data_root name none)."""
        defaults = asdict(self.make_config())
        return {
            key: value
            for key, value in config.items()
            if key not in NAMES_NO_VARIANT and defaults.get(key) != value
        }

    def checked_config(self, values: dict[str, Any] | None = None) -> Any:
        """`make_config`, then `check_data`: raises ValueError for bad values or unusable data
        (the whole of `missing_data` when the data is not here and no data_root names it)."""
        config = self.make_config(values)
        missing = None if getattr(config, "data_root", "") else self.missing_data()
        if missing:
            raise ValueError(missing)
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
