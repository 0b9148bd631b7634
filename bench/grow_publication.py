"""Grow a built home's latest publication to N entities, cheaply, for the 1M console and service benchmarks.

    .venv/bin/python bench/grow_publication.py --home /tmp/serve-bench/home1m --entities 1000000

Copies the latest publication's rows into a new publication (same as_of + 1 day, same model) and adds
synthetic entities: each a published row of the original with a new valid credit code (same region and
type digits, a fresh sequence) and its probability scaled by 0.999 (the original entities stay on top of the
list). Written straight into the operational DB (SQLite or the URL the home uses), in one transaction, marked
published last; nothing else of the chain runs. The warehouse is untouched (synthetic entities have no name).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def grow(settings, entities: int) -> dict:
    """Publish a copy of the latest publication grown to ``entities`` rows; returns its id, size and tier counts."""
    import sqlalchemy as sa

    from core import uscc as uscc_check
    from core.opdb import engine
    from serving.lookup import latest_publication
    from serving.publish import PUBLICATIONS, PUBLISHED_SCORES, UNPUBLISHED

    eng = engine(settings)
    t0 = time.perf_counter()
    s = PUBLISHED_SCORES
    with eng.begin() as conn:
        pub = latest_publication(conn)
        rows = [dict(r) for r in conn.execute(sa.select(s).where(s.c.publication_id == pub["publication_id"]))
                .mappings()]
        new_id = f"{pub['publication_id']}-x{entities // 1000}k"
        conn.execute(sa.insert(PUBLICATIONS).values(
            publication_id=new_id, as_of=pub["as_of"] + timedelta(days=1), model_version=pub["model_version"],
            snapshot_id=f"{pub['snapshot_id']}-grown", status="publishing", entity_count=0,
            created_at=datetime.now(UTC), created_by="bench:grow_publication"))
        seen = {r["uscc"] for r in rows}
        out, counts, seq = [], {}, 0
        while len(out) < entities:
            for r in rows:
                if len(out) >= entities:
                    break
                if len(out) < len(rows):
                    code, p = r["uscc"], r["probability"]
                else:
                    seq += 1
                    code = uscc_check.complete(r["uscc"][:8] + f"G{seq:08d}")
                    if code in seen:
                        continue
                    p = r["probability"] * 0.999
                out.append({**r, "publication_id": new_id, "uscc": code, "probability": p})
                counts[r["tier"]] = counts.get(r["tier"], 0) + 1
            if len(out) % 100_000 < len(rows):
                print(f"  {len(out):,} rows", file=sys.stderr)
        for i in range(0, len(out), 20_000):
            conn.execute(sa.insert(s), out[i:i + 20_000])
        u = UNPUBLISHED  # the entities the publication left out (closed) stay left out
        left_out = [dict(r) | {"publication_id": new_id} for r in conn.execute(
            sa.select(u).where(u.c.publication_id == pub["publication_id"])).mappings()]
        if left_out:
            conn.execute(sa.insert(u), left_out)
        conn.execute(sa.update(PUBLICATIONS).where(PUBLICATIONS.c.publication_id == new_id).values(
            status="published", entity_count=len(out), tier_counts=json.dumps(counts), trigger_counts="{}",
            rules_versions=pub["rules_versions"]))
    return {"publication_id": new_id, "entities": len(out), "tier_counts": counts,
            "seconds": round(time.perf_counter() - t0, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--entities", type=int, default=1_000_000)
    args = ap.parse_args()
    from core.settings import Settings

    print(json.dumps(grow(Settings.from_env(args.home), args.entities)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
