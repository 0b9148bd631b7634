"""Compliance features (合规信息), computed by sql/compliance.sql over records still in effect."""

from features.catalog import NEVER_HAPPENED_DAYS, Feature

SQL = "compliance.sql"
_D = "compliance"

FEATURES = (
    Feature("penalty_in_effect_count", _D, "penalties,repairs", "effect period", "count", 1,
            "公示期内行政处罚数", "published penalties still in their publicity period and not repaired"),
    Feature("penalty_count_365d", _D, "penalties,repairs", "365d", "count", 1,
            "近一年行政处罚数（公示期内）", "penalties decided in the last 365 days and still in effect"),
    Feature("penalty_ordinary_count_in_effect", _D, "penalties,repairs", "effect period", "count", 1,
            "公示期内一般程序处罚数", "ordinary-procedure penalties in effect"),
    Feature("penalty_serious_count_in_effect", _D, "penalties,repairs", "effect period", "count", 1,
            "公示期内情节严重处罚数", "penalties of serious severity in effect"),
    Feature("penalty_fine_yuan_in_effect", _D, "penalties,repairs", "effect period", "yuan", 1,
            "公示期内罚没金额合计", "fines and confiscations of penalties in effect"),
    Feature("penalty_domain_count_in_effect", _D, "penalties,repairs", "effect period", "count", 1,
            "公示期内处罚涉及领域数", "distinct violation domains among penalties in effect"),
    Feature("penalty_days_since_last", _D, "penalties,repairs", "effect period", "days", -1,
            "距最近一次（公示期内）处罚天数", "days since the latest penalty in effect; empty when none",
            missing_as=NEVER_HAPPENED_DAYS),
    Feature("abnormal_list_current_flag", _D, "abnormal_list,repairs", "as_of", "flag", 1,
            "列入经营异常名录", "on the abnormal operation list at as_of"),
    Feature("abnormal_list_unreachable_flag", _D, "abnormal_list,repairs", "as_of", "flag", 1,
            "因通过登记住所无法联系被列入异常名录", "listed abnormal for being unreachable at the registered address"),
    Feature("abnormal_list_days_listed", _D, "abnormal_list,repairs", "as_of", "days", 1,
            "当前异常名录列入天数", "days on the abnormal list (current listing); 0 when not listed"),
    Feature("serious_list_current_flag", _D, "serious_list,repairs", "as_of", "flag", 1,
            "列入严重违法失信名单", "on the serious illegal and dishonest list at as_of"),
    Feature("inspection_count_730d", _D, "inspections", "730d", "count", 0,
            "近两年被检查次数", "inspections in the last 730 days"),
    Feature("inspection_issue_count_730d", _D, "inspections", "730d", "count", 1,
            "近两年检查发现问题次数", "inspections in the last 730 days that found an issue"),
    Feature("inspection_case_opened_count_730d", _D, "inspections", "730d", "count", 1,
            "近两年检查立案等不良结果次数", "inspections in the last 730 days with an adverse result (a case opened, false "
            "disclosure, serious obstruction: core/rules/inspection_results.toml)"),
    Feature("inspection_not_found_count_730d", _D, "inspections", "730d", "count", 1,
            "近两年检查中住所无法找到次数", "inspections in the last 730 days that could not find the entity"),
    # other departments' dishonesty lists (dept_lists), entries in effect (sql/dept_lists_in_effect.sql)
    *(
        Feature("dept_list_in_effect_count", _D, "dept_lists", "effect period", "count", 1,
                "其他部门失信名单在列条数", "entries of other departments' dishonesty lists in effect"),
        Feature("dept_list_kind_count_in_effect", _D, "dept_lists", "effect period", "count", 1,
                "在列的其他部门失信名单种类数", "distinct kinds of other departments' lists the entity is on"),
        Feature("dept_list_court_dishonest_flag", _D, "dept_lists", "effect period", "flag", 1,
                "列入失信被执行人名单", "on the courts' list of dishonest judgment debtors (失信被执行人) at as_of"),
        Feature("dept_list_tax_count_in_effect", _D, "dept_lists", "effect period", "count", 1,
                "在列的税务失信名单条数（非正常户、重大税收违法）",
                "tax lists in effect: tax abnormal household and major tax-violation entries"),
        Feature("dept_list_days_since_last", _D, "dept_lists", "effect period", "days", -1,
                "距最近一次（在列的）其他部门失信名单列入天数",
                "days since the latest listing still in effect; empty when none", missing_as=NEVER_HAPPENED_DAYS),
    ),
)
