"""Public-opinion and complaint features (舆情关联), computed by sql/opinion.sql."""

from features.catalog import Feature

SQL = "opinion.sql"
_D = "opinion"

FEATURES = (
    Feature("opinion_item_count_365d", _D, "opinions", "365d", "count", 0,
            "近一年关联舆情条数", "public-opinion items matched to the entity in the last 365 days"),
    Feature("opinion_negative_count_365d", _D, "opinions", "365d", "count", 1,
            "近一年负面舆情条数", "negative items in the last 365 days (vendor label, else classifier), less those the "
            "opinion ledger found unfounded before as_of"),
    Feature("opinion_negative_count_90d", _D, "opinions", "90d", "count", 1,
            "近90天负面舆情条数", "negative items in the last 90 days"),
    Feature("opinion_negative_reach_weighted_365d", _D, "opinions", "365d", "log reach", 1,
            "近一年负面舆情传播量加权（ln(1+传播量)之和）", "negative items in the last 365 days weighted by ln(1 + reach)"),
    # 舆情台账 outcomes (opinion_handling): unfounded items leave the negative counts above
    Feature("opinion_verified_negative_count_365d", _D, "opinions,opinion_handling", "365d", "count", 1,
            "近一年经核实属实的负面舆情条数", "negative items of the last 365 days the opinion ledger verified before as_of"),
    Feature("opinion_negative_handled_weighted_365d", _D, "opinions,opinion_handling", "365d", "weighted count", 1,
            "近一年负面舆情按舆情台账核实结论加权（已核实重于未核实，不属实不计）",
            "negative items of the last 365 days weighted by their ledger outcome known at as_of (verified more than "
            "unverified, unfounded not at all; weights in core/rules/opinion_ledger.toml [feature_weight])"),
    Feature("complaint_count_365d", _D, "complaints", "365d", "count", 1,
            "近一年投诉举报件数", "complaints and reports (12315) received in the last 365 days"),
    Feature("complaint_upheld_count_365d", _D, "complaints", "365d", "count", 1,
            "近一年属实投诉件数", "complaints received in the last 365 days and found upheld before as_of"),
    Feature("complaint_count_730d", _D, "complaints", "730d", "count", 1,
            "近两年投诉举报件数", "complaints and reports received in the last 730 days"),
    Feature("complaint_upheld_share_730d", _D, "complaints", "730d", "ratio", 1,
            "近两年已办结投诉属实比例", "share of complaints handled in the last 730 days that were upheld"),
)
