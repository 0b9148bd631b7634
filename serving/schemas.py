"""Request and response models of the service (Pydantic), with field descriptions for the OpenAPI page."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from core import uscc as uscc_check
from serving.limits import MAX_BATCH, MAX_CODE_CHARS, MAX_DATE, MAX_PAGE_SIZE, MIN_DATE

__all__ = ["MAX_BATCH", "MAX_PAGE_SIZE", "Day"]
USCC_PATTERN = r"^[0-9A-HJ-NP-RTUW-Y]{18}$"
ENTITY_STATUS_ZH = {"active": "存续", "deregistered": "注销", "revoked": "吊销"}


def _within_dates(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"expected a date from {MIN_DATE} to {MAX_DATE}")
    return value


# A date in a request (body or query): outside MIN_DATE..MAX_DATE is refused with 400, before any
# date arithmetic can overflow.
Day = Annotated[date, AfterValidator(_within_dates)]
_Date = date  # RecordRef has a field named ``date``


def _checked_uscc(value: str) -> str:
    problem = uscc_check.problem(value)
    if problem:
        raise ValueError(problem)
    return value


class ErrorDetail(BaseModel):
    """One problem of a refused request: where it is (``loc``) and what is wrong."""

    loc: list[str | int] = Field(description="path of the offending field, e.g. ['items', 3, 'features']")
    msg: str = Field(description="what was expected and what arrived (never the value itself)")
    type: str | None = Field(None, description="machine-readable kind, e.g. missing, string_too_long")


class ErrorResponse(BaseModel):
    """Every 4xx of the service: a one-line message naming the field, and the problems found."""

    error: str = Field(description="what was expected, naming the field")
    detail: list[ErrorDetail] = Field(default_factory=list, description="each problem found")


class ScoreItem(BaseModel):
    """One entity to score: its credit code (served from the latest publication) or a feature record."""

    model_config = ConfigDict(extra="forbid")

    uscc: str | None = Field(None, min_length=1, max_length=MAX_CODE_CHARS, description=(
        "统一社会信用代码 (18 characters); a code that is not valid comes back as an `invalid_code` item"))
    features: dict[str, float | int | str | bool | None] | None = Field(
        None, max_length=2_000,
        description="feature record (every model feature, null when unknown) for live scoring")

    # Checked by the service, not here, to keep 10,000-item batches fast: that an item has ``uscc`` or
    # ``features``, and the check character of codes missing from the publication (published codes are valid).


class ScoreRequest(BaseModel):
    """A batch to score: codes and feature records in any mix, answered in the same order."""

    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem] = Field(min_length=1, max_length=MAX_BATCH,
                                   description=f"entities to score, at most {MAX_BATCH:,}")


class RecordRef(BaseModel):
    """A concrete record behind a reason, which a regulator can look up."""

    kind: str = Field(description="penalty, serious_list, abnormal_list, annual_report, opinion, complaint, "
                                  "affiliate, inspection, licence, change, entity, override, or feature")
    ref: str | None = Field(description="decision number, list entry id, report year, opinion id, affiliate "
                                        "credit code, ... (feature name for a feature record)")
    date: _Date | None = Field(description="date of the record (decision, listing, deadline, ...)")
    zh: str = Field(description="记录说明 (Chinese)")
    en: str = Field(description="the record (English)")


class Reason(BaseModel):
    """Why an entity has its tier: a direct trigger, a manual override or a risk-raising model dimension."""

    model_config = ConfigDict(extra="allow")

    code: str | None = Field(None, description="stable code: trigger.<code>, override, or model.<dimension>")
    kind: str | None = Field(None, description="trigger, override or model")
    dimension: str | None = Field(description="dimension code, e.g. compliance (None for an override)")
    zh: str = Field(description="原因 (Chinese label)")
    en: str = Field(description="reason (English label)")
    contribution: float | None = Field(description="contribution to the log-odds of risk (model reasons only)")
    records: list[RecordRef] = Field(default_factory=list, description="the records behind the reason")


class Scored(BaseModel):
    """An item scored: from the latest publication (by credit code) or live (from its feature record)."""

    status: Literal["scored"] = Field("scored", description="outcome of the item")
    uscc: str | None = Field(description="credit code (None for an anonymous feature record)")
    probability: float = Field(description="calibrated 12-month probability of an adverse event")
    tier: str = Field(description="risk class code A/B/C/D")
    tier_zh: str = Field(description="风险分类 (Chinese label)")
    tier_en: str = Field(description="risk class (English label)")
    reasons: list[Reason] = Field(description="direct triggers first, then up to 3 top risk-raising dimensions")
    model_version: str = Field(description="model version that produced the score")
    as_of: date | None = Field(description="snapshot date of the features (publication as-of for lookups)")
    source: Literal["publication", "live"] = Field(
        description="'publication' (by credit code) or 'live' (from the feature record)")
    publication_id: str | None = Field(None, description="publication the score comes from")


ScoreResult = Scored  # the name older clients import


class NotInPublication(BaseModel):
    """A valid code the latest publication leaves out: the entity closed, or was not active at its as_of."""

    status: Literal["not_in_publication"] = Field("not_in_publication", description="outcome of the item")
    uscc: str
    publication_id: str = Field(description="the latest publication, which leaves the entity out")
    entity_status: str | None = Field(
        description="registration status at the publication's as_of (deregistered, revoked), when known")
    entity_status_zh: str | None = Field(description="登记状态 (注销, 吊销)")
    status_date: date | None = Field(description="date of that status")
    last_tier: str | None = Field(description="tier in the newest publication that had the entity")
    last_tier_zh: str | None = Field(description="上次风险分类")
    last_as_of: date | None = Field(description="as-of date of that publication")
    message: str = Field(description="what this outcome means")


class UnknownCode(BaseModel):
    """A valid code no publication has ever had."""

    status: Literal["unknown_code"] = Field("unknown_code", description="outcome of the item")
    uscc: str
    publication_id: str | None = Field(description="the latest publication (None before the first one)")
    message: str


class InvalidCode(BaseModel):
    """A code that is not a credit code: wrong length, a character not allowed, or a failing check character."""

    status: Literal["invalid_code"] = Field("invalid_code", description="outcome of the item")
    uscc: str
    expected_check_character: str | None = Field(
        description="the check character the first 17 characters call for, when only the 18th is wrong")
    message: str = Field(description="what is wrong, e.g. 'fails its check character (expected T, got 4)'")


ScoreOutcome = Annotated[Scored | NotInPublication | UnknownCode | InvalidCode, Field(discriminator="status")]


class ScoreResponse(BaseModel):
    """One outcome per item, in request order (``status`` says which kind)."""

    items: list[ScoreOutcome]
    counts: dict[str, int] = Field(description="items per outcome: scored, not_in_publication, unknown_code, "
                                   "invalid_code")


class TierEntry(BaseModel):
    """One row of the planners' tier list (current tier: an active override, else the published one)."""

    uscc: str
    tier: str
    tier_zh: str
    published_tier: str
    probability: float
    overridden: bool
    entity_type: str | None
    industry_code: str | None
    industry_zh: str | None = Field(None, description="the industry class's name (GB/T 4754-2017), when known")
    town_code: str | None
    town_zh: str | None = Field(None, description="the town's or sub-district's name (乡镇街道), when known")


class TierList(BaseModel):
    """A page of the tier list of the latest publication."""

    publication_id: str
    as_of: date
    model_version: str
    total: int = Field(description="rows matching the filters")
    page: int
    page_size: int
    items: list[TierEntry]


class OverrideRequest(BaseModel):
    """A manual tier override: needs a reason and an expiry date."""

    model_config = ConfigDict(extra="forbid")

    uscc: str = Field(pattern=USCC_PATTERN, description="统一社会信用代码")
    tier: str = Field(description="risk class code to impose, A/B/C/D")
    reason: str = Field(min_length=1, max_length=2000, description="why the published tier is overridden")
    expires_on: Day = Field(description="last day the override applies")

    @field_validator("uscc")
    @classmethod
    def _check_character(cls, value: str) -> str:
        return _checked_uscc(value)


class ModelInfo(BaseModel):
    """The model the service loaded at start-up."""

    version: str
    source: str = Field(description="'registry' or 'local_export' (registry unreachable)")
    note: str | None = Field(None, description="why the service fell back to the local export")
    training_window: dict[str, Any]
    metrics: dict[str, Any]
    feature_count: int
    schema_hash: str
