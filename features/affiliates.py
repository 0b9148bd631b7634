"""Affiliated-enterprise features (关联企业), computed by sql/affiliates.sql."""

from features.catalog import Feature

SQL = "affiliates.sql"
_D = "affiliates"

FEATURES = (
    Feature("affiliate_count", _D, "relations,entities", "as_of", "count", 0,
            "关联企业数（共同法定代表人/股东/高管、企业间关联）",
            "entities linked by a shared legal rep, shareholder or executive, or an enterprise link"),
    Feature("affiliate_abnormal_list_share", _D, "relations,abnormal_list", "as_of", "ratio", 1,
            "关联企业列入异常名录比例", "share of affiliates on the abnormal list at as_of"),
    Feature("affiliate_serious_list_share", _D, "relations,serious_list", "as_of", "ratio", 1,
            "关联企业列入严重违法失信名单比例", "share of affiliates on the serious list at as_of"),
    Feature("affiliate_penalty_count_365d", _D, "relations,penalties", "365d", "count", 1,
            "关联企业近一年行政处罚数（公示期内）", "penalties of affiliates decided in the last 365 days, in effect"),
    Feature("affiliate_revoked_count_1095d", _D, "relations,entities", "1095d", "count", 1,
            "关联企业近三年被吊销营业执照数", "affiliates whose business licence was revoked in the last 1095 days"),
    Feature("linked_person_max_entity_count", _D, "relations", "as_of", "count", 0,
            "关联自然人名下最多主体数", "largest number of entities any linked person is tied to"),
    Feature("address_other_entity_count", _D, "entities", "as_of", "count", 0,
            "同一住所其他在营主体数（一址多企）", "other active entities registered at the same address"),
    Feature("address_other_abnormal_list_share", _D, "entities,abnormal_list", "as_of", "ratio", 1,
            "同一住所其他主体列入异常名录比例", "share of the other entities at the same address on the abnormal list"),
)
