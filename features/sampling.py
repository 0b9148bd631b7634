"""Product and food sampling features (监督抽检): failures, food failures and open follow-ups."""

from features.catalog import Feature

SQL = "sampling.sql"
STAGES = (("_sampling_failures", "sampling_failures.sql"),)
_D = "compliance"

FEATURES = (
    Feature("sampling_count_730d", _D, "sampling_results", "730d", "count", 0,
            "近两年被监督抽检批次", "samples taken from the entity in the last 730 days"),
    Feature("sampling_fail_count_365d", _D, "sampling_results", "365d", "count", 1,
            "近一年抽检不合格批次", "samples taken in the last 365 days that failed (不合格)"),
    Feature("sampling_fail_count_730d", _D, "sampling_results", "730d", "count", 1,
            "近两年抽检不合格批次", "samples taken in the last 730 days that failed"),
    Feature("sampling_food_fail_flag_730d", _D, "sampling_results", "730d", "flag", 1,
            "近两年食品（含食用农产品）抽检不合格", "a food or edible agricultural product sample failed in the last 730 days"),
    Feature("sampling_followup_open_count", _D, "sampling_results", "as_of", "count", 1,
            "抽检不合格未完成核查处置批次", "failed samples whose follow-up (核查处置) was not closed by as_of"),
)
