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


def test_table_features_are_inferred_and_split_column_is_honoured(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"id": np.arange(n), "year": np.repeat([2019, 2020, 2021, 2022, 2023, 2024], 100),
                          "sector": rng.choice(["x", "y"], size=n), "amount": rng.normal(size=n),
                          "outcome": rng.integers(0, 2, size=n),
                          "part": np.where(np.arange(n) % 10 == 0, "TEST", "")})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    ds = from_table(path, id_col="id", time_col="year", label_col="outcome", split_col="part")
    kinds = {f["name"]: f["kind"] for f in ds.features}
    assert kinds == {"sector": "categorical", "amount": "numeric"}
    assert [f["categories"] for f in ds.features if f["name"] == "sector"] == [["x", "y"]]
    assert len(ds.part("test")) == 60 and set(ds.part("test")["id"] % 10) == {0}
    assert ds.part("valid")["year"].min() > ds.part("train")["year"].max()  # newest of the rest


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
