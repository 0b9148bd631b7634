"""Ledger endpoints (role ``planner``, and admin): the entries, overdue first, and their state changes.

Planners hold the ledger: they see the tiers and plans the entries bear on (a verified item of a C/D entity is a
lead for a targeted inspection) and answer for the 48-hour response.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from opinion_ledger.workflow import LedgerEntry, LedgerList, list_entries, parse_at, show, transition
from serving.auth import Caller, SettingsDep, require_role
from serving.limits import MAX_ID, MAX_PAGE

Planner = Annotated[Caller, Depends(require_role("planner"))]
EntryId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.\-]+$")]
STATES = "^[a-z_]{3,20}$"  # the codes are checked against core/rules/opinion_ledger.toml [states]
MAX_LEDGER_PAGE_SIZE = 500

router = APIRouter(prefix="/opinions/ledger", tags=["opinion ledger"])


class TransitionRequest(BaseModel):
    to: str = Field(pattern=STATES, description="the next state: pending → verified | unfounded → responded → "
                    "followed_up (core/rules/opinion_ledger.toml [transitions])")
    reason: str = Field(min_length=1, max_length=2000, description="why (required): what was verified, how the "
                        "bureau responded, what the follow-up found")
    expected_version: int | None = Field(None, ge=1, le=MAX_ID, description="the entry version you read (409 if "
                                         "changed)")


@router.get("", response_model=LedgerList, summary="舆情台账: entries by deadline, filtered by state and overdue")
def ledger(caller: Planner, settings: SettingsDep,
           overdue: Annotated[bool | None, Query(description="true: past the 48-hour deadline and not responded")]
           = None,
           state: Annotated[str | None, Query(pattern=STATES)] = None,
           uscc: Annotated[str | None, Query(pattern=r"^[0-9A-HJ-NP-RTUWXY]{18}$")] = None,
           at: Annotated[str | None, Query(max_length=40, description="judge overdue at this ISO 8601 instant "
                                           "(offset, else Asia/Shanghai); default now")] = None,
           page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
           page_size: Annotated[int, Query(ge=1, le=MAX_LEDGER_PAGE_SIZE)] = 50) -> LedgerList:
    return list_entries(settings, at=parse_at(at), state=state, overdue=overdue, uscc=uscc, page=page,
                        page_size=page_size)


@router.get("/{entry_id}", response_model=LedgerEntry, summary="One ledger entry with its state changes")
def entry(entry_id: EntryId, caller: Planner, settings: SettingsDep) -> LedgerEntry:
    return show(settings, entry_id)


@router.post("/{entry_id}/transition", response_model=LedgerEntry, summary="Move a ledger entry to its next state")
def move(entry_id: EntryId, body: TransitionRequest, caller: Planner, settings: SettingsDep) -> LedgerEntry:
    return transition(settings, entry_id, to=body.to, reason=body.reason, actor=f"key:{caller.key_id}",
                      role=caller.role, expected_version=body.expected_version)
