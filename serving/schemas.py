"""Request and response models of the service (Pydantic), with field descriptions for the OpenAPI page."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core import uscc as uscc_check

# Service limits (not regulatory parameters): one batch request scores at most this many items.
MAX_BATCH = 10_000
MAX_PAGE_SIZE = 1_000
USCC_PATTERN = r"^[0-9A-HJ-NP-RTUW-Y]{18}$"


def _checked_uscc(value: str) -> str:
    problem = uscc_check.problem(value)
    if problem:
        raise ValueError(problem)
    return value


class ScoreItem(BaseModel):
    """One entity to score: its credit code (served from the latest publication) or a feature record."""

    model_config = ConfigDict(extra="forbid")

    uscc: str | None = Field(None, pattern=USCC_PATTERN, description="统一社会信用代码, 18 characters")
    features: dict[str, float | int | str | bool | None] | None = Field(
        None, description="feature record (every model feature, null when unknown) for live scoring")

    # Checked by the service, not here, to keep 10,000-item batches fast: that an item has ``uscc`` or
    # ``features``, and the check character of codes missing from the publication (published codes are valid).


class Reason(BaseModel):
    """A risk-raising dimension and its contribution (log-odds)."""

    dimension: str = Field(description="dimension code, e.g. compliance")
    zh: str = Field(description="维度 (Chinese label)")
    en: str = Field(description="dimension (English label)")
    contribution: float = Field(description="contribution to the log-odds of risk")


class ScoreResult(BaseModel):
    """The score of one item."""

    uscc: str | None = Field(description="credit code (None for an anonymous feature record)")
    probability: float = Field(description="calibrated 12-month probability of an adverse event")
    tier: str = Field(description="risk class code A/B/C/D")
    tier_zh: str = Field(description="风险分类 (Chinese label)")
    tier_en: str = Field(description="risk class (English label)")
    reasons: list[Reason] = Field(description="up to 3 top risk-raising dimensions")
    model_version: str = Field(description="model version that produced the score")
    as_of: date | None = Field(description="snapshot date of the features (publication as-of for lookups)")
    source: str = Field(description="'publication' (by credit code) or 'live' (from the feature record)")
    publication_id: str | None = Field(None, description="publication the score comes from")


class ScoreResponse(BaseModel):
    """Scores in request order."""

    items: list[ScoreResult]


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
    town_code: str | None


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
    expires_on: date = Field(description="last day the override applies")

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
