"""Registration and licence features (登记许可), computed by sql/registration.sql."""

from features.catalog import Feature

SQL = "registration.sql"
_D = "registration"

FEATURES = (
    Feature("change_count_365d", _D, "changes", "365d", "count", 1,
            "近一年变更登记次数", "registration changes in the last 365 days"),
    Feature("legal_rep_change_count_730d", _D, "changes", "730d", "count", 1,
            "近两年法定代表人变更次数", "legal representative changes in the last 730 days"),
    Feature("address_change_count_730d", _D, "changes", "730d", "count", 1,
            "近两年住所变更次数", "registered address changes in the last 730 days"),
    Feature("capital_change_count_730d", _D, "changes", "730d", "count", 0,
            "近两年注册资本变更次数", "registered capital changes in the last 730 days"),
    Feature("shareholder_change_count_730d", _D, "changes", "730d", "count", 0,
            "近两年股东变更次数", "shareholder changes in the last 730 days"),
    Feature("licence_valid_count", _D, "licences", "as_of", "count", 0,
            "有效许可证数", "licences valid at as_of"),
    Feature("licence_lapsed_type_count", _D, "licences", "as_of", "count", 0,
            "已失效且未续期的许可类型数", "licence types held before but with no valid licence at as_of"),
    Feature("licence_revoked_count", _D, "licences", "lifetime", "count", 1,
            "被吊销许可证数", "licences revoked before as_of"),
    Feature("food_licence_flag", _D, "licences", "as_of", "flag", 0,
            "持有有效食品经营/生产许可", "holds a valid food business or food production licence"),
    Feature("special_equipment_licence_flag", _D, "licences", "as_of", "flag", 0,
            "持有有效特种设备许可", "holds a valid special-equipment licence"),
)
