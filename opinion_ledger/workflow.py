"""The ledger's steps: open entries from the warehouse's negative items, list, show, move an entry, and carry the
verification outcomes to the warehouse (``opinion_handling``) for the opinion features.

Times are instants: stored in UTC, compared in UTC, shown in the rules' zone (Asia/Shanghai). The deadline is the
item's publication + 48 clock hours (core/rules/opinion_ledger.toml [clock]); weekends and holidays count.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from core import audit, opdb
from core.errors import Conflict, NotFound, UserError
from core.settings import Settings
from features import fingerprints
from opinion_ledger import rules

log = logging.getLogger(__name__)
LEDGER = sa.table(
    "opinion_ledger",
    *[sa.column(c) for c in ("entry_id", "opinion_id", "uscc", "title", "source", "reach", "tier",
                             "opened_because", "time_basis", "state", "verification", "version", "rules_version",
                             "opened_by", "updated_by")],
    *[sa.column(c, sa.DateTime(timezone=True)) for c in ("published_at", "due_at", "verified_at", "responded_at",
                                                          "opened_at", "updated_at")],
)
EVENTS = sa.table(
    "opinion_ledger_events",
    sa.column("entry_id"), sa.column("seq"), sa.column("from_state"), sa.column("to_state"), sa.column("reason"),
    sa.column("at", sa.DateTime(timezone=True)), sa.column("actor"),
)
Urgency = Literal["overdue", "due_soon", "on_time", "met"]


class LedgerEvent(BaseModel):
    """One state change of an entry."""

    model_config = ConfigDict(frozen=True)
    seq: int
    from_state: str | None = Field(description="state before (null for the opening)")
    to_state: str
    reason: str
    at: datetime = Field(description="when, UTC")
    actor: str


class LedgerEntry(BaseModel):
    """One ledger entry as the API, CLI and console show it."""

    model_config = ConfigDict(frozen=True)
    entry_id: str
    opinion_id: str
    uscc: str | None = Field(description="the entity the item is about (null when unmatched)")
    title: str
    source: str | None
    reach: int | None
    tier: str | None = Field(description="the entity's published tier when the entry was opened")
    opened_because: list[str] = Field(description="reach (above [open] min_reach), tier (C/D entity), classifier")
    published_at: datetime = Field(description="publication instant, UTC")
    time_basis: str = Field(description="published_at (the item's time) or published_date (start of its day, "
                            "Asia/Shanghai)")
    due_at: datetime = Field(description="handling deadline, UTC: published_at + 48 clock hours")
    state: str = Field(description="pending, verified, unfounded, responded, followed_up")
    state_zh: str
    verification: str | None = Field(description="verified or unfounded once decided")
    overdue: bool = Field(description="past due_at and not yet responded")
    urgency: Urgency
    hours_left: float = Field(description="hours from `at` to due_at (negative when past)")
    next_states: list[str] = Field(description="states the entry may move to now")
    version: int
    events: list[LedgerEvent] = Field(default_factory=list)


class LedgerList(BaseModel):
    """A page of entries at an instant."""

    model_config = ConfigDict(frozen=True)
    at: datetime = Field(description="the instant overdue is judged at, UTC")
    total: int
    page: int
    page_size: int
    entries: list[LedgerEntry]


class OpenSummary(BaseModel):
    """What an opening run did."""

    model_config = ConfigDict(frozen=True)
    candidates: int
    opened: int
    already_open: int
    by_reason: dict[str, int]
    entry_ids: list[str]

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


class SyncSummary(BaseModel):
    model_config = ConfigDict(frozen=True)
    outcomes: int
    written: int

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC (SQLite hands back naive datetimes: they were stored as UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _instant(at: datetime | None) -> datetime:
    """``at`` (aware) as UTC, else now: the SQLite store compares UTC wall times, so every instant goes in as UTC."""
    if at is None:
        return now_utc()
    if at.tzinfo is None:
        raise UserError(f"at: expected a time with its zone (UTC or an offset), got the naive {at.isoformat()}")
    return at.astimezone(UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_at(text: str | None) -> datetime:
    """An ISO 8601 instant (naive: the rules' zone) as aware UTC; None: now."""
    if not text:
        return now_utc()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"at: expected an ISO 8601 time such as 2026-11-29T19:30:00+08:00, got {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=rules.zone())
    return value.astimezone(UTC)


def urgency(state: str, due_at: datetime, at: datetime) -> Urgency:
    """overdue at or after ``due_at`` while not responded; due_soon within [clock] due_soon_hours."""
    if state in rules.stopped_states():
        return "met"
    if at >= due_at:
        return "overdue"
    if due_at - at <= timedelta(hours=rules.due_soon_hours()):
        return "due_soon"
    return "on_time"


def _entry(row: dict[str, Any], at: datetime, events: list[LedgerEvent] | None = None) -> LedgerEntry:
    due = _utc(row["due_at"])
    urg = urgency(row["state"], due, at)
    return LedgerEntry(
        entry_id=row["entry_id"], opinion_id=row["opinion_id"], uscc=row["uscc"], title=row["title"],
        source=row["source"], reach=row["reach"], tier=row["tier"],
        opened_because=[r for r in (row["opened_because"] or "").split(",") if r],
        published_at=_utc(row["published_at"]), time_basis=row["time_basis"], due_at=due, state=row["state"],
        state_zh=rules.label(row["state"])["zh"], verification=row["verification"], overdue=urg == "overdue",
        urgency=urg, hours_left=round((due - at).total_seconds() / 3600, 2),
        next_states=list(rules.next_states(row["state"])), version=row["version"], events=events or [])


def entry_id_for(opinion_id: str) -> str:
    return f"YQTZ-{opinion_id}"


# ------------------------------------------------------------------------------------------------ opening
def candidates(con, *, at: datetime) -> pd.DataFrame:
    """Negative items of the warehouse published in the lookback window before ``at``, with their targets
    (``uscc``, the vendor's code or the attribution's targets), reach, vendor label and classifier probability."""
    from features import opinion_mentions, opinions
    from features.snapshot import params
    from features.warehouse import has_table

    cfg = rules.open_rules()
    threshold = params(at.date())["negative_threshold"]
    since = (at.astimezone(rules.zone()).date() - timedelta(days=cfg["lookback_days"]))
    scores = (f"LEFT JOIN {opinions.SCORES_TABLE} s ON s.opinion_id = o.opinion_id"
              if has_table(con, opinions.SCORES_TABLE) else
              "LEFT JOIN (SELECT NULL::VARCHAR AS opinion_id, NULL::DOUBLE AS negative_probability) s ON FALSE")
    targets = "SELECT opinion_id, uscc FROM opinions WHERE uscc IS NOT NULL"
    if has_table(con, opinion_mentions.TABLE):
        targets = (f"SELECT opinion_id, uscc FROM {opinion_mentions.TABLE} WHERE is_target AND uscc IS NOT NULL "
                   f"UNION {targets} AND opinion_id NOT IN (SELECT opinion_id FROM {opinion_mentions.TABLE})")
    sql = f"""
        WITH t AS ({targets})
        SELECT o.opinion_id, o.title, o.source, o.reach, o.published_date, o.published_at, o.vendor_sentiment,
               s.negative_probability, t.uscc
        FROM opinions o {scores} LEFT JOIN t ON t.opinion_id = o.opinion_id
        WHERE o.published_date >= ? AND o.published_date <= ?
          AND (o.vendor_sentiment = 'negative' OR (o.vendor_sentiment IS NULL AND s.negative_probability >= ?))
        ORDER BY o.opinion_id, t.uscc"""
    return con.execute(sql, [since, at.astimezone(rules.zone()).date(), threshold]).df()


def _published_tiers(settings: Settings) -> dict[str, str]:
    """Every entity's tier in the latest publication (empty before the first)."""
    from serving.lookup import latest_publication
    from serving.publish import PUBLISHED_SCORES

    with opdb.engine(settings).connect() as conn:
        pub = latest_publication(conn)
        if pub is None:
            return {}
        rows = conn.execute(sa.select(PUBLISHED_SCORES.c.uscc, PUBLISHED_SCORES.c.tier).where(
            PUBLISHED_SCORES.c.publication_id == pub["publication_id"]))
        return {r.uscc: r.tier for r in rows}


def open_entries(settings: Settings, *, at: datetime | None = None, actor: str, con=None) -> OpenSummary:
    """Open one entry for every negative item that qualifies and has none yet (idempotent).

    An item qualifies when its reach is at least [open] min_reach, an entity it is about has a published tier
    in [open] tiers, or (with [open] classifier_opens) the project's classifier marked it negative (no vendor
    label). ``con``: an open warehouse connection (a batch step's); else the warehouse is held for the run.

    Returns:
        counts of candidates, entries opened and already open, and the reasons.
    """
    from features import warehouse

    at = _instant(at)
    if con is None:
        with warehouse.batch(settings, purpose="open opinion ledger entries", actor=actor, feeds=False):
            c = warehouse.connect(settings)
            try:
                return open_entries(settings, at=at, actor=actor, con=c)
            finally:
                c.close()
    cfg = rules.open_rules()
    frame = candidates(con, at=at)
    tiers = _published_tiers(settings)
    order = {t: i for i, t in enumerate(("D", "C", "B", "A"))}
    picked: list[dict[str, Any]] = []
    for opinion_id, rows in frame.groupby("opinion_id", sort=True):
        first = rows.iloc[0]
        codes = sorted({u for u in rows["uscc"] if isinstance(u, str)}, key=lambda u: (order.get(tiers.get(u), 9), u))
        uscc = codes[0] if codes else None
        tier = tiers.get(uscc) if uscc else None
        reach = None if pd.isna(first["reach"]) else int(first["reach"])
        because = []
        if reach is not None and reach >= cfg["min_reach"]:
            because.append("reach")
        if tier in cfg["tiers"]:
            because.append("tier")
        if cfg["classifier_opens"] and pd.isna(first["vendor_sentiment"]):
            because.append("classifier")
        if not because:
            continue
        day = pd.Timestamp(first["published_date"]).date()
        published, basis = rules.as_instant(None if pd.isna(first["published_at"]) else first["published_at"], day)
        picked.append({"opinion_id": str(opinion_id), "uscc": uscc, "tier": tier, "title": str(first["title"])[:400],
                       "source": first["source"], "reach": reach, "because": because, "published": published,
                       "basis": basis})
    eng = opdb.engine(settings)
    opened: list[str] = []
    by_reason: dict[str, int] = {}
    with eng.begin() as conn:
        have = {r[0] for r in conn.execute(sa.select(LEDGER.c.opinion_id))}
        for p in picked:
            if p["opinion_id"] in have:
                continue
            eid = entry_id_for(p["opinion_id"])
            now = now_utc()
            state = rules.initial_state()
            conn.execute(sa.insert(LEDGER).values(
                entry_id=eid, opinion_id=p["opinion_id"], uscc=p["uscc"], title=p["title"], source=p["source"],
                reach=p["reach"], tier=p["tier"], opened_because=",".join(p["because"]), published_at=p["published"],
                time_basis=p["basis"], due_at=rules.deadline(p["published"]), state=state, verification=None,
                version=1, rules_version=rules.version(), opened_at=now, opened_by=actor, updated_at=now,
                updated_by=actor))
            conn.execute(sa.insert(EVENTS).values(entry_id=eid, seq=1, from_state=None, to_state=state,
                                                  reason="opened: " + ",".join(p["because"]), at=now, actor=actor))
            audit.record(conn, actor=actor, action="opinion_ledger.open", subject=p["uscc"] or eid,
                         inputs={"entry_id": eid, "opinion_id": p["opinion_id"], "because": p["because"],
                                 "reach": p["reach"], "tier": p["tier"], "published_at": p["published"]},
                         versions={"rules": rules.version()}, outcome=f"opened {eid}, due {rules.deadline(p['published'])}")
            opened.append(eid)
            for r in p["because"]:
                by_reason[r] = by_reason.get(r, 0) + 1
    log.info("opinion ledger: %d candidates, %d opened", len(picked), len(opened))
    return OpenSummary(candidates=len(picked), opened=len(opened), already_open=len(picked) - len(opened),
                       by_reason=by_reason, entry_ids=opened)


def open_from_batch(settings: Settings) -> OpenSummary:
    """The batch steps' opening run (features.warehouse.OPERATIONAL_FEEDS: after every ingest and cycle)."""
    return open_entries(settings, actor="batch:opinion_ledger")


# ------------------------------------------------------------------------------------------------ reading
def list_entries(settings: Settings, *, at: datetime | None = None, state: str | None = None,
                 overdue: bool | None = None, uscc: str | None = None, page: int = 1,
                 page_size: int = 50) -> LedgerList:
    """Entries, most urgent first (earliest deadline), filtered by state, overdue at ``at`` and entity."""
    at = _instant(at)
    if state is not None and state not in rules.states():
        raise UserError(f"state: expected one of {', '.join(rules.states())}, got {state!r}")
    q = sa.select(LEDGER)
    if state:
        q = q.where(LEDGER.c.state == state)
    if uscc:
        q = q.where(LEDGER.c.uscc == uscc)
    stopped = rules.stopped_states()
    if overdue is True:
        q = q.where(LEDGER.c.state.not_in(stopped), LEDGER.c.due_at <= at)
    elif overdue is False:
        q = q.where(sa.or_(LEDGER.c.state.in_(stopped), LEDGER.c.due_at > at))
    with opdb.engine(settings).connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
        rows = conn.execute(q.order_by(LEDGER.c.due_at, LEDGER.c.entry_id).limit(page_size)
                            .offset((page - 1) * page_size)).mappings().all()
    return LedgerList(at=at, total=total, page=page, page_size=page_size, entries=[_entry(dict(r), at) for r in rows])


def show(settings: Settings, entry_id: str, *, at: datetime | None = None) -> LedgerEntry:
    """One entry with its events."""
    at = _instant(at)
    with opdb.engine(settings).connect() as conn:
        row = conn.execute(sa.select(LEDGER).where(LEDGER.c.entry_id == entry_id)).mappings().first()
        if row is None:
            raise NotFound(f"entry_id: no ledger entry {entry_id!r}")
        events = [LedgerEvent(seq=e.seq, from_state=e.from_state, to_state=e.to_state, reason=e.reason,
                              at=_utc(e.at), actor=e.actor)
                  for e in conn.execute(sa.select(EVENTS).where(EVENTS.c.entry_id == entry_id).order_by(EVENTS.c.seq))]
    return _entry(dict(row), at, events)


def transition(settings: Settings, entry_id: str, *, to: str, reason: str, actor: str, role: str | None = None,
               expected_version: int | None = None, at: datetime | None = None) -> LedgerEntry:
    """Move an entry to ``to`` (an allowed next state) with a reason; audited. Refuses a stale ``expected_version``."""
    reason = (reason or "").strip()
    if not reason:
        raise UserError("reason: expected why the entry moves (required), got nothing")
    at = _instant(at)
    eng = opdb.engine(settings)
    with eng.begin() as conn:
        row = conn.execute(sa.select(LEDGER).where(LEDGER.c.entry_id == entry_id).with_for_update()).mappings().first()
        if row is None:
            raise NotFound(f"entry_id: no ledger entry {entry_id!r}")
        if expected_version is not None and expected_version != row["version"]:
            raise Conflict(f"expected_version: the entry is at version {row['version']}, got {expected_version}")
        rules.check_transition(row["state"], to)
        values: dict[str, Any] = {"state": to, "version": row["version"] + 1, "updated_at": at, "updated_by": actor}
        if to in ("verified", "unfounded"):
            values |= {"verification": to, "verified_at": at}
        if to in rules.stopped_states() and row["responded_at"] is None:
            values["responded_at"] = at
        done = conn.execute(sa.update(LEDGER).where(LEDGER.c.entry_id == entry_id,
                                                    LEDGER.c.version == row["version"]).values(**values)).rowcount
        if done != 1:
            raise Conflict(f"entry {entry_id} changed meanwhile; read it again")
        conn.execute(sa.insert(EVENTS).values(entry_id=entry_id, seq=row["version"] + 1, from_state=row["state"],
                                              to_state=to, reason=reason[:2000], at=at, actor=actor))
        due = _utc(row["due_at"])
        audit.record(conn, actor=actor, role=role, action="opinion_ledger.transition", subject=row["uscc"] or entry_id,
                     inputs={"entry_id": entry_id, "from": row["state"], "to": to, "reason": reason[:500],
                             "expected_version": expected_version},
                     versions={"rules": row["rules_version"]},
                     outcome=f"{row['state']} -> {to}" + (" (after the deadline)" if at > due else ""))
    return show(settings, entry_id, at=at)


# ------------------------------------------------------------------------------------------------ warehouse
def outcomes(settings: Settings) -> pd.DataFrame:
    """The decided verifications as rows of the warehouse ``opinion_handling`` table (dates in the rules' zone)."""
    with opdb.engine(settings).connect() as conn:
        rows = conn.execute(sa.select(LEDGER.c.opinion_id, LEDGER.c.uscc, LEDGER.c.verification, LEDGER.c.verified_at)
                            .where(LEDGER.c.verification.is_not(None)).order_by(LEDGER.c.opinion_id)).all()
    days = [_utc(r.verified_at).astimezone(rules.zone()).date() for r in rows]
    return pd.DataFrame({"opinion_id": pd.Series([r.opinion_id for r in rows], dtype=object),
                         "uscc": pd.Series([r.uscc for r in rows], dtype=object),
                         "outcome": pd.Series([r.verification for r in rows], dtype=object),
                         "decided_date": pd.Series(days, dtype=object), "known_date": pd.Series(days, dtype=object)})


def sync_warehouse(settings: Settings) -> SyncSummary:
    """Bring every decided verification into the warehouse ``opinion_handling`` table (idempotent, by row hash):
    a new outcome is inserted, a changed one replaces its row (the old one moving to the history table)."""
    from features import warehouse

    frame = outcomes(settings)
    if frame.empty:
        return SyncSummary(outcomes=0, written=0)
    frame["_row_hash"] = [hashlib.sha256("|".join(map(str, row)).encode()).hexdigest()[:32]
                          for row in frame.itertuples(index=False)]
    with warehouse.batch(settings, purpose="sync opinion ledger outcomes", feeds=False):
        con = warehouse.connect(settings)
        try:
            con.register("_outcomes", frame)
            new = con.execute("SELECT * FROM _outcomes WHERE _row_hash NOT IN "
                              "(SELECT _row_hash FROM opinion_handling WHERE _row_hash IS NOT NULL)").df()
            con.unregister("_outcomes")
            if not new.empty:
                ingest_id = "opinion-ledger-" + hashlib.sha256("".join(new["_row_hash"]).encode()).hexdigest()[:12]
                new["_ingest_id"] = ingest_id
                new["decided_date"] = pd.to_datetime(new["decided_date"]).dt.date
                new["known_date"] = pd.to_datetime(new["known_date"]).dt.date
                con.register("_new_outcomes", new)
                cols = [r[0] for r in con.execute("DESCRIBE opinion_handling").fetchall()]
                names = ", ".join(f'"{c}"' for c in cols)
                con.execute("BEGIN")
                try:
                    con.execute(f"INSERT INTO opinion_handling_history ({names}, _superseded_by) SELECT {names}, ? "
                                "FROM opinion_handling WHERE opinion_id IN (SELECT opinion_id FROM _new_outcomes)",
                                [ingest_id])
                    with fingerprints.changing(con, "opinion_handling",
                                               "t.opinion_id IN (SELECT opinion_id FROM _new_outcomes)"):
                        con.execute("DELETE FROM opinion_handling WHERE opinion_id IN "
                                    "(SELECT opinion_id FROM _new_outcomes)")
                        con.execute(f"INSERT INTO opinion_handling ({names}) SELECT {names} FROM _new_outcomes")
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                finally:
                    con.unregister("_new_outcomes")
        finally:
            con.close()
    return SyncSummary(outcomes=len(frame), written=len(new))

