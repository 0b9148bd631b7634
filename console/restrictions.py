"""The console's restriction-check page (失信联合惩戒查询): one credit code, an optional purpose and day."""

from __future__ import annotations

from datetime import date

import anyio
from starlette.requests import Request
from starlette.responses import Response

from console.accounts import Session
from console.web import READERS, audit, page, render, settings_of
from core.errors import UserError

CHECKERS = (*READERS, "external_dept")  # every role, and other departments' users


@page(*CHECKERS)
async def check(request: Request, session: Session) -> Response:
    from serving.restrictions import audit_entry, check_codes, restriction_rules

    q = request.query_params
    code, purpose, day = q.get("uscc", "").strip(), q.get("purpose") or None, q.get("as_of") or None
    result, error = None, None
    if code:
        try:
            on = date.fromisoformat(day) if day else None
            batch = await anyio.to_thread.run_sync(
                lambda: check_codes(settings_of(request), [code], purpose=purpose, on=on))
            result = batch.items[0]
            entry = audit_entry(batch, [code], single=True)
            audit(request, session, action=entry["action"], subject=entry["subject"], outcome=entry["outcome"],
                  inputs=entry["inputs"])
        except ValueError:
            error = f"查询日期格式应为 YYYY-MM-DD，收到 {day!r}"
        except UserError as exc:
            error = str(exc)
    return render(request, session, "restrictions.html", title="失信联合惩戒查询", uscc=code, purpose=purpose,
                  as_of=day or "", result=result, error=error, purposes=list(restriction_rules().purposes.values()))
