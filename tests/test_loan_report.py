"""`make report` keeps working: a one-epoch report has every table, plot and conclusion."""

import pandas as pd

from core.reports.loan import (
    EXPERIMENTS,
    LoanFacts,
    decay_and_lr,
    dropout_choice,
    final_ranking,
    first_epoch,
    linear_baseline,
    main,
    overfitting,
)


def test_a_quick_report_has_every_experiment_sweep_plot_and_conclusion(store, tmp_path):
    out = tmp_path / "report"
    assert main(["--out", str(out), "--db", str(store.path), "--epochs", "1"]) == 0
    text = (out / "README.md").read_text()
    for name in EXPERIMENTS:
        assert f"| {name}" in text
    for image in ("loss.png", "roc_auc.png", "sweep_dropout.png", "sweep_grid.png"):
        assert (out / image).stat().st_size > 10_000
        assert f"({image})" in text
    assert "After 1 epochs the five networks" in text
    conclusions = text.split("## Conclusions")[1]
    assert conclusions.count("\n- ") == 6
    assert len(store.list()) == 3 + 5 + 9  # Exp 1-3, the dropout sweep, the (wd, lr) sweep
    assert {run.status for run in store.list()} == {"done"}


# --- each conclusion follows its numbers ---------------------------------------------------------


def history(
    test_loss: list[float], first_auc: float = 0.9, train_loss: list[float] | None = None
) -> pd.DataFrame:
    epochs = range(1, len(test_loss) + 1)
    return pd.DataFrame(
        {
            "epoch": list(epochs),
            "test_loss": test_loss,
            "train_loss": train_loss or [loss * 0.9 for loss in test_loss],
            "test_roc_auc": [first_auc] + [0.95] * (len(test_loss) - 1),
        }
    )


def facts(**changes) -> LoanFacts:
    """Numbers like the committed report's; `changes` replaces some."""
    table = pd.DataFrame(
        {
            "experiment": list(EXPERIMENTS),
            "test ROC-AUC": [0.9590, 0.9593, 0.9609, 0.9593, 0.9591],
            "test 95% CI": ["[0.9399, 0.9745]"] * 5,
        }
    )
    histories = {name: history([0.2, 0.1, 0.09, 0.085]) for name in EXPERIMENTS}
    histories["loan_exp2"] = history([0.2, 0.1, 0.09, 0.085], first_auc=0.085)
    histories["loan_exp3"] = history([0.2, 0.1, 0.09, 0.085], first_auc=0.957)
    dropout = pd.DataFrame({"dropout": [0.01, 0.1, 0.9], "val_roc_auc": [0.9272, 0.928, 0.9305]})
    grid = pd.DataFrame(
        {
            "weight_decay": [0.1, 0.1, 0.01, 0.01],
            "lr": [0.01, 0.1, 0.01, 0.1],
            "val_roc_auc": [0.9225, 0.9216, 0.9315, 0.9278],
        }
    )
    values = dict(
        table=table,
        histories=histories,
        dropout=dropout,
        grid=grid,
        baseline=0.9616,
        positives=67,
        test_rows=2000,
        train_rows=6500,
    )
    return LoanFacts(**(values | changes))


def sentence(function, **changes) -> str:
    return function(facts(**changes))


def test_the_linear_baseline_sentence_follows_the_baseline():
    assert "nearly linear" in sentence(linear_baseline)
    assert "inside the best network's interval" in sentence(linear_baseline, baseline=0.95)
    weaker = sentence(linear_baseline, baseline=0.90)
    assert "below the best network's interval" in weaker and "nearly linear" not in weaker


def test_the_overfitting_sentence_follows_the_test_loss():
    assert "No model overfits within 4 epochs: every test loss ends within 5 %" in sentence(
        overfitting
    )
    falling_train = [0.2, 0.07, 0.06, 0.05]
    rising = facts().histories | {"loan_exp4": history([0.2, 0.08, 0.1, 0.12], 0.9, falling_train)}
    text = sentence(overfitting, histories=rising)
    assert text.startswith("loan_exp4 overfits: its test loss is lowest at epoch 2 and ends 50 %")
    both_rise = facts().histories | {"loan_exp4": history([0.2, 0.08, 0.1, 0.12])}
    text = sentence(overfitting, histories=both_rise)
    assert text.startswith("No model overfits") and "(loan_exp4), the training loss rose" in text


def test_the_ranking_sentence_follows_the_intervals():
    assert "intervals all overlap" in sentence(final_ranking)
    table = facts().table.copy()
    table.loc[0, "test 95% CI"] = "[0.9000, 0.9300]"  # exp1's interval now below the best's
    text = sentence(final_ranking, table=table)
    assert "loan_exp3's interval lies above that of loan_exp1" in text


def test_the_first_epoch_sentence_follows_the_first_epoch():
    assert "let the signal through the deeper stack" in sentence(first_epoch)
    histories = facts().histories | {"loan_exp2": history([0.2, 0.1], first_auc=0.95)}
    assert sentence(first_epoch, histories=histories).endswith("both start about as fast.")


def test_the_dropout_and_decay_sentences_follow_the_sweeps():
    assert "highest at p = 0.9" in sentence(dropout_choice)
    dropout = pd.DataFrame({"dropout": [0.01, 0.9], "val_roc_auc": [0.95, 0.90]})
    text = sentence(dropout_choice, dropout=dropout)
    assert "highest at p = 0.01" in text and "larger than the width" in text
    assert "Weight decay 0.1 is the worst for every learning rate" in sentence(decay_and_lr)
    grid = facts().grid.assign(val_roc_auc=[0.94, 0.92, 0.93, 0.91])
    text = sentence(decay_and_lr, grid=grid)
    assert "best pair on validation is weight decay 0.1, lr 0.01" in text
    assert "worst for every learning rate" not in text
