"""The block MLP and the loan-default experiments, checked against scikit-learn references."""

from dataclasses import asdict

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from core.experiments import get_experiment
from core.runs.execution import execute_run
from core.runs.store import RunStore
from core.tabular.data import import_csv, load_table, prepare_binary
from core.tabular.mlp import Block, BlockMLP

SPLITS = ("train", "val", "test")


def n_parameters(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def run_experiment(store: RunStore, name: str, **values):
    config = asdict(get_experiment(name).make_config(values))
    return execute_run(store, store.create(name, config))


@pytest.mark.parametrize(
    "options",
    [{}, {"blocks": 3, "hidden": 16}, {"batchnorm": True, "skip": True, "dropout": 0.5}],
)
def test_block_mlp_gives_one_logit_per_row(options):
    model = BlockMLP(7, **options)
    assert model(torch.randn(5, 7)).shape == (5,)
    assert len(model.blocks) == options.get("blocks", 1)


def test_exp1_network_parameter_count():
    model = BlockMLP(4, hidden=32, blocks=1)
    assert n_parameters(model) == (4 * 32 + 32) + (32 * 128 + 128) + (128 * 32 + 32) + (32 + 1)


@pytest.mark.parametrize(("hidden", "blocks", "batchnorm"), [(8, 2, False), (16, 3, True)])
def test_parameter_count_grows_by_one_block_at_a_time(hidden, blocks, batchnorm):
    model = BlockMLP(5, hidden, blocks, batchnorm=batchnorm)
    block = (hidden * 4 * hidden + 4 * hidden) + (4 * hidden * hidden + hidden)
    block += 2 * hidden if batchnorm else 0  # BatchNorm's scale and shift
    assert n_parameters(model) == (5 * hidden + hidden) + blocks * block + (hidden + 1)


@pytest.mark.parametrize("skip", [True, False])
def test_a_block_with_its_last_linear_zeroed_is_the_identity_only_with_skip(skip):
    block = Block(8, batchnorm=True, skip=skip, dropout=0.3)
    last = block.body[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    x = torch.randn(6, 8)
    block.train()
    torch.testing.assert_close(block(x), x if skip else torch.zeros_like(x))


def test_dropout_is_only_active_in_train_mode():
    torch.manual_seed(0)
    with_dropout = Block(16, dropout=0.5)
    without = Block(16)
    without.load_state_dict(with_dropout.state_dict())
    x = torch.randn(64, 16)

    with_dropout.eval()
    torch.testing.assert_close(with_dropout(x), without(x))
    with_dropout.train()
    first, second = with_dropout(x), with_dropout(x)
    assert not torch.allclose(first, without(x)) and not torch.allclose(first, second)
    dropout, ones = with_dropout.body[3], torch.ones(200, 64)
    kept = dropout(ones)  # train mode: about half zeroed, the rest scaled by 1 / (1 - p)
    assert 0.45 < (kept == 0).float().mean() < 0.55
    assert set(kept.unique().tolist()) == {0.0, 2.0}
    dropout.eval()
    torch.testing.assert_close(dropout(ones), ones)


@pytest.fixture(scope="module")
def exp1(tmp_path_factory):
    """The real Exp 1 (10 epochs on ISLP Default), run once for the tests below."""
    tmp = tmp_path_factory.mktemp("exp1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DLSTUDIO_DATA", str(tmp / "data"))
        store = RunStore(tmp / "runs.sqlite")
        run = run_experiment(store, "loan_exp1")
        yield store, run


@pytest.fixture(scope="module")
def islp_splits():
    return prepare_binary(load_table("islp-default"), "default", seed=0)


def test_exp1_runs_ten_epochs_and_logs_every_split(exp1):
    store, run = exp1
    assert run.status == "done", run.error
    assert run.progress == 1.0 and run.error is None
    history = store.metrics(run.id)
    assert history["epoch"].tolist() == list(range(1, 11))
    assert set(history.columns) == {"epoch"} | {
        f"{split}_{name}" for split in SPLITS for name in ("loss", "roc_auc")
    }
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert run.details["positive_label"] == "Yes"
    assert (run.details["n_features"], run.details["n_train"], run.details["n_test"]) == (
        4,
        6500,
        2000,
    )


def test_exp1_matches_logistic_regression(exp1, islp_splits):
    store, run = exp1
    final = store.final_metrics(run.id)
    assert final["test_roc_auc"] > 0.9
    reference = LogisticRegression().fit(islp_splits.x_train, islp_splits.y_train)
    reference_auc = roc_auc_score(
        islp_splits.y_test, reference.decision_function(islp_splits.x_test)
    )
    assert reference_auc > 0.9
    assert abs(final["test_roc_auc"] - reference_auc) < 0.03


def test_exp1_checkpoint_reproduces_the_logged_test_roc_auc(exp1, islp_splits):
    store, run = exp1
    checkpoint = torch.load(run.artifacts["model"], map_location="cpu")
    assert checkpoint["feature_names"] == islp_splits.feature_names
    assert checkpoint["positive_label"] == "Yes" and checkpoint["config"]["epochs"] == 10
    model = BlockMLP(4, hidden=32, blocks=1)
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    final = store.final_metrics(run.id)
    for split in SPLITS:
        x, y = getattr(islp_splits, f"x_{split}"), getattr(islp_splits, f"y_{split}")
        with torch.inference_mode():
            logits = model(torch.from_numpy(x)).numpy().astype(np.float64)
        assert roc_auc_score(y, logits) == pytest.approx(final[f"{split}_roc_auc"], abs=1e-6)


def test_a_too_high_learning_rate_fails_with_a_clear_error(store):
    run = run_experiment(store, "loan_exp1", lr=10, epochs=2)
    assert run.status == "failed"
    assert "FloatingPointError: the training loss became" in run.error
    assert "the learning rate 10.0 is too high" in run.error
    assert store.metrics(run.id).empty and "model" not in run.artifacts


def test_training_is_reproducible_for_a_seed(store):
    first, second = (run_experiment(store, "loan_exp3", epochs=1, seed=3) for _ in range(2))
    assert store.final_metrics(first.id) == store.final_metrics(second.id)


def test_an_imported_csv_trains_with_its_target(store, tmp_path):
    upload = tmp_path / "loans.csv"
    load_table("islp-default").head(2000).to_csv(upload, index=False)
    kept, _ = import_csv(upload)
    run = run_experiment(store, "loan_exp1", data=str(kept), target="default", epochs=1)
    assert run.status == "done", run.error
    assert (run.details["n_train"], run.details["n_val"], run.details["n_test"]) == (1300, 300, 400)
    assert 0.5 < store.final_metrics(run.id)["test_roc_auc"] <= 1


def test_a_csv_without_the_target_column_fails_naming_the_columns(store, tmp_path):
    upload = tmp_path / "loans.csv"
    load_table("islp-default").head(500).to_csv(upload, index=False)
    run = run_experiment(store, "loan_exp1", data=str(upload), target="defaulted", epochs=1)
    assert run.status == "failed"
    assert "columns are: default, student, balance, income" in run.error


def test_run_stores_sharing_a_data_dir_keep_their_own_checkpoints(store, tmp_path):
    scratch = RunStore(tmp_path / "scratch.sqlite")
    mine = run_experiment(store, "loan_exp1", epochs=1)
    theirs = run_experiment(scratch, "loan_exp2", epochs=1)
    assert mine.id == theirs.id  # both stores start counting at 1
    checkpoint = torch.load(store.get(mine.id).artifacts["model"], map_location="cpu")
    assert checkpoint["config"]["hidden"] == 32
