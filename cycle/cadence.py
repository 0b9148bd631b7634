"""Retraining cadence: train a challenger when drift passes a threshold or the champion's data is too old."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from core.settings import Settings
from cycle.monitor import cycle_rules

MODES = ("auto", "never", "always")


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from ``earlier`` to ``later`` (negative when ``later`` is earlier)."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (1 if later.day < earlier.day else 0)


def champion_data_end(meta: dict[str, Any]) -> date | None:
    """The last date of the data a model learned from: its dataset's ``data_end``, else the end of its
    test slice plus the label horizon; None when the model does not say."""
    end = (meta.get("source") or {}).get("data_end")
    if end:
        return date.fromisoformat(str(end)[:10])
    test_end = ((meta.get("training_window") or {}).get("test") or {}).get("end")
    horizon = (meta.get("label") or {}).get("horizon_months")
    if test_end and horizon:
        return (pd.Timestamp(str(test_end)[:10]) + pd.DateOffset(months=int(horizon))).date()
    return None


def decide(*, as_of: date, monitoring: dict[str, Any], champion: dict[str, Any], last_retrain: date | None,
           mode: str = "auto", rules_file: str | None = None) -> dict[str, Any]:
    """Whether this cycle trains a challenger, and why.

    Args:
        as_of: the cycle's date.
        monitoring: the month's :func:`cycle.monitor.monitor` output (``psi_score``, ``features_drifting``).
        champion: ``{"version", "data_end"}`` of the model that published this month.
        last_retrain: the as_of of the last cycle that retrained, if any.
        mode: ``auto`` (the rules decide), ``never`` or ``always``.
    Returns:
        ``{"retrain": bool, "reasons": [...], "triggers": [...], "champion_age_months", "thresholds"}``.
    """
    if mode not in MODES:
        from core.errors import UserError

        raise UserError(f"expected a retrain mode in {MODES}, got {mode!r}")
    cad = cycle_rules(rules_file)["cadence"]
    data_end = champion.get("data_end")
    age = months_between(date.fromisoformat(str(data_end)[:10]), as_of) if data_end else None
    triggers: list[str] = []
    psi_score = monitoring.get("psi_score")
    if psi_score is not None and psi_score >= float(cad["retrain_on_score_psi"]):
        triggers.append(f"score PSI {psi_score:.3f} ≥ {float(cad['retrain_on_score_psi']):.2f}")
    drifting = monitoring.get("features_drifting") or []
    if len(drifting) >= int(cad["retrain_on_features_drifting"]):
        triggers.append(f"{len(drifting)} features drifting (≥ {int(cad['retrain_on_features_drifting'])}): "
                        + ", ".join(drifting[:5]))
    if age is not None and age > int(cad["max_champion_age_months"]):
        triggers.append(f"champion v{champion.get('version')} learned from data up to {data_end}: "
                        f"{age} months old (> {int(cad['max_champion_age_months'])})")
    since = months_between(last_retrain, as_of) if last_retrain else None
    thresholds = {k: cad[k] for k in ("retrain_on_score_psi", "retrain_on_features_drifting",
                                      "max_champion_age_months", "min_months_between")}
    base = {"triggers": triggers, "champion_age_months": age, "months_since_retrain": since, "mode": mode,
            "thresholds": thresholds}
    if mode == "never":
        return {**base, "retrain": False, "reasons": ["retraining switched off for this run (--retrain never)"]}
    if mode == "always":
        return {**base, "retrain": True, "reasons": ["retraining requested for this run (--retrain always)"]}
    if not triggers:
        return {**base, "retrain": False, "reasons": ["no drift above the thresholds and the champion is not too old"]}
    if since is not None and since < int(cad["min_months_between"]):
        return {**base, "retrain": False,
                "reasons": [f"due ({'; '.join(triggers)}) but the last retraining was {since} month(s) ago "
                            f"(< {int(cad['min_months_between'])})"]}
    return {**base, "retrain": True, "reasons": triggers}


def retrain(settings: Settings, *, as_of: date, actor: str, rules_file: str | None = None) -> dict[str, Any]:
    """Train a challenger on the warehouse spine known before ``as_of`` and take it through the promotion gate.

    Returns:
        the training run's summary (``model_version``, ``metrics``, ``promoted``, ``promotion_reasons``, ...).
    """
    from features.warehouse import connect
    from training import labels
    from training.run import train_warehouse

    cfg = cycle_rules(rules_file)["retrain"]
    con = connect(settings)
    try:
        known = labels.data_end(con)
    finally:
        con.close()
    data_end = min(known, as_of - timedelta(days=1)) if known else as_of - timedelta(days=1)
    horizon = int(labels.definition()["label"]["horizon_months"])
    end = (pd.Timestamp(data_end) - pd.DateOffset(months=horizon)).date()
    start = (pd.Timestamp(end) - pd.DateOffset(months=int(cfg["spine_months"]))).date()
    result = train_warehouse(settings, actor=actor, start=start, end=end, freq=str(cfg["freq"]),
                             data_end=data_end, num_boost_round=int(cfg["num_boost_round"]),
                             max_configs=int(cfg["search_configs"]), promote=True)
    result["spine"] = {"start": start.isoformat(), "end": end.isoformat(), "freq": str(cfg["freq"]),
                       "data_end": data_end.isoformat()}
    return result
