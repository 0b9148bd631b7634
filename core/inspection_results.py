"""Inspection result codes (检查结果) and their effect on features and labels, read from
core/rules/inspection_results.toml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from core import rules


@dataclass(frozen=True)
class InspectionResult:
    """One result code: labels, whether it is a finding, an adverse event, an unreachable entity; other
    spellings ingest accepts for it (its zh label included)."""

    code: str
    zh: str
    en: str
    finding: bool
    adverse_event: bool
    unreachable: bool
    aliases: tuple[str, ...] = ()


@cache
def inspection_results() -> tuple[InspectionResult, ...]:
    """Every result code, in table order."""
    out = []
    for r in rules.load("inspection_results").get("result", []):
        try:
            out.append(InspectionResult(
                code=str(r["code"]), zh=str(r["zh"]), en=str(r["en"]), finding=bool(r["finding"]),
                adverse_event=bool(r["adverse_event"]), unreachable=bool(r["unreachable"]),
                aliases=(str(r["zh"]), *(str(a) for a in r.get("aliases", ())))))
        except KeyError as exc:
            raise rules.RulesError(f"core/rules/inspection_results.toml: every [[result]] needs {exc.args[0]!r} "
                                   f"(code, zh, en, finding, adverse_event, unreachable)") from None
    if not out:
        raise rules.RulesError("core/rules/inspection_results.toml: expected at least one [[result]], got none")
    return tuple(out)


def codes(*, finding: bool | None = None, adverse_event: bool | None = None,
          unreachable: bool | None = None) -> tuple[str, ...]:
    """Result codes, optionally only those with the given effects."""
    return tuple(r.code for r in inspection_results()
                 if (finding is None or r.finding == finding)
                 and (adverse_event is None or r.adverse_event == adverse_event)
                 and (unreachable is None or r.unreachable == unreachable))


def aliases() -> dict[str, str]:
    """Other spellings (zh labels, earlier codes) → code."""
    return {a: r.code for r in inspection_results() for a in r.aliases if a != r.code}
