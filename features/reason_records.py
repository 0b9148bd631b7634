"""The records behind reasons: penalty decisions, list entries, missing report years, opinion titles, affiliates.

One set-based query (sql/reason_records.sql) over the same point-in-time stages the features use
(features.snapshot.prepare), for a whole publication or one entity, so that a published reason names
records a regulator can check, in Chinese and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, NamedTuple

import duckdb

from core import dept_lists, inspection_results
from features import snapshot

RECORDS_PER_DIMENSION = 5  # presentation limit, not a rule: the newest and most serious records of a dimension

_SANCTIONS = {"warning": ("警告", "warning"), "criticism": ("通报批评", "criticism notice"),
              "fine": ("罚款", "fine"), "confiscation": ("没收违法所得", "confiscation"),
              "suspend_business": ("责令停产停业", "ordered to stop business"),
              "restrict_operation": ("限制开展生产经营活动", "operation restricted"),
              "lower_qualification": ("降低资质等级", "qualification lowered"),
              "revoke_licence": ("吊销许可证件", "licence revoked"),
              "revoke_business_licence": ("吊销营业执照", "business licence revoked")}
_DOMAINS = {"food": ("食品", "food"), "drugs": ("药品", "drugs"), "quality": ("产品质量", "product quality"),
            "special_equipment": ("特种设备", "special equipment"), "price": ("价格", "price"),
            "advertising": ("广告", "advertising"), "consumer_rights": ("消费者权益", "consumer rights"),
            "unfair_competition": ("不正当竞争", "unfair competition"), "registration": ("登记", "registration"),
            "licensing": ("许可", "licensing"), "other": ("其他", "other")}
_ABNORMAL = {"no_annual_report": ("未按规定报送年度报告", "annual report not filed"),
             "no_disclosure": ("未按责令期限公示有关企业信息", "ordered disclosure not made"),
             "name_not_changed": ("未在规定期限内办理名称变更", "required name change not made"),
             "unreachable": ("通过登记的住所或经营场所无法联系", "unreachable at the registered address")}
_CHANGES = {"legal_rep": ("法定代表人", "legal representative"), "address": ("住所", "address"),
            "scope": ("经营范围", "business scope"), "capital": ("注册资本", "registered capital"),
            "name": ("名称", "name"), "shareholder": ("股东", "shareholder")}
_LICENCES = {"food_business": ("食品经营许可证", "food business licence"),
             "food_production": ("食品生产许可证", "food production licence"),
             "special_equipment": ("特种设备许可", "special equipment licence"),
             "drug_retail": ("药品经营许可证", "drug retail licence"),
             "medical_device": ("医疗器械经营许可", "medical device licence"),
             "industrial_product": ("工业产品生产许可证", "industrial product licence"),
             "lodging_hygiene": ("卫生许可证", "hygiene licence"), "travel_agency": ("旅行社业务经营许可证", "travel agency licence")}
_LICENCE_STATES = {"revoked": ("已吊销", "revoked"), "expired": ("已过期", "expired"), "cancelled": ("已注销", "cancelled")}
_TYPES = {"limited_company": ("有限责任公司", "limited company"), "joint_stock": ("股份有限公司", "joint-stock company"),
          "sole_proprietorship": ("个人独资企业", "sole proprietorship"), "partnership": ("合伙企业", "partnership"),
          "cooperative": ("农民专业合作社", "farmers' cooperative"), "branch": ("分支机构", "branch"),
          "foreign_invested": ("外商投资企业", "foreign-invested enterprise"), "individual": ("个体工商户", "individual business")}
_VIA = {"person": ("共同的法定代表人、股东或高管", "a shared legal representative, shareholder or executive"),
        "enterprise": ("企业投资或隶属关系", "an enterprise shareholding or parent link"),
        "branch": ("总分支机构", "a parent or branch")}


@dataclass(frozen=True)
class RecordRef:
    """One record behind a reason: its kind, reference (decision number, list entry, year, ...), date, text."""

    kind: str
    ref: str | None
    date: date | None
    zh: str
    en: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "ref": self.ref, "date": self.date.isoformat() if self.date else None,
                "zh": self.zh, "en": self.en}


class Record(NamedTuple):
    """A record as the query returns it; its Chinese and English text is written only when it is shown."""

    kind: str
    ref: str | None
    date: date | None
    detail: str | None

    def describe(self) -> RecordRef:
        return _describe(self.kind, self.ref, self.date, self.detail)

    def to_dict(self) -> dict[str, Any]:
        return self.describe().to_dict()


@cache
def _results() -> dict[str, tuple[str, str]]:
    return {r.code: (r.zh, r.en) for r in inspection_results.inspection_results()}


def _dept_kind(code: str) -> tuple[str, str]:
    try:
        k = dept_lists.kind(code)
    except KeyError:
        return code, code
    return k.zh, k.en


def _lab(table: dict[str, tuple[str, str]], code: str | None) -> tuple[str, str]:
    return table.get(code or "", (code or "", code or ""))


def _money(text: str) -> str:
    try:
        return f"{float(text):,.0f}"
    except ValueError:
        return ""


def _describe(kind: str, ref: str | None, day: date | None, detail: str | None) -> RecordRef:
    d = day.isoformat() if day else ""
    parts = (detail or "").split("|")
    if kind == "penalty":
        domain, severity, sanctions, fine = (parts + ["", "", "", ""])[:4]
        names = [_lab(_SANCTIONS, s) for s in sanctions.split(";") if s]
        dz, de = _lab(_DOMAINS, domain)
        fine_txt = _money(fine) if fine and fine not in ("0", "0.0") else ""
        zh = (f"行政处罚决定书 {ref}（{d}，{dz}领域，{'、'.join(n[0] for n in names)}"
              + (f"，罚没 {fine_txt} 元" if fine_txt else "") + "）")
        en = (f"penalty decision {ref} ({d}, {de}, {', '.join(n[1] for n in names)}"
              + (f", fine {fine_txt} yuan" if fine_txt else "") + ")")
    elif kind == "serious_list":
        dz, de = _lab(_DOMAINS, detail)
        zh, en = (f"严重违法失信名单 {ref}（{d} 列入，{dz}领域）",
                  f"serious illegal and dishonest list entry {ref} (listed {d}, {de})")
    elif kind == "abnormal_list":
        rz, re_ = _lab(_ABNORMAL, detail)
        zh, en = f"经营异常名录 {ref}（{d} 列入，原因：{rz}）", f"abnormal list entry {ref} (listed {d}: {re_})"
    elif kind == "dept_list":
        code, dept, doc, end = (parts + ["", "", "", ""])[:4]
        kz, ke = _dept_kind(code)
        doc_zh, doc_en = (f"，文书号 {doc}" if doc else ""), (f", document {doc}" if doc else "")
        end_zh, end_en = (f"，期限至 {end}" if end else "，至移出之日"), (f", until {end}" if end else ", until removed")
        zh = f"{kz}名单 {ref}（{dept or '其他部门'} {d} 列入{doc_zh}{end_zh}）"
        en = f"{ke} list entry {ref} ({dept or 'another department'}, listed {d}{doc_en}{end_en})"
    elif kind == "inspection":
        rz, re_ = _lab(_results(), parts[-1])
        zh, en = f"检查 {ref}（{d}，{rz}）", f"inspection {ref} ({d}: {re_})"
    elif kind == "annual_report" and parts[0] == "missing":
        zh, en = f"{ref} 年度报告未报送（截止 {d}）", f"annual report {ref} not filed (due {d})"
    elif kind == "annual_report" and parts[0] == "late":
        zh, en = (f"{ref} 年度报告逾期 {parts[1]} 天报送（截止 {d}）",
                  f"annual report {ref} filed {parts[1]} days late (due {d})")
    elif kind == "annual_report" and parts[0] == "figures":
        emp, rev, tax = (parts + ["", "", ""])[1:4]
        zh = (f"{ref} 年度报告：从业人数 {emp or '未公示'}，营业收入 {_money(rev) or '未公示'} 元，"
              f"纳税 {_money(tax) or '未公示'} 元")
        en = (f"annual report {ref}: employees {emp or 'undisclosed'}, revenue {_money(rev) or 'undisclosed'} yuan, "
              f"tax {_money(tax) or 'undisclosed'} yuan")
    elif kind == "annual_report":  # no report filed and known at as_of
        zh, en = "无已报送的年度报告（经营数据缺失）", "no annual report filed (operating figures unknown)"
    elif kind == "change":
        iz, ie = _lab(_CHANGES, detail)
        zh, en = f"变更登记 {ref}（{d}，{iz}变更）", f"registration change {ref} ({d}: {ie})"
    elif kind == "licence":
        lz, le = _lab(_LICENCES, parts[0])
        sz, se = _lab(_LICENCE_STATES, parts[-1])
        zh, en = f"{lz} {ref}（{sz}，{d}）", f"{le} {ref} ({se}, {d})"
    elif kind == "opinion":
        zh, en = f"负面舆情「{detail}」（{d}，编号 {ref}）", f"negative news item “{detail}” ({d}, id {ref})"
    elif kind == "complaint":
        upheld = parts[-1] == "upheld"
        zh = f"投诉举报 {ref}（{d}，{parts[0] or '未分类'}" + ("，经核实属实）" if upheld else "）")
        en = f"complaint {ref} ({d}, {parts[0] or 'uncategorised'}" + (", upheld)" if upheld else ")")
    elif kind == "affiliate":
        via, serious, abnormal = (parts + ["", "0", "0"])[:3]
        vz, ve = _lab(_VIA, via)
        flags_zh = "，列入严重违法失信名单" if serious == "1" else ("，列入经营异常名录" if abnormal == "1" else "")
        flags_en = ", on the serious list" if serious == "1" else (", on the abnormal list" if abnormal == "1" else "")
        zh, en = f"关联企业 {ref}（{vz}{flags_zh}）", f"affiliate {ref} (via {ve}{flags_en})"
    elif kind in ("commitment_breach", "sampling", "leniency"):
        zh, en = _describe_issue15(kind, ref, d, parts)
    elif kind == "entity":
        tz, te = _lab(_TYPES, parts[0])
        cap = _money(parts[1]) if len(parts) > 1 and parts[1] else ""
        zh = f"登记信息：{tz}，成立于 {d}" + (f"，注册资本 {cap} 元" if cap else "，未登记注册资本")
        en = f"registration: {te}, established {d}" + (f", registered capital {cap} yuan" if cap else ", no capital")
    else:
        zh = en = f"{kind} {ref or ''} {d}".strip()
    return RecordRef(kind, ref, day, zh, en)


_COMMITMENT_KINDS = {"notify_commit": ("告知承诺", "notify-and-commit"),
                     "repair_commit": ("信用修复承诺", "repair commitment"),
                     "self_discipline": ("行业自律承诺", "self-discipline commitment")}
_FOUND_BY = {"inspection": ("检查发现", "found by inspection"), "penalty": ("行政处罚认定", "found by a penalty"),
             "verification": ("事后核查发现", "found by post-approval verification"), "other": ("其他途径发现", "found otherwise")}
_SAMPLING = {"food": ("食品", "food"), "edible_agri": ("食用农产品", "edible agricultural product"),
             "industrial_product": ("工业产品", "industrial product"), "other_product": ("其他产品", "other product")}


def _describe_issue15(kind: str, ref: str | None, d: str, parts: list[str]) -> tuple[str, str]:
    """Text of a commitment breach, a failed sample or a leniency decision (with its later offence)."""
    if kind == "commitment_breach":
        ck, by, cid, rid = (parts + ["", "", "", ""])[:4]
        kz, ke = _lab(_COMMITMENT_KINDS, ck)
        bz, be = _lab(_FOUND_BY, by)
        via_zh, via_en = (f"，依据 {rid}", f", by {rid}") if rid else ("", "")
        return (f"违背{kz} {cid}（{d} {bz}{via_zh}，认定编号 {ref}）",
                f"breach of {ke} {cid} ({d}, {be}{via_en}; finding {ref})")
    if kind == "sampling":
        cat, product, item, resolved = (parts + ["", "", "", ""])[:4]
        cz, ce = _lab(_SAMPLING, cat)
        open_zh, open_en = ("，已核查处置", ", follow-up closed") if resolved == "1" else ("，核查处置未完成", ", follow-up open")
        return (f"{cz}监督抽检不合格 {ref}（{d}，{product or '样品'}，不合格项目：{item or '未注明'}{open_zh}）",
                f"failed {ce} sample {ref} ({d}, {product or 'sample'}, failing item: {item or 'not given'}{open_en})")
    domain, next_id, next_date = (parts + ["", "", ""])[:3]
    dz, de = _lab(_DOMAINS, domain)
    zh = f"首违不罚（不予行政处罚）决定 {ref}（{d}，{dz}领域，不计入行政处罚）"
    en = f"first-violation leniency decision {ref} ({d}, {de}; not a penalty)"
    if next_id:
        zh += f"；此后再次违法 {next_id}（{next_date}）"
        en += f"; later offence {next_id} ({next_date})"
    return zh, en


def reason_records(con: duckdb.DuckDBPyConnection, *, as_of: date, uscc: str | None = None,
                   prepared: bool = False) -> dict[str, dict[str, list[Record]]]:
    """``{uscc: {dimension: [Record, ...]}}`` at ``as_of`` for every active entity (or one).

    Args:
        con: a warehouse connection; ``prepared`` when the point-in-time stages at ``as_of`` are already
            built on it (e.g. right after compute_features), else they are built here.
    """
    params = snapshot.params(as_of) if prepared else snapshot.prepare(con, as_of)
    params = {**params, "records_per_dimension": RECORDS_PER_DIMENSION, "all_entities": uscc is None,
              "uscc": uscc or ""}
    rows = con.execute(snapshot.render(snapshot.sql_text("reason_records.sql"), params)).fetchall()
    out: dict[str, dict[str, list[Record]]] = {}
    for u, dim, kind, ref, day, detail in rows:
        out.setdefault(u, {}).setdefault(dim, []).append(Record(kind, ref, day, detail))
    return out


def stage_reason_records(con: duckdb.DuckDBPyConnection, *, as_of: date, table: str = "_reason_rows") -> int:
    """The records of every active entity at ``as_of`` into the temporary table ``table`` (uscc, dimension,
    kind, ref, record_date, detail), stored in the query's order (uscc, dimension, rank): the same set-based query
    as :func:`reason_records`, kept in DuckDB (spilled to disk when large) for a caller that reads it back batch by
    batch. The point-in-time stages stay on ``con`` for :func:`penalties_with_sanction`. Returns the row count."""
    params = {**snapshot.prepare(con, as_of), "records_per_dimension": RECORDS_PER_DIMENSION,
              "all_entities": True, "uscc": ""}
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS "
                + snapshot.render(snapshot.sql_text("reason_records.sql"), params))
    return int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchall()[0][0])


def penalties_with_sanction(con: duckdb.DuckDBPyConnection, sanctions: list[str]) -> dict[str, dict[str, list[Record]]]:
    """``{sanction: {uscc: [penalty Record]}}`` for penalties in effect carrying each sanction.

    Reads the stage ``_penalties_in_effect``: call after :func:`reason_records` or features.snapshot.prepare.
    """
    out: dict[str, dict[str, list[Record]]] = {s: {} for s in sanctions}
    if not sanctions:
        return out
    rows = con.execute(
        "SELECT s.sanction, p.uscc, p.penalty_id, p.decided_date, p.domain || '|' || p.severity || '|' || "
        "p.sanctions || '|' || CAST(p.fine_amount AS VARCHAR) FROM _penalties_in_effect p "
        "JOIN (SELECT UNNEST(?) AS sanction) s ON (';' || p.sanctions || ';') LIKE '%;' || s.sanction || ';%' "
        "ORDER BY p.uscc, p.decided_date DESC, p.penalty_id", [list(sanctions)]).fetchall()
    for sanction, u, pid, day, detail in rows:
        out[sanction].setdefault(u, []).append(Record("penalty", pid, day, detail))
    return out
