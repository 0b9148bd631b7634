"""Chinese labels and formats of the console: roles, entity types, actions, dates (2025年12月1日), numbers (34,000)."""

from __future__ import annotations

from datetime import date, datetime

from core import tiers as core_tiers

ROLES = {"planner": "抽查计划员", "repair_officer": "信用修复专员", "model_operator": "模型管理员",
         "admin": "系统管理员", "external_dept": "外部门查询用户"}
# (path under /console, label, roles that may open it)
NAV = (
    ("/", "总览", ("planner", "repair_officer", "model_operator")),
    ("/tiers", "分类结果", ("planner",)),
    ("/plans", "双随机抽查", ("planner",)),
    ("/repair", "信用修复", ("repair_officer",)),
    ("/model", "模型", ("planner", "model_operator")),
    ("/restrictions", "失信惩戒查询", ("planner", "repair_officer", "model_operator", "external_dept")),
)
ENTITY_TYPES = {
    "limited_company": "有限责任公司", "joint_stock": "股份有限公司", "sole_proprietorship": "个人独资企业",
    "partnership": "合伙企业", "cooperative": "农民专业合作社", "branch": "分支机构",
    "foreign_invested": "外商投资企业", "individual": "个体工商户",
}
RELATIONS = {"legal_rep": "同一法定代表人", "shareholder": "共同股东", "executive": "共同高管",
             "enterprise_shareholder": "企业股东", "parent_branch": "总分机构"}
# Repair and objection actions: (label, needs confirmation because it cannot be undone)
ACTIONS = {
    "request_cure": ("一次性告知补正", False), "cure": ("已补正材料", False),
    "expire_cure": ("逾期未补正，终止办理", True), "accept": ("受理", False), "refuse": ("不予受理", True),
    "review": ("开始核查", False), "approve": ("准予修复", True), "deny": ("不予修复", True),
    "complete": ("完成修复（停止公示）", True), "revoke": ("撤销修复（恢复公示）", True),
    "not_accept": ("异议不予受理", True), "uphold": ("异议成立", True), "dismiss": ("异议不成立", True),
    "void": ("撤销该记录", True), "correct": ("更正记录", True),
}
DOCUMENTS = {"application": "信用修复申请书", "commitment": "守信承诺书", "proof": "履行义务证明材料"}
CASE_DOCUMENTS = ("application", "commitment", "proof", "objection", "evidence")  # what a 补正 may hand in
KINDS = {"random": "随机抽查", "complaint": "投诉举报", "opinion_alert": "舆情监测预警", "case_lead": "案件线索"}
METRICS = {
    "auc": "AUC（区分能力）", "ks": "KS 值", "brier": "Brier 分数", "log_loss": "对数损失", "ece": "校准误差 ECE",
    "event_rate": "不良事件率", "mean_probability": "平均预测概率", "tiers_rise": "分类逐级递增（1=是）",
    "cd_capture": "C/D 类捕获率", "psi_valid_to_test": "稳定性 PSI（验证→测试）", "valid_auc": "验证集 AUC",
    "baseline_auc": "逻辑回归基线 AUC", "beats_baseline": "优于基线（1=是）",
}
URGENCY = {"overdue": "已逾期", "due_soon": "即将到期", "on_time": "期限内"}


def metric_zh(code: str) -> str:
    if code.startswith("tier_event_rate_"):
        return f"{code[-1]} 类不良事件率"
    return METRICS.get(code, code)


def tier_zh(code: str | None) -> str:
    if not code:
        return ""
    return f"{code}类 {core_tiers.label(code).zh}"


def roles_zh(roles: tuple[str, ...]) -> str:
    return "、".join(ROLES[r] for r in (*roles, "admin") if r in ROLES)


def cn_date(value: date | datetime | str | None) -> str:
    """``2025年12月1日`` (a datetime keeps its time: ``2025年12月1日 09:30``)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            return value
    text = f"{value.year}年{value.month}月{value.day}日"
    return f"{text} {value:%H:%M}" if isinstance(value, datetime) else text


def num(value: float | int | None) -> str:
    return "—" if value is None else f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"
