"""What-if: the tier an entity would get (champion model, then the direct triggers) if its currently eligible
records were repaired."""

from __future__ import annotations

from datetime import date
from typing import Any

from core import tiers
from core.errors import NotFound, UserError
from core.settings import Settings
from features.reason_records import penalties_with_sanction, reason_records
from features.snapshot import compute_features
from repair import eligibility, rules
from serving.reasons import finalise
from serving.triggers import triggers

WHATIF_CASE = "what-if"


def whatif(settings: Settings, uscc: str, *, as_of: date | None = None, record_ids: list[str] | None = None,
           model: Any = None) -> dict[str, Any]:
    """Score ``uscc`` at ``as_of`` as things stand and as if its eligible records were repaired that day.

    Nothing is written: the hypothetical repairs live in a temporary table that shadows the warehouse
    `repairs` table on this connection only, and the feature snapshot is computed without being stored.

    Args:
        uscc: the entity; as_of: the day (default today).
        record_ids: repair only these records (default: every record eligible now).
        model: a loaded ScoringModel (default: the champion, from the registry or its local export).

    Returns:
        ``{"uscc", "as_of", "model_version", "repaired": [records], "current": {probability, tier, reasons},
        "projected": {...}, "tier_change"}``.
    """
    from features.warehouse import reader

    as_of = as_of or date.today()
    if model is None:
        from serving.models import load_champion

        model = load_champion(settings, export=False).model
    con = reader(settings)
    try:
        checks = eligibility.evaluate(con, uscc, as_of=as_of)
        chosen = [c for c in checks if c.eligible_now and (record_ids is None or c.record_id in record_ids)]
        if record_ids is not None:
            unknown = sorted(set(record_ids) - {c.record_id for c in chosen})
            if unknown:
                raise UserError(f"record_ids: not eligible for repair on {as_of}: {', '.join(unknown)}")
        current = _score(con, model, uscc, as_of, [])
        projected = _score(con, model, uscc, as_of, chosen) if chosen else current
    finally:
        con.close()
    return {
        "uscc": uscc, "as_of": as_of, "model_version": str(model.version), "rules_versions": rules.versions(),
        "repaired": [{"kind": c.kind, "record_kind": c.record_kind, "record_id": c.record_id} for c in chosen],
        "current": current, "projected": projected,
        "tier_change": f"{current['tier']['code']} → {projected['tier']['code']}",
    }


def _score(con, model, uscc: str, as_of: date, repaired: list) -> dict[str, Any]:
    con.execute("CREATE OR REPLACE TEMP TABLE repairs AS SELECT * FROM main.repairs")
    try:
        for c in repaired:
            con.execute("INSERT INTO temp.repairs (record_kind, record_id, uscc, repaired_date, known_date, case_id) "
                        "VALUES (?, ?, ?, ?, ?, ?)", [c.record_kind, c.record_id, uscc, as_of, as_of, WHATIF_CASE])
        frame = compute_features(con, as_of=as_of, uscc=uscc)
        records = reason_records(con, as_of=as_of, uscc=uscc, prepared=True)  # same stages, same repairs
        hits = penalties_with_sanction(con, [t.sanction for t in triggers() if t.sanction])
    finally:
        con.execute("DROP TABLE IF EXISTS temp.repairs")
    if frame.empty:
        raise NotFound(f"uscc: {uscc} is not an active entity on {as_of}")
    scores = model.score(frame)
    outcome = finalise(scores, frame, records=records, sanction_hits=hits)
    code = outcome.tiers[0]
    tier = tiers.label(code)
    return {"probability": float(scores["probability"].iloc[0]), "tier": {"code": code, "zh": tier.zh, "en": tier.en},
            "reasons": outcome.reasons[0]}
