"""Rules tables: regulatory parameters kept as data (TOML under core/rules/), each with its source.

Every rules file has a ``[meta]`` table with ``version``, ``source`` and ``effective`` and
entries that may carry their own ``source``. Code reads rules only through :func:`load`.

No dead rules (tests/core/test_rules_read.py): every key must be read by code, i.e. its name is a string
constant (or a keyword argument) in a module of the project, with these conventions:
- ``source``, ``effective`` and ``note`` keys document their table; ``[meta]`` is read by :func:`load`;
- a table marked ``informative = true`` documents (none of its keys needs a reader);
- ``[meta] maps = ["windows", "labels.kinds", "procedures.*.actions", ...]`` names the tables whose keys are
  data (codes, tags, steps) that code iterates (``*``: any one key): their keys are not names; the tables
  inside them are checked as usual;
- the fields of an array of tables (``[[event]]``) are checked once, over all its elements.
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
    for dotted in meta.get("maps", []):
        if not map_tables(data, dotted):
            raise RulesError(f"{origin}: [meta] maps names {dotted!r}, expected a table of that name, found none")
    return data


def map_tables(data: dict[str, Any], dotted: str) -> list[tuple[str, ...]]:
    """Paths of the tables a ``[meta] maps`` entry names (``*`` stands for any one key: ``procedures.*.actions``;
    through an array of tables the path goes into every element, marked ``[]``: ``population.target_shares``)."""
    found: list[tuple[tuple[str, ...], Any]] = [((), data)]
    for part in dotted.split("."):
        step: list[tuple[tuple[str, ...], Any]] = []
        for path, table in found:
            for k, v in (table.items() if isinstance(table, dict) else ()):
                if part not in ("*", k):
                    continue
                if isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
                    step += [((*path, k, "[]"), e) for e in v]
                else:
                    step.append(((*path, k), v))
        found = step
    return [path for path, table in found if isinstance(table, dict)]


def version(name: str) -> str:
    """The version string of a rules table, for recording next to decisions that used it."""
    return str(load(name)["meta"]["version"])
