"""Hyper-parameter search with Optuna: the space parses (and refuses what it should), every
trial is a run in the store with the config Optuna proposed, the best trial is the one Optuna's
own storage reports, a pruned trial stops its run, and workers on one storage share a study."""

import json
from dataclasses import asdict

import optuna
import pytest

from core.experiments import get_experiment
from core.runs import cli, searches, tuning
from core.runs.execution import execute_run
from core.runs.jobs import JobRunner
from core.runs.tuning import Dimension, parse_space, tune
from core.sharing.limits import HostLimits
from core.sharing.visitors import LOCAL, anonymous, new_browser_token

QUICK = {"epochs": 2}


def test_a_space_has_log_ranges_whole_ranges_and_choices():
    text = "lr=1e-4..1e-1:log; epochs=2..6:int; dropout=0..0.5; optimizer=sgd,adam"
    space = parse_space(text, "loan_exp4")
    assert space["lr"] == Dimension(1e-4, 1e-1, log=True)
    assert space["epochs"] == Dimension(2, 6, integer=True)
    assert space["dropout"] == Dimension(0, 0.5)
    assert space["optimizer"] == Dimension(choices=("sgd", "adam"))
    assert space["lr"].grid(3) == [0.0001, 0.00316228, 0.1]  # log-spaced grid points


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("colour=1..2", "has no setting 'colour'"),
        ("lr=0.1..0.01", "low < high"),
        ("lr=0..1:log", "log range needs low > 0"),
        ("epochs=1.5..3:int", "whole-number bounds"),
        ("lr=1..2:cubic", "ends in :log or :int"),
        ("lr=a..b", "are numbers"),
        ("optimizer=sgd", "two or more"),
        ("lr", "write key=low..high"),
    ],
)
def test_a_bad_space_says_what_is_wrong(text, words):
    with pytest.raises(ValueError, match=words):
        parse_space(text, "loan_exp4")


def test_every_trial_is_a_run_and_the_best_is_optunas(store, tmp_path):
    journal = str(tmp_path / "study.journal")
    space = parse_space("lr=1e-3..0.3:log; weight_decay=0..0.01", "loan_exp1")
    tuned = tune(store, "loan_exp1", space, 4, sampler="random", base=QUICK, storage=journal)
    assert len(tuned.runs) == 4 and len(store.list()) == 4
    for trial in tuned.study.trials:
        run = store.get(trial.user_attrs["run_id"])
        assert run.status == "done" and run.config["epochs"] == 2
        assert run.config["lr"] == pytest.approx(trial.params["lr"])
        assert "tuning" in run.tags and run.sweep_id == tuned.study.study_name
        assert store.final_metrics(run.id)["val_roc_auc"] == pytest.approx(trial.value)
    stored = optuna.load_study(
        study_name=tuned.study.study_name, storage=tuning.open_storage(journal)
    )
    assert stored.best_trial.number == tuned.best()["trial"]
    assert tuned.best()["run_id"] == stored.best_trial.user_attrs["run_id"]
    assert tuned.best()["value"] == max(t.value for t in stored.trials)

    # a second call on the same storage joins the study, here raising its budget to 6 trials
    again = tune(store, "loan_exp1", space, 6, sampler="random", base=QUICK, storage=journal)
    assert len(again.study.trials) == 6
    params = [tuple(sorted(t.params.items())) for t in again.study.trials]
    assert len(set(params)) == 6  # no configuration tried twice


class PruneAll(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def test_a_pruned_trial_stops_its_run_after_the_epoch_it_reported(store, tmp_path):
    space = parse_space("lr=1e-3..0.3:log", "loan_exp1")
    tuned = tune(
        store,
        "loan_exp1",
        space,
        2,
        sampler="random",
        base={"epochs": 5},
        storage=str(tmp_path / "pruned.journal"),
        pruner_object=PruneAll(),
    )
    states = [t.state for t in tuned.study.trials]
    assert states == [optuna.trial.TrialState.PRUNED] * 2
    for run_id in tuned.runs.values():
        run = store.get(run_id)
        assert run.status == "cancelled" and run.error == "pruned by the search at epoch 1"
        assert len(store.metrics(run_id)) == 1  # one epoch, then stopped
    assert tuned.best() is None


def test_a_diverged_trial_is_told_the_worst_value_so_far(store, tmp_path):
    """Recorded as failed, a diverged trial would be left out of the sampler's model (GP then
    proposed the same diverging corner again and again); it is told the worst finished value
    instead, marked as diverged. A diverged first trial has no value to be told: it fails."""
    space = parse_space("lr=0.001..0.3:log", "loan_exp1")
    study = tuning.open_study("loan_exp1", space, 4, sampler="random", storage=str(tmp_path / "d"))
    values = iter([0.8, 0.6, None, 0.7])  # the third trial's run diverges

    def train(run_id, report):
        store.start(run_id)
        value = next(values)
        if value is None:
            store.add_details(run_id, diverged=True)
            store.finish(run_id, "failed", "FloatingPointError: the training loss became nan")
        else:
            store.log_metrics(run_id, 1, {"val_roc_auc": value})
            store.finish(run_id, "done")
        return store.get(run_id)

    tuning.run_trials(store, study, space, train)
    diverged = study.trials[2]
    assert diverged.state == optuna.trial.TrialState.COMPLETE and diverged.value == 0.6
    assert diverged.user_attrs["diverged"] and study.best_value == 0.8
    assert tuning.worst_value(study) == 0.6  # a diverged trial's value never counts as worst

    first = tuning.open_study("loan_exp1", space, 1, sampler="random", storage=str(tmp_path / "f"))
    values = iter([None])
    tuning.run_trials(store, first, space, train)
    assert first.trials[0].state == optuna.trial.TrialState.FAIL


def test_a_run_whose_loss_becomes_nan_is_recorded_as_diverged(store):
    config = asdict(get_experiment("loan_exp1").make_config({"lr": 9.0, "epochs": 1}))
    run = execute_run(store, store.create("loan_exp1", config))
    assert run.status == "failed" and run.details["diverged"] is True
    assert "the training loss became nan" in run.error


def test_the_grid_sampler_tries_each_point_once(store, tmp_path):
    space = parse_space("lr=0.01,0.1; weight_decay=0,0.001", "loan_exp1")
    tuned = tune(
        store, "loan_exp1", space, 4, sampler="grid", base=QUICK, storage=str(tmp_path / "g")
    )
    tried = {(t.params["lr"], t.params["weight_decay"]) for t in tuned.study.trials}
    assert tried == {("0.01", "0"), ("0.01", "0.001"), ("0.1", "0"), ("0.1", "0.001")}


def test_the_command_prints_the_best_trial_as_json(store, tmp_path, capsys):
    argv = ["loan_exp1", "--space", "lr=0.01..0.1:log", "--trials", "2", "--sampler", "tpe"]
    argv += ["--storage", str(tmp_path / "cli.journal"), "--db", str(store.path), "--json"]
    assert cli.tune_main([*argv, "--epochs", "2"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["trials"] == 2 and store.get(best["run_id"]).status == "done"
    with pytest.raises(SystemExit):
        cli.tune_main(["loan_exp1", "--space", "lr=1..0", "--db", str(store.path)])
    assert "low < high" in capsys.readouterr().err


def test_a_search_from_the_app_queues_its_trials_as_the_visitors_runs(store, tmp_path, wait_until):
    runner = JobRunner(store, in_process=True, limits=HostLimits())
    ada, bob = anonymous(new_browser_token()), anonymous(new_browser_token())
    journal = str(tmp_path / "app.journal")
    try:
        name = searches.launch_search(
            runner, "loan_exp1", QUICK, "lr=1e-3..0.3:log", 3, "random", "none", ada, journal
        )
        study = searches.visible_search(name, {ada.key}, journal)

        def finished() -> bool:
            states = [t.state for t in study.trials]
            return states == [optuna.trial.TrialState.COMPLETE] * 3

        wait_until(finished, "the search's three trials")
        runs = [store.get(t.user_attrs["run_id"]) for t in study.trials]
        assert all(run.owner == ada.key and run.sweep_id == name for run in runs)
        assert searches.visible_searches({ada.key}, journal) == [name]
        assert searches.visible_searches({bob.key}, journal) == []
        with pytest.raises(KeyError, match="among the searches you can see"):
            searches.visible_search(name, {bob.key}, journal)
    finally:
        runner.shutdown()


def test_a_search_is_refused_before_anything_is_queued(store, tmp_path):
    runner = JobRunner(store, in_process=True, limits=HostLimits(sweep_runs=5))
    ada = anonymous(new_browser_token())
    journal = str(tmp_path / "refused.journal")
    try:
        with pytest.raises(ValueError, match="this search has 6 trials: the limit is 5"):
            searches.launch_search(runner, "loan_exp1", {}, "lr=0.01..0.1", 6, owner=ada)
        with pytest.raises(ValueError, match="no setting 'nope'"):
            searches.launch_search(runner, "loan_exp1", {}, "nope=1..2", 3, owner=ada)
        with pytest.raises(ValueError):
            searches.launch_search(runner, "loan_exp1", {"epochs": -1}, "lr=0.01..0.1", 3)
        assert store.list() == [] and searches.visible_searches(None, journal) == []
    finally:
        runner.shutdown()


def test_a_trial_pruned_in_the_app_cancels_its_queued_run(store, tmp_path, wait_until):
    runner = JobRunner(store, in_process=True, limits=HostLimits())
    space = parse_space("lr=1e-3..0.3:log", "loan_exp1")
    study = tuning.open_study(
        "loan_exp1", space, 1, storage=str(tmp_path / "p.journal"), pruner_object=PruneAll()
    )

    def queue(config, details):
        return runner.queue_trial("loan_exp1", config, study.study_name, details, LOCAL)

    try:
        trainer = searches.queued_trainer(runner)
        runs = tuning.run_trials(store, study, space, trainer, {"epochs": 20}, queue)
        run = store.get(runs[0])
        assert study.trials[0].state == optuna.trial.TrialState.PRUNED
        assert run.status == "cancelled" and "pruned" in run.tags
        assert len(store.metrics(run.id)) < 20  # stopped early, at an epoch after the first
    finally:
        runner.shutdown()
