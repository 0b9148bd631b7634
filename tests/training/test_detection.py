"""What detected each label, and the random-check correction: re-labelled rows, weights 1/π, test slice kept."""

from datetime import date

import numpy as np
import pandas as pd

from features import warehouse
from training.dataset import SPLIT_COL
from training.detection import WEIGHT_COL, detection_kinds, detection_mix, random_check_correction


def _warehouse(settings):
    con = warehouse.connect(settings)
    rows = [("I1", "U1", date(2024, 3, 1), "random", "case_opened"),
            ("I2", "U2", date(2024, 2, 1), "complaint", "issue_corrected"),
            ("I3", "U2", date(2024, 5, 1), "random", "case_opened"),  # later than the complaint
            ("I4", "U3", date(2024, 4, 1), "random", "no_issue"),
            ("I5", "U4", date(2024, 4, 1), "targeted", "case_opened"),
            ("I6", "U5", date(2023, 6, 1), "random", "case_opened"),  # before the as_of: not in the horizon
            ("I7", "U7", date(2024, 6, 1), "random", "no_issue")]
    con.executemany("INSERT INTO inspections (inspection_id, uscc, inspection_date, kind, result) VALUES "
                    "(?, ?, ?, ?, ?)", rows)
    return con


def _frame():
    return pd.DataFrame({
        "uscc": ["U1", "U2", "U3", "U4", "U5", "U6", "U7", "U1"],
        "as_of": [date(2024, 1, 1)] * 7 + [date(2025, 1, 1)],
        "label": [1, 1, 0, 1, 1, 0, 0, 0],
        "entity_type": ["limited_company", "individual", "limited_company", "individual", "limited_company",
                        "limited_company", "individual", "limited_company"],
        SPLIT_COL: ["train"] * 7 + ["test"]})


def test_detection_kind_is_the_first_adverse_inspection_or_none(settings):
    con = _warehouse(settings)
    try:
        frame = _frame()
        kinds = detection_kinds(con, frame)
    finally:
        con.close()
    assert kinds.tolist() == ["random", "complaint", "", "targeted", "none", "", "", ""]
    mix = detection_mix(kinds, np.array(["A", "D", "A", "D", "A", "B", "B", "A"]))
    assert mix["A"] == {"positives": 2, "random": 0.5, "targeted": 0.0, "complaint": 0.0, "none": 0.5}
    assert mix["D"]["positives"] == 2 and mix["D"]["complaint"] == 0.5 and "B" not in mix


def test_random_check_correction_relabels_by_random_findings_weighted_by_inverse_probability(settings):
    con = _warehouse(settings)
    try:
        out = random_check_correction(con, _frame(), split_col=SPLIT_COL)
    finally:
        con.close()
    train = out[out[SPLIT_COL] == "train"].set_index("uscc")
    # only the randomly inspected rows remain: U1 (found), U2 (found at random, after a complaint), U3, U7 (clean)
    assert sorted(train.index) == ["U1", "U2", "U3", "U7"]
    assert train["label"].to_dict() == {"U1": 1, "U2": 1, "U3": 0, "U7": 0}
    # π: enterprises 2 of 4 randomly checked (0.5), individual businesses 2 of 3 (2/3): weights 2 and 1.5
    ratio = train.loc["U1", WEIGHT_COL] / train.loc["U2", WEIGHT_COL]
    assert abs(ratio - 2 / 1.5) < 1e-9 and abs(train[WEIGHT_COL].mean() - 1) < 1e-9
    test = out[out[SPLIT_COL] == "test"]
    assert len(test) == 1 and test["label"].iloc[0] == 0 and test[WEIGHT_COL].iloc[0] == 1.0


def test_label_correction_needs_the_warehouse_spine(tmp_path, capsys):
    from core.cli import main

    code = main(["train", "--home", str(tmp_path / "home"), "--table", str(tmp_path / "t.parquet"), "--id-col",
                 "uscc", "--time-col", "as_of", "--label", "label", "--label-correction", "random-checks"])
    assert code == 2 and "--label-correction needs the warehouse spine" in capsys.readouterr().err
