"""Graded procedures (程序) read from core/rules/repair.toml: each one's states, actions, documents and deadlines.

The workflow engine (repair/workflow.py) knows no procedure by name: it moves a case by the actions its
procedure declares. Which procedure a case follows is chosen by the ``[[procedure_for]]`` rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from core.rules import RulesError
from repair import rules

EFFECTS = ("repair", "restore", "void", "correct")


@dataclass(frozen=True)
class Action:
    """One step an officer (or the registration itself) takes on a case."""

    code: str
    sources: frozenset[str]  # states it may start from
    to: str  # the state it leads to
    notice: str | None = None  # the notice it issues ([notices.<code>])
    reason_required: bool = False
    once: bool = False  # at most once per case (补正 is notified once)
    after_due: bool = False  # only once the running step is overdue
    takes_documents: bool = False
    check_eligible: bool = False  # re-check the record's repair conditions on the day
    effect: str | None = None  # what the warehouse and the sharing platform learn (EFFECTS)


@dataclass(frozen=True)
class Procedure:
    """A graded procedure: its documents, states, the step running in each state, deadlines and actions."""

    code: str
    zh: str
    en: str
    source: str
    case_type: str  # repair | objection
    documents: tuple[str, ...]
    first_state: str
    states: tuple[str, ...]
    closing: frozenset[str]
    next_step: dict[str, str]
    deadlines: dict[str, tuple[int, str]]  # step -> (working days, state the count starts from)
    actions: dict[str, Action]

    def allowed(self, state: str) -> list[str]:
        """The actions that may start from ``state``."""
        return [a.code for a in self.actions.values() if state in a.sources]

    def label(self) -> rules.Label:
        return rules.Label(self.code, self.zh, self.en)

    def effect_states(self, effect: str) -> set[str]:
        """The states reached by actions with ``effect`` (e.g. ``completed`` for ``repair``)."""
        return {a.to for a in self.actions.values() if a.effect == effect}


@cache
def get(code: str) -> Procedure:
    """The procedure ``code`` (e.g. ``"general"``), checked for consistency."""
    table = rules.table().get("procedures", {})
    if code not in table:
        raise RulesError(f"core/rules/repair.toml: expected a [procedures.{code}] table, have {sorted(table)}")
    return _build(code, table[code])


def all_codes() -> list[str]:
    """Every procedure in the rules table, in its order."""
    return list(rules.table().get("procedures", {}))


def of_case(case: dict[str, Any]) -> Procedure:
    """The procedure a stored case follows (cases opened before procedures existed: general, or objection)."""
    return get(case.get("procedure") or ("objection" if case["case_type"] == "objection" else "general"))


def for_record(kind: str, *, severity: str | None = None, restarted: bool = False) -> Procedure:
    """The procedure for a record of repair ``kind`` (or ``"objection"``): the first matching ``[[procedure_for]]``."""
    for rule in rules.table().get("procedure_for", []):
        if rule["kind"] != kind:
            continue
        if "severities" in rule and severity not in rule["severities"]:
            continue
        if "restarted" in rule and bool(rule["restarted"]) != restarted:
            continue
        return get(rule["procedure"])
    raise RulesError(f"core/rules/repair.toml: no [[procedure_for]] rule matches kind {kind!r} "
                     f"(severity {severity!r}, restarted {restarted})")


def _build(code: str, t: dict[str, Any]) -> Procedure:
    where = f"core/rules/repair.toml [procedures.{code}]"
    states = tuple(t["states"])
    actions = {}
    for name, a in t["actions"].items():
        action = Action(code=name, sources=frozenset(a["from"]), to=a["to"], notice=a.get("notice"),
                        reason_required=bool(a.get("reason", False)), once=bool(a.get("once", False)),
                        after_due=bool(a.get("after_due", False)), takes_documents=bool(a.get("documents", False)),
                        check_eligible=bool(a.get("check_eligible", False)), effect=a.get("effect"))
        bad = sorted((action.sources | {action.to}) - set(states))
        if bad:
            raise RulesError(f"{where}: action {name} names states {bad} not in its states")
        if action.notice is not None and action.notice not in rules.table().get("notices", {}):
            raise RulesError(f"{where}: action {name} issues notice {action.notice!r}, which has no [notices] table")
        if action.effect is not None and action.effect not in EFFECTS:
            raise RulesError(f"{where}: action {name}: expected effect one of {EFFECTS}, got {action.effect!r}")
        actions[name] = action
    deadlines = {step: (int(d["workdays"]), str(d["from"])) for step, d in t["deadlines"].items()}
    missing = sorted(set(t["next_step"].values()) - set(deadlines))
    if missing:
        raise RulesError(f"{where}: steps {missing} run in a state but have no deadline")
    if t["first_state"] not in states or not set(t["closing"]) <= set(states):
        raise RulesError(f"{where}: first_state and closing must be among its states")
    return Procedure(code=code, zh=t["zh"], en=t["en"], source=t["source"], case_type=t["case_type"],
                     documents=tuple(t["documents"]), first_state=t["first_state"], states=states,
                     closing=frozenset(t["closing"]), next_step=dict(t["next_step"]), deadlines=deadlines,
                     actions=actions)
