"""Eligibility endpoints for credit commitments (信用承诺) and first-violation leniency (首违不罚), mounted under /v1."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from features.sources import COMMITMENT_KINDS, PENALTY_DOMAINS
from serving.auth import Caller, SettingsDep, require_role
from serving.schemas import Day

USCC_PATTERN = r"^[0-9A-HJ-NP-RTUWXY]{18}$"
Code = Annotated[str, Path(pattern=USCC_PATTERN, description="unified social credit code (18 characters)")]
Staff = Annotated[Caller, Depends(require_role("planner", "repair_officer"))]

router = APIRouter(tags=["commitments"])


class CommitmentRefusal(BaseModel):
    code: str = Field(description="the bar (core/rules/commitments.toml)")
    zh: str
    en: str
    basis: str = Field(description="legal basis of the bar")
    record_kind: str = Field(description="the list whose entry triggers the bar")
    record_id: str = Field(description="the listing in effect")
    listed_date: date


class CommitmentEligibility(BaseModel):
    uscc: str
    kind: str = Field(description="commitment kind: " + ", ".join(COMMITMENT_KINDS))
    as_of: date
    allowed: bool
    refusals: list[CommitmentRefusal] = Field(description="empty when allowed")
    rules_version: str


class LeniencyEligibilityView(BaseModel):
    uscc: str
    domain: str
    as_of: date
    eligible: bool = Field(description="false: a leniency decision of the domain lies within the repeat window")
    prior_decision: str | None
    prior_date: date | None
    zh: str
    en: str
    basis: str
    rules_version: str


def _actor(caller: Caller) -> str:
    return f"key:{caller.key_id}"


@router.get("/commitments/{uscc}/eligibility", response_model=CommitmentEligibility,
            summary="May the entity make a commitment of this kind (告知承诺 is refused while serious-listed)?")
def commitment_eligibility(uscc: Code, caller: Staff, settings: SettingsDep,
                           kind: Annotated[str, Query(pattern="^(" + "|".join(COMMITMENT_KINDS) + ")$")],
                           as_of: Day | None = None) -> CommitmentEligibility:
    from dataclasses import asdict

    from features.commitments import check

    e = check(settings, uscc, kind, as_of=as_of or date.today(), actor=_actor(caller), role=caller.role)
    return CommitmentEligibility(**asdict(e))


@router.get("/leniency/{uscc}/eligibility", response_model=LeniencyEligibilityView,
            summary="Is 首违不罚 still open for a new offence of this domain, or is it a second offence?")
def leniency_eligibility(uscc: Code, caller: Staff, settings: SettingsDep,
                         domain: Annotated[str, Query(pattern="^(" + "|".join(PENALTY_DOMAINS) + ")$")],
                         as_of: Day | None = None) -> LeniencyEligibilityView:
    from dataclasses import asdict

    from features.leniency import check

    e = check(settings, uscc, domain, as_of=as_of or date.today(), actor=_actor(caller), role=caller.role)
    return LeniencyEligibilityView(**asdict(e))
