"""The feature catalog: every feature declared once with its metadata (design.md §5).

The data dictionary, the monotone constraints, the reason labels and the docs are generated
from these declarations. Feature modules append their declarations to ``FEATURES``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

# v2: other departments' lists, commitments, sampling, leniency, opinion handling (unfounded items no longer count)
FEATURE_SET = "enterprise_features_v2"

# code -> (zh, en); the seven dimensions of the district plan (domain.md §2)
DIMENSIONS: dict[str, tuple[str, str]] = {
    "attributes": ("企业属性", "enterprise attributes"),
    "registration": ("登记许可", "registration and licences"),
    "annual_report": ("年报公示", "annual reports"),
    "compliance": ("合规信息", "compliance"),
    "opinion": ("舆情关联", "public opinion and complaints"),
    "affiliates": ("关联企业", "affiliated enterprises"),
    "operations": ("经营能力", "operating capacity"),
}


# "Days since the last X" when X never happened: as long ago as can be.
NEVER_HAPPENED_DAYS = 100_000.0


@dataclass(frozen=True)
class Feature:
    """One feature: its column name says window and unit; ``direction`` is +1 when more means riskier,
    -1 when more means safer, 0 when unknown (no monotone constraint)."""

    name: str
    dimension: str
    source: str  # source table(s), comma-separated
    window: str  # e.g. "365d", "as_of", "last report", "lifetime"
    unit: str  # e.g. "count", "yuan", "days", "ratio", "flag", "category"
    direction: int
    zh: str
    en: str
    kind: str = "numeric"  # numeric | categorical
    personal: bool = False
    # what an empty value means, when it is not "unknown": e.g. "days since the last penalty" is empty
    # when there was none, which reads as longest ago (keeps monotone constraints valid across a first event)
    missing_as: float | None = None

    def __post_init__(self) -> None:
        if self.dimension not in DIMENSIONS:
            raise ValueError(f"feature {self.name}: unknown dimension {self.dimension!r}")
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"feature {self.name}: direction must be -1, 0 or 1, got {self.direction}")
        if self.kind not in ("numeric", "categorical"):
            raise ValueError(f"feature {self.name}: kind must be numeric or categorical")


# dimension code -> module holding its declarations (``FEATURES``) and its SQL file name (``SQL``)
DIMENSION_MODULES: dict[str, str] = {
    "attributes": "features.attributes",
    "registration": "features.registration",
    "annual_report": "features.annual_report",
    "compliance": "features.compliance",
    "opinion": "features.opinion",
    "affiliates": "features.affiliates",
    "operations": "features.operations",
}


# further modules of a dimension, each with its own ``FEATURES`` and ``SQL`` (and optional ``STAGES``, the
# point-in-time helper tables it builds after the common ones, and ``params(as_of)``, its SQL parameters)
EXTRA_MODULES: tuple[tuple[str, str], ...] = (
    ("compliance", "features.commitments"),
    ("compliance", "features.sampling"),
    ("compliance", "features.leniency"),
)


def feature_modules() -> list[tuple[str, str]]:
    """(dimension, module) of every feature module: each dimension's main module, then its extra ones."""
    out = []
    for dimension, module_name in DIMENSION_MODULES.items():
        out.append((dimension, module_name))
        out += [(d, m) for d, m in EXTRA_MODULES if d == dimension]
    return out


def all_features() -> tuple[Feature, ...]:
    """Every feature of the feature set, in dimension order then declaration order."""
    return _all_features()


@cache
def _all_features() -> tuple[Feature, ...]:
    out: list[Feature] = []
    for dimension, module_name in feature_modules():
        module = importlib.import_module(module_name)
        for f in module.FEATURES:
            if f.dimension != dimension:
                raise ValueError(f"feature {f.name} is declared in {module_name} but says dimension {f.dimension!r}")
            out.append(f)
    names = [f.name for f in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"expected unique feature names, got duplicates {dupes}")
    return tuple(out)


def feature(name: str) -> Feature:
    """The declaration of one feature by name."""
    for f in all_features():
        if f.name == name:
            return f
    raise KeyError(f"no feature named {name!r} in {FEATURE_SET}")
