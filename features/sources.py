"""The source contract: every table ingest accepts, declared once (design.md §4).

Ingest validates against these declarations, synth writes them, the warehouse schema and the
data dictionary are generated from them. Personal columns are pseudonymised or dropped at ingest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core import dept_lists, inspection_results

# Column kinds. "money" is an amount in 元: ingest also accepts "12.5万元" / "125000元" strings.
KINDS = ("str", "int", "float", "money", "date", "bool", "enum", "list", "uscc")

ENTITY_TYPES = (
    "limited_company", "joint_stock", "sole_proprietorship", "partnership",
    "cooperative", "branch", "foreign_invested", "individual",
)
ENTITY_STATUSES = ("active", "deregistered", "revoked")
LICENCE_TYPES = (
    "food_business", "food_production", "special_equipment", "drug_retail",
    "medical_device", "industrial_product", "lodging_hygiene", "travel_agency",
)
LICENCE_STATUSES = ("valid", "expired", "cancelled", "revoked")
CHANGE_ITEMS = ("legal_rep", "address", "scope", "capital", "name", "shareholder")
PENALTY_DOMAINS = (
    "food", "drugs", "quality", "special_equipment", "price", "advertising",
    "consumer_rights", "unfair_competition", "registration", "licensing", "other",
)
PROCEDURES = ("simple", "ordinary")
SEVERITIES = ("minor", "ordinary", "serious")
SANCTIONS = (
    "warning", "criticism", "fine", "confiscation", "suspend_business",
    "restrict_operation", "lower_qualification", "revoke_licence", "revoke_business_licence",
)
ABNORMAL_REASONS = ("no_annual_report", "no_disclosure", "name_not_changed", "unreachable")
ABNORMAL_REMOVALS = ("report_filed", "disclosure_made", "name_changed", "reachable", "repaired", "deregistered")
SERIOUS_REMOVALS = ("expired", "early_repair", "revoked_in_error")
INSPECTION_KINDS = ("random", "targeted", "complaint")
# result codes, their labels and effects: core/rules/inspection_results.toml
INSPECTION_RESULTS = inspection_results.codes()
OPINION_SOURCES = ("news", "weibo", "wechat", "forum", "video", "travel_review")
SENTIMENTS = ("negative", "neutral", "positive")
RELATION_TYPES = ("legal_rep", "shareholder", "executive", "enterprise_shareholder", "parent_branch")
# other departments' dishonesty lists: kinds, labels and effect periods in core/rules/dept_lists.toml
DEPT_LIST_KINDS = dept_lists.codes()
DEPT_LIST_REMOVALS = ("fulfilled", "repaired", "expired", "revoked_in_error")


@dataclass(frozen=True)
class Column:
    """One column of a source table."""

    name: str
    kind: str
    zh: str
    en: str
    required: bool = False
    personal: bool = False
    values: tuple[str, ...] = ()  # allowed values for enum and list kinds
    aliases: tuple[tuple[str, str], ...] = ()  # (other spelling, code) ingest accepts for an enum value

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind in ("enum", "list") and not self.values:
            raise ValueError(f"column {self.name}: {self.kind} columns need their allowed values")


@dataclass(frozen=True)
class Table:
    """One source table: its key, columns, event date and the date it became known."""

    name: str
    zh: str
    en: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    event_date: str | None = None  # the column that dates the event
    references_entities: bool = True  # uscc must exist in entities
    extra: dict = field(default_factory=dict)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name!r}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def personal(self) -> list[str]:
        return [c.name for c in self.columns if c.personal]


def _c(name, kind, zh, en, *, required=False, personal=False, values=(), aliases=None):
    return Column(name, kind, zh, en, required=required, personal=personal, values=tuple(values),
                  aliases=tuple(sorted((aliases or {}).items())))


_KNOWN = _c("known_date", "date", "获知日期", "date the record became known to the bureau (event date when empty)")

SOURCES: dict[str, Table] = {t.name: t for t in (
    Table("entities", "市场主体", "market entities", key=("uscc",), event_date="established",
          references_entities=False, columns=(
        _c("uscc", "uscc", "统一社会信用代码", "unified social credit code", required=True),
        _c("name", "str", "名称", "registered name", required=True),
        _c("entity_type", "enum", "主体类型", "entity type", required=True, values=ENTITY_TYPES),
        _c("industry_code", "str", "行业代码", "industry class, GB/T 4754-2017 four-digit code", required=True),
        _c("town_code", "str", "乡镇街道", "town or sub-district code", required=True),
        _c("address", "str", "住所", "registered address"),
        _c("registered_capital", "money", "注册资本", "registered capital, yuan"),
        _c("established", "date", "成立日期", "date established", required=True),
        _c("status", "enum", "登记状态", "registration status", required=True, values=ENTITY_STATUSES),
        _c("status_date", "date", "状态日期", "date the status took effect"),
        _c("is_foreign_invested", "bool", "外商投资", "foreign-invested"),
        _c("parent_uscc", "uscc", "隶属企业", "parent enterprise of a branch"),
        _KNOWN,
    )),
    Table("licences", "行政许可", "licences", key=("licence_id",), event_date="issued", columns=(
        _c("licence_id", "str", "许可编号", "licence number", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "holder's credit code", required=True),
        _c("licence_type", "enum", "许可类型", "licence type", required=True, values=LICENCE_TYPES),
        _c("issued", "date", "发证日期", "date issued", required=True),
        _c("expires", "date", "有效期至", "valid until"),
        _c("status", "enum", "许可状态", "licence status", required=True, values=LICENCE_STATUSES),
        _c("status_date", "date", "状态日期", "date the status took effect"),
        _KNOWN,
    )),
    Table("changes", "变更登记", "registration changes", key=("change_id",), event_date="change_date", columns=(
        _c("change_id", "str", "变更编号", "change record id", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code", required=True),
        _c("change_date", "date", "变更日期", "date of change", required=True),
        _c("item", "enum", "变更事项", "what changed", required=True, values=CHANGE_ITEMS),
        _KNOWN,
    )),
    Table("annual_reports", "年度报告", "annual reports", key=("uscc", "year"), event_date="filed_date", columns=(
        _c("uscc", "uscc", "统一社会信用代码", "credit code", required=True),
        _c("year", "int", "报告年度", "reporting year (filed in the following year)", required=True),
        _c("filed_date", "date", "报送日期", "date filed; empty when not filed"),
        _c("employees", "int", "从业人数", "employees; empty when undisclosed"),
        _c("social_insurance_staff", "int", "参保人数", "staff with social insurance; empty when undisclosed"),
        _c("revenue", "money", "营业总收入", "revenue, yuan; empty when undisclosed"),
        _c("assets", "money", "资产总额", "total assets, yuan; empty when undisclosed"),
        _c("liabilities", "money", "负债总额", "total liabilities, yuan; empty when undisclosed"),
        _c("tax", "money", "纳税总额", "tax paid, yuan; empty when undisclosed"),
        _c("profit", "money", "利润总额", "profit, yuan; empty when undisclosed"),
        _KNOWN,
    )),
    Table("penalties", "行政处罚", "administrative penalties", key=("penalty_id",), event_date="decided_date",
          columns=(
        _c("penalty_id", "str", "处罚决定书文号", "penalty decision number", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code", required=True),
        _c("decided_date", "date", "处罚决定日期", "decision date", required=True),
        _c("domain", "enum", "违法领域", "domain of the violation", required=True, values=PENALTY_DOMAINS),
        _c("procedure", "enum", "程序", "procedure: simple or ordinary", required=True, values=PROCEDURES),
        _c("severity", "enum", "情节", "severity", required=True, values=SEVERITIES),
        _c("sanctions", "list", "处罚种类", "sanction types, ';'-separated", required=True, values=SANCTIONS),
        _c("fine_amount", "money", "罚没金额", "fine and confiscation, yuan"),
        _c("fine_paid_date", "date", "履行日期", "date the penalty was performed (fine paid)"),
        _c("leniency", "bool", "首违不罚", "first-violation leniency: not a penalty, never counted"),
        _c("published_date", "date", "公示日期", "date the penalty was published; empty: decision + the publication "
           "deadline (core/rules/publicity.toml)"),
        _c("restriction_end", "date", "限制期限届满日期",
           "end of a restriction the penalty imposes (restricted operation or practice); publicity lasts at least "
           "until then"),
        _c("publicity_end", "date", "公示截止日期", "end of the publicity (effect) period"),
        _KNOWN,
    )),
    Table("abnormal_list", "经营异常名录", "abnormal operation list", key=("listing_id",), event_date="listed_date",
          columns=(
        _c("listing_id", "str", "列入编号", "listing id", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code", required=True),
        _c("listed_date", "date", "列入日期", "date listed", required=True),
        _c("reason", "enum", "列入原因", "reason listed", required=True, values=ABNORMAL_REASONS),
        _c("removed_date", "date", "移出日期", "date removed; empty while listed"),
        _c("removal_reason", "enum", "移出原因", "reason removed", values=ABNORMAL_REMOVALS),
        _KNOWN,
    )),
    Table("serious_list", "严重违法失信名单", "serious illegal and dishonest list", key=("listing_id",),
          event_date="listed_date", columns=(
        _c("listing_id", "str", "列入编号", "listing id", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code", required=True),
        _c("listed_date", "date", "列入日期", "date listed", required=True),
        _c("domain", "enum", "违法领域", "domain of the violation", required=True, values=PENALTY_DOMAINS),
        _c("penalty_id", "str", "关联处罚", "penalty decision that led to the listing"),
        _c("removed_date", "date", "移出日期", "date removed; empty while listed"),
        _c("removal_reason", "enum", "移出原因", "reason removed", values=SERIOUS_REMOVALS),
        _KNOWN,
    )),
    Table("inspections", "检查记录", "inspections", key=("inspection_id",), event_date="inspection_date",
          columns=(
        _c("inspection_id", "str", "检查编号", "inspection id", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code", required=True),
        _c("inspection_date", "date", "检查日期", "date of the check", required=True),
        _c("kind", "enum", "检查类型", "random, targeted or complaint-driven", required=True,
           values=INSPECTION_KINDS),
        _c("items", "str", "检查事项", "inspection item codes, ';'-separated"),
        _c("result", "enum", "检查结果", "result code (core/rules/inspection_results.toml); its zh label is accepted",
           required=True, values=INSPECTION_RESULTS, aliases=inspection_results.aliases()),
        _KNOWN,
    )),
    Table("complaints", "投诉举报", "complaints and reports (12315)", key=("complaint_id",),
          event_date="received_date", columns=(
        _c("complaint_id", "str", "投诉编号", "complaint id", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code of the enterprise complained about", required=True),
        _c("received_date", "date", "登记日期", "date received", required=True),
        _c("category", "str", "投诉类别", "category (quality, price, service, food safety, ...)"),
        _c("upheld", "bool", "是否属实", "complaint upheld after handling"),
        _c("handled_date", "date", "办结日期", "date handling ended"),
        _KNOWN,
    )),
    Table("opinions", "舆情信息", "public-opinion items", key=("opinion_id",), event_date="published_date",
          references_entities=False, columns=(
        _c("opinion_id", "str", "舆情编号", "item id", required=True),
        _c("published_date", "date", "发布日期", "date published", required=True),
        _c("source", "enum", "来源", "where it appeared", required=True, values=OPINION_SOURCES),
        _c("title", "str", "标题", "title", required=True),
        _c("text", "str", "正文", "text"),
        _c("uscc", "uscc", "统一社会信用代码", "credit code when the vendor matched it; may be empty"),
        _c("company_name", "str", "涉及企业名称", "company named in the item"),
        _c("mentioned_names", "str", "提及企业名称", "every enterprise the item names, ';'-separated (may repeat "
           "company_name); each is matched by name and the item counts only against those it is negative about"),
        _c("vendor_sentiment", "enum", "情感倾向", "vendor sentiment label, may be empty", values=SENTIMENTS),
        _c("reach", "int", "传播量", "reads, shares and comments"),
        _KNOWN,
    )),
    Table("relations", "关联关系", "relations between entities and persons", key=("relation_id",),
          event_date="start_date", columns=(
        _c("relation_id", "str", "关系编号", "relation id", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code", required=True),
        _c("relation_type", "enum", "关系类型", "legal rep, shareholder, executive, enterprise shareholder, branch",
           required=True, values=RELATION_TYPES),
        _c("person_name", "str", "姓名", "person's name (dropped at ingest)", personal=True),
        _c("person_id_number", "str", "证件号码", "person's ID number (pseudonymised at ingest)", personal=True),
        _c("related_uscc", "uscc", "关联企业代码", "credit code of the related enterprise (enterprise links)"),
        _c("share_ratio", "float", "持股比例", "share held, 0-1"),
        _c("start_date", "date", "起始日期", "date the relation began"),
        _c("end_date", "date", "终止日期", "date the relation ended; empty while current"),
        _KNOWN,
    )),
)}


# ------------------------------------------------------------------ other departments' lists (其他部门失信名单)
SOURCES["dept_lists"] = Table(
    "dept_lists", "其他部门失信名单", "other departments' dishonesty lists", key=("listing_id",),
    event_date="listed_date", columns=(
        _c("listing_id", "str", "名单编号", "list entry id (the department's, else the sharing platform's)",
           required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code", required=True),
        _c("list_kind", "enum", "名单类型", "which list (core/rules/dept_lists.toml); its zh label is accepted",
           required=True, values=DEPT_LIST_KINDS, aliases={k.zh: k.code for k in dept_lists.kinds()}),
        _c("department", "str", "认定部门", "department that listed the entity", required=True),
        _c("document_number", "str", "认定文书号", "number of the listing decision or judgment"),
        _c("listed_date", "date", "列入日期", "date listed", required=True),
        _c("end_date", "date", "失信期限届满日期", "end of the listing period the department states; empty: the "
           "kind's effect period (core/rules/dept_lists.toml)"),
        _c("removed_date", "date", "移出日期", "date removed; empty while listed"),
        _c("removal_reason", "enum", "移出原因", "reason removed", values=DEPT_LIST_REMOVALS),
        _KNOWN,
    ))

PERSON_KEY_COLUMN = "person_key"  # what person_id_number becomes in the warehouse

# ------------------------------------------------------------------ credit commitments and sampling (issue 15)
# Credit commitments (信用承诺): 告知承诺 for a licence, a credit-repair commitment, an industry self-discipline
# commitment. Which kind a serious-listed entity may not use: core/rules/commitments.toml.
COMMITMENT_KINDS = ("notify_commit", "repair_commit", "self_discipline")
COMMITMENT_STATUSES = ("in_force", "fulfilled", "breached", "withdrawn")
BREACH_FOUND_BY = ("inspection", "penalty", "verification", "other")
SAMPLING_CATEGORIES = ("food", "edible_agri", "industrial_product", "other_product")
SAMPLING_RESULTS = ("pass", "fail")
SAMPLING_FOLLOWUPS = ("pending", "handling", "closed")

SOURCES.update({t.name: t for t in (
    Table("commitments", "信用承诺", "credit commitments", key=("commitment_id",), event_date="made_date", columns=(
        _c("commitment_id", "str", "承诺编号", "commitment id", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code of the entity that made the commitment", required=True),
        _c("kind", "enum", "承诺类型", "告知承诺 (for a licence), 信用修复承诺, 行业自律承诺", required=True,
           values=COMMITMENT_KINDS, aliases={"告知承诺": "notify_commit", "信用修复承诺": "repair_commit",
                                              "守信承诺": "repair_commit", "行业自律承诺": "self_discipline"}),
        _c("licence_type", "enum", "承诺事项许可类型", "licence applied for under 告知承诺", values=LICENCE_TYPES),
        _c("made_date", "date", "承诺日期", "date the commitment was made", required=True),
        _c("term_end", "date", "承诺期限届满", "end of the commitment's term; empty: open-ended"),
        _c("content", "str", "承诺内容", "what is committed"),
        _c("department", "str", "受理部门", "department that accepted the commitment"),
        _c("status", "enum", "履约状态", "in force, fulfilled, breached or withdrawn (as of status_date)",
           required=True, values=COMMITMENT_STATUSES,
           aliases={"履约中": "in_force", "已履约": "fulfilled", "违诺": "breached", "失信": "breached",
                    "撤回": "withdrawn"}),
        _c("status_date", "date", "状态日期", "date the status took effect (empty while in force)"),
        _KNOWN,
    )),
    Table("commitment_breaches", "违背承诺记录", "commitment breaches", key=("breach_id",), event_date="found_date",
          columns=(
        _c("breach_id", "str", "违诺认定编号", "breach finding id", required=True),
        _c("commitment_id", "str", "承诺编号", "commitment breached", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code", required=True),
        _c("found_date", "date", "认定日期", "date the breach was found", required=True),
        _c("found_by", "enum", "发现方式", "found by an inspection, a penalty, post-approval verification or other",
           required=True, values=BREACH_FOUND_BY),
        _c("record_id", "str", "关联记录", "inspection id or penalty decision number that found it"),
        _c("description", "str", "违诺情形", "what was not kept"),
        _KNOWN,
    )),
    Table("sampling_results", "监督抽检结果", "product and food sampling results", key=("sample_id",),
          event_date="sample_date", columns=(
        _c("sample_id", "str", "抽样单编号", "sample id", required=True),
        _c("uscc", "uscc", "统一社会信用代码", "credit code of the sampled entity", required=True),
        _c("sample_date", "date", "抽样日期", "date sampled", required=True),
        _c("category", "enum", "抽检类别", "food, edible agricultural product, industrial product, other product",
           required=True, values=SAMPLING_CATEGORIES),
        _c("product", "str", "样品名称", "product sampled"),
        _c("batch", "str", "批号", "batch number or production date"),
        _c("result", "enum", "检验结论", "pass or fail (不合格)", required=True, values=SAMPLING_RESULTS,
           aliases={"合格": "pass", "不合格": "fail"}),
        _c("failing_item", "str", "不合格项目", "item that failed (empty when passed)"),
        _c("followup_status", "enum", "核查处置状态", "follow-up of a failure: pending, handling, closed",
           values=SAMPLING_FOLLOWUPS, aliases={"待核查": "pending", "核查处置中": "handling", "已处置": "closed"}),
        _c("followup_date", "date", "处置完成日期", "date the follow-up was closed"),
        _KNOWN,
    )),
)})
