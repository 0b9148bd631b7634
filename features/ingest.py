"""Ingest a drop of source extracts: read, validate, normalise, pseudonymise, quarantine and load.

Every input row ends up loaded, quarantined (with its rule, a detail and its original values) or
counted as an exact duplicate; a CSV line that is no row is quarantined as a masked line, and a file
that cannot be used (corrupt, or a header that does not fit) is reported and left whole at the source.
Loading is by row hash, so re-ingesting a drop changes nothing; a row with a known key and new values
replaces the current version, which moves to ``<table>_history``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from core import progress, rules
from core.publicity import publicity_rules
from core.settings import Settings
from features import fingerprints, masking, warehouse
from features.name_match import match_names
from features.normalise import as_text, protect_personal, row_numbers, with_check_indices
from features.readers import CorruptFile, Extract, find_extracts, read_extract
from features.sources import SOURCES, Table
from features.validate import checked_sql, field_limit, long_columns

INGEST_MEMORY = "4GB"  # keeps a 1M-entity ingest under 8 GiB peak on a shared machine (CREDIT_RISK_DUCKDB_MEMORY wins)
MANIFEST = "synth_report.json"  # optional drop manifest; its "until" (else "as_of", "end") dates the drop


class AccountingError(RuntimeError):
    """Rows were lost: loaded + quarantined + deduplicated differs from the rows read."""


class RefusedFile(Exception):
    """A file whose header does not fit its table: loading it would quarantine every row or lose a column."""


def ingest(settings: Settings, drop_dir: str | Path, *, as_of: date | None = None,
           actor: str | None = None) -> dict[str, Any]:
    """Load every contract file of ``drop_dir`` into the warehouse.

    Args:
        settings: where the warehouse lives; the pseudonymisation key comes from here.
        drop_dir: folder with ``<table>.parquet|.csv|.xlsx`` files (other files and subfolders are ignored).
        as_of: the date the drop was extracted; no event may be dated after it. Default: the manifest's
            ``until``/``as_of``/``end`` when the drop has one, else today.
        actor: who runs the ingest, for the run record and the audit log.
    Returns:
        ``{"ingest_id", "as_of", "loaded": {table: rows}, "quarantined": {table: {rule: rows}},
        "repaired": {table: {fix: rows}}, "deduplicated": {table: rows},
        "changes": {table: {"new", "revised", "unchanged"}}, "files": [...], "ignored": [...], "corrupt": [...],
        "refused": [...], "opinion_mentions": links}`` (the last when opinions or entities changed: item–enterprise
        links written, :func:`attribute_opinions`); a file is ``corrupt`` when it cannot be read, ``refused`` when
        its header does not fit the contract (:func:`check_header`); nothing of such a file is loaded, the rest
        of the drop is.
    Raises:
        NotFound: ``drop_dir`` is no folder or holds no contract file.
    """
    started = datetime.now(UTC)
    drop = Path(drop_dir)
    found, ignored = find_extracts(drop)
    as_of = as_of or drop_as_of(drop)
    key = settings.pseudonym_key()
    con = warehouse.connect(settings, memory=INGEST_MEMORY)  # beyond it DuckDB spills to disk
    try:
        ingest_id = _new_ingest_id(con, started)
        summary: dict[str, Any] = {
            "ingest_id": ingest_id, "drop_dir": str(drop), "as_of": as_of.isoformat(),
            "loaded": {}, "quarantined": {}, "repaired": {}, "deduplicated": {}, "changes": {},
            "files": [], "ignored": ignored, "corrupt": [], "refused": [],
        }
        for table_name, path in found:
            t0 = time.perf_counter()
            extract = None
            try:
                extract = read_extract(path, table_name)
                result = load_extract(con, extract, ingest_id=ingest_id, as_of=as_of, key=key)
            except (CorruptFile, RefusedFile) as exc:
                status = "corrupt" if isinstance(exc, CorruptFile) else "refused"
                summary[status].append(path.name)
                summary["files"].append({"file": path.name, "table": table_name, "status": status,
                                         "error": str(exc)})
                progress.say(f"  {path.name}: {status}, nothing loaded from it ({exc})")
                continue
            finally:
                if extract is not None:
                    extract.close()
            result["seconds"] = round(time.perf_counter() - t0, 2)
            summary["files"].append(result)
            _merge(summary, table_name, result)
            progress.say(f"  {path.name}: {result['rows']:,} rows → {result['loaded']:,} loaded, "
                         f"{sum(result['quarantined'].values()):,} quarantined, "
                         f"{result['deduplicated']:,} duplicates ({result['seconds']} s)")
        entity_changes = summary["changes"].get("entities", {})
        if entity_changes.get("new") or entity_changes.get("revised"):
            rematched = rematch_opinions(con, ingest_id=ingest_id)
            if rematched:
                summary["repaired"].setdefault("opinions", {})["name_rematched"] = rematched
                progress.say(f"  opinions: {rematched:,} earlier name-only items now matched to a credit code")
        if summary["loaded"].get("opinions") or entity_changes.get("new") or entity_changes.get("revised"):
            mentions = attribute_opinions(settings, con)
            summary["opinion_mentions"] = mentions
            progress.say(f"  opinions: {mentions:,} item–enterprise links recorded (opinion_mentions)")
        summary["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 2)
        _record_run(con, summary, started=started, actor=actor)
    finally:
        con.close()
    _audit(settings, summary, actor=actor)
    return summary


def drop_as_of(drop_dir: str | Path) -> date:
    """The drop's as-of date: ``until`` (else ``as_of``, ``end``) of its manifest when present, else today."""
    manifest = Path(drop_dir) / MANIFEST
    if manifest.is_file():
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            meta = {}
        for name in ("until", "as_of", "end"):
            value = meta.get(name) if isinstance(meta, dict) else None
            if isinstance(value, str):
                try:
                    return date.fromisoformat(value[:10])
                except ValueError:
                    pass
    return date.today()


def rematch_opinions(con: duckdb.DuckDBPyConnection, *, ingest_id: str) -> int:
    """Try the name match again for name-only opinion items of earlier ingests that matched nobody, now that
    entities have changed; returns how many items got a credit code (``match_method`` becomes ``name_exact``).

    The row hash stays that of the item as delivered, so re-sending the item later changes nothing.
    """
    pending = ("opinions.match_method = 'unmatched' AND opinions.uscc IS NULL AND opinions.company_name IS NOT NULL "
               "AND opinions._ingest_id IS DISTINCT FROM ?")
    names = [r[0] for r in con.execute(f"SELECT DISTINCT company_name FROM opinions WHERE {pending}",
                                       [ingest_id]).fetchall()]
    matched = match_names(con, names) if names else {}
    if not matched:
        return 0
    con.register("_rematched", pa.table({"company_name": pa.array(list(matched), type=pa.string()),
                                         "uscc": pa.array(list(matched.values()), type=pa.string())}))
    try:
        con.begin()
        n = con.execute(f"SELECT count(*) FROM opinions JOIN _rematched m ON m.company_name = opinions.company_name "
                        f"WHERE {pending}",
                        [ingest_id]).fetchall()[0][0]
        # the update keeps company_name: the items of these names are the rows it changes, before and after
        with fingerprints.changing(con, "opinions", "t.company_name IN (SELECT company_name FROM _rematched)"):
            con.execute(f"UPDATE opinions SET uscc = m.uscc, match_method = 'name_exact' FROM _rematched m "
                        f"WHERE opinions.company_name = m.company_name AND {pending}", [ingest_id])
        con.commit()
    except Exception:
        con.rollback()
        raise
    finally:
        con.unregister("_rematched")
    return n


def attribute_opinions(settings: Settings, con: duckdb.DuckDBPyConnection) -> int:
    """Record which enterprises new or revised items name and which their negative content counts against
    (``opinion_mentions``), with the home's opinion classifier when one was trained with entities; returns how
    many item–enterprise links were written."""
    from features import opinion_mentions, opinions

    folder = opinions.model_dir(settings)
    classifier = opinions.OpinionClassifier.load(folder) if (folder / opinions.MODEL_FILE).is_file() else None
    return opinion_mentions.ensure_mentions(con, classifier=classifier, rematch=True)


def stored_columns(table: Table) -> list[str]:
    """Columns of a table as it reaches validation and the warehouse (personal columns replaced)."""
    return [name for name, _ in warehouse.warehouse_columns(table) if name != "match_method"]


def load_extract(con: duckdb.DuckDBPyConnection, extract: Extract, *, ingest_id: str, as_of: date,
                 key: bytes) -> dict[str, Any]:
    """Validate one extract and load its rows; returns the file's counts (see :func:`ingest`).

    The file is read batch by batch (:meth:`Extract.batches`): each batch is pseudonymised, made text and
    appended to a scratch Parquet file that DuckDB reads as ``_src``, so memory holds one batch; validation,
    duplicates (across the whole file) and loading then run in SQL over the staged rows.
    """
    table = SOURCES[extract.table]
    columns = stored_columns(table)
    renamed = _renamed(list(extract.columns), table)
    check_header(extract.path.name, table, found=list(extract.columns), renamed=renamed)
    _check_fit(extract, table)
    scratch = Path(tempfile.mkdtemp(prefix="credit-risk-ingest-"))
    con.begin()
    try:
        staged = _stage(con, extract, table, columns, renamed=renamed, key=key, folder=scratch)
        rows = staged.rows + len(extract.bad_lines)
        counts = _validate_and_load(con, table, columns, ingest_id=ingest_id, as_of=as_of,
                                    source_file=extract.path.name, typed=staged.typed, long=staged.long)
        if extract.bad_lines:
            lines = _quarantine_lines(con, extract, renamed, ingest_id=ingest_id, key=key)
            for rule, n in lines.items():
                counts["quarantined"][rule] = counts["quarantined"].get(rule, 0) + n
        accounted = counts["loaded"] + sum(counts["quarantined"].values()) + counts["deduplicated"]
        if accounted != rows:  # checked before commit: a file that loses rows loads nothing
            raise AccountingError(f"{extract.path.name}: read {rows} rows but accounted for {accounted} "
                                  f"(loaded + quarantined + deduplicated)")
        con.commit()
    except Exception:
        con.rollback()
        raise
    finally:
        con.execute("DROP VIEW IF EXISTS _src")
        for temp in ("_checked", "_dropped", "_incoming", "_name_match"):
            con.execute(f"DROP TABLE IF EXISTS {temp}")
        shutil.rmtree(scratch, ignore_errors=True)
    repaired = counts.pop("repaired")
    if extract.redecoded:
        repaired = {"gbk_encoding": extract.redecoded, **repaired}
    return {"file": extract.path.name, "table": table.name, "status": "loaded", "format": extract.format,
            "encoding": extract.encoding, "rows": rows, **counts, "repaired": repaired,
            "extra_columns": masking.safe_names(staged.extra, table), "missing_columns": staged.missing}


@dataclass(frozen=True)
class Staged:
    """What staging an extract found: rows staged, columns kept typed, text columns with values over their
    limit, and the header's extra and missing columns."""

    rows: int
    typed: frozenset[str]
    long: frozenset[str]
    extra: list[str]
    missing: list[str]


def _stage(con: duckdb.DuckDBPyConnection, extract: Extract, table: Table, columns: list[str], *,
           renamed: list[str], key: bytes, folder: Path) -> Staged:
    """Write the extract's rows, batch by batch, to a scratch Parquet file in ``folder`` read as the view
    ``_src``: personal columns replaced, stored columns in contract order as text (or kept typed), credit-code
    check indices and the file's row numbers. DuckDB scans the file: neither it nor Python holds the table."""
    import pyarrow.parquet as pq

    kinds = {c.name: c.kind for c in table.columns}
    rows, typed, long, extra, missing = 0, None, frozenset(), [], []
    path = folder / "staged.parquet"
    writer = None
    try:
        for batch in extract.batches():
            data, extra, missing = _conform(protect_personal(batch.rename_columns(renamed), table, key=key), columns)
            data = as_text(data, kinds=kinds)
            if typed is None:
                typed = frozenset(c for c in columns if not pa.types.is_string(data.schema.field(c).type))
            long |= long_columns(data, table)
            staged = row_numbers(with_check_indices(data, table), numbers=extract.numbers(rows, data.num_rows))
            if writer is None:
                schema = staged.schema
                writer = pq.ParquetWriter(path, schema, compression="lz4")
            writer.write_table(staged if staged.schema == schema else staged.cast(schema))
            rows += data.num_rows
    finally:
        if writer is not None:
            writer.close()
    con.execute(f"CREATE TEMP VIEW _src AS SELECT * FROM read_parquet('{path.as_posix()}')")
    return Staged(rows=rows, typed=typed or frozenset(), long=long, extra=extra, missing=missing)


def check_header(file: str, table: Table, *, found: list[str], renamed: list[str]) -> None:
    """Refuse a header that lacks a required column, repeats one, or misspells one (an unknown name close to a
    missing contract column): loading it would quarantine every row or silently drop a column's values.

    Raises:
        RefusedFile: naming the expected and the found columns (found names masked, ``features.masking``).
    """
    present = set(renamed)
    missing = [c.name for c in table.columns if c.required and c.name not in present]
    repeated = sorted({n for n in renamed if renamed.count(n) > 1})
    absent = [c.name for c in table.columns if c.name not in present]
    unknown = [n for n in renamed if n not in set(table.names)]
    near = {n: m[0] for n in unknown if (m := difflib.get_close_matches(n, absent, n=1, cutoff=0.8))}
    if not (missing or repeated or near):
        return
    shown = dict(zip(renamed, masking.safe_names(list(found), table), strict=True))
    problems = ([f"missing required {', '.join(missing)}"] if missing else []) + \
        ([f"repeated {', '.join(shown[n] for n in repeated)}"] if repeated else []) + \
        [f"{shown[n]} (did you mean {m}?)" for n, m in near.items()]
    required = [c.name for c in table.columns if c.required]
    raise RefusedFile(f"{file}: expected the columns of {table.name} ({', '.join(table.names)}; required "
                      f"{', '.join(required)}), found {', '.join(shown[n] for n in renamed) or 'none'}: "
                      f"{'; '.join(problems)}. Nothing of this file was loaded; send it again with a corrected header")


def _check_fit(extract: Extract, table: Table) -> None:
    """Refuse a CSV most of whose lines have another field count than its header (e.g. a stray trailing comma in
    the header): quarantining nearly every line would help nobody."""
    malformed = Counter(len(b.fields) for b in extract.bad_lines if b.rule == "malformed_line")
    if not malformed or sum(malformed.values()) <= extract.rows - len(extract.bad_lines):
        return
    found, n = malformed.most_common(1)[0]
    header = masking.safe_names(list(extract.columns), table)
    raise RefusedFile(f"{extract.path.name}: expected every line to have the {len(header)} fields of its header "
                      f"({', '.join(header)}), but {sum(malformed.values()):,} of {extract.rows:,} lines do not "
                      f"({n:,} have {found}): the header does not fit the data. Nothing of this file was loaded; "
                      f"send it again with a header that fits")


def _quarantine_lines(con: duckdb.DuckDBPyConnection, extract: Extract, header: list[str], *, ingest_id: str,
                      key: bytes) -> dict[str, int]:
    """Store the file's malformed and undecodable lines in the quarantine, masked (``features.masking``): line
    number, field counts and the fields with personal data replaced, which with the key column is what a data
    steward needs to find the row at the source and send it again."""
    table = SOURCES[extract.table]
    records, counts = [], {}
    for bad in extract.bad_lines:
        fields = masking.mask_fields(list(bad.fields), header, table, key=key)
        original = json.dumps({"line": bad.line, "expected_fields": bad.expected, "found_fields": len(bad.fields),
                               "fields": fields}, ensure_ascii=False)
        detail = (f"line {bad.line}: expected {bad.expected} fields as in the header, got {len(bad.fields)}"
                  if bad.rule == "malformed_line" else f"line {bad.line}: bytes that are neither UTF-8 nor GBK")
        digest = hashlib.md5(f"{table.name}\x1f{bad.rule}\x1f{original}".encode()).hexdigest()
        records.append((bad.rule, detail, bad.row, original, digest))
        counts[bad.rule] = counts.get(bad.rule, 0) + 1
    lines = pa.table({name: pa.array(values, type=kind) for name, values, kind in zip(
        ("rule", "detail", "row_number", "original", "hash"), zip(*records, strict=True),
        (pa.string(), pa.string(), pa.int64(), pa.string(), pa.string()), strict=True)})
    con.register("_lines", lines)
    try:
        con.execute("INSERT INTO quarantine SELECT ?, ?, rule, detail, ?, row_number, original, hash, now() "
                    "FROM _lines WHERE hash NOT IN (SELECT row_hash FROM quarantine WHERE table_name = ?)",
                    [ingest_id, table.name, extract.path.name, table.name])
    finally:
        con.unregister("_lines")
    return counts


def _renamed(header: list[str], table: Table) -> list[str]:
    """Header names trimmed and lower-cased; Chinese labels of the contract accepted for column names."""
    by_zh = {c.zh: c.name for c in table.columns}
    names = []
    for name in header:
        clean = str(name).strip().lstrip("\ufeff")
        names.append(by_zh.get(clean, clean.lower()))
    return names


def _conform(data: pa.Table, columns: list[str]) -> tuple[pa.Table, list[str], list[str]]:
    """Keep the stored columns in contract order, adding absent ones as nulls; report extra and missing."""
    present = set(data.column_names)
    extra = [c for c in data.column_names if c not in columns]
    missing = [c for c in columns if c not in present]
    arrays = [data.column(c) if c in present else pa.nulls(data.num_rows, pa.string()) for c in columns]
    return pa.table(arrays, names=columns), extra, missing


def _ident(name: str) -> str:
    return '"' + name + '"'


def _validate_and_load(con: duckdb.DuckDBPyConnection, table: Table, columns: list[str], *, ingest_id: str,
                       as_of: date, source_file: str, typed: frozenset[str], long: frozenset[str]) -> dict[str, Any]:
    """Check every row (``_checked``), set aside duplicates (``_dropped``), quarantine, then load the rest."""
    entities = "entities" if table.references_entities else None
    checked = checked_sql(table, columns, source="_src", as_of=as_of, entities=entities, typed=typed, long=long)
    hashed = ", ".join(f"coalesce(CAST({_ident('p_' + c)} AS VARCHAR), chr(0))" for c in columns)
    con.execute(f"CREATE TEMP TABLE _checked AS SELECT *, CASE WHEN _rule IS NULL THEN "
                f"md5(concat_ws(chr(31), {hashed})) END AS _row_hash FROM ({checked})")
    keys = ", ".join(_ident("p_" + k) for k in table.key)
    valid, distinct_keys, units = con.execute(
        f"SELECT count(*), count(DISTINCT hash({keys})), count(*) FILTER (WHERE _unit) "
        f"FROM _checked WHERE _rule IS NULL").fetchall()[0]
    con.execute("CREATE TEMP TABLE _dropped (_row BIGINT, _why VARCHAR, _first BIGINT)")
    # Exact duplicates share their key, so distinct keys alone tell whether any row repeats; 64-bit key hashes
    # count cheaply, and a collision can only lower the count, which merely runs the exact query below.
    if valid != distinct_keys:  # exact duplicates, or one key with different values
        con.execute(f"""
            INSERT INTO _dropped
            WITH d AS (SELECT _row, _row_hash, {keys}, row_number() OVER (PARTITION BY _row_hash ORDER BY _row) AS n
                       FROM _checked WHERE _rule IS NULL)
            SELECT _row, 'duplicate', NULL FROM d WHERE n > 1
            UNION ALL
            SELECT _row, 'duplicate_key', first FROM (
                SELECT _row, row_number() OVER (PARTITION BY {keys} ORDER BY _row) AS k,
                       min(_row) OVER (PARTITION BY {keys}) AS first FROM d WHERE n = 1) WHERE k > 1""")
    dropped = dict(con.execute("SELECT _why, count(*) FROM _dropped GROUP BY 1").fetchall())
    _quarantine(con, table, columns, ingest_id=ingest_id, source_file=source_file, typed=typed)
    quarantined = dict(con.execute(
        "SELECT _rule, count(*) FROM (SELECT _rule FROM _checked WHERE _rule IS NOT NULL "
        "UNION ALL SELECT _why FROM _dropped WHERE _why = 'duplicate_key') GROUP BY _rule ORDER BY _rule"
    ).fetchall())
    repaired = {"amount_in_wan": units} if units else {}
    final, fixes = _final_sql(con, table, columns, ingest_id=ingest_id, as_of=as_of)
    repaired.update(fixes)
    loaded = valid - sum(dropped.values())
    changes = _upsert(con, table, final, loaded=loaded, ingest_id=ingest_id)
    return {"loaded": loaded, "quarantined": quarantined, "deduplicated": dropped.get("duplicate", 0),
            "changes": changes, "repaired": repaired}


def _quarantine(con: duckdb.DuckDBPyConnection, table: Table, columns: list[str], *, ingest_id: str,
                source_file: str, typed: frozenset[str]) -> None:
    """Store rejected rows with their rule, detail and original values (personal columns already replaced;
    values as text, masked and cut by ``features.masking``); a row already quarantined under the same rule with
    the same values is not stored twice."""
    shown = {c: f"CAST(s.{_ident(c)} AS VARCHAR)" if c in typed else _echo(f"s.{_ident(c)}", table, c)
             for c in columns}
    original = "to_json(struct_pack(" + ", ".join(f"{_ident(c)} := {shown[c]}" for c in columns) + "))"
    key_text = " || ', ' || ".join(f"c.{_ident('p_' + k)}" for k in table.key)
    con.execute(
        f"""
        INSERT INTO quarantine
        SELECT ?, ?, b._rule, {masking.mask_sql('b._detail')}, ?, b._row, b.original, b.hash, now()
        FROM (
            SELECT b._row, b._rule, b._detail, {original} AS original,
                   md5(? || chr(31) || b._rule || chr(31) || {original}) AS hash
            FROM (SELECT _row, _rule, _detail FROM _checked WHERE _rule IS NOT NULL
                  UNION ALL
                  SELECT d._row, 'duplicate_key', 'key ' || {key_text} || ' repeats row ' || d._first
                         || ' with different values'
                  FROM _dropped d JOIN _checked c USING (_row) WHERE d._why = 'duplicate_key') b
            JOIN _src s ON s._row = b._row) b
        WHERE b.hash NOT IN (SELECT row_hash FROM quarantine WHERE table_name = ?)
        """,
        [ingest_id, table.name, source_file, table.name, table.name],
    )


def _echo(value: str, table: Table, column: str) -> str:
    """SQL for a quarantined text value as stored: ID-card and phone numbers masked, cut when over its limit."""
    limit = field_limit(table.name, column)
    return masking.mask_sql(f"CASE WHEN strlen({value}) > {limit} THEN left({value}, {masking.CUT}) || '…[' || "
                            f"format('{{:,}}', length({value})) || ' characters]' ELSE {value} END")


def _final_sql(con: duckdb.DuckDBPyConnection, table: Table, columns: list[str], *, ingest_id: str,
               as_of: date) -> tuple[str, dict[str, int]]:
    """SQL for the rows to load: typed, in warehouse order, ``known_date`` filled, opinions matched by name."""
    select = {c: f"k.{_ident('p_' + c)}" for c in columns}
    select["known_date"] = f"coalesce(k.p_known_date, {_known_fallback(table, as_of)})"
    kept = "k._rule IS NULL AND k._row NOT IN (SELECT _row FROM _dropped)"
    fixes: dict[str, int] = {}
    join = ""
    if table.name == "opinions":
        name_only = "k.p_uscc IS NULL AND k.p_company_name IS NOT NULL"
        names = [r[0] for r in con.execute(
            f"SELECT DISTINCT k.p_company_name FROM _checked k WHERE {kept} AND {name_only}").fetchall()]
        matched = match_names(con, names) if names else {}
        pairs = pa.table({"company_name": pa.array(list(matched), type=pa.string()),
                          "uscc": pa.array(list(matched.values()), type=pa.string())})
        con.register("_name_pairs", pairs)  # one Arrow scan, not one INSERT per name
        con.execute("CREATE OR REPLACE TEMP TABLE _name_match AS SELECT * FROM _name_pairs")
        con.unregister("_name_pairs")
        join = " LEFT JOIN _name_match m ON m.company_name = k.p_company_name AND k.p_uscc IS NULL"
        select["uscc"] = "coalesce(k.p_uscc, m.uscc)"
        select["match_method"] = ("CASE WHEN k.p_uscc IS NOT NULL THEN 'vendor' WHEN m.uscc IS NOT NULL "
                                  "THEN 'name_exact' ELSE 'unmatched' END")
        rows = con.execute(f"SELECT m.uscc IS NOT NULL, count(*) FROM _checked k{join} WHERE {kept} AND {name_only} "
                           "GROUP BY 1").fetchall()
        fixes = {"name_exact" if hit else "name_unmatched": n for hit, n in rows}
    cols = [name for name, _ in warehouse.warehouse_columns(table)]
    body = ", ".join(f"{select[c]} AS {_ident(c)}" for c in cols)
    sql = f"SELECT {body}, k._row_hash, '{ingest_id}' AS _ingest_id FROM _checked k{join} WHERE {kept}"
    return sql, fixes


def _known_fallback(table: Table, as_of: date) -> str:
    """SQL for ``known_date`` when the source leaves it empty: the event date, else a rule, else the as-of."""
    fallback = []
    if table.event_date:
        fallback.append(_ident("p_" + table.event_date))
    if table.name == "annual_reports":  # not filed: known the day after the filing season ends
        month, day = publicity_rules()["report_due"]
        fallback.append(f"make_date(CAST(p_year + 1 AS BIGINT), {month}, {day}) + INTERVAL 1 DAY")
    fallback.append(f"DATE '{as_of.isoformat()}'")
    return "CAST(coalesce(" + ", ".join(fallback) + ") AS DATE)"


def _upsert(con: duckdb.DuckDBPyConnection, table: Table, final: str, *, loaded: int,
            ingest_id: str) -> dict[str, int]:
    """Insert new rows; move the current version of revised keys to history; skip rows already held
    (their hash is in the table or its history: re-sent or superseded versions change nothing)."""
    cur, hist = _ident(table.name), _ident(table.name + "_history")
    cols = [c for c, _ in warehouse.warehouse_columns(table)] + [c for c, _ in warehouse.LINEAGE_COLUMNS]
    col_list = ", ".join(_ident(c) for c in cols)
    held = con.execute(f"SELECT (SELECT count(*) FROM {cur}) + (SELECT count(*) FROM {hist})").fetchall()[0][0]
    if not held:  # first load of this table: everything is new
        with fingerprints.changing(con, table.name):
            con.execute(f"INSERT INTO {cur} ({col_list}) SELECT {col_list} FROM ({final})")
        return {"new": loaded, "revised": 0, "unchanged": 0}
    con.execute(f"CREATE TEMP TABLE _incoming AS SELECT * FROM ({final}) f "
                f"WHERE f._row_hash NOT IN (SELECT _row_hash FROM {cur}) "
                f"AND f._row_hash NOT IN (SELECT _row_hash FROM {hist})")
    on = " AND ".join(f"c.{_ident(k)} = i.{_ident(k)}" for k in table.key)
    revised = con.execute(f"SELECT count(*) FROM {cur} c JOIN _incoming i ON {on}").fetchall()[0][0]
    incoming = con.execute("SELECT count(*) FROM _incoming").fetchall()[0][0]
    if not incoming:
        return {"new": 0, "revised": 0, "unchanged": loaded}
    # the versions the incoming rows replace (those of their keys), and the incoming rows
    keyed = "EXISTS (SELECT 1 FROM _incoming i WHERE " + " AND ".join(f"t.{_ident(k)} = i.{_ident(k)}"
                                                                       for k in table.key) + ")"
    with fingerprints.changing(con, table.name, keyed if revised else None, inserted="_incoming"):
        if revised:
            con.execute(f"INSERT INTO {hist} ({col_list}, _superseded_by) "
                        f"SELECT {', '.join('c.' + _ident(c) for c in cols)}, ? FROM {cur} c JOIN _incoming i ON {on}",
                        [ingest_id])
            con.execute(f"DELETE FROM {cur} c USING _incoming i WHERE {on}")
        con.execute(f"INSERT INTO {cur} ({col_list}) SELECT {col_list} FROM _incoming")
    return {"new": incoming - revised, "revised": revised, "unchanged": loaded - incoming}


def _merge(summary: dict[str, Any], table: str, result: dict[str, Any]) -> None:
    summary["loaded"][table] = summary["loaded"].get(table, 0) + result["loaded"]
    summary["deduplicated"][table] = summary["deduplicated"].get(table, 0) + result["deduplicated"]
    for section in ("quarantined", "repaired", "changes"):
        target = summary[section].setdefault(table, {})
        for k, v in result[section].items():
            target[k] = target.get(k, 0) + v
        if not target:
            del summary[section][table]


def _new_ingest_id(con: duckdb.DuckDBPyConnection, started: datetime) -> str:
    n = con.execute("SELECT count(*) FROM ingest_runs").fetchall()[0][0] + 1
    return f"ing-{started:%Y%m%dT%H%M%SZ}-{n:04d}"


def _record_run(con: duckdb.DuckDBPyConnection, summary: dict[str, Any], *, started: datetime,
                actor: str | None) -> None:
    loaded = sum(summary["loaded"].values())
    quarantined = sum(sum(r.values()) for r in summary["quarantined"].values())
    con.execute(
        "INSERT INTO ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [summary["ingest_id"], started.replace(tzinfo=None), datetime.now(UTC).replace(tzinfo=None),
         summary["drop_dir"], summary["as_of"], actor, loaded, quarantined,
         json.dumps(summary, ensure_ascii=False, default=str)],
    )


def _audit(settings: Settings, summary: dict[str, Any], *, actor: str | None) -> None:
    """One audit entry per run: counts only, never row values."""
    from core import audit, opdb

    loaded = sum(summary["loaded"].values())
    quarantined = sum(sum(r.values()) for r in summary["quarantined"].values())
    with opdb.engine(settings).begin() as conn:
        audit.record(
            conn, actor=actor or "system:ingest", action="ingest", subject=summary["ingest_id"],
            inputs={"drop_dir": summary["drop_dir"], "as_of": summary["as_of"],
                    "files": [f["file"] for f in summary["files"]]},
            versions={"rules.ingest": rules.version("ingest")},
            outcome=(f"loaded {loaded}, quarantined {quarantined}, corrupt files {len(summary['corrupt'])}, "
                     f"refused files {len(summary['refused'])}"),
        )
