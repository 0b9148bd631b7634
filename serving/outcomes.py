"""Outcome of looking up one credit code: scored, not in the publication, unknown, or not a valid code.

:class:`CodeLookup` answers a list of codes with one JSON fragment per code (an item of
:class:`~serving.schemas.ScoreResponse`), in order: published codes read by key from the served publication (:class:`~serving.runtime.PublishedIndex`), the
others with one query per chunk of misses (the entity's status and its last tier, when it had one).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlalchemy as sa

from core import tiers as core_tiers
from core import uscc as uscc_check
from core.opdb import engine
from core.settings import Settings
from serving.publish import PUBLICATIONS, PUBLISHED_SCORES, UNPUBLISHED
from serving.schemas import ENTITY_STATUS_ZH, InvalidCode, NotInPublication, UnknownCode

OUTCOMES = ("scored", "not_in_publication", "unknown_code", "invalid_code")
_CHUNK = 500


def invalid(code: str) -> InvalidCode | None:
    """The ``invalid_code`` outcome of a code that is not a credit code, else None."""
    problem = uscc_check.problem(code)
    if problem is None:
        return None
    expected = None
    if len(code) == uscc_check.LENGTH and all(ch in uscc_check.ALPHABET for ch in code):
        expected = uscc_check.check_character(code[:17])
        problem = f"fails its check character (expected {expected}, got {code[17]})"
    return InvalidCode(uscc=code, expected_check_character=expected, message=problem)


class CodeLookup:
    """Outcomes of credit codes against the latest publication (held by a :class:`PublishedIndex`)."""

    def __init__(self, settings: Settings, index) -> None:
        self.settings = settings
        self.index = index

    def outcomes(self, codes: list[str]) -> tuple[list[str], Counter]:
        """One JSON fragment per code, in order, and the count of each outcome."""
        pub, rows = self.index.fragments(codes)
        out: list[str | None] = [rows.get(c) for c in codes]
        counts: Counter = Counter()
        misses = sorted({c for c, f in zip(codes, out, strict=True) if f is None})
        resolved: dict[str, tuple[str, str]] = {}
        valid = []
        for code in misses:
            bad = invalid(code)
            if bad is None:
                valid.append(code)
            else:
                resolved[code] = ("invalid_code", bad.model_dump_json())
        resolved.update(self._absent(valid, pub))
        for i, code in enumerate(codes):
            if out[i] is None:
                kind, out[i] = resolved[code]
                counts[kind] += 1
            else:
                counts["scored"] += 1
        return out, counts  # type: ignore[return-value]

    def _absent(self, codes: list[str], pub: dict[str, Any] | None) -> dict[str, tuple[str, str]]:
        """Valid codes missing from the latest publication: closed (with status and last tier) or unknown."""
        if not codes:
            return {}
        if pub is None:
            return {c: ("unknown_code", UnknownCode(uscc=c, publication_id=None, message=(
                "nothing has been published yet (run `credit-risk score --as-of DATE`)")).model_dump_json())
                for c in codes}
        last: dict[str, Any] = {}
        status: dict[str, Any] = {}
        s, p, u = PUBLISHED_SCORES, PUBLICATIONS, UNPUBLISHED
        with engine(self.settings).connect() as conn:
            for i in range(0, len(codes), _CHUNK):
                chunk = codes[i:i + _CHUNK]
                for row in conn.execute(
                        sa.select(s.c.uscc, s.c.tier, p.c.as_of, p.c.publication_id)
                        .select_from(s.join(p, p.c.publication_id == s.c.publication_id))
                        .where(s.c.uscc.in_(chunk), p.c.status == "published")
                        .order_by(s.c.uscc, p.c.as_of.desc(), p.c.created_at.desc())):
                    last.setdefault(row.uscc, row)
                for row in conn.execute(sa.select(u.c.uscc, u.c.status, u.c.status_date).where(
                        u.c.publication_id == pub["publication_id"], u.c.uscc.in_(chunk))):
                    status[row.uscc] = row
        out = {}
        for code in codes:
            seen, st = last.get(code), status.get(code)
            if seen is None and st is None:
                out[code] = ("unknown_code", UnknownCode(
                    uscc=code, publication_id=pub["publication_id"],
                    message="no publication has this credit code").model_dump_json())
                continue
            tier = core_tiers.label(seen.tier) if seen is not None else None
            what = (f"{ENTITY_STATUS_ZH.get(st.status, st.status)} ({st.status})" if st is not None
                    else "not active at the as-of date")
            out[code] = ("not_in_publication", NotInPublication(
                uscc=code, publication_id=pub["publication_id"],
                entity_status=st.status if st is not None else None,
                entity_status_zh=ENTITY_STATUS_ZH.get(st.status) if st is not None else None,
                status_date=st.status_date if st is not None else None,
                last_tier=tier.code if tier else None, last_tier_zh=tier.zh if tier else None,
                last_as_of=seen.as_of if seen is not None else None,
                message=f"not in publication {pub['publication_id']} (as_of {pub['as_of']}): {what}",
            ).model_dump_json())
        return out


def response_json(fragments: list[str], counts: Counter) -> str:
    """The ScoreResponse JSON from item fragments and outcome counts."""
    tally = json.dumps({k: counts.get(k, 0) for k in OUTCOMES})
    return '{"items":[' + ",".join(fragments) + '],"counts":' + tally + "}"
