"""Credit-commitment features (信用承诺) and the eligibility rule for a commitment kind.

Commitments and their breaches are source tables (features/sources.py); a breach is a finding recorded against
one commitment (by inspection, penalty or post-approval verification), not guessed from later records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import duckdb

from core import rules
from core.errors import UserError
from features.catalog import Feature
from features.sources import COMMITMENT_KINDS, SOURCES

SQL = "commitments.sql"
STAGES = (
    ("_commitment_breaches_known", "commitment_breaches_known.sql"),
    ("_commitments_in_force", "commitments_in_force.sql"),
)
_D = "compliance"

FEATURES = (
    Feature("commitment_in_force_count", _D, "commitments,commitment_breaches", "as_of", "count", 0,
            "履约中的信用承诺数", "commitments made, known, within their term, not closed and not breached at as_of"),
    Feature("commitment_fulfilled_count_730d", _D, "commitments,commitment_breaches", "730d", "count", 0,
            "近两年履约完毕的信用承诺数", "commitments whose term ended (or were marked fulfilled) in the last 730 days "
            "without a breach found"),
    Feature("commitment_breach_count_730d", _D, "commitment_breaches", "730d", "count", 1,
            "近两年违背信用承诺次数", "breaches of a commitment found in the last 730 days"),
    Feature("commitment_notify_breached_flag_730d", _D, "commitment_breaches,commitments", "730d", "flag", 1,
            "近两年违背告知承诺", "a breach of a 告知承诺 (notify-and-commit licence commitment) found in the last 730 days"),
)

KIND_LABELS = {"notify_commit": ("告知承诺", "notify-and-commit"), "repair_commit": ("信用修复承诺", "repair commitment"),
               "self_discipline": ("行业自律承诺", "industry self-discipline commitment")}


@dataclass(frozen=True)
class Bar:
    """One rule barring a commitment kind while a listing is in effect (core/rules/commitments.toml)."""

    code: str
    kind: str
    list_kind: str
    zh: str
    en: str
    basis: str
    source: str


@dataclass(frozen=True)
class Refusal:
    """Why one commitment kind is refused: the bar, and the listing in effect that triggers it."""

    code: str
    zh: str
    en: str
    basis: str
    source: str
    record_kind: str
    record_id: str
    listed_date: date


@dataclass(frozen=True)
class Eligibility:
    """Whether ``uscc`` may make a commitment of ``kind`` at ``as_of``; ``refusals`` empty when allowed."""

    uscc: str
    kind: str
    as_of: date
    allowed: bool
    refusals: tuple[Refusal, ...]
    rules_version: str


@cache
def bars() -> tuple[Bar, ...]:
    """Every bar of the commitments rules table."""
    cfg = rules.load("commitments")
    out = tuple(Bar(b["code"], b["kind"], b["list_kind"], b["zh"], b["en"], b["basis"], b["source"])
                for b in cfg["bar"])
    for b in out:
        if b.kind not in COMMITMENT_KINDS:
            raise rules.RulesError(f"commitments.toml bar {b.code}: expected kind one of {COMMITMENT_KINDS}, "
                                   f"got {b.kind!r}")
    return out


def _listings(con: duckdb.DuckDBPyConnection, as_of: date, uscc: list[str]) -> list[tuple]:
    """Listings in effect at ``as_of`` of some entities, by the features' own rule (listings_in_effect.sql).

    Rebuilds the ``_pit_<table>`` views and the ``_repairs_in_effect`` / ``_records_voided`` stages on ``con`` at
    ``as_of`` (temporary objects: each connection or cursor has its own).
    """
    from features import snapshot
    from features.versions import create_views

    p = snapshot.params(as_of)
    create_views(con, as_of)
    for table in ("_repairs_in_effect", "_records_voided"):
        file = table[1:] + ".sql"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {snapshot.render(snapshot.sql_text(file), p)}")
    sql = snapshot.render(snapshot.sql_text("listings_in_effect.sql"), p)
    return con.execute(f"SELECT uscc, list_kind, listing_id, listed_date FROM ({sql}) l "
                       "WHERE uscc IN (SELECT UNNEST(?))", [uscc]).fetchall()


def commitment_eligibility(con: duckdb.DuckDBPyConnection, uscc: str, kind: str, *, as_of: date) -> Eligibility:
    """May ``uscc`` make a commitment of ``kind`` on the day ``as_of``? Refused, with each bar's reason and basis,
    while a listing named by a bar of core/rules/commitments.toml is in effect that day (listed and known on or
    before it: the features' "before as_of" rule at the next day)."""
    if kind not in COMMITMENT_KINDS:
        raise UserError(f"kind: expected one of {', '.join(COMMITMENT_KINDS)}, got {kind!r}")
    relevant = [b for b in bars() if b.kind == kind]
    refusals = []
    if relevant:
        for _, list_kind, listing_id, listed in sorted(_listings(con, as_of + timedelta(days=1), [uscc]), key=lambda r: (r[3], r[2])):
            refusals += [Refusal(b.code, b.zh, b.en, b.basis, b.source, list_kind, listing_id, listed)
                         for b in relevant if b.list_kind == list_kind]
    return Eligibility(uscc, kind, as_of, not refusals, tuple(refusals), rules.version("commitments"))


def audited(settings, *, actor: str, role: str | None, action: str, subject: str, inputs: dict, outcome: str,
            version: str) -> None:
    """One audit entry for an eligibility answer given about an entity (who asked, what, the answer, rules)."""
    from core import audit, opdb

    with opdb.engine(settings).begin() as conn:
        audit.record(conn, actor=actor, role=role, action=action, subject=subject, inputs=inputs,
                     versions={"rules": version}, outcome=outcome)


def check(settings, uscc: str, kind: str, *, as_of: date, actor: str, role: str | None = None) -> Eligibility:
    """:func:`commitment_eligibility` on the warehouse as the service sees it (features.warehouse.reader), audited.

    Args:
        settings: the home; uscc: a validated credit code; kind: a commitment kind; as_of: the day asked about.
    """
    from features.warehouse import reader

    con = reader(settings)
    try:
        e = commitment_eligibility(con, uscc, kind, as_of=as_of)
    finally:
        con.close()
    audited(settings, actor=actor, role=role, action="commitments.check", subject=uscc,
            inputs={"kind": kind, "as_of": as_of},
            outcome="allowed" if e.allowed else "refused: " + ",".join(r.code for r in e.refusals),
            version=e.rules_version)
    return e


@dataclass(frozen=True)
class IneligibleCommitment:
    """A commitment made while a bar applied to it (accepted by its department, kept, and reported)."""

    commitment_id: str
    uscc: str
    kind: str
    made_date: date
    bar: str
    record_id: str


def ineligible_commitments(con: duckdb.DuckDBPyConnection) -> list[IneligibleCommitment]:
    """Commitments made on a day a bar applied to their kind (a listing in effect on the day they were made).

    Ingest keeps these rows: the commitment was made and accepted by its department, and its breaches count;
    this list is how the bureau finds and follows them up. One listings query per distinct day of commitment.
    """
    by_kind: dict[str, list[Bar]] = {}
    for b in bars():
        by_kind.setdefault(b.kind, []).append(b)
    # candidates: the entity has an entry of a barring list dated on or before the commitment (cheap); the
    # listing rule itself (in effect that day) is then applied to them only
    lists = sorted({b.list_kind for b in bars()} & set(SOURCES))
    listed_before = " OR ".join(f'EXISTS (SELECT 1 FROM "{t}" s WHERE s.uscc = c.uscc AND s.listed_date <= c.made_date)'
                                for t in lists) or "FALSE"
    rows = con.execute("SELECT c.commitment_id, c.uscc, c.kind, c.made_date FROM commitments c "
                       f"WHERE c.kind IN (SELECT UNNEST(?)) AND ({listed_before}) ORDER BY c.made_date, c.commitment_id",
                       [sorted(by_kind)]).fetchall()
    days: dict[date, list[tuple]] = {}
    for row in rows:
        days.setdefault(row[3], []).append(row)
    out = []
    for made, made_rows in days.items():
        # in effect on the day of the commitment: as_of the day after (features see "before as_of")
        listed: dict[str, list[tuple]] = {}
        for u, list_kind, listing_id, _ in _listings(con, made + timedelta(days=1), sorted({r[1] for r in made_rows})):
            listed.setdefault(u, []).append((list_kind, listing_id))
        for cid, u, kind, _ in made_rows:
            out += [IneligibleCommitment(cid, u, kind, made, b.code, listing_id)
                    for list_kind, listing_id in sorted(listed.get(u, [])) for b in by_kind[kind]
                    if b.list_kind == list_kind]
    return out


def entity_records(con: duckdb.DuckDBPyConnection, uscc: str, *, as_of: date) -> list:
    """One entity's first-violation leniency decisions, failed samples and commitment breaches known before
    ``as_of`` (features.reason_records.Record, newest first), shown whether or not they are behind a reason: a
    leniency decision is never a penalty but must stay visible so that a second offence is recognised."""
    from features.reason_records import Record

    day = [uscc, as_of, as_of]
    rows = [Record("leniency", pid, d, f"{dom}||") for pid, d, dom in con.execute(
        "SELECT penalty_id, decided_date, domain FROM penalties WHERE uscc = ? AND COALESCE(leniency, FALSE) "
        "AND decided_date < ? AND COALESCE(known_date, decided_date) < ?", day).fetchall()]
    rows += [Record("sampling", sid, d, f"{cat}|{product or ''}|{item or ''}|{int(closed)}")
             for sid, d, cat, product, item, closed in con.execute(
                 "SELECT sample_id, sample_date, category, product, failing_item, "
                 "COALESCE(followup_status = 'closed' AND COALESCE(followup_date, known_date) < ?, FALSE) "
                 "FROM sampling_results WHERE uscc = ? AND result = 'fail' AND sample_date < ? "
                 "AND COALESCE(known_date, sample_date) < ?", [as_of, *day]).fetchall()]
    rows += [Record("commitment_breach", bid, d, f"{kind or ''}|{by}|{cid}|{rid or ''}")
             for bid, d, by, cid, rid, kind in con.execute(
                 "SELECT b.breach_id, b.found_date, b.found_by, b.commitment_id, b.record_id, c.kind "
                 "FROM commitment_breaches b LEFT JOIN commitments c ON c.commitment_id = b.commitment_id "
                 "WHERE b.uscc = ? AND b.found_date < ? AND COALESCE(b.known_date, b.found_date) < ?", day).fetchall()]
    return sorted(rows, key=lambda r: (r.date or date.min, r.ref or ""), reverse=True)
