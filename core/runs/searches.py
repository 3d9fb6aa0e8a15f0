"""Searches launched from the app: Optuna proposes, the run queue trains.

A search's driver thread asks Optuna for each trial, queues it as a run of its visitor on the
`JobRunner` (so it waits its turn fairly and trains in a child process like any run), follows
the run's per-epoch validation metric in the store while it trains, and cancels a trial the
pruner rejects. The study lives in the data directory's journal (`core.runs.tuning`), records
its owner, and survives the app; a search whose app stopped mid-way is continued from a
terminal with `dlstudio tune ... --study NAME --worker`.
"""

import secrets
import threading
from collections.abc import Callable, Collection
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict

import optuna

from core.experiments import get_experiment
from core.runs import tuning
from core.runs.jobs import JobRunner
from core.runs.store import Run
from core.sharing.visitors import LOCAL, Visitor

POLL_S = 0.5  # how often a driver reads its trial's new epochs
DEFAULT_TRIALS = 12


def launch_search(
    runner: JobRunner,
    experiment: str,
    values: dict,
    space_text: str,
    trials: int,
    sampler: str = "tpe",
    pruner: str = "median",
    owner: Visitor | None = None,
    storage: str | None = None,
) -> str:
    """Check and admit a search of `owner`, start its driver, and return the study's name.
    ValueError (or KeyError for an unknown experiment) says what is wrong before anything is
    stored or queued."""
    spec = get_experiment(experiment)
    owner = owner or LOCAL
    runner.check_processes(owner, asdict(spec.checked_config(values)))  # said before any trial
    space = tuning.parse_space(space_text, experiment)
    runner.admit_search(owner, trials)
    name = f"{experiment}-{sampler}-{secrets.token_hex(3)}"
    study = tuning.open_study(
        experiment, space, trials, sampler=sampler, pruner=pruner, storage=storage, study_name=name
    )
    study.set_user_attr("owner", owner.key)

    def create_run(config: dict, details: dict) -> int:
        return runner.queue_trial(experiment, config, name, details, owner)

    def drive() -> None:
        tuning.run_trials(runner.store, study, space, queued_trainer(runner), values, create_run)

    threading.Thread(target=drive, name=f"search-{name}", daemon=True).start()
    return name


def queued_trainer(runner: JobRunner) -> tuning.TrialTrainer:
    """Wait for a queued trial's run, reporting each new epoch's validation metric; a pruned
    trial's run is cancelled (it stops at its next epoch) and noted as pruned."""

    def train(run_id: int, report: Callable[[int, float], bool]) -> Run:
        metric = get_experiment(runner.store.get(run_id).experiment).selection_metric
        reported = 0
        while True:
            try:
                runner.wait(run_id, timeout=POLL_S)
                finished = True
            except FutureTimeout:
                finished = False
            table = runner.store.metrics(run_id)
            for _, row in table[table["epoch"] > reported].iterrows():
                reported = int(row["epoch"])
                if metric in row and report(reported, float(row[metric])) and not finished:
                    runner.store.request_cancel(run_id)
                    run = runner.store.get(run_id)
                    runner.store.annotate(run_id, [*run.tags, "pruned"], run.note)
            if finished:
                return runner.store.get(run_id)

    return train


def visible_searches(owners: Collection[str] | None, storage: str | None = None) -> list[str]:
    """The names of the app's searches whose owner is among `owners` (None: everyone's),
    newest first."""
    storage_object = tuning.open_storage(storage)
    summaries = optuna.get_all_study_summaries(storage_object, include_best_trial=False)
    return [
        summary.study_name
        for summary in reversed(summaries)
        if "owner" in summary.user_attrs
        and (owners is None or summary.user_attrs["owner"] in owners)
    ]


def visible_search(
    name: str, owners: Collection[str] | None, storage: str | None = None
) -> optuna.Study:
    """The search `name` when its owner is among `owners`; KeyError otherwise, the same as for
    a search that does not exist."""
    if name not in visible_searches(owners, storage):
        raise KeyError(f"there is no search {name!r} among the searches you can see")
    return optuna.load_study(study_name=name, storage=tuning.open_storage(storage))
