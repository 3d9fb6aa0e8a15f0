"""The samplers study's page follows its numbers: the best value per budget is the running
best of each search, the leader and the verdict on the seed spread change with the values, the
grid is compared with the samplers, and the pruning sentence is computed from the epochs and
seconds of the searches with and without the pruner."""

import numpy as np
import pandas as pd

from core.reports import samplers
from core.reports.page import Curves

EXPERIMENT = samplers.PRUNED_EXPERIMENT
SEEDS = (0, 1, 2)


def record(values, seconds=10.0, states=None, epochs=None):
    return {
        "values": values,
        "states": states or ["complete" if v is not None else "pruned" for v in values],
        "epochs": epochs or [10] * len(values),
        "seconds": seconds,
    }


def results(tpe_values: list[float]) -> dict:
    """30-trial searches whose running best is `base` until trial 9 and `base + lift` after."""
    searches = {}
    for sampler, lift in (("random", 0.0), ("tpe", 0.0), ("gp", 0.002)):
        for seed in SEEDS:
            base = 0.90 + 0.001 * seed
            values = [base] * 9 + [base + lift] * 21
            if sampler == "tpe":
                values = [tpe_values[seed]] * 30
            searches[f"{EXPERIMENT}/{sampler}/none/30/{seed}"] = record(values, 30.0)
    searches[f"{EXPERIMENT}/grid/none/9/0"] = record([0.85] * 8 + [0.95], 9.0)
    for seed in SEEDS:
        values = [0.91, None, 0.92] + [None] * 27
        epochs = [10, 1, 10] + [1] * 27
        searches[f"{EXPERIMENT}/tpe/median/30/{seed}"] = record(values, 12.0, epochs=epochs)
    return {"seeds": list(SEEDS), "trials": 30, "budgets": [9, 30], "machine": "test",
            "searches": searches}  # fmt: skip


def text_of(page) -> str:
    return "\n".join(block for block in page.blocks if isinstance(block, str))


def test_the_table_holds_each_samplers_running_best_at_each_budget():
    numbers = results([0.80, 0.81, 0.82])
    table = samplers.budget_table(numbers, EXPERIMENT)
    gp = table[table["sampler"] == "gp"].iloc[0]
    means_9, means_30 = np.mean([0.900, 0.901, 0.902]), np.mean([0.902, 0.903, 0.904])
    assert gp["best after 9"].startswith(f"{means_9:.4f} ± ")
    assert gp["best after 30"].startswith(f"{means_30:.4f} ± ")
    assert gp["seconds per search"] == 30.0
    grid = table[table["sampler"] == "grid of 9"].iloc[0]
    assert grid["best after 9"] == "0.9500" and grid["best after 30"] == ""
    (history,) = [b for b in samplers.samplers_page(numbers).blocks if isinstance(b, Curves)]
    gp_curve = next(s for s in history.panels[0].series if s.label.startswith("gp"))
    assert gp_curve.y[8] == np.float64(means_9) and gp_curve.y[29] == np.float64(means_30)


def test_the_leader_and_the_verdict_follow_the_numbers():
    behind = samplers.samplers_page(results([0.80, 0.81, 0.82]))
    assert "After 30 trials, gp is ahead" in text_of(behind)
    assert "The grid of 9 points reaches 0.9500: no sampler does better" in text_of(behind)
    ahead = samplers.samplers_page(results([0.99, 0.99, 0.991]))
    assert "After 9 trials, tpe is ahead" in text_of(ahead)
    assert "a lead larger than the spread between seeds" in text_of(ahead)
    assert "1 of the 3 samplers does better on average" in text_of(ahead)
    close = samplers.samplers_page(results([0.90, 0.90, 0.906]))
    assert "within the spread between seeds, so no sampler wins" in text_of(close)


def test_the_pruning_sentence_is_computed_from_both_searches():
    table = samplers.pruning_rows(results([0.8, 0.8, 0.8]))
    assert isinstance(table, pd.DataFrame) and table["trials"].tolist() == [90, 90]
    assert table["pruned"].tolist() == ["0%", "93%"]  # 28 of 30 trials per seed
    assert table["epochs trained"].tolist() == [900, 3 * (20 + 28)]
    words = samplers.pruning_words(table)
    assert "stopped 93% of the trials early: 84% fewer epochs" in words
    assert "60% less wall time" in words  # 36 s against 90 s


def test_results_measured_in_parts_are_read_together():
    whole = results([0.8, 0.8, 0.8])
    keys = sorted(whole["searches"])
    first = {**whole, "searches": {k: whole["searches"][k] for k in keys[:5]}}
    second = {**whole, "searches": {k: whole["searches"][k] for k in keys[5:]}}
    assert samplers.merged([first, second])["searches"] == whole["searches"]


def test_a_sampler_that_loses_its_budget_to_failed_runs_is_named():
    numbers = results([0.8, 0.8, 0.8])
    for seed in SEEDS:
        search = numbers["searches"][f"{EXPERIMENT}/gp/none/30/{seed}"]
        search["values"][10:30] = [None] * 20
        search["states"][10:30] = ["fail"] * 20
    table = samplers.budget_table(numbers, EXPERIMENT)
    assert table.set_index("sampler").loc["gp", "failed"] == "67%"
    assert table.set_index("sampler").loc["random", "failed"] == "0%"
    text = text_of(samplers.samplers_page(numbers))
    assert "Failed trials (the run ended with an error, so no value): gp 67%" in text
    assert "random 0%" not in text
