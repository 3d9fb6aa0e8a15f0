"""Config building: string conversion, validation messages, experiment defaults, the registry."""

import math
from dataclasses import asdict, dataclass, field

import pytest

from core.config import build_config, check_range, config_fields
from core.experiments import Experiment, get_experiment, list_experiments, register
from core.experiments.loan import CHOSEN_DROPOUT, LoanConfig


@dataclass
class Toy:
    count: int = 1
    rate: float = 0.5
    flag: bool = False
    name: str = "a"
    mode: str = field(default="x", metadata={"help": "which mode", "choices": ("x", "y")})


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("count", "7", 7),
        ("count", "1e3", 1000),
        ("count", " 4.0 ", 4),
        ("rate", "0.25", 0.25),
        ("rate", "-3", -3.0),
        ("flag", "true", True),
        ("flag", "Yes", True),
        ("flag", "on", True),
        ("flag", "no", False),
        ("flag", "0", False),
        ("flag", True, True),
        ("name", "hello", "hello"),
        ("name", 12, "12"),
        ("mode", "y", "y"),
        ("count", 10**30, 10**30),  # exact, for the field's range check to name
        ("count", "1" + "0" * 30, 10**30),
    ],
)
def test_build_config_converts_strings_to_the_field_type(key, text, expected):
    value = getattr(build_config(Toy, {key: text}), key)
    assert value == expected and type(value) is type(expected)


def test_build_config_without_values_gives_the_defaults():
    assert build_config(Toy) == Toy() == build_config(Toy, {})


def test_build_config_names_unknown_keys_and_the_known_ones():
    with pytest.raises(ValueError, match="unknown config key") as error:
        build_config(Toy, {"cuont": "1", "zeta": "2", "rate": "1"})
    message = str(error.value)
    assert "cuont, zeta" in message and "known keys: count, rate, flag, name, mode" in message


@pytest.mark.parametrize(
    ("key", "text", "fragment"),
    [
        ("count", "1.5", "count: '1.5' is not a valid int"),
        ("count", "ten", "count: 'ten' is not a valid int"),
        ("count", "nan", "count: 'nan' is not a valid int"),
        ("count", "inf", "count: 'inf' is not a valid int"),
        ("count", "1e400", "count: '1e400' is not a valid int"),
        ("count", float("inf"), "count: inf is not a valid int"),
        ("rate", "inf", "rate: 'inf' is not a valid float"),
        ("rate", "-inf", "rate: '-inf' is not a valid float"),
        ("rate", 10**400, "is not a valid float"),  # too large for a float: no OverflowError
        ("rate", "fast", "rate: 'fast' is not a valid float"),
        ("flag", "maybe", "flag: 'maybe' is not a valid bool"),
        ("mode", "z", "mode: 'z' is not one of x, y"),
    ],
)
def test_build_config_rejects_values_of_the_wrong_kind(key, text, fragment):
    with pytest.raises(ValueError) as error:
        build_config(Toy, {key: text})
    assert fragment in str(error.value)


def test_config_fields_describe_types_defaults_help_and_choices():
    specs = {spec.name: spec for spec in config_fields(Toy)}
    assert list(specs) == ["count", "rate", "flag", "name", "mode"]
    assert (specs["count"].type, specs["count"].default, specs["count"].choices) == (int, 1, None)
    assert (specs["mode"].help, specs["mode"].choices) == ("which mode", ("x", "y"))


@pytest.mark.parametrize(
    ("value", "kwargs", "ok"),
    [
        (0.0, {"low": 0}, True),
        (0.0, {"low": 0, "low_inclusive": False}, False),
        (1.0, {"high": 1}, True),
        (1.0, {"high": 1, "high_inclusive": False}, False),
        (5.0, {}, True),
        (math.nan, {}, False),
        (math.inf, {"high": 10}, False),
    ],
)
def test_check_range_bounds(value, kwargs, ok):
    if ok:
        check_range("x", value, **kwargs)
    else:
        with pytest.raises(ValueError, match="x must be in"):
            check_range("x", value, **kwargs)


def test_check_range_message_shows_the_interval():
    with pytest.raises(ValueError, match=r"^lr must be in \(0, 10\], got -1$"):
        check_range("lr", -1, low=0, low_inclusive=False, high=10)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lr": "0"}, r"lr must be in \(0, 10\], got 0.0"),
        ({"lr": "-0.1"}, r"lr must be in \(0, 10\]"),
        ({"lr": "nan"}, "lr: 'nan' is not a valid float"),
        ({"seed": "-1"}, r"seed must be in \[0, 4294967295\], got -1"),
        ({"seed": str(2**32)}, r"seed must be in \[0, 4294967295\], got 4294967296"),
        ({"hidden": "4096", "blocks": "64"}, "makes 8,589,934,592 weights; at most 33,554,432"),
        ({"epochs": "1001"}, r"epochs must be in \[1, 1000\], got 1001"),
        ({"epochs": "0"}, r"epochs must be in \[1, 1000\], got 0"),
        ({"dropout": "1.0"}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"hidden": "0"}, r"hidden must be in \[1, 4096\]"),
        ({"batch_size": "0"}, r"batch_size must be in \[1, 65536\]"),
        ({"weight_decay": "-1"}, r"weight_decay must be in \[0, 10\]"),
        ({"device": "tpu"}, "device: 'tpu' is not one of auto, cpu, cuda"),
        ({"data": "  "}, "data must name a built-in source or a CSV file"),
        ({"data": "/tmp/loans.csv"}, "target: choose the target column of the CSV file"),
    ],
)
def test_loan_config_rejects_out_of_range_values_naming_the_field(values, message):
    with pytest.raises(ValueError, match=message):
        build_config(LoanConfig, values)


def test_loan_config_accepts_the_range_limits(tmp_path):
    config = build_config(LoanConfig, {"lr": "10", "epochs": "1000", "dropout": "0.99"})
    assert (config.lr, config.epochs, config.dropout) == (10.0, 1000, 0.99)
    big = build_config(LoanConfig, {"hidden": "512", "blocks": "16", "seed": str(2**32 - 1)})
    assert (big.hidden, big.blocks, big.seed) == (512, 16, 2**32 - 1)
    path = str(tmp_path / "loans.csv")  # the suite's temp files are readable (conftest)
    csv = build_config(LoanConfig, {"data": path, "target": "default"})
    assert (csv.data, csv.target) == (path, "default")


def test_make_config_applies_experiment_defaults_and_user_values_override_them():
    exp2 = get_experiment("loan_exp2")
    config = exp2.make_config()
    assert (config.hidden, config.blocks, config.lr, config.epochs) == (128, 3, 0.01, 10)
    assert not config.skip

    overridden = exp2.make_config({"hidden": "64", "lr": "0.05"})
    assert (overridden.hidden, overridden.blocks, overridden.lr) == (64, 3, 0.05)

    exp1 = get_experiment("loan_exp1").make_config()
    assert asdict(exp1) == asdict(LoanConfig())


def _differences(name: str, base: str) -> dict:
    config, base_config = (asdict(get_experiment(n).make_config()) for n in (name, base))
    return {key: value for key, value in config.items() if base_config[key] != value}


def test_each_experiment_adds_one_step_to_the_previous_one():
    assert _differences("loan_exp2", "loan_exp1") == {"hidden": 128, "blocks": 3}
    assert _differences("loan_exp3", "loan_exp2") == {"skip": True, "batchnorm": True}
    assert _differences("loan_exp4", "loan_exp3") == {"dropout": CHOSEN_DROPOUT}
    assert set(_differences("loan_exp5", "loan_exp4")) == {"weight_decay"}
    assert get_experiment("loan_exp5").make_config().weight_decay > 0


def test_registry_lists_the_loan_experiments_and_rejects_duplicates():
    names = [experiment.name for experiment in list_experiments()]
    loan = [name for name in names if name.startswith("loan_")]
    assert loan == [f"loan_exp{i}" for i in range(1, 6)]  # in registration order
    with pytest.raises(ValueError, match="already registered"):
        register(Experiment("loan_exp1", "again", LoanConfig, lambda config, logger: None))
    with pytest.raises(KeyError, match=r"unknown experiment 'loan_exp9'; registered: .*loan_exp1"):
        get_experiment("loan_exp9")


@pytest.mark.parametrize(
    ("experiment", "values", "message"),
    [
        ("digits_plain", {"input_size": "1024", "batch_size": "64"}, "pixels per batch"),
        ("digits_plain", {"limit_train": 10**30}, r"limit_train must be in \[0, 10000000\]"),
        ("digits_plain", {"limit_train": "3"}, "one of each of the 10 classes"),
        ("digits_plain", {"label_fraction": "0"}, r"label_fraction must be in \(0, 1\]"),
        ("digits_context", {"limit_images": 10**30}, r"limit_images must be in \[0, 10000000\]"),
        ("digits_context", {"limit_images": "5"}, "^limit_images: 5 pictures cannot hold one"),
        ("digits_pseudo", {"top_k": 10**30}, r"top_k must be in \[0, 10000000\]"),
    ],
)
def test_image_configs_refuse_at_launch_what_would_fail_in_the_worker(experiment, values, message):
    with pytest.raises(ValueError, match=message):
        get_experiment(experiment).checked_config(values)


def test_image_configs_accept_a_large_batch_of_small_pictures():
    config = get_experiment("digits_plain").make_config({"input_size": "64", "batch_size": "4096"})
    assert (config.input_size, config.batch_size) == (64, 4096)
