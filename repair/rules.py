"""The repair rules table (core/rules/repair.toml): periods, sanctions, deadlines and labels."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core import rules

NAME = "repair"
# repair kind -> the rules section holding its periods and conditions
SECTION = {
    "penalty_publicity": "penalty_publicity",
    "serious_list_removal": "serious_list",
    "abnormal_list_removal": "abnormal_list",
    "individual_abnormal": "abnormal_list",
}


def table() -> dict[str, Any]:
    """The whole rules table."""
    return rules.load(NAME)


def version() -> str:
    """The rules version, recorded with every case and decision."""
    return rules.version(NAME)


def versions() -> dict[str, str]:
    """Versions of every rules table a repair decision rests on."""
    return {"repair": version(), "publicity": rules.version("publicity"), "holidays": rules.version("holidays")}


def section(kind: str) -> dict[str, Any]:
    """The rules section of a repair kind (or a section name such as ``"application"``)."""
    name = SECTION.get(kind, kind)
    try:
        return table()[name]
    except KeyError:
        raise rules.RulesError(f"core/rules/repair.toml: expected a [{name}] table for {kind!r}") from None


@dataclass(frozen=True)
class Label:
    """A code with its Chinese and English label (states, steps, kinds, conditions, documents, records)."""

    code: str
    zh: str
    en: str


def label_of(group: str, code: str) -> Label:
    """The :class:`Label` of a state, step, kind, condition, document or record code."""
    entry = table()["labels"][group].get(code)
    if entry is None:
        return Label(code, code, code)
    return Label(code, entry["zh"], entry["en"])


def label(group: str, code: str) -> dict[str, str]:
    """``{"code", "zh", "en"}`` for a state, step, kind, condition or document code."""
    return asdict(label_of(group, code))


