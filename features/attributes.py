"""Enterprise-attribute features (企业属性), computed by sql/attributes.sql."""

from features.catalog import Feature

SQL = "attributes.sql"
_D, _S = "attributes", "entities"

FEATURES = (
    Feature("entity_age_years", _D, _S, "as_of", "years", -1,
            "成立年限", "years since the entity was established"),
    Feature("registered_capital_yuan", _D, _S, "as_of", "yuan", 0,
            "注册资本（未填报为空）", "registered capital; empty when not reported"),
    Feature("registered_capital_missing_flag", _D, _S, "as_of", "flag", 0,
            "未填报注册资本", "registered capital not reported (common for individual businesses)"),
    Feature("branch_flag", _D, _S, "as_of", "flag", 0,
            "分支机构", "branch of another enterprise"),
    Feature("foreign_invested_flag", _D, _S, "as_of", "flag", 0,
            "外商投资企业", "foreign-invested enterprise"),
    Feature("entity_type_cat", _D, _S, "as_of", "category", 0,
            "主体类型", "entity type (company, sole proprietorship, cooperative, individual business, ...)",
            kind="categorical"),
    Feature("industry_division_cat", _D, _S, "as_of", "category", 0,
            "行业大类（GB/T 4754 两位代码）", "industry division: first two digits of the GB/T 4754 code",
            kind="categorical"),
    Feature("town_cat", _D, _S, "as_of", "category", 0,
            "所属乡镇街道", "town or sub-district", kind="categorical"),
)
