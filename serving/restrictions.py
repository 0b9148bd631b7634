"""Restriction checks (失信联合惩戒): which joint-punishment measures apply to an entity on a day, and why.

Other departments ask before they approve something (credit, procurement, a project, an export refund).
The answer comes from the list entries in effect that day (serious list, abnormal list where it restricts,
other departments' lists: features/records_in_effect.py) read from the service's read-only warehouse copy
(features.warehouse.reader), and the measures each triggers (core/rules/restrictions.toml), each with its
legal basis, start, end, the record behind it and the path to repair. An entity with none answers
"no restriction" (无限制) with the day checked. Codes that are not credit codes answer ``invalid_code``
naming the check character, as ``/score`` does.

The entries of a day are loaded once per warehouse copy and day (:class:`RestrictionIndex`, about a
second at district scale), so that a batch of 10,000 codes is answered from memory.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from core import dept_lists, rules
from core.errors import UserError
from core.settings import Settings
from features.records_in_effect import EntriesInEffect, ListEntry, entries_in_effect
from serving.limits import MAX_BATCH, MAX_CODE_CHARS, MAX_DATE, MIN_DATE
from serving.outcomes import invalid
from serving.schemas import ENTITY_STATUS_ZH

CHINA = timezone(timedelta(hours=8), "CST")  # the day of a check is the day in China (no daylight saving)
STATUSES = ("restricted", "no_restriction", "unknown_code", "invalid_code")
STATUS_ZH = {"restricted": "存在限制", "no_restriction": "无限制", "unknown_code": "未找到该统一社会信用代码",
             "invalid_code": "统一社会信用代码校验错误"}
RECORD_ZH = {"serious_list": ("严重违法失信名单", "serious illegal and dishonest list"),
             "abnormal_list": ("经营异常名录", "abnormal operation list")}


# ------------------------------------------------------------------------------------------------ rules
@dataclass(frozen=True)
class MeasureRule:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class PurposeRule:
    code: str
    zh: str
    en: str
    measures: tuple[str, ...]


@dataclass(frozen=True)
class TriggerRule:
    """Which measures a record kind (and, for other departments' lists, a list kind) triggers, on what basis,
    and how the entity repairs it."""

    record_kind: str
    list_kind: str
    measures: tuple[str, ...]
    basis: str
    basis_en: str
    source: str
    repair: str
    repair_en: str
    apply_to: str
    repair_kind: str


@dataclass(frozen=True)
class RestrictionRules:
    version: str
    measures: dict[str, MeasureRule]
    purposes: dict[str, PurposeRule]
    triggers: dict[tuple[str, str], TriggerRule]


@cache
def restriction_rules() -> RestrictionRules:
    """core/rules/restrictions.toml, checked: every purpose and trigger names known measures."""
    table = rules.load("restrictions")
    measures = {m["code"]: MeasureRule(str(m["code"]), str(m["zh"]), str(m["en"])) for m in table["measure"]}
    purposes = {p["code"]: PurposeRule(str(p["code"]), str(p["zh"]), str(p["en"]), tuple(p["measures"]))
                for p in table["purpose"]}
    triggers = {}
    for t in table["trigger"]:
        rule = TriggerRule(record_kind=str(t["record_kind"]), list_kind=str(t["list_kind"]),
                           measures=tuple(t["measures"]), basis=str(t["basis"]), basis_en=str(t["basis_en"]),
                           source=str(t["source"]), repair=str(t["repair"]), repair_en=str(t["repair_en"]),
                           apply_to=str(t["apply_to"]), repair_kind=str(t["repair_kind"]))
        triggers[(rule.record_kind, rule.list_kind)] = rule
    for where, codes in [*((f"purpose {p.code}", p.measures) for p in purposes.values()),
                         *((f"trigger {k}", t.measures) for k, t in triggers.items())]:
        unknown = sorted(set(codes) - set(measures))
        if unknown:
            raise rules.RulesError(f"core/rules/restrictions.toml: {where} names unknown measures {unknown}")
    return RestrictionRules(str(table["meta"]["version"]), measures, purposes, triggers)


def purposes() -> tuple[str, ...]:
    """The purpose codes a check may name."""
    return tuple(restriction_rules().purposes)


# ------------------------------------------------------------------------------------------- results
class RestrictionRecord(BaseModel):
    """The record behind a measure: which list, its entry id, when listed and until when, by whom."""

    kind: Literal["serious_list", "abnormal_list", "dept_list"] = Field(description="which list the entry is on")
    list_kind: str | None = Field(None, description="other departments' list kind (core/rules/dept_lists.toml)")
    list_zh: str = Field(description="the list's name in Chinese")
    list_en: str
    ref: str = Field(description="the list entry id")
    listed_date: date
    end_date: date | None = Field(description="when the entry stops counting unless removed earlier; null: until removed")
    department: str | None = Field(None, description="department that listed the entity (other departments' lists)")
    document_number: str | None = Field(None, description="listing decision or judgment number")
    detail: str | None = Field(None, description="abnormal-list reason or serious-list domain code")


class RepairPath(BaseModel):
    """How the entity gets the restriction lifted."""

    zh: str
    en: str
    apply_to: str = Field(description="whom the entity applies to")
    repair_kind: str | None = Field(None, description="the bureau's repair kind (credit-risk repair), when it repairs it")


class Measure(BaseModel):
    """One joint-punishment measure in effect, with its basis, period, record and repair path."""

    code: str = Field(description="stable measure code, e.g. credit, government_procurement")
    zh: str
    en: str
    basis: str = Field(description="legal basis (Chinese)")
    basis_en: str
    source: str = Field(description="the rule the basis comes from (UNVERIFIED where unsourced)")
    start_date: date
    end_date: date | None = Field(description="null: until the record is removed")
    record: RestrictionRecord
    repair: RepairPath


class RestrictionCheck(BaseModel):
    """The answer for one code."""

    status: Literal["restricted", "no_restriction", "unknown_code", "invalid_code"]
    status_zh: str
    uscc: str
    as_of: date = Field(description="the day checked (records in effect that day, known by its end)")
    checked_at: datetime = Field(description="when the check was answered (UTC)")
    purpose: str | None = None
    entity_status: str | None = Field(None, description="registration status: active, deregistered, revoked")
    entity_status_zh: str | None = None
    measures: list[Measure] = Field(default_factory=list)
    message: str | None = None
    expected_check_character: str | None = None


class RestrictionBatch(BaseModel):
    """The answers for a list of codes, in order, with the count of each status."""

    as_of: date
    checked_at: datetime
    purpose: str | None
    rules_version: str
    items: list[RestrictionCheck]
    counts: dict[str, int]


class RestrictionRequest(BaseModel):
    """A batch check: up to 10,000 codes and an optional purpose and day."""

    codes: list[Annotated[str, Field(max_length=MAX_CODE_CHARS)]] = Field(
        min_length=1, max_length=MAX_BATCH, description="credit codes, at most 10,000")
    purpose: str | None = Field(None, max_length=40, description="only the measures relevant to this purpose")
    as_of: date | None = Field(None, ge=MIN_DATE, le=MAX_DATE, description="the day to check; default today")


# -------------------------------------------------------------------------------------------- index
class RestrictionIndex:
    """The list entries in effect per day, loaded from the service's warehouse copy and kept while it is current."""

    def __init__(self, settings: Settings, *, keep: int = 4) -> None:
        self.settings = settings
        self.keep = keep
        self._lock = threading.Lock()
        self._days: dict[tuple[str, date], EntriesInEffect] = {}

    def entries(self, on: date) -> EntriesInEffect:
        """The entries in effect on ``on``, from the newest published copy (loaded on first use)."""
        from features.warehouse import current_copy, reader

        pointer = current_copy(self.settings)
        key = ((pointer or {}).get("file", ""), on)
        hit = self._days.get(key)
        if hit is not None:
            return hit
        with self._lock:
            hit = self._days.get(key)
            if hit is not None:
                return hit
            con = reader(self.settings)
            try:
                loaded = entries_in_effect(con, on=on)
            finally:
                con.close()
            pointer = current_copy(self.settings)  # reader() may have refreshed the copy (CLI)
            key = ((pointer or {}).get("file", ""), on)
            for k in [k for k in self._days if k[0] != key[0]]:  # an older copy's days
                del self._days[k]
            while len(self._days) >= self.keep:
                self._days.pop(next(iter(self._days)))
            self._days[key] = loaded
            return loaded


_INDEXES: dict[str, RestrictionIndex] = {}
_INDEXES_LOCK = threading.Lock()


def index_for(settings: Settings) -> RestrictionIndex:
    """The process's index for a home (one per home)."""
    key = str(settings.home)
    with _INDEXES_LOCK:
        if key not in _INDEXES:
            _INDEXES[key] = RestrictionIndex(settings)
        return _INDEXES[key]


def today() -> date:
    """Today in China."""
    return datetime.now(CHINA).date()


# -------------------------------------------------------------------------------------------- check
def _record(e: ListEntry) -> RestrictionRecord:
    if e.record_kind == "dept_list":
        try:
            k = dept_lists.kind(e.list_kind or "")
            zh, en = k.zh, k.en
        except KeyError:
            zh = en = e.list_kind or "dept_list"
    else:
        zh, en = RECORD_ZH[e.record_kind]
    return RestrictionRecord(kind=e.record_kind, list_kind=e.list_kind, list_zh=zh, list_en=en, ref=e.ref,
                             listed_date=e.listed_date, end_date=e.end_date, department=e.department,
                             document_number=e.document_number, detail=e.detail)


def measures_for(entries: tuple[ListEntry, ...], *, purpose: str | None = None) -> list[Measure]:
    """The measures the entries trigger (only those relevant to ``purpose`` when given), most lasting first."""
    r = restriction_rules()
    wanted = set(r.purposes[purpose].measures) if purpose else None
    out = []
    for e in entries:
        trigger = r.triggers.get((e.record_kind, e.list_kind or ""))
        if trigger is None:
            continue
        record = _record(e)
        repair = RepairPath(zh=trigger.repair, en=trigger.repair_en, apply_to=trigger.apply_to,
                            repair_kind=trigger.repair_kind or None)
        for code in trigger.measures:
            if wanted is not None and code not in wanted:
                continue
            m = r.measures[code]
            out.append(Measure(code=code, zh=m.zh, en=m.en, basis=trigger.basis, basis_en=trigger.basis_en,
                               source=trigger.source, start_date=e.listed_date, end_date=e.end_date,
                               record=record, repair=repair))
    return out


def _check_purpose(purpose: str | None) -> None:
    if purpose is not None and purpose not in restriction_rules().purposes:
        raise UserError(f"purpose: expected one of {', '.join(purposes())}, got {purpose!r}")


def check_codes(settings: Settings, codes: list[str], *, purpose: str | None = None, on: date | None = None,
                index: RestrictionIndex | None = None) -> RestrictionBatch:
    """Answer every code, in order: restricted (each measure with basis, period, record, repair path), no
    restriction, unknown code, or invalid code (naming the check character).

    Args:
        settings: the home whose warehouse copy is read.
        codes: credit codes (at most 10,000).
        purpose: only the measures relevant to this purpose (core/rules/restrictions.toml [[purpose]]).
        on: the day to check; default today in China.
        index: the entries cache (default: the process's for this home).
    """
    _check_purpose(purpose)
    if len(codes) > MAX_BATCH:
        raise UserError(f"codes: expected at most {MAX_BATCH:,} codes, got {len(codes):,}")
    on = on or today()
    state = (index or index_for(settings)).entries(on)
    at = datetime.now(UTC)
    items = []
    counts: Counter = Counter()
    for raw in codes:
        code = (raw or "").strip().upper()[:MAX_CODE_CHARS]
        items.append(_one(code, state, purpose, at))
        counts[items[-1].status] += 1
    return RestrictionBatch(as_of=on, checked_at=at, purpose=purpose,
                            rules_version=restriction_rules().version, items=items,
                            counts={s: counts.get(s, 0) for s in STATUSES})


def _one(code: str, state: EntriesInEffect, purpose: str | None, at: datetime) -> RestrictionCheck:
    bad = invalid(code)
    if bad is not None:
        return RestrictionCheck(status="invalid_code", status_zh=STATUS_ZH["invalid_code"], uscc=code,
                                as_of=state.on, checked_at=at, purpose=purpose, message=bad.message,
                                expected_check_character=bad.expected_check_character)
    status = state.statuses.get(code)
    if status is None:
        return RestrictionCheck(status="unknown_code", status_zh=STATUS_ZH["unknown_code"], uscc=code,
                                as_of=state.on, checked_at=at, purpose=purpose,
                                message="no entity with this credit code in the warehouse")
    measures = measures_for(state.entries.get(code, ()), purpose=purpose)
    kind = "restricted" if measures else "no_restriction"
    return RestrictionCheck(status=kind, status_zh=STATUS_ZH[kind], uscc=code, as_of=state.on, checked_at=at,
                            purpose=purpose, entity_status=status, entity_status_zh=ENTITY_STATUS_ZH.get(status), measures=measures,
                            message=None if measures else f"无限制：截至 {state.on.isoformat()} 无在效的失信惩戒措施")


def audit_entry(batch: RestrictionBatch, codes: list[str], *, single: bool) -> dict:
    """The audit fields of one check (one row per batch): purpose, day, how many codes, the codes (credit
    codes are not personal data), and the count of each outcome."""
    return {
        "action": "restrictions.check" if single else "restrictions.batch",
        "subject": codes[0] if single and codes else f"batch:{len(codes)}",
        "outcome": " ".join(f"{k}:{v}" for k, v in batch.counts.items() if v) or "empty",
        "inputs": {"purpose": batch.purpose, "as_of": batch.as_of.isoformat(), "codes_count": len(codes),
                   "counts": batch.counts, "codes": list(codes)},
        "versions": {"restrictions": batch.rules_version, "dept_lists": dept_lists.version()},
    }
