"""Rules tables: regulatory parameters kept as data (TOML under core/rules/), each with its source.

Every rules file has a ``[meta]`` table with ``version``, ``source`` and ``effective`` and
entries that may carry their own ``source``. Code reads rules only through :func:`load`.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

RULES_DIR = Path(__file__).parent / "rules"


class RulesError(ValueError):
    """A rules file is missing or lacks what the code needs."""


@cache
def load(name: str, path: str | None = None) -> dict[str, Any]:
    """Load the rules table ``name`` (e.g. ``"tiers"``), or the file at ``path`` when given."""
    if path:
        text = Path(path).read_text(encoding="utf-8")
        origin = path
    else:
        res = RULES_DIR / f"{name}.toml"
        if not res.is_file():
            raise RulesError(f"no rules table named {name!r} (expected core/rules/{name}.toml)")
        text = res.read_text(encoding="utf-8")
        origin = f"core/rules/{name}.toml"
    data = tomllib.loads(text)
    meta = data.get("meta")
    if not isinstance(meta, dict) or not {"version", "source", "effective"} <= meta.keys():
        raise RulesError(f"{origin}: [meta] must give version, source and effective")
    return data


def version(name: str) -> str:
    """The version string of a rules table, for recording next to decisions that used it."""
    return str(load(name)["meta"]["version"])
