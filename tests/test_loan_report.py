"""`make report` keeps working: a one-epoch report has every table, plot and conclusion."""

from core.reports.loan import EXPERIMENTS, main


def test_a_quick_report_has_every_experiment_sweep_plot_and_conclusion(store, tmp_path):
    out = tmp_path / "report"
    assert main(["--out", str(out), "--db", str(store.path), "--epochs", "1"]) == 0
    text = (out / "README.md").read_text()
    for name in EXPERIMENTS:
        assert f"| {name}" in text
    for image in ("loss.png", "roc_auc.png", "sweeps.png"):
        assert (out / image).stat().st_size > 10_000
        assert f"({image})" in text
    assert "After 1 epochs all five networks" in text
    conclusions = text.split("## Conclusions")[1]
    assert conclusions.count("\n- ") == 6
    assert len(store.list()) == 3 + 5 + 9  # Exp 1-3, the dropout sweep, the (wd, lr) sweep
    assert {run.status for run in store.list()} == {"done"}
