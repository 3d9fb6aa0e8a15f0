"""A search's page: the best trial is the study's, its test interval is the bootstrap of its
own saved predictions (checked against scikit-learn), the history's best-so-far is the running
maximum, pruned trials are marked, and `dlstudio report search` writes the README."""

import math

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from core.metrics.bootstrap import bootstrap_ci
from core.reports import search
from core.reports.page import Curves, Parallel
from core.runs.tuning import parse_space, tune

SPACE = "lr=1e-3..0.3:log; weight_decay=0..0.01"


class PruneFourth(optuna.pruners.BasePruner):
    """Prunes trial 3 at its first report: a search with one pruned trial, for sure."""

    def prune(self, study, trial) -> bool:
        return trial.number == 3


@pytest.fixture
def searched(store, tmp_path):
    journal = str(tmp_path / "search.journal")
    space = parse_space(SPACE, "loan_exp1")
    tuned = tune(
        store,
        "loan_exp1",
        space,
        5,
        sampler="random",
        base={"epochs": 2},
        storage=journal,
        study_name="page",
        pruner_object=PruneFourth(),
    )
    return tuned.study, journal


def blocks_of(page, kind):
    return [block for block in page.blocks if isinstance(block, kind)]


def test_the_page_names_the_studys_best_trial_and_its_test_interval(store, searched):
    study, journal = searched
    page = search.search_page(store, search.load_search("page", journal), journal)
    best = study.best_trial
    text = "\n".join(block for block in page.blocks if isinstance(block, str))
    assert f"**Best trial: {best.number}** (run {best.user_attrs['run_id']})" in text
    assert f"val_roc_auc {best.value:.4f}" in text
    assert "5 of 5 trials (4 finished, 1 pruned)" in text

    run = store.get(best.user_attrs["run_id"])
    with np.load(run.artifacts["test_predictions"]) as saved:
        y_true, score = saved["y_true"], saved["score"]
    point, low, high = bootstrap_ci(roc_auc_score, y_true, score)
    assert point == pytest.approx(roc_auc_score(y_true, score))
    assert low < point < high
    assert f"its test roc_auc is **{point:.4f}**" in text
    assert f"[{low:.4f}, {high:.4f}] over the {len(y_true):,} test rows" in text


def test_the_history_is_the_running_best_and_the_table_marks_the_pruned_trial(store, searched):
    study, journal = searched
    page = search.search_page(store, study, journal)
    (history,) = blocks_of(page, Curves)
    each, best_so_far = history.panels[0].series
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert each.x == [t.number for t in finished] and each.y == [t.value for t in finished]
    assert best_so_far.y == list(np.maximum.accumulate(each.y))
    (parallel,) = blocks_of(page, Parallel)
    assert parallel.axes["log10 lr"] == pytest.approx(
        [math.log10(t.params["lr"]) for t in finished]
    )
    (table,) = blocks_of(page, pd.DataFrame)
    assert table["state"].tolist().count("pruned") == 1
    pruned = table[table["state"] == "pruned"].iloc[0]
    assert pruned["trial"] == 3 and pruned["epochs"] == 1  # stopped after its first epoch
    assert table["run"].tolist() == [t.user_attrs["run_id"] for t in study.trials]


def test_the_command_writes_the_page_and_names_the_searches_it_knows(store, searched, tmp_path):
    _, journal = searched
    out = tmp_path / "page"
    argv = ["page", "--storage", journal, "--db", str(store.path), "--out", str(out)]
    assert search.main(argv) == 0
    readme = (out / "README.md").read_text()
    assert readme.startswith("# Search page") and "### Every trial" in readme
    for figure in ("history", "parallel", "importances"):
        assert (out / f"{figure}.png").stat().st_size > 0
    with pytest.raises(SystemExit):
        search.main(["nothing-here", "--storage", journal, "--db", str(store.path)])
    with pytest.raises(KeyError, match="there are: page"):
        search.load_search("nothing-here", journal)
