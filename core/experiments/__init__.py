"""Registered experiments. Importing this package registers every experiment module below."""

from core.experiments import images, loan, pretext, pseudo_labels  # noqa: F401  (importing registers them)
from core.experiments.registry import (
    FAMILIES,
    Experiment,
    get_experiment,
    list_experiments,
    register,
    unregister,
)

__all__ = ["FAMILIES", "Experiment", "get_experiment", "list_experiments", "register", "unregister"]
