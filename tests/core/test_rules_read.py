"""No dead rules: every key of core/rules/*.toml is read by code, documents its table, or sits in a table
marked informative (the conventions are in core/rules.py)."""

from __future__ import annotations

import ast
import tomllib
from functools import cache
from pathlib import Path

import pytest

from core import rules

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "features", "training", "serving", "inspection", "repair", "synth", "cycle", "console",
            "opinion_ledger")
DOCUMENTATION_KEYS = {"source", "effective", "note", "informative"}


@cache
def names_in_code() -> frozenset[str]:
    """Every string constant and keyword-argument name in the project's modules (tests excluded)."""
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    found.add(node.value)
                elif isinstance(node, ast.keyword) and node.arg:
                    found.add(node.arg)
    return frozenset(found)


def keys_to_read(data: dict) -> list[tuple[str, ...]]:
    """Key paths of a rules file that code must read, by the conventions of core/rules.py."""
    maps = {path for m in data["meta"].get("maps", []) for path in rules.map_tables(data, m)}
    out: list[tuple[str, ...]] = []

    def walk(path: tuple[str, ...], table: dict) -> None:
        if table.get("informative") is True:
            return
        for key, value in table.items():
            here = (*path, key)
            if path not in maps and key not in DOCUMENTATION_KEYS and here not in out:
                out.append(here)
            if isinstance(value, dict):
                walk(here, value)
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                for element in value:
                    walk((*here, "[]"), element)

    walk((), {k: v for k, v in data.items() if k != "meta"})
    return out


def unread_keys(files: list[Path], names: frozenset[str]) -> list[str]:
    return [f"core/rules/{path.name}: {'.'.join(p for p in key if p != '[]')}"
            for path in files for key in keys_to_read(tomllib.loads(path.read_text(encoding="utf-8")))
            if key[-1] not in names]


def test_every_rules_key_is_read_by_code_or_marked_informative():
    files = sorted(rules.RULES_DIR.glob("*.toml"))
    assert files, "no rules tables found"
    unread = unread_keys(files, names_in_code())
    assert not unread, (
        "rules keys read by no code (no module of " + ", ".join(PACKAGES) + " names them):\n  "
        + "\n  ".join(unread)
        + "\nRead each through core.rules.load, remove it, mark its table `informative = true`, or, if its table's "
          "keys are data that code iterates, list the table in that file's [meta] maps (core/rules.py).")


def test_the_check_finds_an_unread_key_and_honours_the_conventions(tmp_path):
    path = tmp_path / "demo.toml"
    path.write_text(
        '[meta]\nversion = "x"\nsource = "s"\neffective = "2026-01-01"\nmaps = ["windows", "steps.*.next"]\n'
        '[penalty]\nsource = "documented"\nmonths = 3\nforgotten_months = 5\n'
        '[windows]\n"90d" = 90\n[history]\ninformative = true\nfirst_year = 1949\n'
        '[steps.a.next]\napplied = "accept"\n[steps.b.next]\nfiled = "verify"\n'
        '[[event]]\ncode = "a"\n[[event]]\ncode = "b"\nunused_field = 1\n', encoding="utf-8")
    names = frozenset({"penalty", "months", "windows", "history", "event", "code", "steps", "a", "b", "next"})
    assert unread_keys([path], names) == ["core/rules/demo.toml: penalty.forgotten_months",
                                          "core/rules/demo.toml: event.unused_field"]


def test_a_maps_entry_naming_no_table_is_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[meta]\nversion = "x"\nsource = "s"\neffective = "2026-01-01"\nmaps = ["windoes"]\n'
                    '[windows]\n"90d" = 90\n', encoding="utf-8")
    with pytest.raises(rules.RulesError, match="windoes"):
        rules.load("bad", str(path))
