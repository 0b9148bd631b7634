"""Publicity (effect) periods shared by features, repair and synth, read from core/rules/publicity.toml."""

from __future__ import annotations

from typing import Any

from core import rules


def publicity_rules() -> dict[str, Any]:
    """Penalty publicity periods, the serious-list automatic removal and the annual-report deadline
    (市场监督管理行政处罚信息公示规定 and related rules)."""
    table = rules.load("publicity")
    try:
        pen, ser, ar = table["penalty"], table["serious_list"], table["annual_report"]
        return {
            "version": str(table["meta"]["version"]),
            "short_sanctions": list(pen["short_sanctions"]),
            "short_months": int(pen["short_period_months"]),
            "standard_months": int(pen["standard_period_months"]),
            "low_fine_max_yuan": dict(pen["low_fine_max_yuan"]),
            "serious_auto_removal_months": int(ser["auto_removal_months"]),
            "report_due": (int(ar["season_end_month"]), int(ar["season_end_day"])),
        }
    except KeyError as exc:
        raise rules.RulesError(
            f"core/rules/publicity.toml: expected the key {exc.args[0]!r} ([penalty] short_sanctions, "
            "short_period_months, standard_period_months, low_fine_max_yuan; [serious_list] auto_removal_months; "
            "[annual_report] season_end_month, season_end_day)") from None
