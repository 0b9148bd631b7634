"""The simulated district: valid codes, determinism, references, calibration, affiliates, risk, dirt, drops.

One small clean district and one dirty one are generated per module and shared by the tests.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from core import rules, uscc
from core.cli import main
from features.sources import SOURCES
from synth import emit_drop, generate

SEED = 11
ENTITIES = 2000
START, END = date(2016, 1, 1), date(2025, 12, 31)


def _read(folder, table: str) -> pd.DataFrame:
    files = list(folder.glob(f"{table}.*"))
    assert len(files) == 1, f"expected one file for {table}, got {files}"
    path = files[0]
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas()
    if path.suffix == ".csv":
        enc = "utf-8"
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            enc = "gbk"
        rows = list(csv.reader(io.StringIO(path.read_bytes().decode(enc), newline="")))
        width = len(rows[0])  # dirt: malformed lines (another field count, see _malformed_lines) are left out
        return pd.DataFrame([r for r in rows[1:] if len(r) == width], columns=rows[0]).replace("", None)
    return pd.read_excel(path, dtype=str)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, entities=ENTITIES, seed=SEED)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty")
    return out, generate(out, entities=ENTITIES, seed=SEED, dirty_rate=0.05)


@pytest.fixture(scope="module")
def history():
    """The clean district's full history, with internal columns (the same draws as ``clean``)."""
    from synth.district import _cached

    return _cached(ENTITIES, SEED, START, END)


def test_every_contract_table_is_written_with_its_columns(clean):
    out, report = clean
    for name, table in SOURCES.items():
        df = _read(out, name)
        assert list(df.columns) == table.names, name
        assert report["counts"][name] == len(df) > 0, name
    assert (out / "ground_truth" / "latent_monthly.parquet").exists()


def test_credit_codes_are_valid_unique_and_typed(clean):
    out, _ = clean
    ent = _read(out, "entities")
    assert ent["uscc"].is_unique
    assert all(uscc.is_valid(c) for c in ent["uscc"])
    prefix = ent["uscc"].str[:2]
    assert (prefix[ent["entity_type"] == "individual"] == "92").all()
    assert (prefix[ent["entity_type"] == "cooperative"] == "93").all()
    assert (prefix[~ent["entity_type"].isin(["individual", "cooperative"])] == "91").all()
    assert ent["name"].is_unique


def test_references_resolve_and_required_fields_are_present(clean):
    out, _ = clean
    codes = set(_read(out, "entities")["uscc"])
    end = pd.Timestamp("2025-12-31")
    for name, table in SOURCES.items():
        df = _read(out, name)
        if name != "entities" and "uscc" in df:
            present = df["uscc"].dropna()
            assert present.isin(codes).all(), f"{name}: unknown uscc"
            if table.column("uscc").required:  # opinions and their handling may name no matched entity
                assert len(present) == len(df), f"{name}: uscc missing"
        for col in table.columns:
            if col.required:
                assert df[col.name].notna().all(), f"{name}.{col.name} has blanks"
            if col.kind == "date" and f"{name}.{col.name}" not in rules.load("ingest")["dates"]["may_be_future"]:
                assert (pd.to_datetime(df[col.name]).dropna() <= end).all(), f"{name}.{col.name} after the end"
    rel = _read(out, "relations")
    assert rel["related_uscc"].dropna().isin(codes).all()
    sl = _read(out, "serious_list")
    assert sl["penalty_id"].dropna().isin(set(_read(out, "penalties")["penalty_id"])).all()


def test_calibration_shares_hold_at_small_size(clean):
    out, report = clean
    ent = _read(out, "entities")
    est = pd.to_datetime(ent["established"])
    gone = pd.to_datetime(ent["status_date"])
    alive = (est <= "2020-12-31") & (gone.isna() | (gone > "2020-12-31"))
    assert 0.18 <= (ent.loc[alive, "entity_type"] != "individual").mean() <= 0.29
    assert 0.85 * ENTITIES <= alive.sum() <= 1.15 * ENTITIES
    assert ent["town_code"].nunique() == 26
    rows = {r["figure"]: r for r in report["calibration"]}
    assert rows["enterprise annual reports filed on time 2016-2020"]["achieved"] >= 0.9
    assert 0.5 < rows["complaints received 2016-2020"]["achieved"] / rows["complaints received 2016-2020"]["target"] < 1.6


def test_label_rate_is_a_few_percent_and_the_world_is_learnable_but_not_trivial(clean):
    _, report = clean
    le = report["learnability"]
    assert 0.01 <= le["enterprise_label_rate_test"] <= 0.10
    assert 0.6 <= le["observed_auc"] <= 0.95
    assert le["latent_auc"] < 0.99


def test_affiliates_share_risk(clean):
    out, _ = clean
    gt = pq.read_table(out / "ground_truth" / "entities.parquet").to_pandas()
    logit = np.log(gt["base_propensity"] / (1 - gt["base_propensity"]))
    multi = gt[gt["group_size"] > 1].assign(logit=logit)
    multi = multi.assign(k=multi.groupby("group_id").cumcount())
    pairs = multi[multi["k"] == 0].merge(multi[multi["k"] == 1], on="group_id")
    first, second = pairs["logit_x"].to_numpy(), pairs["logit_y"].to_numpy()
    within = np.corrcoef(first, second)[0, 1]
    across = np.corrcoef(first, np.random.default_rng(0).permutation(second))[0, 1]
    assert within > 0.25 > abs(across)
    latent = pq.read_table(out / "ground_truth" / "latent_monthly.parquet", columns=["uscc", "propensity"])
    assert latent.num_rows > 0 and 0 < float(latent.column("propensity").to_numpy().mean()) < 0.2


def test_risk_12m_is_the_calibrated_ceiling_of_the_design_label(clean, history):
    from sklearn.metrics import roc_auc_score

    from synth import report

    out, _ = clean
    latent = pq.read_table(out / "ground_truth" / "latent_monthly.parquet",
                           columns=["uscc", "month", "propensity", "risk_12m"]).to_pandas()
    assert latent["risk_12m"].between(0, 1).all()
    pop = history.pop
    latent["ent"] = pd.Series(np.arange(pop.n), index=pop.uscc_of(np.arange(pop.n))).reindex(latent["uscc"].astype(str)).to_numpy()
    latent["month"] = pd.to_datetime(latent["month"])
    by_month = {m: g for m, g in latent.groupby("month")}
    ys, risks, props = [], [], []
    for as_of in pd.date_range("2017-01-01", "2024-10-01", freq="3MS"):
        a = np.datetime64(as_of.date(), "D")
        alive = report._alive_at(pop, a)
        risk, prop = np.full(pop.n, np.nan), np.full(pop.n, np.nan)
        rows, before = by_month[as_of], by_month[as_of - pd.DateOffset(months=1)]
        risk[rows["ent"]] = rows["risk_12m"]
        prop[before["ent"]] = before["propensity"]
        assert not np.isnan(risk[alive]).any(), f"an entity alive at {as_of:%Y-%m} has no risk_12m"
        keep = alive & ~np.isnan(prop)
        ys.append(report.labels(pop, history.tables, a)[keep])
        risks.append(risk[keep])
        props.append(prop[keep])
    y, risk, prop = np.concatenate(ys), np.concatenate(risks), np.concatenate(props)
    assert 0.75 < risk.mean() / y.mean() < 1.33  # calibrated: the expected count matches the labels
    top = risk >= np.quantile(risk, 0.9)
    assert 0.7 < risk[top].mean() / y[top].mean() < 1.4
    auc_risk, auc_prop = roc_auc_score(y, risk), roc_auc_score(y, prop)
    assert auc_risk > 0.82 and auc_risk > auc_prop + 0.05, (auc_risk, auc_prop)


def test_monthly_world_does_not_depend_on_chunking(history):
    from synth.world import simulate

    pop, frame = history.pop, history.frame
    whole = simulate(pop, frame, lo=0, hi=400, seed=SEED, chunk=0)
    first = simulate(pop, frame, lo=0, hi=150, seed=SEED, chunk=0)
    second = simulate(pop, frame, lo=150, hi=400, seed=SEED, chunk=1)
    for name in ("alive", "propensity", "violating", "risk", "changes"):
        joined = np.concatenate([getattr(first, name), getattr(second, name)])
        np.testing.assert_array_equal(getattr(whole, name), joined, err_msg=name)
    assert whole.violating.any() and whole.risk.max() > 0


def test_same_seed_gives_identical_parquet_content(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, entities=300, seed=5)
    generate(b, entities=300, seed=5)
    for path in sorted(a.rglob("*.parquet")):
        assert path.read_bytes() == (b / path.relative_to(a)).read_bytes(), path.name
    generate(c := tmp_path / "c", entities=300, seed=6)
    assert (a / "penalties.parquet").read_bytes() != (c / "penalties.parquet").read_bytes()


def _malformed_lines(folder) -> int:
    """CSV lines with another field count than their header."""
    count = 0
    for path in folder.glob("*.csv"):
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            rows = csv.reader(fh)
            width = len(next(rows))
            count += sum(1 for row in rows if len(row) != width)
    return count


def test_dirty_faults_are_counted_exactly(clean, dirty):
    out, report = dirty
    clean_out, _ = clean
    faults, by_table = report["faults"], report["faults_by_table"]
    assert all(faults[c] > 0 for c in faults), faults
    opinions_bytes = (out / "opinions.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        opinions_bytes.decode("utf-8")
    assert faults["gbk_encoding"] == len(_read(out, "opinions"))
    bad = dup = missing = impossible = 0
    for name in SOURCES:
        df = _read(out, name)
        dup += int(df.astype(str).duplicated().sum())
        if name != "entities" and name != "opinions" and "uscc" in df:
            bad += int((~df["uscc"].dropna().map(uscc.is_valid)).sum())  # an empty code is no fault
        for col in SOURCES[name].columns:
            if col.required and col.kind == "date":
                missing += int(df[col.name].isna().sum())
                text = df[col.name].dropna().astype(str).str[:10]
                parsed = pd.to_datetime(text, errors="coerce")
                impossible += int((parsed.isna() | (parsed > pd.Timestamp("2030-01-01"))).sum())
    assert bad == faults["bad_check_character"]
    assert dup == faults["duplicate_rows"]
    assert missing == faults["missing_required_date"]
    assert impossible == faults["impossible_date"]
    assert _malformed_lines(out) == faults["malformed_line"] == by_table["licences"]["malformed_line"]
    assert _malformed_lines(clean_out) == 0
    fines = _read(out, "penalties")["fine_amount"].dropna().astype(str)
    assert fines.str.endswith("元").sum() == faults["amount_in_wan"] == by_table["penalties"]["amount_in_wan"]
    blank_dirty = _read(out, "opinions").drop_duplicates()["uscc"].isna().sum()
    blank_clean = _read(clean_out, "opinions")["uscc"].isna().sum()
    assert blank_dirty - blank_clean == faults["name_only_opinion"]


def test_until_and_monthly_drop_add_up_to_the_later_view(tmp_path):
    kw = {"entities": 400, "seed": 3}
    generate(before := tmp_path / "before", until=date(2023, 6, 30), **kw)
    drop = emit_drop(tmp_path / "drop", month="2023-07", **kw)
    generate(after := tmp_path / "after", until=date(2023, 7, 31), **kw)
    assert drop["month"] == "2023-07" and sum(drop["counts"].values()) > 0
    for name, table in SOURCES.items():
        key = list(table.key)
        old = _read(before, name).astype(str)
        new = _read(tmp_path / "drop", name).astype(str)
        want = _read(after, name).astype(str)
        merged = pd.concat([old, new]).drop_duplicates(key, keep="last")
        merged = merged.sort_values(key).reset_index(drop=True)
        want = want.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(merged, want, obj=name)
    known = pd.to_datetime(_read(before, "penalties")["known_date"])
    assert (known <= "2023-06-30").all()


def test_cli_prints_counts_as_json(tmp_path, capsys):
    code = main(["synth", "--out", str(tmp_path / "d"), "--entities", "300", "--seed", "2", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["counts"]) == set(SOURCES) and data["counts"]["entities"] > 300
    assert main(["synth", "--out", str(tmp_path / "e"), "--entities", "10"]) == 2


def test_business_licences_are_revoked_only_after_the_rule_s_missed_report_years(clean):
    out, _ = clean
    rule = rules.load("publicity")["annual_report"]
    k = rule["years_missing_before_revocation"]
    ent = _read(out, "entities")
    revoked = ent[(ent["status"] == "revoked") & (ent["entity_type"] != "individual")]
    assert len(revoked) >= 5
    reports = _read(out, "annual_reports")
    filed = {(u, int(y)) for u, y, f in zip(reports["uscc"], reports["year"], reports["filed_date"], strict=True)
             if isinstance(f, str) and f}
    broken = []
    for u, when in zip(revoked["uscc"], pd.to_datetime(revoked["status_date"]).dt.date, strict=True):
        due = [y for y in range(when.year - 4, when.year) if date(y + 1, rule["season_end_month"],
                                                                   rule["season_end_day"]) < when]
        last = sorted(due)[-k:] if len(due) >= k else due
        if len(last) < k or any((u, y) in filed for y in last):
            broken.append((u, when, last))
    assert not broken, f"revoked without {k} consecutive missing reports: {broken[:5]}"


def test_inspections_carry_every_result_code_of_the_rules_table(clean):
    from core import inspection_results

    out, _ = clean
    seen = _read(out, "inspections")["result"].value_counts()
    assert set(seen.index) == set(inspection_results.codes())
    # the refinements keep the world's outcomes: adverse results stay a small share, most checks find nothing
    adverse = seen[list(inspection_results.codes(adverse_event=True))].sum() / seen.sum()
    assert 0.005 < adverse < 0.2 and seen["no_issue"] / seen.sum() > 0.5


def test_some_items_name_two_firms_and_a_labelled_set_says_which_one_they_are_about(clean):
    out, report = clean
    op = _read(out, "opinions")
    two = op[op["mentioned_names"].notna()]
    assert 0.05 < len(two) / len(op) < 0.2  # opinion_two_firms, a share of items
    names = two["mentioned_names"].str.split(";")
    assert (names.map(len) == 2).all()
    assert all(c in n for c, n in zip(two["company_name"], names, strict=True))
    assert all(n[0] in t + x and n[1] in t + x for n, t, x in zip(names, two["title"], two["text"], strict=True))
    labelled = pd.read_parquet(out / "labelled" / "opinion_targets.parquet")
    assert report["labelled_opinions"]["items"] == len(labelled)
    assert set(labelled["opinion_id"]) <= set(op["opinion_id"])
    negative = labelled["label"] == "negative"
    assert (labelled.loc[negative, "targets"] != "").all() and (labelled.loc[~negative, "targets"] == "").all()
    assert all(t in e.split(";") for t, e in zip(labelled.loc[negative, "targets"], labelled.loc[negative, "entities"],
                                                  strict=True))
    two_labelled = labelled["entities"].str.contains(";")
    assert two_labelled.mean() > len(two) / len(op)  # items naming two firms are labelled more often
