"""Temporal split: no label window of a training row reaches the valid as_of; tables bring their own."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from core.errors import UserError
from training.dataset import from_frame, from_table
from training.toy import TOY_FEATURES, toy_frame


def test_spine_split_leaves_a_label_embargo_between_slices():
    ds = from_frame(toy_frame(entities=200, periods=12), id_col="uscc", time_col="as_of", label_col="label",
                    features=TOY_FEATURES, embargo_months=12)
    w = ds.window()
    test_t, valid_t = date.fromisoformat(w["test"]["start"]), date.fromisoformat(w["valid"]["start"])
    train_end = date.fromisoformat(w["train"]["end"])
    assert w["test"]["start"] == w["test"]["end"] == "2021-10-01"  # newest as_of
    assert (pd.Timestamp(valid_t) + pd.DateOffset(months=12)).date() <= test_t
    assert (pd.Timestamp(train_end) + pd.DateOffset(months=12)).date() <= valid_t
    assert set(ds.frame["_split"]) == {"train", "valid", "test"}


def _table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(n), "year": np.repeat([2019, 2020, 2021, 2022, 2023, 2024], n // 6),
                         "sector": rng.choice(["x", "y"], size=n), "amount": rng.normal(size=n),
                         "outcome": rng.integers(0, 2, size=n)})


def test_table_features_are_inferred_and_a_train_valid_test_column_is_used_as_given(tmp_path):
    frame = _table()
    frame["part"] = np.where(frame["id"] % 10 == 0, "TEST", np.where(frame["id"] % 10 == 1, "Valid", "train"))
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    ds = from_table(path, id_col="id", time_col="year", label_col="outcome", split_col="part")
    kinds = {f["name"]: f["kind"] for f in ds.features}
    assert kinds == {"sector": "categorical", "amount": "numeric"}
    assert [f["categories"] for f in ds.features if f["name"] == "sector"] == [["x", "y"]]
    assert len(ds.part("test")) == 60 and set(ds.part("test")["id"] % 10) == {0}
    assert set(ds.part("valid")["id"] % 10) == {1}
    assert ds.window()["split"]["method"] == "given"


def test_a_train_test_column_trains_with_valid_carved_from_the_newest_train_rows():
    frame = _table()
    frame["split"] = np.where(frame["year"] == 2024, "test", "train")
    ds = from_frame(frame, id_col="id", time_col="year", label_col="outcome", split_col="split")
    assert set(ds.part("test")["year"]) == {2024}
    assert set(ds.part("valid")["year"]) == {2023}  # the newest train year holds >= 20% of the train rows
    assert ds.part("train")["year"].max() == 2022
    w = ds.window()
    assert w["split"]["method"] == "carved_valid" and w["split"]["valid_share"] == 0.2
    assert w["valid"]["rows"] == 100 and w["train"]["rows"] == 400


@pytest.mark.parametrize(("values", "message"), [
    (["train", "test", ""], "blank row"),
    (["train", "holdout"], r"unknown value\(s\) \['holdout'\]"),
    (["train"], r"got only \['train'\]"),
    (["train", "valid"], r"got only \['train', 'valid'\]"),
    (["test"], r"got only \['test'\]"),
])
def test_every_other_split_shape_is_refused_naming_what_was_found(values, message):
    frame = _table()
    frame["split"] = [values[i % len(values)] for i in range(len(frame))]
    with pytest.raises(UserError, match=message):
        from_frame(frame, id_col="id", time_col="year", label_col="outcome", split_col="split")


def test_train_rows_at_one_time_cannot_give_a_carved_validation_slice():
    frame = _table()
    frame["split"] = np.where(frame["year"] >= 2020, "test", "train")
    with pytest.raises(UserError, match="span one time value"):
        from_frame(frame, id_col="id", time_col="year", label_col="outcome", split_col="split")


def test_without_a_split_column_the_newest_rows_are_held_out():
    ds = from_frame(_table(), id_col="id", time_col="year", label_col="outcome")
    # 2024 alone holds 1/6 < 20% of the rows, so test is 2023-2024; valid is the newest 20% of the rest
    assert set(ds.part("test")["year"]) == {2023, 2024} and set(ds.part("valid")["year"]) == {2022}
    assert ds.window()["split"]["method"] == "time"


def test_a_label_that_is_not_binary_is_refused():
    frame = pd.DataFrame({"id": [1, 2, 3], "t": [1, 2, 3], "y": [0, 2, 1], "f": [1.0, 2.0, 3.0]})
    with pytest.raises(UserError, match="must hold 0/1"):
        from_frame(frame, id_col="id", time_col="t", label_col="y")


def test_only_the_as_of_dates_the_split_uses_are_built():
    from features.snapshot import spine_dates
    from training.dataset import spine_split_dates

    dates = spine_dates(date(2020, 1, 1), date(2024, 10, 1))
    used = spine_split_dates(dates, embargo_months=12)
    assert used[-2:] == [date(2023, 10, 1), date(2024, 10, 1)]
    assert max(used[:-2]) == date(2022, 10, 1) and len(used) == 14
