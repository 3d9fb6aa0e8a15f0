"""Hyper-parameter search with Optuna beside the grid sweeps: every trial is a run.

    dlstudio tune loan_exp5 --space "lr=1e-4..1e-1:log; weight_decay=1e-5..1e-1:log" --json
    dlstudio tune loan_exp1 --space "lr=1e-3..0.5:log" --trials 30 --sampler gp --pruner median

A search space names config keys of the experiment: `low..high` (a float range; `:log` samples
it on a log scale, `:int` whole numbers) or `a,b,c` (a choice). The sampler (`SAMPLERS`: TPE,
random, grid, Gaussian process) proposes a config per trial; the trial trains as a run in the
run store (tagged with the study, so the Training tab lists, compares and exports it) and
reports the experiment's validation metric each epoch, so a pruner (`PRUNERS`) can stop a
trial that trails the others early. The search picks on validation, never on test.

The study lives in Optuna's own storage: by default a journal file in the data directory; a
database URL (`--storage postgresql://...`) lets workers on several machines share one study.
"""

import math
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import TrialState

from core.experiments import get_experiment
from core.paths import data_dir
from core.runs.execution import RunCancelled, execute_run
from core.runs.store import Run, RunStore

MAX_TRIALS = 500
# Random trials before TPE or GP model the results. Optuna's default, 10, would leave a search
# of 9 trials purely random; 5 lets a small budget benefit, and the first trials of a search
# are the same whatever its budget.
STARTUP_TRIALS = 5
KINDS = ("", "log", "int")  # a range's suffix: none, :log, :int


class RunPruned(RunCancelled):
    """Raised inside a trial's training when the pruner stops it."""


class TrialFailed(RuntimeError):
    """A trial that trained nothing usable (its run failed or was cancelled, or the budget
    was spent): Optuna records it as failed and the search goes on."""


@dataclass(frozen=True)
class Dimension:
    """One searched config key: a float or int range (optionally log-scaled) or choices."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        if self.choices:
            return trial.suggest_categorical(name, list(self.choices))
        if self.integer:
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def grid(self, points: int) -> list[Any]:
        """The values the grid sampler tries: the choices, or `points` values over the range
        (log-spaced for a log range)."""
        if self.choices:
            return list(self.choices)
        steps = [i / (points - 1) for i in range(points)]
        if self.log:
            points = [self.low * (self.high / self.low) ** step for step in steps]
        else:
            points = [self.low + step * (self.high - self.low) for step in steps]
        return sorted({round(p) if self.integer else float(f"{p:.6g}") for p in points})


def parse_space(text: str, experiment: str) -> dict[str, Dimension]:
    """`key=low..high[:log|:int]; key=a,b,c` as dimensions, checked against the experiment's
    config (ValueError says which part is wrong)."""
    fields = asdict(get_experiment(experiment).make_config())
    space: dict[str, Dimension] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not value:
            raise ValueError(f"{part!r}: write key=low..high or key=a,b,c")
        if key not in fields:
            raise ValueError(f"{experiment} has no setting {key!r}; it has {', '.join(fields)}")
        space[key] = _dimension(key, value)
    if not space:
        raise ValueError("the search space is empty: name at least one key=low..high")
    return space


STARTING_SPACE = {"lr": "1e-4..1e-1:log", "weight_decay": "1e-5..1e-1:log"}


def default_space(experiment: str) -> str:
    """A space to start from: the learning rate and weight decay on log scales, those of them
    the experiment's config has."""
    fields = asdict(get_experiment(experiment).make_config())
    return "; ".join(f"{key}={value}" for key, value in STARTING_SPACE.items() if key in fields)


def _dimension(key: str, value: str) -> Dimension:
    if ".." not in value:
        choices = tuple(c.strip() for c in value.split(",") if c.strip())
        if len(choices) < 2:
            raise ValueError(f"{key}={value}: a range is low..high, a choice a,b (two or more)")
        return Dimension(choices=choices)
    low_text, _, rest = value.partition("..")
    high_text, _, kind = rest.partition(":")
    if kind not in KINDS:
        raise ValueError(f"{key}={value}: a range ends in :log or :int, not :{kind}")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise ValueError(f"{key}={value}: the bounds of a range are numbers") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{key}={value}: a range needs finite low < high")
    if kind == "log" and low <= 0:
        raise ValueError(f"{key}={value}: a log range needs low > 0")
    if kind == "int" and (low != int(low) or high != int(high)):
        raise ValueError(f"{key}={value}: an :int range has whole-number bounds")
    return Dimension(low, high, log=kind == "log", integer=kind == "int")


def _grid_sampler(
    space: dict[str, Dimension], seed: int, trials: int
) -> optuna.samplers.BaseSampler:
    """A grid of as many points per range as the budget allows (at least 2): 3 x 3 for 9
    trials of two ranges, 5 x 5 for 30."""
    ranges = sum(not dimension.choices for dimension in space.values())
    points = max(2, math.floor(trials ** (1 / max(ranges, 1)) + 1e-9))
    grid = {key: dimension.grid(points) for key, dimension in space.items()}
    return optuna.samplers.GridSampler(grid, seed=seed)


# A sampler from the space, the seed and the budget of trials.
SAMPLERS: dict[str, Callable[[dict[str, Dimension], int, int], optuna.samplers.BaseSampler]] = {
    "tpe": lambda space, seed, trials: optuna.samplers.TPESampler(
        n_startup_trials=STARTUP_TRIALS, seed=seed
    ),
    "random": lambda space, seed, trials: optuna.samplers.RandomSampler(seed=seed),
    "grid": _grid_sampler,
    "gp": lambda space, seed, trials: optuna.samplers.GPSampler(
        n_startup_trials=STARTUP_TRIALS, seed=seed
    ),
}
PRUNERS: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
    "none": optuna.pruners.NopPruner,
    "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    "hyperband": optuna.pruners.HyperbandPruner,
}


def default_storage() -> str:
    """Optuna's journal file in the data directory (no server needed)."""
    return str(data_dir() / "tuning.journal")


def open_storage(url: str | None) -> optuna.storages.BaseStorage | str:
    """A database URL as it is; a file path (the default) as Optuna's journal file."""
    url = url or default_storage()
    if "://" in url:
        return url
    backend = optuna.storages.journal.JournalFileBackend(url)
    return optuna.storages.JournalStorage(backend)


@dataclass(frozen=True)
class Tuned:
    """A search: the study and, per trial number, the run this process trained for it."""

    study: optuna.Study
    runs: dict[int, int]  # trial number -> run id

    def best(self) -> dict[str, Any] | None:
        """The best finished trial (its run, value and parameters); None when every trial was
        pruned or failed."""
        finished = self.study.get_trials(states=(TrialState.COMPLETE,))
        if not finished:
            return None
        trial = self.study.best_trial
        counted = trained_trials(self.study)
        return {
            "study": self.study.study_name,
            "trial": trial.number,
            "run_id": trial.user_attrs["run_id"],
            "value": trial.value,
            "params": trial.params,
            "trials": len(counted),
            "pruned": sum(t.state == TrialState.PRUNED for t in counted),
        }


def trained_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's trials within its budget: those a worker trained (or is training). A
    worker that asked for a trial just as another took the last place marks its own
    `over_budget` and trains nothing."""
    return [t for t in study.trials if not t.user_attrs.get("over_budget")]


# Trains one trial's stored run: gets the run id and `report(epoch, value)`, which says True
# when the pruner stops the trial (the trainer then stops the run); returns the ended run.
TrialTrainer = Callable[[int, Callable[[int, float], bool]], Run]


def in_process_trainer(store: RunStore) -> TrialTrainer:
    """Train each trial here, stopping it inside the epoch loop when it is pruned."""

    def train(run_id: int, report: Callable[[int, float], bool]) -> Run:
        metric = get_experiment(store.get(run_id).experiment).selection_metric

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            if metric in metrics and report(epoch, float(metrics[metric])):
                raise RunPruned(f"pruned by the search at epoch {epoch}")

        return execute_run(store, run_id, on_epoch=on_epoch)

    return train


def open_study(
    experiment: str,
    space: dict[str, Dimension],
    trials: int,
    *,
    sampler: str = "tpe",
    pruner: str = "none",
    seed: int = 0,
    storage: str | None = None,
    study_name: str | None = None,
    pruner_object: optuna.pruners.BasePruner | None = None,
    join: bool = False,
) -> optuna.Study:
    """The study, created or joined (`join`: only joined, ValueError when there is none); it
    records what it searches and its budget of `trials` (a later call may raise it), so that
    its page can say so."""
    if not 1 <= trials <= MAX_TRIALS:
        raise ValueError(f"trials must be between 1 and {MAX_TRIALS}, not {trials}")
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    if pruner not in PRUNERS:
        raise ValueError(f"unknown pruner {pruner!r}: choose one of {', '.join(PRUNERS)}")
    store_of_studies = open_storage(storage)
    name = study_name or f"{experiment}-{sampler}-seed{seed}"
    joined = name in optuna.get_all_study_names(storage=store_of_studies)
    if join and not joined:
        raise ValueError(f"there is no study {name!r} to join in this storage")
    # the study's creator samples from `seed` (one process's search is reproducible); a worker
    # that joins draws a seed of its own, so that workers never propose the same sequence
    if joined:
        seed = secrets.randbelow(2**31)
    study = optuna.create_study(
        storage=store_of_studies,
        study_name=name,
        direction="maximize",
        sampler=SAMPLERS[sampler](space, seed, trials),
        pruner=pruner_object or PRUNERS[pruner](),
        load_if_exists=True,
    )
    searched = study.user_attrs.get("experiment")  # None while its creator is describing it
    if searched not in (None, experiment):
        raise ValueError(f"study {name!r} searches {searched}, not {experiment}")
    described = {
        "experiment": experiment,
        "sampler": sampler,
        "pruner": pruner,
        "space": {key: asdict(dimension) for key, dimension in space.items()},
        "budget": max(trials, study.user_attrs.get("budget", 0)),
    }
    for key, value in described.items():
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
    return study


def worst_value(study: optuna.Study) -> float | None:
    """The worst value of the study's finished trials (None before the first): what a trial
    whose training diverged is told. Recorded as failed, it would be left out of the sampler's
    model, and a Gaussian process keeps proposing the corner that diverges (in the samplers
    study GP lost 77 % of its loan trials that way); told the worst value, it learns to avoid
    it. Such trials carry the user attribute `diverged`."""
    values = [
        trial.value
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not trial.user_attrs.get("diverged")
    ]
    if not values:
        return None
    return min(values) if study.direction == StudyDirection.MAXIMIZE else max(values)


def run_trials(
    store: RunStore,
    study: optuna.Study,
    space: dict[str, Dimension],
    train: TrialTrainer,
    base: dict[str, Any] | None = None,
    create_run: Callable[[dict[str, Any], dict[str, Any]], int] | None = None,
) -> dict[int, int]:
    """Train trials until the study holds its budget; several workers may run this on one
    study at once. Returns trial number -> run id of the trials trained here.

    `create_run(config, details)` stores a trial's run (default: a run of the terminal user
    in `store`); every run is tagged with its study and trial."""
    experiment = study.user_attrs["experiment"]
    spec = get_experiment(experiment)
    spec.make_config({**(base or {})})  # a bad base value is said before any trial
    budget = study.user_attrs["budget"]
    create_run = create_run or (
        lambda config, details: store.create(experiment, config, study.study_name, details)
    )
    runs: dict[int, int] = {}

    def objective(trial: optuna.Trial) -> float:
        if len([t for t in trained_trials(study) if t.number < trial.number]) >= budget:
            trial.set_user_attr("over_budget", True)  # another worker took the last place
            study.stop()
            raise TrialFailed("over the budget: not trained")
        values = {key: dimension.suggest(trial, key) for key, dimension in space.items()}
        config = asdict(spec.make_config({**(base or {}), **values}))
        run_id = create_run(config, {"study": study.study_name, "trial": trial.number})
        note = f"trial {trial.number} of search {study.study_name}"
        store.annotate(run_id, ["tuning", study.user_attrs["sampler"]], note)
        trial.set_user_attr("run_id", run_id)
        runs[trial.number] = run_id
        pruned_at: list[int] = []

        def report(epoch: int, value: float) -> bool:
            trial.report(value, epoch)
            if not pruned_at and trial.should_prune():
                pruned_at.append(epoch)
            return bool(pruned_at)

        run = train(run_id, report)
        if pruned_at:
            raise optuna.TrialPruned(f"pruned at epoch {pruned_at[0]}")
        if run.status != "done":
            trial.set_user_attr("ended", run.status)
            worst = worst_value(study)
            if run.details.get("diverged") and worst is not None:
                trial.set_user_attr("diverged", True)
                return worst
            raise TrialFailed(f"run {run_id} ended {run.status}")
        return store.final_metrics(run_id)[spec.selection_metric]

    def stop_at_budget(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        if len(trained_trials(study)) >= budget:
            study.stop()

    if len(trained_trials(study)) < budget:
        study.optimize(objective, catch=(TrialFailed,), callbacks=[stop_at_budget])
    return runs


def tune(
    store: RunStore,
    experiment: str,
    space: dict[str, Dimension],
    trials: int,
    *,
    sampler: str = "tpe",
    pruner: str = "none",
    base: dict[str, Any] | None = None,
    seed: int = 0,
    storage: str | None = None,
    study_name: str | None = None,
    pruner_object: optuna.pruners.BasePruner | None = None,
    join: bool = False,
) -> Tuned:
    """Search `space` until the study holds `trials` trials (joining the study if it exists,
    so several workers on one storage share its budget), training each trial here as a run
    in `store`."""
    study = open_study(
        experiment,
        space,
        trials,
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        storage=storage,
        study_name=study_name,
        pruner_object=pruner_object,
        join=join,
    )
    runs = run_trials(store, study, space, in_process_trainer(store), base)
    return Tuned(study, runs)
