"""The registered image experiments: configs, data checks and one tiny sweep over the recipes."""

import pytest

from core.experiments import get_experiment
from core.experiments.images import (
    DATA_SETS,
    RECIPE_LABELS,
    RECIPE_SUFFIXES,
    experiment_names,
)
from core.reports.images import main
from core.runs.sweeps import plan_sweep, sweep_results
from core.vision.data import FASHION_MNIST_DIR
from core.vision.train import RECIPES

NAMES = [name for prefix in DATA_SETS for name in experiment_names(prefix)]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_data_set_has_the_four_recipes_a_to_d():
    assert len(NAMES) == 4 * len(DATA_SETS)
    assert {"digits_plain", "digits_unfreeze_lr", "digits_augment", "digits_all"} <= set(NAMES)
    assert {"fashion_plain", "fashion_all"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_experiment_builds_its_config_and_sweeps_all_four_recipes(name):
    experiment = get_experiment(name)
    config = experiment.make_config()
    assert config.recipe == RECIPE_SUFFIXES[name.split("_", 1)[1]]
    assert config.backbone == "efficientnet_lite0" and config.pretrained
    assert (experiment.metric, experiment.selection_metric) == ("accuracy", "val_accuracy")
    assert experiment.grid == {"recipe": tuple(RECIPES)}
    recipes = [point["recipe"] for point in plan_sweep(name, {})]
    assert recipes == list(RECIPES)


@pytest.mark.parametrize("name", ["mnist_plain", "afhq_all"])
def test_check_data_explains_a_missing_data_folder(name, tmp_path):
    with pytest.raises(ValueError, match=r"IDX files|kaggle\.com"):
        get_experiment(name).checked_config({"data_root": str(tmp_path / "missing")})


def test_check_data_accepts_the_built_in_digits():
    get_experiment("digits_all").checked_config()


@pytest.mark.skipif(
    not FASHION_MNIST_DIR.is_dir(),
    reason="the Debian package dataset-fashion-mnist is not installed",
)
def test_check_data_accepts_fashion_mnist_from_the_debian_package():
    get_experiment("fashion_plain").checked_config()


@pytest.mark.parametrize("name", ["digits_cnn", "fashion_cnn"])
def test_the_from_scratch_cnns_augment_iteratively_without_pretrained_weights(name):
    config = get_experiment(name).make_config()
    assert (config.backbone, config.pretrained, config.input_size) == ("small_cnn", False, 28)
    assert config.augment_schedule and not config.gradual_unfreeze


def test_a_quick_report_sweeps_the_four_recipes_and_writes_every_part(store, tmp_path, capsys):
    out = tmp_path / "report"
    quick = ["--epochs", "1", "--limit-train", "40", "--db", str(store.path), "--out", str(out)]
    assert main(["--data", "digits", *quick, "--extra", "digits_cnn"]) == 0
    runs = sorted(store.list(), key=lambda run: run.id)
    assert [run.experiment for run in runs[4:]] == ["digits_cnn"]
    runs = runs[:4]
    assert [run.config["recipe"] for run in runs] == list(RECIPES)
    assert {run.status for run in runs} == {"done"}
    results = sweep_results(store, runs[0].sweep_id)  # one sweep over `recipe`
    assert results["recipe"].tolist() == list(RECIPES) and results["best"].sum() == 1
    # (b) and (d) start with the head alone; (a) and (c) train all stages from the start
    first = {run.config["recipe"]: store.metrics(run.id)["trainable_stages"][0] for run in runs}
    assert first["unfreeze+lr"] == first["all"] == 1
    assert first["plain"] == first["augment"] == runs[0].details["n_stages"]

    text = (out / "README.md").read_text()
    for label in RECIPE_LABELS.values():
        assert f"| {label}" in text
    for image in ("loss.png", "accuracy.png", "confusion.png", "examples.png"):
        assert (out / image).stat().st_size > 5_000
        assert f"({image})" in text
    assert "| digits_cnn epochs=1 limit_train=40" in text  # the values it ran with
    assert "`dlstudio train digits_cnn --epochs 1 --limit_train 40 --seed 0`" in text
    conclusions = text.split("## Conclusions")[1]
    assert conclusions.count("\n- ") == 5
    assert "goal of 99% test accuracy" in conclusions
    assert "paired over the same 270 test pictures and 1 seed" in conclusions

    # the same runs reported again, without training: the same results table
    again = tmp_path / "again"
    ids = [str(run.id) for run in sorted(store.list(), key=lambda run: run.id)]
    assert (
        main(["--data", "digits", "--runs", *ids, "--db", str(store.path), "--out", str(again)])
        == 0
    )
    table = text.split("## Results")[1].split("![")[0]
    assert (again / "README.md").read_text().split("## Results")[1].split("![")[0] == table
    extra_only = ["--runs", ids[-1], "--db", str(store.path), "--out", str(tmp_path / "x")]
    with pytest.raises(SystemExit):
        main(["--data", "digits", *extra_only])
    assert "include a digits_plain run" in capsys.readouterr().err
