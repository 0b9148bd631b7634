"""The promotion gate: a candidate becomes @champion only when it beats it and is calibrated and stable."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from core import rules
from core.errors import Conflict, NotFound, UserError
from core.settings import Settings

RULES = "promotion"


def gate(evaluation: dict[str, Any], *, champion_version: str | None, candidate_schema: str | None = None,
         rule_name: str = RULES) -> tuple[bool, list[str]]:
    """Decide from a candidate's evaluation; returns (passed, reasons) with one reason per failed check.

    With no champion the candidate passes (the first model becomes champion) and failed checks are
    reported as warnings in the reasons.
    """
    g = rules.load(rule_name)["gate"]
    m = evaluation["metrics"]
    failed: list[str] = []
    if m.get("auc", 0) < g["min_auc"]:
        failed.append(f"AUC {m.get('auc', 0):.3f} below the minimum {g['min_auc']:.3f}")
    if m.get("ece", 1) > g["max_ece"]:
        failed.append(f"calibration error (ECE) {m['ece']:.4f} above {g['max_ece']:.4f}")
    if m.get("psi_valid_to_test", 0) > g["max_psi_valid_to_test"]:
        failed.append(f"score drift valid→test PSI {m['psi_valid_to_test']:.3f} above {g['max_psi_valid_to_test']}")
    if g.get("require_tiers_rise") and not m.get("tiers_rise"):
        rates = evaluation.get("tier_event_rates", {})
        failed.append("tier event rates do not rise A<B<C<D: " + ", ".join(f"{k} {v:.3f}" for k, v in rates.items()))
    # the logistic candidate is the baseline: when it wins the selection there is nothing to beat
    if (g.get("require_beats_baseline") and evaluation.get("model_kind", "lightgbm") == "lightgbm"
            and m.get("auc", 0) <= m.get("baseline_auc", 0)):
        failed.append(f"AUC {m['auc']:.3f} does not beat the logistic baseline {m['baseline_auc']:.3f}")
    if champion_version is None:
        return True, ["no champion yet: the first model becomes champion"] + [f"warning: {r}" for r in failed]
    ch = evaluation.get("champion") or {}
    if str(ch.get("version")) != str(champion_version):
        failed.append(f"evaluated against champion v{ch.get('version')} but the champion is now v{champion_version}; "
                      f"train again to compare on the same slice")
    elif g.get("require_same_schema") and candidate_schema and ch.get("schema_hash") != candidate_schema:
        failed.append(f"feature schema {candidate_schema} differs from the champion's {ch.get('schema_hash')}; "
                      f"promote it by hand (--version N --force) after checking the service")
    elif not ch.get("comparable"):
        failed.append(f"champion could not be scored on the newest slice: {ch.get('reason')}")
    else:
        gain = m["auc"] - ch["auc"]
        if gain <= g["min_auc_gain"]:
            failed.append(f"AUC {m['auc']:.4f} does not beat the champion's {ch['auc']:.4f} on the newest slice")
        if ch["psi"] > g["max_psi_vs_champion"]:
            failed.append(f"scores shift too much from the champion's: PSI {ch['psi']:.3f} above "
                          f"{g['max_psi_vs_champion']}")
    if failed:
        return False, failed
    return True, [f"beats champion v{champion_version} on the newest slice (AUC {m['auc']:.4f} vs "
                  f"{ch['auc']:.4f}), calibrated (ECE {m['ece']:.4f}) and stable (PSI {ch['psi']:.3f})"]


def _evaluation_of(settings: Settings, version) -> dict[str, Any]:
    from training import registry

    with tempfile.TemporaryDirectory() as tmp:
        folder = registry.download(settings, version, tmp)
        path = Path(folder) / "evaluation.json"
        if not path.is_file():
            raise NotFound(f"model version {version.version} has no evaluation.json; expected one in its bundle")
        return json.loads(path.read_text(encoding="utf-8"))


def promote(settings: Settings, *, version: str | int | None = None, auto: bool = True, force: bool = False,
            actor: str, reason: str | None = None) -> dict[str, Any]:
    """Move alias ``champion`` to ``version`` (default: the newest) if the gate passes, or by hand.

    Args:
        version: the candidate version number; default the newest registered version.
        auto: apply the gate of core/rules/promotion.toml.
        force: promote without the gate (needs ``reason``); audited as a manual decision.
        actor: who decides, for the audit log.
    Returns:
        ``{"version", "promoted", "reasons", "previous_champion"}``.
    """
    from core import audit, opdb
    from training import registry
    from training.model import MODEL_NAME, ScoringModel, champion_path

    if not auto and not force:
        raise UserError("expected --auto (apply the promotion gate) or --force with --reason, got neither")
    if force and not reason:
        raise UserError("a forced promotion needs --reason")
    c = registry.client(settings)
    if version is None:
        versions = c.search_model_versions(f"name = '{MODEL_NAME}'")
        if not versions:
            raise NotFound(f"no registered versions of {MODEL_NAME}; run `credit-risk train` first")
        version = max(int(v.version) for v in versions)
    candidate = registry.resolve(settings, version)
    current = registry.champion(settings)
    current_v = str(current.version) if current is not None else None
    if current_v == str(candidate.version):
        raise Conflict(f"version {candidate.version} is already the champion")
    if force:
        passed, reasons = True, [f"forced by {actor}: {reason}"]
    else:
        evaluation = _evaluation_of(settings, candidate)
        passed, reasons = gate(evaluation, champion_version=current_v,
                               candidate_schema=(candidate.tags or {}).get("schema_hash"))
    if passed:
        registry.set_alias(settings, candidate.version)
        ScoringModel.load(settings, candidate.version).export_local(champion_path(settings))
    c.set_model_version_tag(MODEL_NAME, str(candidate.version), "promotion",
                            ("promoted: " if passed else "refused: ") + "; ".join(reasons)[:4000])
    with opdb.engine(settings).begin() as conn:
        audit.record(conn, actor=actor, action="model.promote", subject=f"{MODEL_NAME}/v{candidate.version}",
                     outcome=("promoted" if passed else "refused: " + reasons[0])[:200],
                     inputs={"auto": auto, "force": force, "reason": reason, "previous_champion": current_v},
                     versions={"candidate": str(candidate.version), "rules": rules.version(RULES)})
    return {"version": str(candidate.version), "promoted": passed, "reasons": reasons,
            "previous_champion": current_v}
