"""Other departments' dishonesty lists (其他部门失信名单): their kinds and effect periods, from
core/rules/dept_lists.toml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from core import rules


@dataclass(frozen=True)
class DeptListKind:
    """One list kind: stable code, labels, the department that keeps it, its effect period in months
    (0: until removed) and the rule it comes from."""

    code: str
    zh: str
    en: str
    department: str
    effect_months: int
    source: str


@cache
def kinds() -> tuple[DeptListKind, ...]:
    """Every list kind, in table order."""
    out = []
    for k in rules.load("dept_lists").get("kind", []):
        try:
            out.append(DeptListKind(code=str(k["code"]), zh=str(k["zh"]), en=str(k["en"]),
                                    department=str(k["department"]), effect_months=int(k["effect_months"]),
                                    source=str(k["source"])))
        except KeyError as exc:
            raise rules.RulesError(f"core/rules/dept_lists.toml: every [[kind]] needs {exc.args[0]!r} "
                                   "(code, zh, en, department, effect_months, source)") from None
    if not out:
        raise rules.RulesError("core/rules/dept_lists.toml: expected at least one [[kind]], got none")
    return tuple(out)


def codes() -> tuple[str, ...]:
    return tuple(k.code for k in kinds())


def kind(code: str) -> DeptListKind:
    for k in kinds():
        if k.code == code:
            return k
    raise KeyError(f"no dept list kind {code!r} (expected one of {codes()})")


def version() -> str:
    return rules.version("dept_lists")
