"""Labels from the warehouse: which events count, the (as_of, as_of + 12 months] window, completeness."""

from datetime import date

import pandas as pd

from features.warehouse import connect
from training import labels

U1, U2, U3 = "91350100M000100Y43", "91110000710935732K", "92350100MA2Y0000X5"


def _insert(con, table, rows):
    frame = pd.DataFrame(rows)
    con.register("_rows", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    con.unregister("_rows")


def test_label_window_and_event_rules(settings):
    con = connect(settings)
    _insert(con, "penalties", [
        # ordinary fine inside the window: counts
        {"penalty_id": "P1", "uscc": U1, "decided_date": date(2023, 3, 1), "domain": "food", "procedure": "ordinary",
         "severity": "ordinary", "sanctions": "fine", "leniency": False, "known_date": date(2023, 3, 10)},
        # a warning alone and a leniency case never count
        {"penalty_id": "P2", "uscc": U2, "decided_date": date(2023, 3, 1), "domain": "food", "procedure": "ordinary",
         "severity": "minor", "sanctions": "warning", "leniency": False, "known_date": date(2023, 3, 1)},
        {"penalty_id": "P3", "uscc": U2, "decided_date": date(2023, 4, 1), "domain": "food", "procedure": "ordinary",
         "severity": "minor", "sanctions": "fine", "leniency": True, "known_date": date(2023, 4, 1)},
        # known only after the window: does not count for as_of 2023-01-01
        {"penalty_id": "P4", "uscc": U3, "decided_date": date(2023, 12, 20), "domain": "food",
         "procedure": "ordinary", "severity": "ordinary", "sanctions": "fine", "leniency": False,
         "known_date": date(2024, 1, 2)},
    ])
    _insert(con, "abnormal_list", [
        {"listing_id": "A1", "uscc": U3, "listed_date": date(2024, 1, 1), "reason": "unreachable",
         "known_date": date(2024, 1, 1)},  # exactly as_of + 12 months: inside (closed right end)
        {"listing_id": "A2", "uscc": U2, "listed_date": date(2023, 5, 1), "reason": "no_annual_report",
         "known_date": date(2023, 5, 1)},  # not an adverse event by the default definition
    ])
    _insert(con, "inspections", [
        {"inspection_id": "I1", "uscc": U1, "inspection_date": date(2025, 6, 1), "kind": "random",
         "result": "case_opened", "known_date": date(2025, 6, 1)},
    ])
    spine = pd.DataFrame({"uscc": [U1, U2, U3, U1], "as_of": [date(2023, 1, 1)] * 3 + [date(2025, 3, 1)]})
    out = labels.compute(con, spine, end=date(2025, 12, 31)).set_index(["uscc", "as_of"])
    assert out.loc[(U1, date(2023, 1, 1)), "label"] == 1
    assert out.loc[(U1, date(2023, 1, 1)), "events"] == "ordinary_penalty"
    assert out.loc[(U2, date(2023, 1, 1)), "label"] == 0
    assert out.loc[(U3, date(2023, 1, 1)), "label"] == 1
    assert out.loc[(U3, date(2023, 1, 1)), "events"] == "abnormal_unreachable"
    assert bool(out.loc[(U1, date(2023, 1, 1)), "complete"]) is True
    assert bool(out.loc[(U1, date(2025, 3, 1)), "complete"]) is False  # window runs past the data
    assert labels.data_end(con) == date(2025, 6, 1)
    con.close()


def test_label_definition_is_data_with_a_version():
    info = labels.info()
    assert info["horizon_months"] == 12
    assert {"serious_list", "ordinary_penalty", "licence_revoked", "abnormal_unreachable",
            "inspection_case"} <= set(info["events"])
    assert info["rules_version"].startswith("labels-")
