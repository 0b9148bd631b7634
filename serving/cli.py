"""CLI: ``serve`` (the BentoML service), ``keys create|list|revoke``, ``override set|revoke|list`` and
``entity USCC`` (one entity's current tier with its reasons and records)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from core.cli import Outcome, actor_of, iso_date
from core.progress import say
from core.settings import Settings, apply_offline_env

SERVICE = "serving.service:CreditRiskService"


def register(sub, common) -> None:
    p = sub.add_parser("serve", parents=[common], help="start the BentoML service (score, tiers, repair, plans)")
    p.add_argument("--port", type=int, default=3000, help="TCP port (default 3000)")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.set_defaults(handler=_serve)

    keys = sub.add_parser("keys", help="API keys: create, list, revoke")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    k = ksub.add_parser("create", parents=[common], help="create a key (printed once)")
    k.add_argument("--role", required=True, help="planner | repair_officer | model_operator | admin | external_dept (restriction checks only)")
    k.add_argument("--label", help="what the key is for (no personal data)")
    k.add_argument("--rate-limit", type=float, help="requests per second this key may send (default: the "
                   "service's CREDIT_RISK_RATE_LIMIT)")
    k.set_defaults(handler=_keys_create)
    k = ksub.add_parser("list", parents=[common], help="list keys (ids and roles, never the keys)")
    k.add_argument("--active", action="store_true", help="only keys that are not revoked")
    k.set_defaults(handler=_keys_list)
    k = ksub.add_parser("revoke", parents=[common], help="revoke a key by its id")
    k.add_argument("key_id")
    k.set_defaults(handler=_keys_revoke)

    e = sub.add_parser("entity", parents=[common], help="one entity's current tier, reasons with their records, history")
    e.add_argument("uscc")
    e.set_defaults(handler=_entity)

    ov = sub.add_parser("override", help="manual tier overrides: set, revoke, list")
    osub = ov.add_subparsers(dest="override_command", metavar="ACTION", required=True)
    o = osub.add_parser("set", parents=[common], help="impose a tier until an expiry date, with a reason")
    o.add_argument("--uscc", required=True)
    o.add_argument("--tier", required=True, help="A | B | C | D")
    o.add_argument("--reason", required=True)
    o.add_argument("--expires", required=True, type=iso_date, help="last day the override applies (YYYY-MM-DD)")
    o.set_defaults(handler=_override_set)
    o = osub.add_parser("revoke", parents=[common], help="end an override early")
    o.add_argument("override_id", type=int)
    o.set_defaults(handler=_override_revoke)
    o = osub.add_parser("list", parents=[common], help="list overrides (active ones unless --all)")
    o.add_argument("--all", action="store_true")
    o.set_defaults(handler=_override_list)


def _serve(args: argparse.Namespace, settings: Settings) -> Outcome:
    apply_offline_env()
    import bentoml

    from features.warehouse import SERVICE_ENV, ensure_copy
    from serving.lifecycle import PARENT_ENV

    settings.ensure_home()
    os.environ["CREDIT_RISK_HOME"] = str(settings.home)
    os.environ.setdefault("BENTOML_HOME", str(settings.home / "bentoml"))
    copy = ensure_copy(settings)
    say(f"the service reads the warehouse copy {copy['file']} (generation {copy['generation']})")
    os.environ[SERVICE_ENV] = "1"  # its workers read only published copies, never the warehouse
    os.environ[PARENT_ENV] = str(os.getpid())  # its workers stop when this process dies
    root = Path(__file__).resolve().parent.parent
    say(f"starting the service on http://{args.host}:{args.port} (home {settings.home}); Ctrl-C stops it")
    bentoml.serve(SERVICE, host=args.host, port=args.port, working_dir=str(root), blocking=True)
    return Outcome({"stopped": True, "host": args.host, "port": args.port}, ["service stopped"])


def _keys_create(args: argparse.Namespace, settings: Settings) -> Outcome:
    from serving.keys import create_key

    key_id, key = create_key(settings, role=args.role, label=args.label, actor=actor_of(args),
                             rate_limit=args.rate_limit)
    return Outcome({"key": key, "role": args.role, "key_id": key_id},
                   [f"key {key_id} ({args.role}) — shown once, store it now:", key])


def _keys_list(args: argparse.Namespace, settings: Settings) -> Outcome:
    from serving.keys import list_keys

    rows = list_keys(settings, include_revoked=not args.active)
    lines = [f"{r['key_id']}  {r['role']:<15} {'revoked' if r['revoked_at'] else 'active':<8} "
             f"{r['created_at']:%Y-%m-%d}  {r['label'] or ''}" for r in rows]
    return Outcome({"keys": rows}, lines or ["no keys"])


def _keys_revoke(args: argparse.Namespace, settings: Settings) -> Outcome:
    from serving.keys import revoke_key

    result = revoke_key(settings, key_id=args.key_id, actor=actor_of(args))
    return Outcome(result, [f"key {args.key_id} revoked"])


def _override_set(args: argparse.Namespace, settings: Settings) -> Outcome:
    from serving.overrides import set_override

    r = set_override(settings, uscc=args.uscc, tier=args.tier, reason=args.reason, expires_on=args.expires,
                     actor=actor_of(args))
    extra = f" (replaces {r['replaced']})" if r["replaced"] else ""
    return Outcome(r, [f"override {r['override_id']}: {r['uscc']} → {r['tier']} until {r['expires_on']}{extra}"])


def _override_revoke(args: argparse.Namespace, settings: Settings) -> Outcome:
    from serving.overrides import revoke_override

    r = revoke_override(settings, override_id=args.override_id, actor=actor_of(args))
    return Outcome(r, [f"override {r['override_id']} of {r['uscc']} revoked"])


def _override_list(args: argparse.Namespace, settings: Settings) -> Outcome:
    from serving.overrides import list_overrides

    rows = list_overrides(settings, active_only=not args.all)
    lines = [f"{r['override_id']:>5}  {r['uscc']}  {r['tier']}  until {r['expires_on']}  by {r['created_by']}"
             + ("  (revoked)" if r["revoked_at"] else "") for r in rows]
    return Outcome({"overrides": rows}, lines or ["no overrides"])


def _entity(args: argparse.Namespace, settings: Settings) -> Outcome:
    from core.opdb import engine
    from serving.lookup import entity_view
    from serving.reasons import reason_lines

    with engine(settings).connect() as conn:
        view = entity_view(conn, args.uscc)
    cur, pub = view["current"], view["published"]
    lines = [f"{view['uscc']}  {cur['tier']} {cur['tier_zh']} / {cur['tier_en']}  ({cur['source']}; published "
             f"{pub['tier']} p={pub['probability']:.4f} in {pub['publication_id']}, as_of {pub['as_of']})",
             "reasons 原因:", *reason_lines(cur["reasons"]),
             "history: " + ", ".join(f"{h['as_of']} {h['tier']}" for h in view["history"])]
    lines += _credit_records(settings, view)
    return Outcome(view, lines)


def _credit_records(settings: Settings, view: dict) -> list[str]:
    """首违不罚 decisions, failed samples and commitment breaches of the entity (features.commitments), shown beside
    its reasons whether or not one is behind a reason; ``view["credit_records"]`` holds them for ``--json``."""
    from datetime import date

    from core.errors import Busy
    from features.commitments import entity_records
    from features.warehouse import reader

    if not settings.warehouse_path.exists():
        return []
    try:
        con = reader(settings)
    except Busy:
        return []
    try:
        records = [r.describe() for r in entity_records(con, view["uscc"], as_of=date.today())]
    finally:
        con.close()
    view["credit_records"] = [r.to_dict() for r in records]
    if not records:
        return []
    return ["首违不罚、抽检不合格与违背承诺记录 / leniency, failed samples, commitment breaches:",
            *(f"  {r.zh} / {r.en}" for r in records)]


def serve_hint(settings: Settings, *, port: int = 3000) -> list[str]:
    """Lines telling how to start the service and send one request (for the end of ``credit-risk demo``)."""
    import sqlalchemy as sa

    from core.opdb import engine
    from serving.lookup import latest_publication
    from serving.publish import PUBLISHED_SCORES

    code = "<uscc>"
    with engine(settings).connect() as conn:
        pub = latest_publication(conn)
        if pub is not None:
            code = conn.execute(sa.select(PUBLISHED_SCORES.c.uscc).where(
                PUBLISHED_SCORES.c.publication_id == pub["publication_id"]).limit(1)).scalar() or code
    home = f" --home {settings.home}"
    return [
        "serve the published tiers:",
        f"  credit-risk serve{home} --port {port}",
        f"  KEY=$(credit-risk keys create{home} --role planner --json | python -c 'import json,sys; "
        "print(json.load(sys.stdin)[\"key\"])')",
        f"  curl -s -X POST http://127.0.0.1:{port}/score -H \"Authorization: Bearer $KEY\" "
        f"-H 'Content-Type: application/json' -d '{{\"items\": [{{\"uscc\": \"{code}\"}}]}}'",
        f"  OpenAPI: http://127.0.0.1:{port}/docs.json (with the key); tier list: /v1/tiers?tier=D",
    ]
