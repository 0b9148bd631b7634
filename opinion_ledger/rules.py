"""The ledger's rules (core/rules/opinion_ledger.toml), read through one function each."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from core import rules
from core.errors import UserError

NAME = "opinion_ledger"


def _table() -> dict:
    return rules.load(NAME)


def version() -> str:
    return rules.version(NAME)


def deadline_hours() -> float:
    """Clock hours from publication to the handling deadline (weekends and holidays count)."""
    return float(_table()["clock"]["deadline_hours"])


def due_soon_hours() -> float:
    return float(_table()["clock"]["due_soon_hours"])


@cache
def zone() -> ZoneInfo:
    """The zone naive times are read in and the console shows times in."""
    return ZoneInfo(_table()["clock"]["timezone"])


def open_rules() -> dict:
    """``min_reach``, ``tiers``, ``classifier_opens``, ``lookback_days``."""
    o = _table()["open"]
    return {"min_reach": int(o["min_reach"]), "tiers": tuple(o["tiers"]), "classifier_opens": bool(o["classifier_opens"]),
            "lookback_days": int(o["lookback_days"])}


def states() -> tuple[str, ...]:
    return tuple(_table()["states"])


def initial_state() -> str:
    found = [code for code, s in _table()["states"].items() if s.get("initial")]
    if len(found) != 1:
        raise rules.RulesError(f"opinion_ledger.toml: expected exactly one initial state, got {found}")
    return found[0]


def label(state: str) -> dict[str, str]:
    s = _table()["states"][state]
    return {"zh": s["zh"], "en": s["en"]}


def next_states(state: str) -> tuple[str, ...]:
    return tuple(_table()["transitions"].get(state, ()))


def stopped_states() -> tuple[str, ...]:
    """The state that meets the deadline and every state reachable from it: entries there are never overdue."""
    start = _table()["clock"]["clock_stops_at"]
    seen, todo = [], [start]
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.append(s)
            todo += list(next_states(s))
    return tuple(seen)


def check_transition(state: str, to: str) -> None:
    if to not in states():
        raise UserError(f"to: expected one of {', '.join(states())}, got {to!r}")
    allowed = next_states(state)
    if to not in allowed:
        raise UserError(f"to: from {state} an entry may move to {', '.join(allowed) or 'nothing'}, got {to!r}")


def as_instant(value: str | datetime | None, day: date) -> tuple[datetime, str]:
    """The publication instant (UTC) of an item and what it rests on: ``published_at`` (ISO 8601; naive read in
    the rules' zone), else the start of ``day`` in that zone. Returns ``(instant, basis)``."""
    if value is not None and str(value).strip():
        try:
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=zone())
            return parsed.astimezone(ZoneInfo("UTC")), "published_at"
    return datetime.combine(day, time(0), tzinfo=zone()).astimezone(ZoneInfo("UTC")), "published_date"


def deadline(published: datetime) -> datetime:
    """``published`` + the deadline in clock hours (an aware instant in, an aware instant out)."""
    if published.tzinfo is None:
        raise ValueError("expected an aware datetime (UTC or with an offset), got a naive one")
    return published + timedelta(hours=deadline_hours())
