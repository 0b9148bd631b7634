"""Point-in-time feature snapshots: one row per active entity at an as-of date, built from the dimension SQL."""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from core import dept_lists, inspection_results, progress, rules
from core.errors import UserError
from core.publicity import months_sql, penalty_class_sql, penalty_classes, publicity_rules
from core.workdays import WorkdayCalendar, add_months
from features import catalog, fingerprints, opinion_mentions
from features.catalog import FEATURE_SET, Feature, all_features
from features.sources import SANCTIONS
from features.versions import create_views
from features.warehouse import has_table

SQL_DIR = Path(__file__).parent / "sql"
DESCRIPTIVE = ("entity_type", "industry_code", "town_code", "size_band")
FREQS = {"monthly": 1, "quarterly": 3}
VALUES_TABLE = f"snapshot_{FEATURE_SET}"
META_TABLE = "feature_snapshots"
# A stored snapshot of more entities is not fetched whole: Snapshot.frame loads it on first use and
# Snapshot.batches streams it (publication, monitoring); smaller ones are fetched at once.
EAGER_ROWS = 250_000
# Helper tables built before the dimension SQL, in order: (temp table, SQL file).
_STAGES = (
    ("_spine", "spine.sql"),
    ("_reports_known", "reports_known.sql"),
    ("_repairs_in_effect", "repairs_in_effect.sql"),
    ("_records_voided", "records_voided.sql"),
    ("_penalties_held", "penalties_held.sql"),
    ("_penalties_in_effect", "penalties_in_effect.sql"),
    ("_listings_in_effect", "listings_in_effect.sql"),
    ("_dept_lists_in_effect", "dept_lists_in_effect.sql"),
    ("_list_status", "list_status.sql"),
    ("_size_band", "size_band.sql"),
    ("_relations_current", "relations_current.sql"),
    ("_person_links", "person_links.sql"),
    ("_affiliate_pairs", "affiliate_pairs.sql"),
    ("_report_years", "report_years.sql"),
    ("_opinion_items", "opinion_items.sql"),
    ("_licence_states", "licence_states.sql"),
    ("_changes_recent", "changes_recent.sql"),
    ("_inspections_recent", "inspections_recent.sql"),
    ("_complaints_recent", "complaints_recent.sql"),
)


class Snapshot:
    """A feature snapshot: ``frame`` holds uscc, as_of, the descriptive columns and one column per feature.

    A snapshot built or loaded from the warehouse stays there: ``frame`` is fetched on first use, and
    :meth:`batches` streams the rows in Arrow record batches without holding them all (large districts).
    """

    def __init__(self, snapshot_id: str, as_of: date, frame: pd.DataFrame | None = None,
                 feature_set: str = FEATURE_SET, data_fingerprint: str = "", info: dict[str, Any] | None = None,
                 *, warehouse: str | Path | None = None, entities: int | None = None) -> None:
        self.snapshot_id, self.as_of, self.feature_set = snapshot_id, as_of, feature_set
        self.data_fingerprint, self.info = data_fingerprint, dict(info or {})
        self.warehouse = Path(warehouse) if warehouse is not None else None
        self._frame, self._entities = frame, entities
        if frame is None and self.warehouse is None:
            raise ValueError("a Snapshot needs its frame or the warehouse it is stored in")

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            con = _open(self.warehouse)
            try:
                self._frame = _frame(con, _stored_sql(), [self.snapshot_id])
            finally:
                con.close()
        return self._frame

    @frame.setter
    def frame(self, value: pd.DataFrame) -> None:
        self._frame = value

    @property
    def stored(self) -> bool:
        """True when the rows can be streamed from the warehouse (:meth:`batches`)."""
        return self.warehouse is not None

    @property
    def entities(self) -> int:
        if self._entities is None:
            self._entities = int(len(self.frame))
        return self._entities

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in all_features()]

    def batches(self, rows: int = 100_000, columns: list[str] | None = None):
        """The rows as pandas frames of at most ``rows`` rows, categories as in ``frame``; from the warehouse in
        Arrow record batches when the snapshot is stored there (memory: one batch), in the stored order."""
        if self._frame is not None or self.warehouse is None:
            frame = self.frame if columns is None else self.frame[columns]
            for lo in range(0, len(frame), rows):
                yield frame.iloc[lo:lo + rows].reset_index(drop=True)
            return
        con = _open(self.warehouse)
        try:
            yield from stored_batches(con, self.snapshot_id, rows, columns)
        finally:
            con.close()


def stored_batches(con: duckdb.DuckDBPyConnection, snapshot_id: str, rows: int, columns: list[str] | None = None,
                   *, low: str | None = None, high: str | None = None):
    """The stored rows of a snapshot as pandas frames of at most ``rows`` rows in uscc order, those with
    ``low <= uscc < high`` when given (a share of a publication scored in another process)."""
    cols = "* EXCLUDE (snapshot_id)" if columns is None else ", ".join(f'"{c}"' for c in columns)
    where, params = "snapshot_id = ?", [snapshot_id]
    if low is not None:
        where, params = where + " AND uscc >= ?", [*params, low]
    if high is not None:
        where, params = where + " AND uscc < ?", [*params, high]
    # stored in uscc order (build_snapshot), read back in that order (insertion order is kept)
    reader = con.sql(f"SELECT {cols} FROM {VALUES_TABLE} WHERE {where}", params=params).to_arrow_reader(rows)
    for batch in reader:
        if batch.num_rows:
            yield _to_pandas(batch)


def stored_ranges(con: duckdb.DuckDBPyConnection, snapshot_id: str, rows: int) -> list[tuple[str, str | None]]:
    """The stored rows of a snapshot cut into uscc ranges ``[low, high)`` of ``rows`` rows (the last open)."""
    lows = [r[0] for r in con.execute(
        f"SELECT uscc FROM (SELECT uscc, row_number() OVER (ORDER BY uscc) - 1 AS i FROM {VALUES_TABLE} "
        "WHERE snapshot_id = ?) WHERE i % ? = 0 ORDER BY uscc", [snapshot_id, rows]).fetchall()]
    return list(zip(lows, [*lows[1:], None], strict=True))


class Sql(str):
    """A SQL fragment inserted verbatim by :func:`render` (values of other types become literals)."""


def render(sql: str, params: dict[str, Any]) -> str:
    """Replace ``:name`` placeholders by SQL literals (dates, numbers, strings, lists) or :class:`Sql` fragments."""

    def literal(value: Any) -> str:
        if isinstance(value, Sql):
            return str(value)
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, date):
            return f"DATE '{value.isoformat()}'"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        if isinstance(value, (list, tuple)):
            return ", ".join(literal(v) for v in value)
        raise TypeError(f"cannot render {type(value).__name__} as a SQL literal")

    def sub(match: re.Match) -> str:
        name = match.group(1)
        if name not in params:
            raise KeyError(f"SQL placeholder :{name} has no value (expected one of {sorted(params)})")
        return literal(params[name])

    return re.sub(r"(?<![:\w]):([a-z_][a-z0-9_]*)", sub, sql)


def sql_text(name: str) -> str:
    """The text of one SQL definition under features/sql/."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


def due_date(year: int) -> date:
    """The deadline of the annual report for ``year``: the end of the filing season in ``year + 1``."""
    month, day = publicity_rules()["report_due"]
    return date(year + 1, month, day)


def params(as_of: date) -> dict[str, Any]:
    """Every placeholder value of the feature SQL at ``as_of``, from the rules tables."""
    cfg = rules.load("features")
    pub = publicity_rules()
    out: dict[str, Any] = {"as_of": as_of}
    for tag, days in cfg["windows"].items():
        out[f"start_{tag}"] = as_of - timedelta(days=int(days))
    last_due = as_of.year - 1 if due_date(as_of.year - 1) < as_of else as_of.year - 2
    out["last_due_year"] = last_due
    out["first_due_year"] = last_due - int(cfg["annual_report"]["lookback_years"]) + 1
    out["last_due_date"] = due_date(last_due)
    out["negative_threshold"] = float(cfg["opinion"]["negative_threshold"])
    out["person_group_cap"] = int(cfg["affiliates"]["person_group_cap"])
    # 舆情台账 outcomes: how a negative item weighs by its verification known at as_of
    weights = rules.load("opinion_ledger")["feature_weight"]
    for outcome in ("verified", "unverified", "unfounded"):
        out[f"handling_weight_{outcome}"] = float(weights[outcome])
    out.update(_penalty_params(as_of, pub))
    out["serious_auto_removal_cutoff"] = add_months(as_of, -pub["serious_auto_removal_months"])
    # the latest version decides (the table itself, not its view at as_of): an entry later revoked as made in
    # error is void at every as_of
    void = ", ".join("'" + r.replace("'", "''") + "'" for r in pub["serious_void_removals"]) or "NULL"
    out["void_serious_listings"] = Sql(f"SELECT v.listing_id FROM serious_list v WHERE v.removal_reason IN ({void})")
    out["dept_list_end"] = Sql(dept_list_end_sql("d"))
    out["finding_results"] = _in_list(inspection_results.codes(finding=True))
    out["adverse_results"] = _in_list(inspection_results.codes(adverse_event=True))
    out["unreachable_results"] = _in_list(inspection_results.codes(unreachable=True))
    for _, module_name in catalog.EXTRA_MODULES:
        extra = getattr(importlib.import_module(module_name), "params", None)
        if extra is not None:
            out.update(extra(as_of))
    band = cfg["size_band"]
    for k, v in band["employees_min"].items():
        out[f"employees_min_{k}"] = int(v)
    for k, v in band["capital_min_yuan"].items():
        out[f"capital_min_{k}"] = float(v)
    return out


def dept_list_end_sql(alias: str) -> str:
    """SQL for the end of a dept_lists row's effect period when the department stated none: the listing date
    plus its kind's effect period (core/rules/dept_lists.toml); NULL for kinds without a fixed period."""
    whens = " ".join(f"WHEN '{k.code}' THEN CAST({alias}.listed_date + INTERVAL {k.effect_months} MONTH AS DATE)"
                     for k in dept_lists.kinds() if k.effect_months > 0)
    return f"CASE {alias}.list_kind {whens} ELSE CAST(NULL AS DATE) END" if whens else "CAST(NULL AS DATE)"


def _in_list(values) -> list | Sql:
    """Values for ``IN (...)``; an empty list becomes NULL (matches nothing)."""
    return list(values) or Sql("NULL")


def _penalty_params(as_of: date, pub: dict[str, Any]) -> dict[str, Any]:
    """The publicity class of a penalty row ``p`` (entity ``e``) and, per class, the earliest publication and
    decision dates still in publicity at ``as_of`` (decision + the publication deadline when no publication
    date is recorded)."""
    cal = WorkdayCalendar.from_rules()
    within = pub["publish_within_workdays"]
    published, decided = [], []
    for c in penalty_classes():
        if not c.published:
            continue
        cutoff = add_months(as_of, -c.months)
        day = cutoff
        while cal.add_workdays(day, within) > cutoff:  # the last decision date published by the cutoff
            day -= timedelta(days=1)
        published.append(f"WHEN '{c.code}' THEN DATE '{cutoff.isoformat()}'")
        decided.append(f"WHEN '{c.code}' THEN DATE '{day.isoformat()}'")
    return {
        "penalty_class": Sql(penalty_class_sql(sanctions=SANCTIONS)),
        "penalty_class_months": Sql(months_sql("p.publicity_class")),
        "publication_cutoff": Sql("CASE p.publicity_class " + " ".join(published) + " END"),
        "decision_cutoff": Sql("CASE p.publicity_class " + " ".join(decided) + " END"),
    }


def rules_versions() -> dict[str, str]:
    return {"features": rules.version("features"), "publicity": publicity_rules()["version"],
            "inspection_results": rules.version("inspection_results"), "dept_lists": dept_lists.version()}


def data_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A hash of every source table, the repairs and corrections, the opinion scores and mentions, the rules
    versions: each table's part from the ledger its writers keep (features.fingerprints), rescanned only where
    that cannot be trusted; always equal to :func:`reference_fingerprint`."""
    _quiet(con)
    return _combine(fingerprints.parts(con))


def reference_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """The data fingerprint from a full scan of every table (the reference the incremental one must equal)."""
    _quiet(con)
    return _combine(fingerprints.full_parts(con, fingerprints.tables(con)))


def _combine(parts: dict[str, fingerprints.Part]) -> str:
    out = [f"{name}:{p.rows}:{p.hash_sum}" for name, p in sorted(parts.items())]
    out.append(json.dumps(rules_versions(), sort_keys=True))
    return hashlib.sha256("|".join(out).encode()).hexdigest()[:24]


def snapshot_id_for(as_of: date, fingerprint: str) -> str:
    """Deterministic id from the feature set version, as_of and the data fingerprint."""
    digest = hashlib.sha256(f"{FEATURE_SET}|{as_of.isoformat()}|{fingerprint}".encode()).hexdigest()[:16]
    return f"snap-{as_of.isoformat()}-{digest}"


def _quiet(con: duckdb.DuckDBPyConnection) -> None:
    """No DuckDB progress bar on stdout (it would corrupt ``--json`` output); progress goes via core.progress."""
    con.execute("SET enable_progress_bar = false")


def _prepare(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, Any]:
    p = params(as_of)
    years = ", ".join(f"({y}, DATE '{due_date(y).isoformat()}')"
                      for y in range(p["first_due_year"], p["last_due_year"] + 1))
    con.execute("CREATE OR REPLACE TEMP TABLE _report_deadlines (year BIGINT, due_date DATE)")
    con.execute(f"INSERT INTO _report_deadlines VALUES {years}")
    if has_table(con, "opinion_scores"):
        con.execute("CREATE OR REPLACE TEMP VIEW _opinion_scores AS "
                    "SELECT opinion_id, negative_probability FROM opinion_scores")
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW _opinion_scores AS "
                    "SELECT CAST(NULL AS VARCHAR) AS opinion_id, CAST(NULL AS DOUBLE) AS negative_probability "
                    "WHERE FALSE")
    create_views(con, as_of)  # _pit_<table>: every source table as known at as_of
    _mentions_view(con)
    for table, file in stage_files():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {render(sql_text(file), p)}")
    return p


def stage_files() -> tuple[tuple[str, str], ...]:
    """Every point-in-time stage (table, SQL file) in build order: the shared ones, then those the extra feature
    modules declare (features.catalog.EXTRA_MODULES)."""
    return _STAGES + tuple(s for _, m in catalog.EXTRA_MODULES
                           for s in getattr(importlib.import_module(m), "STAGES", ()))


def _module_table(dimension: str, module_name: str) -> str:
    """The temp table holding one feature module's columns: ``_d_<dimension>``, ``_d_<module>`` for extras."""
    main = catalog.DIMENSION_MODULES[dimension] == module_name
    return f"_d_{dimension}" if main else f"_d_{module_name.rsplit('.', 1)[-1]}"


def prepare(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, Any]:
    """Build the point-in-time stages at ``as_of`` (temp tables ``_spine``, ``_penalties_in_effect``,
    ``_listings_in_effect``, ...) on ``con`` and return the SQL parameters; other SQL over the same records
    (e.g. features/reason_records.py) reads these stages instead of repeating their rules."""
    _quiet(con)
    return _prepare(con, as_of)


def prepare_views(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Only the ``_pit_<table>`` views at ``as_of`` on ``con`` (for SQL that needs a few stages, not all)."""
    _quiet(con)
    create_views(con, as_of)


def _mentions_view(con: duckdb.DuckDBPyConnection) -> None:
    """``_opinion_mentions`` (opinion_id, uscc, is_target) for the items as known at as_of: the mention rows of the
    version known then (``version_key``); an item version without rows (a warehouse older than opinion_mentions,
    or a version whose rows a new attribution model replaced) counts for the company it was matched to, as
    before attribution existed."""
    fallback = "SELECT p.opinion_id, p.uscc, TRUE AS is_target FROM _pit_opinions p WHERE p.uscc IS NOT NULL"
    if not has_table(con, opinion_mentions.TABLE):
        con.execute(f"CREATE OR REPLACE TEMP VIEW _opinion_mentions AS {fallback}")
        return
    known = (f"SELECT m.opinion_id, m.uscc, m.is_target FROM {opinion_mentions.TABLE} m JOIN _pit_opinions p "
             f"ON p.opinion_id = m.opinion_id AND m.version_key = {opinion_mentions.version_key_sql('p')}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW _opinion_mentions AS WITH known AS ({known}) "
                f"SELECT * FROM known UNION ALL {fallback} AND p.opinion_id NOT IN (SELECT opinion_id FROM known)")


def _select_list(features: tuple[Feature, ...], alias: dict[str, str]) -> str:
    cols = ["s.uscc", "CAST(:as_of AS DATE) AS as_of", "s.entity_type", "s.industry_code", "s.town_code",
            "sb.size_band"]
    for f in features:
        typ = "VARCHAR" if f.kind == "categorical" else "DOUBLE"
        cols.append(f"CAST({alias[f.name]}.{f.name} AS {typ}) AS {f.name}")
    return ",\n       ".join(cols)


def dimension_plan(p: dict[str, Any]) -> tuple[list[tuple[str, str]], str]:
    """The feature modules' tables (name, rendered SQL) and the SELECT joining them to the spine: the one plan
    that DuckDB runs here and Spark runs in features.spark.snapshot."""
    tables, joins, alias = [], [], {}
    for dimension, module_name in catalog.feature_modules():
        module = importlib.import_module(module_name)
        table = _module_table(dimension, module_name)
        tables.append((table, render(sql_text(module.SQL), p)))
        joins.append(f"LEFT JOIN {table} {table[1:]} ON {table[1:]}.uscc = s.uscc")
        alias.update({f.name: table[1:] for f in module.FEATURES})
    sql = (f"SELECT {_select_list(all_features(), alias)}\nFROM _spine s\nLEFT JOIN _size_band sb ON sb.uscc = s.uscc\n"
           + "\n".join(joins))
    return tables, render(sql, p)


def _dimensions(con: duckdb.DuckDBPyConnection, p: dict[str, Any]) -> str:
    """Build one temp table per feature module; return the SELECT joining them to the spine."""
    tables, select = dimension_plan(p)
    for table, sql in tables:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
    return select


def _compute(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Build the temp table ``_snapshot`` for ``as_of``."""
    p = _prepare(con, as_of)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _snapshot AS {_dimensions(con, p)}")


def compute_features(con: duckdb.DuckDBPyConnection, *, as_of: date, uscc: str | None = None) -> pd.DataFrame:
    """The snapshot rows at ``as_of`` (one entity's when ``uscc`` is given), computed but not stored.

    Reads the tables visible on ``con``: a temporary table shadowing a warehouse table (e.g. hypothetical
    ``repairs`` for a what-if) is used in its place.
    """
    _compute(con, as_of)
    if uscc is None:
        return _frame(con, "SELECT * FROM _snapshot")
    return _frame(con, "SELECT * FROM _snapshot WHERE uscc = ?", [uscc])


def _values_ddl() -> str:
    cols = ['"snapshot_id" VARCHAR', '"uscc" VARCHAR', '"as_of" DATE'] + [f'"{c}" VARCHAR' for c in DESCRIPTIVE]
    cols += [f'"{f.name}" {"VARCHAR" if f.kind == "categorical" else "DOUBLE"}' for f in all_features()]
    return ", ".join(cols)


def _ensure_store(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (snapshot_id VARCHAR, feature_set VARCHAR, as_of DATE, "
                "entities BIGINT, features BIGINT, data_fingerprint VARCHAR, rules_versions VARCHAR, "
                "built_at TIMESTAMP, build_seconds DOUBLE)")
    if has_table(con, VALUES_TABLE):
        have = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [VALUES_TABLE]).fetchall()]
        want = ["snapshot_id", "uscc", "as_of", *DESCRIPTIVE, *(f.name for f in all_features())]
        if have != want:  # the declarations changed without a new FEATURE_SET: stored rows are stale
            progress.say(f"feature columns of {FEATURE_SET} changed: dropping stored snapshots of it")
            con.execute(f"DROP TABLE {VALUES_TABLE}")
            con.execute(f"DELETE FROM {META_TABLE} WHERE feature_set = ?", [FEATURE_SET])
    con.execute(f"CREATE TABLE IF NOT EXISTS {VALUES_TABLE} ({_values_ddl()})")


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """Fetch a snapshot as a DataFrame sorted by uscc, with string columns other than uscc as categories."""
    import pyarrow.compute as pc

    table = con.sql(sql, params=params or None).to_arrow_table()
    return _to_pandas(table.take(pc.sort_indices(table, sort_keys=[("uscc", "ascending")])))


def _to_pandas(table) -> pd.DataFrame:
    """An Arrow table or record batch of snapshot rows as pandas, string columns other than uscc as categories."""
    import pyarrow.compute as pc

    cats = [*DESCRIPTIVE, *(f.name for f in all_features() if f.kind == "categorical")]
    for name in cats:
        i = table.schema.get_field_index(name)
        if i >= 0:
            table = table.set_column(i, name, pc.dictionary_encode(table.column(name)))
    return table.to_pandas(date_as_object=False)


def _stored_sql() -> str:
    return f"SELECT * EXCLUDE (snapshot_id) FROM {VALUES_TABLE} WHERE snapshot_id = ?"


def _database_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return Path(row[0][0]) if row and row[0][0] else None


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file a stored snapshot lives in (read-only when the process holds it so)."""
    from features.warehouse import limit_memory

    try:
        con = duckdb.connect(str(path))
    except duckdb.ConnectionException:  # already open read-only in this process
        con = duckdb.connect(str(path), read_only=True)
    _quiet(con)
    limit_memory(con, path.parent / "duckdb-tmp")
    return con


def _drop(con: duckdb.DuckDBPyConnection, tables) -> None:
    for table in tables:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def build_snapshot(con: duckdb.DuckDBPyConnection, *, as_of: date, classifier=None,
                   fingerprint: str | None = None) -> Snapshot:
    """Build the feature snapshot at ``as_of`` and store it in the warehouse.

    Args:
        con: warehouse connection (features.warehouse.connect).
        as_of: the snapshot sees records known strictly before this date, still in effect at it.
        classifier: opinion classifier for items without vendor sentiment (features.opinions); when None,
            items not yet scored are scored with a default model trained from the vendor-labelled items.
        fingerprint: the data fingerprint when the caller already computed it (spines).

    Returns:
        The :class:`Snapshot` (also stored in ``feature_snapshots`` and ``snapshot_<feature set>``).
    """
    from features import opinions

    if not isinstance(as_of, date):
        raise UserError(f"expected as_of as a date, got {type(as_of).__name__}")
    start = time.perf_counter()
    _quiet(con)
    opinions.ensure_scores(con, classifier=classifier)
    fp = fingerprint or data_fingerprint(con)
    sid = snapshot_id_for(as_of, fp)
    con.execute("BEGIN TRANSACTION")
    try:
        p = _prepare(con, as_of)
        select = _dimensions(con, p)
        # the stages are read by the dimensions only: free them before the final join (temp tables otherwise
        # live as long as the connection)
        _drop(con, [t for t, _ in stage_files() if t not in ("_spine", "_size_band")])
        _ensure_store(con)
        con.execute(f"DELETE FROM {VALUES_TABLE} WHERE snapshot_id = ?", [sid])
        con.execute(f"DELETE FROM {META_TABLE} WHERE snapshot_id = ?", [sid])
        # straight from the dimension tables into the store, in uscc order (read back in batches in that order)
        con.execute(f"INSERT INTO {VALUES_TABLE} SELECT ? AS snapshot_id, * FROM ({select}) ORDER BY uscc", [sid])
        _drop(con, ["_spine", "_size_band", "_report_deadlines",
                    *(_module_table(d, m) for d, m in catalog.feature_modules())])
        entities = con.execute(f"SELECT COUNT(*) FROM {VALUES_TABLE} WHERE snapshot_id = ?", [sid]).fetchall()[0][0]
        seconds = time.perf_counter() - start
        info = {"rules_versions": rules_versions(), "build_seconds": round(seconds, 3)}
        con.execute(f"INSERT INTO {META_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, current_timestamp, ?)",
                    [sid, FEATURE_SET, as_of, entities, len(all_features()), fp,
                     json.dumps(info["rules_versions"], sort_keys=True), seconds])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return _stored(con, sid, as_of, FEATURE_SET, fp, info, entities)


def _stored(con, sid: str, as_of: date, feature_set: str, fp: str, info: dict[str, Any], entities: int) -> Snapshot:
    """A stored snapshot: its frame fetched now when small (``EAGER_ROWS``), else when first used (or streamed)."""
    path = _database_path(con)
    if path is None or entities <= EAGER_ROWS:
        frame = _frame(con, _stored_sql(), [sid])
        return Snapshot(sid, as_of, frame, feature_set, fp, info, warehouse=path, entities=entities)
    return Snapshot(sid, as_of, None, feature_set, fp, info, warehouse=path, entities=entities)


def load_snapshot(con: duckdb.DuckDBPyConnection, snapshot_id: str) -> Snapshot:
    """A stored snapshot by id."""
    _quiet(con)
    if not has_table(con, META_TABLE):
        raise UserError(f"no snapshot {snapshot_id!r}: no snapshots built yet (run `credit-risk features`)")
    rows = con.execute(f"SELECT as_of, feature_set, data_fingerprint, rules_versions, build_seconds, entities "
                       f"FROM {META_TABLE} WHERE snapshot_id = ?", [snapshot_id]).fetchall()
    row = rows[0] if rows else None  # fetchall: a pending fetchone() result blocks con.sql() in DuckDB 2
    if row is None:
        from core.errors import NotFound

        raise NotFound(f"no snapshot {snapshot_id!r} in the warehouse")
    as_of, feature_set, fp, versions, seconds, entities = row
    if feature_set != FEATURE_SET:
        raise UserError(f"snapshot {snapshot_id} has feature set {feature_set}, expected {FEATURE_SET}")
    info = {"rules_versions": json.loads(versions or "{}"), "build_seconds": seconds}
    return _stored(con, snapshot_id, as_of, feature_set, fp, info, int(entities))


def spine_dates(start: date, end: date, freq: str = "quarterly") -> list[date]:
    """First days of each month or quarter from ``start`` (rounded up) to ``end`` inclusive."""
    if freq not in FREQS:
        raise UserError(f"expected freq one of {sorted(FREQS)}, got {freq!r}")
    if end < start:
        raise UserError(f"expected start <= end, got {start} > {end}")
    step = FREQS[freq]
    month = start.month if start.day == 1 else start.month + 1
    year = start.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    while (month - 1) % step:
        month += 1
        if month > 12:
            year, month = year + 1, 1
    out = []
    day = date(year, month, 1)
    while day <= end:
        out.append(day)
        total = day.year * 12 + day.month - 1 + step
        day = date(total // 12, total % 12 + 1, 1)
    return out


def build_spine(con: duckdb.DuckDBPyConnection, *, start: date, end: date, freq: str = "quarterly",
                classifier=None) -> list[Snapshot]:
    """Snapshots at the first day of every month or quarter between ``start`` and ``end`` (training spines)."""
    from features import opinions

    dates = spine_dates(start, end, freq)
    opinions.ensure_scores(con, classifier=classifier)
    fp = data_fingerprint(con)
    return [build_snapshot(con, as_of=d, classifier=classifier, fingerprint=fp)
            for d in progress.track(dates, "snapshot", total=len(dates))]


def run(settings, *, as_of: date, export: str | Path | None = None) -> dict[str, Any]:
    """Build one snapshot in the home's warehouse with the home's opinion classifier; optionally export it."""
    from features import opinions
    from features.warehouse import batch, connect

    with batch(settings, purpose=f"features --as-of {as_of}"):
        con = connect(settings)
        try:
            with progress.step("opinion classifier"):
                classifier = opinions.current(settings, con)
            with progress.step(f"feature snapshot at {as_of.isoformat()}"):
                snap = build_snapshot(con, as_of=as_of, classifier=classifier)
        finally:
            con.close()
    out: dict[str, Any] = {
        "as_of": as_of.isoformat(), "snapshot_id": snap.snapshot_id, "entities": snap.entities,
        "features": len(snap.feature_names), "feature_set": FEATURE_SET, "data_fingerprint": snap.data_fingerprint,
        "rules_versions": snap.info["rules_versions"], "build_seconds": snap.info["build_seconds"],
        "opinion_model": classifier.model_id if classifier is not None else None,
        "opinion_model_metrics": classifier.metrics if classifier is not None else None,
    }
    if export:
        path = Path(export)
        path.parent.mkdir(parents=True, exist_ok=True)
        _export(snap, path)
        out["export"] = str(path.resolve())
    return out


def _export(snap: Snapshot, path: Path, rows: int = 100_000) -> None:
    """Write the snapshot to Parquet batch by batch (the stored rows, not a frame of them all)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for frame in snap.batches(rows):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no rows: the columns only
        snap.frame.to_parquet(path, index=False)
