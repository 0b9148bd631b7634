"""Annual-report features (年报公示), computed by sql/annual_report.sql; due years only."""

from features.catalog import Feature

SQL = "annual_report.sql"
_D, _S = "annual_report", "annual_reports"

FEATURES = (
    Feature("annual_report_missing_count_3y", _D, _S, "3 due years", "count", 1,
            "近三个已到期年度未报年报数", "annual reports missing among the last 3 due years"),
    Feature("annual_report_consecutive_missing_years", _D, _S, "3 due years", "years", 1,
            "连续未报年报年数（截至最近到期年度）", "consecutive due years without a report, up to the latest due year"),
    Feature("annual_report_late_days_last", _D, _S, "last due year", "days", 1,
            "最近到期年度年报逾期天数（未报则计至评估日）",
            "days late of the latest due report (still running when not filed); empty when none is due"),
    Feature("annual_report_on_time_share_3y", _D, _S, "3 due years", "ratio", -1,
            "近三个到期年度按时报送比例", "share of the last 3 due years reported on time"),
    Feature("annual_report_not_yet_due_flag", _D, _S, "as_of", "flag", 0,
            "尚无到期年报（新设立）", "no annual report due yet (newly established)"),
    Feature("annual_report_undisclosed_share_last", _D, _S, "last report", "ratio", 0,
            "最近一期年报未公示字段占比", "share of the 7 financial fields left undisclosed in the latest report"),
    Feature("annual_report_zero_filled_flag_last", _D, _S, "last report", "flag", 0,
            "最近一期年报营收、纳税、人数均为零", "latest report shows zero revenue, tax and employees"),
)
