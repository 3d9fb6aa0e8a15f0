"""Tabular data: ISLP Default, stratified splits, train-only preprocessing, clear input errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from core.tabular.data import (
    check_binary_table,
    import_csv,
    load_table,
    positive_class,
    prepare_binary,
    read_csv,
)

NUMERIC = ["balance", "income"]


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture(scope="module")
def default():
    return load_table("islp-default")


@pytest.fixture(scope="module")
def splits(default):
    return prepare_binary(default, "default", seed=0)


def reference_split(table: pd.DataFrame, seed: int = 0):
    """The raw train / val / test rows, split by scikit-learn directly (20 % test, 15 % val)."""
    y = (table["default"] == "Yes").to_numpy()
    rest, test = train_test_split(table, test_size=0.2, stratify=y, random_state=seed)
    train, val = train_test_split(
        rest, test_size=0.15 / 0.8, stratify=rest["default"] == "Yes", random_state=seed
    )
    return train, val, test


def test_islp_default_loads(default):
    assert default.shape == (10_000, 4)
    assert default.columns.tolist() == ["default", "student", "balance", "income"]
    assert set(default["default"]) == {"No", "Yes"} == set(default["student"])
    assert (default["default"] == "Yes").sum() == 333


def test_positive_class_is_the_minority_class(default):
    assert positive_class(default["default"]) == "Yes"
    assert positive_class(pd.Series(["b", "a", "b", "a"])) == "a"  # a tie goes to the name


def test_split_sizes_and_feature_names(splits):
    assert (len(splits.y_train), len(splits.y_val), len(splits.y_test)) == (6500, 1500, 2000)
    assert splits.x_train.shape == (6500, 4) and splits.n_features == 4
    assert splits.x_val.dtype == np.float32 and splits.y_test.dtype == np.float32
    assert splits.positive_label == "Yes"
    assert splits.feature_names == [
        "numeric__balance",
        "numeric__income",
        "categorical__student_No",
        "categorical__student_Yes",
    ]


def test_splits_are_stratified(splits):
    positives = 333
    for y, share in ((splits.y_train, 0.65), (splits.y_val, 0.15), (splits.y_test, 0.2)):
        assert set(np.unique(y)) == {0.0, 1.0}
        assert abs(y.mean() - positives / 10_000) < 0.005
        assert abs(y.sum() - positives * share) <= 1


def test_scaler_is_fitted_on_the_train_split_only(default, splits):
    train, val, test = reference_split(default)
    reference = StandardScaler().fit(train[NUMERIC])
    for x, raw in ((splits.x_train, train), (splits.x_val, val), (splits.x_test, test)):
        np.testing.assert_allclose(x[:, :2], reference.transform(raw[NUMERIC]), atol=1e-5)

    np.testing.assert_allclose(splits.x_train[:, :2].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(splits.x_train[:, :2].std(axis=0), 1, atol=1e-4)
    for x in (splits.x_val, splits.x_test):
        assert np.abs(x[:, :2].mean(axis=0)).max() > 1e-3

    fitted_on_all = StandardScaler().fit(default[NUMERIC]).transform(train[NUMERIC])
    assert not np.allclose(splits.x_train[:, :2], fitted_on_all, atol=1e-5)


def test_student_is_one_hot_encoded(default, splits):
    _, _, test = reference_split(default)
    one_hot = splits.x_test[:, 2:]
    assert set(np.unique(one_hot)) == {0.0, 1.0}
    np.testing.assert_array_equal(one_hot.sum(axis=1), 1)
    np.testing.assert_array_equal(one_hot[:, 1], (test["student"] == "Yes").to_numpy())
    np.testing.assert_array_equal(splits.y_test, (test["default"] == "Yes").to_numpy())


def test_a_chosen_positive_label_flips_the_target(default):
    flipped = prepare_binary(default, "default", seed=0, positive_label="No")
    assert flipped.positive_label == "No"
    for y in (flipped.y_train, flipped.y_val, flipped.y_test):
        assert abs(y.mean() - 0.9667) < 0.005
    with pytest.raises(ValueError, match="positive label 'Maybe' is not a class of 'default'"):
        prepare_binary(default, "default", positive_label="Maybe")


def test_another_seed_gives_another_split(default, splits):
    other = prepare_binary(default, "default", seed=1)
    assert not np.array_equal(other.x_test, splits.x_test)


def _with_nan_income(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table.loc[table.index[:3], "income"] = np.nan
    return table


def _three_classes(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table.loc[table.index[:50], "default"] = "Maybe"
    return table


@pytest.mark.parametrize(
    ("broken", "target", "message"),
    [
        (
            lambda t: t,
            "defaulted",
            "target column 'defaulted' is not in the data; columns are: default, student, "
            "balance, income",
        ),
        (lambda t: t[["default"]], "default", "at least one feature column"),
        (_with_nan_income, "default", r"missing values \(NaN\) in: income \(3\)"),
        (_three_classes, "default", "exactly two classes; it has 3: Maybe, No, Yes"),
        (lambda t: t.assign(default="No"), "default", "exactly two classes; it has 1: No"),
        (
            lambda t: pd.concat([t[t["default"] == "No"], t[t["default"] == "Yes"].head(9)]),
            "default",
            "rarer class of 'default' has only 9 rows; at least 10 are needed",
        ),
    ],
)
def test_bad_tables_are_rejected_with_clear_messages(default, broken, target, message):
    with pytest.raises(ValueError, match=message):
        prepare_binary(broken(default), target)


def test_ten_rows_of_the_rare_class_are_enough(default):
    labels = default["default"]
    table = pd.concat([default[labels == "No"].head(990), default[labels == "Yes"].head(10)])
    check_binary_table(table, "default")
    small = prepare_binary(table, "default")
    assert all(y.sum() >= 1 for y in (small.y_train, small.y_val, small.y_test))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the CSV file bad.csv is empty"),
        (b"\n\n\n", "the CSV file bad.csv has no columns"),
        (b"default,student,balance,income\n", "the CSV file bad.csv has a header but no rows"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "the file bad.csv is not a readable CSV"),
        (b'a,b\n1,"unclosed\n', "the file bad.csv is not a readable CSV"),
    ],
)
def test_unreadable_csv_files_are_rejected(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_csv(path)
    with pytest.raises(ValueError, match=message):
        load_table(str(path))


def test_a_missing_file_names_the_builtin_sources_and_only_its_base_name(tmp_path):
    with pytest.raises(
        ValueError, match=r"^no such CSV file: nowhere\.csv \(built-in sources: islp-default"
    ):
        read_csv(tmp_path / "nowhere.csv")


def test_a_folder_named_like_a_csv_file_is_refused_plainly(tmp_path):
    (tmp_path / "x.csv").mkdir()
    with pytest.raises(ValueError, match=r"^x\.csv is a folder, not a CSV file$"):
        load_table(str(tmp_path / "x.csv"))


def test_import_csv_keeps_a_copy_and_returns_the_columns(tmp_path, default, data_dir):
    upload = tmp_path / "upload" / "loans.csv"
    upload.parent.mkdir()
    default.head(200).to_csv(upload, index=False)

    kept, columns = import_csv(upload)
    assert columns == ["default", "student", "balance", "income"]
    assert kept.parent == data_dir / "uploads" and kept.name.endswith("-loans.csv")
    assert kept.read_bytes() == upload.read_bytes()

    upload.unlink()  # the upload folder is temporary; the copy stays readable
    pd.testing.assert_frame_equal(read_csv(kept), default.head(200), check_dtype=False)
    assert import_csv(kept)[1] == columns


def test_import_csv_refuses_a_bad_file_without_keeping_it(tmp_path, data_dir):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="is empty"):
        import_csv(path)
    assert not (data_dir / "uploads").exists()
