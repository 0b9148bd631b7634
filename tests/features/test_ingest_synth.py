"""Ingest of a small simulated district: clean loads without quarantine; every injected fault is caught and counted."""

import json
import logging
import re
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from core.cli import main
from features.ingest import ingest

synth = pytest.importorskip("synth")
ENTITIES, SEED = 250, 11
# fault class of synth -> where ingest counts it
QUARANTINE_RULES = {"bad_check_character": ("bad_check_character",),
                    "missing_required_date": ("missing_required_date",),
                    "impossible_date": ("impossible_date", "date_order"),
                    "malformed_line": ("malformed_line",)}
REPAIRS = {"amount_in_wan": "amount_in_wan", "gbk_encoding": "gbk_encoding"}


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """The same small district generated clean and at dirty rate 0.02, each ingested into its own home."""
    from core.settings import Settings

    root = tmp_path_factory.mktemp("district")
    out = {}
    for label, rate in (("clean", 0.0), ("dirty", 0.02)):
        report = synth.generate(root / label, entities=ENTITIES, seed=SEED, dirty_rate=rate)
        settings = Settings.from_env(root / f"home-{label}")
        out[label] = (report, ingest(settings, root / label), settings)
    return out


def _accounted(report, summary):
    for f in summary["files"]:
        assert f["status"] == "loaded", f
        assert f["loaded"] + sum(f["quarantined"].values()) + f["deduplicated"] == f["rows"] == \
            report["counts"][f["table"]], f


@pytest.mark.slow
def test_clean_district_ingests_with_zero_quarantined_rows(district):
    report, summary, _ = district["clean"]
    assert summary["quarantined"] == {}, json.dumps(summary["quarantined"])
    assert summary["corrupt"] == []
    assert {t: n for t, n in summary["loaded"].items() if n} == {t: n for t, n in report["counts"].items() if n}
    assert "ground_truth/" in summary["ignored"] and "synth_report.json" in summary["ignored"]
    _accounted(report, summary)


@pytest.mark.slow
def test_dirty_district_catches_and_counts_every_fault_class(district):
    report, summary, _ = district["dirty"]
    _, clean, _ = district["clean"]
    _accounted(report, summary)
    assert {c for c, n in report["faults"].items() if n} == set(report["faults"])  # every class was injected
    for table, faults in report["faults_by_table"].items():
        for fault, n in faults.items():
            if fault in QUARANTINE_RULES:
                got = sum(summary["quarantined"].get(table, {}).get(r, 0) for r in QUARANTINE_RULES[fault])
            elif fault in REPAIRS:
                got = summary["repaired"].get(table, {}).get(REPAIRS[fault], 0)
            elif fault == "duplicate_rows":
                got = summary["deduplicated"][table]
            else:  # name_only_opinion: matched by name or left unmatched, on top of the clean name-only items
                assert fault == "name_only_opinion"
                fixes, base = summary["repaired"][table], clean["repaired"].get(table, {})
                got = sum(fixes.get(k, 0) - base.get(k, 0) for k in ("name_exact", "name_unmatched"))
            assert got == n, (table, fault, got, n)
    caught = {rule for rules in summary["quarantined"].values() for rule in rules}
    assert caught <= {r for rules in QUARANTINE_RULES.values() for r in rules}


@pytest.mark.slow
def test_name_matching_finds_the_items_synth_made_resolvable(district):
    report, summary, _ = district["clean"]
    assert summary["repaired"]["opinions"].get("name_exact", 0) <= report["matching"]["name_only_clean"]
    assert summary["repaired"]["opinions"].get("name_exact", 0) >= 0.8 * report["matching"]["name_only_clean"]


@pytest.mark.slow
def test_reingesting_the_dirty_district_changes_nothing(district):
    report, _, settings = district["dirty"]
    again = ingest(settings, report["out"])
    assert all(c["new"] == 0 and c["revised"] == 0 for c in again["changes"].values())


@pytest.mark.slow
def test_monthly_drop_revises_rows_keeps_history_and_matches_a_full_extract(tmp_path):
    """Base extract to 31 Oct plus the November drop gives the same current rows as a full extract to 30 Nov."""
    from core.settings import Settings

    synth.generate(tmp_path / "base", entities=ENTITIES, seed=SEED, until=date(2025, 10, 31))
    synth.emit_drop(tmp_path / "nov", month="2025-11", entities=ENTITIES, seed=SEED)
    synth.generate(tmp_path / "full", entities=ENTITIES, seed=SEED, until=date(2025, 11, 30))
    monthly, full = Settings.from_env(tmp_path / "home-monthly"), Settings.from_env(tmp_path / "home-full")
    ingest(monthly, tmp_path / "base")
    drop = ingest(monthly, tmp_path / "nov")
    again = ingest(monthly, tmp_path / "nov")
    ingest(full, tmp_path / "full")
    assert drop["quarantined"] == {} and drop["as_of"] == "2025-11-30"
    revised = sum(c["revised"] for c in drop["changes"].values())
    assert revised > 0 and all(c["new"] == c["revised"] == 0 for c in again["changes"].values())
    with duckdb.connect(str(monthly.warehouse_path), read_only=True) as con:
        moved = sum(con.execute(f"SELECT count(*) FROM {t}_history WHERE _superseded_by = ?",
                                [drop["ingest_id"]]).fetchall()[0][0] for t in drop["changes"])
        current = {t: set(con.execute(f"SELECT _row_hash FROM {t}").fetchall()) for t in drop["changes"]}
    assert moved == revised
    with duckdb.connect(str(full.warehouse_path), read_only=True) as con:
        expected = {t: set(con.execute(f"SELECT _row_hash FROM {t}").fetchall()) for t in drop["changes"]}
    assert current == expected


def _id_number(body17: str) -> str:
    """A resident ID number with a valid GB 11643 check character (ISO 7064 MOD 11-2)."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


def _leaks(text: str, numbers: set[str], names: list[str]) -> set[str]:
    """Which of ``numbers`` (ID and phone numbers) and ``names`` occur in ``text``."""
    runs = set(re.findall(r"[0-9Xx]{11,}", text))
    return {n for n in numbers if any(n in run for run in runs)} | {n for n in names if n in text}


@pytest.mark.slow
def test_bad_lines_carrying_id_and_phone_numbers_leak_nowhere_and_every_good_row_loads(district, tmp_path, capsys,
                                                                                       caplog):
    """The small district's relations delivered as a CSV with bad lines that carry ID-card and phone numbers
    (and a few good lines in GB18030): nothing personal reaches stderr, logs, the warehouse or the operational
    DB, and every good row loads."""
    report, _, _ = district["clean"]
    source = Path(report["out"])
    drop = tmp_path / "drop"
    shutil.copytree(source, drop, ignore=shutil.ignore_patterns("ground_truth", "relations.parquet"))
    relations = pd.read_parquet(source / "relations.parquet")
    good = relations.to_csv(index=False, lineterminator="\n").splitlines()
    code = relations["uscc"].iloc[0]
    ids = [_id_number(body) for body in ("11010119900307123", "51010219851212002", "32050119770815441",
                                         "44030619881130562", "37020219650704318")]
    phones = ["13912345678", "18623456789"]
    names = ["鞠婧祎", "禤靓", "欧阳", "娜娜", "鄢彧"]
    bad = [f"GLBAD01,{code},legal_rep,欧阳,娜娜,{ids[0]},,,2019-03-01,,2019-03-01",  # comma inside the name
           f"GLBAD02,{code},shareholder,鞠婧祎,{ids[1]},,0.3,2019-03-01,,2019-03-01,{phones[0]}",  # an extra phone field
           f"GLBAD03,{code},executive,禤靓,{ids[2]}",  # cut short
           f"GLBAD04,{code},legal_rep,{phones[1]} 鄢彧,{ids[3]},,,2020-01-01"]  # phone in the name, fields missing
    undecodable = f"GLBAD05,{code},legal_rep,".encode() + b"\xff\xfe\x80" + f",{ids[4]},,,2020-01-01,,2020-01-01".encode()
    every_text = "".join(pd.read_parquet(p).astype(str).to_csv() for p in drop.glob("*.parquet"))
    assert not _leaks(every_text, set(ids + phones), names)  # the secrets occur only in the bad lines
    gb_rows = set(range(30, 60))  # good lines sent in GB18030, mixed into the UTF-8 file
    out = [good[0].encode()]
    for i, line in enumerate(good[1:], 1):
        out.append(line.encode("gb18030" if i in gb_rows else "utf-8"))
        if i in (10, 200, 400, 600):
            out.append(bad[(10, 200, 400, 600).index(i)].encode())
        if i == 300:
            out.append(undecodable)
    (drop / "relations.csv").write_bytes(b"\n".join(out) + b"\n")
    redecoded = sum(1 for i in gb_rows if not good[i].isascii())
    home = tmp_path / "home"
    caplog.set_level(logging.DEBUG)

    assert main(["ingest", str(drop), "--home", str(home), "--json"]) == 0
    printed = capsys.readouterr()
    summary = json.loads(printed.out)
    assert summary["loaded"]["relations"] == len(relations)
    assert summary["quarantined"]["relations"] == {"malformed_line": 4, "undecodable_line": 1}
    assert summary["repaired"]["relations"]["gbk_encoding"] == redecoded > 20
    from core.settings import Settings

    settings = Settings.from_env(home)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        loaded = {r for (r,) in con.execute("SELECT relation_id FROM relations").fetchall()}
        texts = []
        for table, column in con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                         "WHERE data_type = 'VARCHAR'").fetchall():
            texts += [v for (v,) in con.execute(f'SELECT "{column}" FROM "{table}"').fetchall() if v]
        lines = con.execute("SELECT original FROM quarantine WHERE rule LIKE '%_line' ORDER BY row_number").fetchall()
    assert loaded == set(relations["relation_id"])
    assert [json.loads(o)["fields"][0] for (o,) in lines] == ["GLBAD01", "GLBAD02", "GLBAD05", "GLBAD03", "GLBAD04"]
    with sqlite3.connect(settings.db_url.removeprefix("sqlite:///")) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            texts += [str(v) for row in db.execute(f'SELECT * FROM "{table}"').fetchall() for v in row]
    assert any("ingest" in t for t in texts)  # the operational DB was written (the run's audit entry)
    numbers = set(ids + phones) | set(relations["person_id_number"].dropna())
    secret_names = names
    assert not _leaks("\n".join(texts), numbers, secret_names)
    assert not _leaks(printed.out + printed.err + caplog.text, numbers, secret_names)
    for path in (p for p in home.rglob("*") if p.is_file()):  # and the files' raw bytes, whatever their format
        assert not _leaks(path.read_bytes().decode("latin-1"), numbers, []), path
        raw = path.read_bytes()
        assert not [n for n in secret_names if n.encode() in raw], path
