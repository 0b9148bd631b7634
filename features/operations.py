"""Operating-capacity features (经营能力), computed by sql/operations.sql from filed annual reports."""

from features.catalog import Feature

SQL = "operations.sql"
_D, _S = "operations", "annual_reports"

FEATURES = (
    Feature("employees_last", _D, _S, "last report", "persons", 0,
            "最近一期年报从业人数", "employees in the latest filed report; empty when undisclosed"),
    Feature("revenue_yuan_last", _D, _S, "last report", "yuan", 0,
            "最近一期年报营业总收入", "revenue in the latest filed report; empty when undisclosed"),
    Feature("tax_yuan_last", _D, _S, "last report", "yuan", 0,
            "最近一期年报纳税总额", "tax paid in the latest filed report; empty when undisclosed"),
    Feature("liabilities_to_assets_ratio_last", _D, _S, "last report", "ratio", 1,
            "资产负债率", "liabilities / assets in the latest filed report"),
    Feature("social_insurance_coverage_ratio_last", _D, _S, "last report", "ratio", -1,
            "参保人数占从业人数比例", "staff with social insurance / employees in the latest filed report"),
    Feature("profit_negative_flag_last", _D, _S, "last report", "flag", 0,
            "最近一期年报亏损", "loss in the latest filed report; empty when undisclosed"),
    Feature("revenue_change_ratio_last", _D, _S, "last two reports", "ratio", 0,
            "营业收入较上期变化率", "revenue change against the previous filed report"),
    Feature("employees_change_ratio_last", _D, _S, "last two reports", "ratio", 0,
            "从业人数较上期变化率", "employee change against the previous filed report"),
    Feature("financials_no_report_flag", _D, _S, "as_of", "flag", 0,
            "无已报送年报（无经营数据）", "no filed annual report known: operating figures missing"),
)
