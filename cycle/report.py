"""The monthly monitoring report: one self-contained HTML file with matplotlib plots embedded as base64."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core import tiers as core_tiers
from core.settings import Settings

_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.plots img{width:48%;margin:1%}
.alert{color:#a40000}.ok{color:#07641d}code{font-size:90%}"""
_COLOURS = ["#4c9f50", "#e0c341", "#ec8a2c", "#c8332b", "#7a1f1a"]


def tier_history(conn) -> list[dict[str, Any]]:
    """Every completed publication in date order: as_of, publication id, entities and tier counts."""
    from serving.publish import PUBLICATIONS as P

    rows = conn.execute(sa.select(P.c.as_of, P.c.publication_id, P.c.entity_count, P.c.tier_counts)
                        .where(P.c.status == "published").order_by(P.c.as_of, P.c.created_at)).all()
    return [{"as_of": str(a), "publication_id": p, "entities": int(n), "tier_counts": json.loads(t or "{}")}
            for a, p, n, t in rows]


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)  # no bbox_inches="tight": it draws every figure twice
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(outputs: dict[str, Any], monitoring: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    codes = core_tiers.codes()
    out = {}
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    months = [h["as_of"] for h in history] or [outputs["as_of"]]
    bottom = [0.0] * len(months)
    for i, c in enumerate(codes):
        shares = [h["tier_counts"].get(c, 0) / max(h["entities"], 1) for h in history] or [0.0]
        ax.bar(range(len(months)), shares, bottom=bottom, color=_COLOURS[i % len(_COLOURS)], label=c)
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    ax.set_xticks(range(len(months)), [m[:7] for m in months], rotation=60, fontsize=7)
    ax.set(ylabel="share of published entities", title="Tier shares by month")
    fig.subplots_adjust(bottom=0.2)
    ax.legend(fontsize=7, loc="lower left")
    out["tiers"] = _png(fig)

    hist = monitoring.get("score_hist") or {}
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    if hist.get("edges"):
        edges = hist["edges"]
        mids = [(a * b) ** 0.5 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        tot_b, tot_a = max(sum(hist["before"]), 1), max(sum(hist["after"]), 1)
        ax.bar(mids, [v / tot_b for v in hist["before"]], width=widths, alpha=0.5, label="previous month")
        ax.bar(mids, [v / tot_a for v in hist["after"]], width=widths, alpha=0.5, label="this month")
        ax.set_xscale("log")
        ax.legend(fontsize=7)
    psi = outputs.get("psi_score")
    fig.subplots_adjust(bottom=0.14)
    ax.set(xlabel="probability of an adverse event (12 months)", ylabel="share",
           title="Score distribution" + (f" (PSI {psi:.3f})" if psi is not None else ""))
    out["scores"] = _png(fig)

    feats = sorted((monitoring.get("psi_features") or {}).items(), key=lambda kv: -kv[1])[:15]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    if feats:
        ax.barh([k for k, _ in feats][::-1], [v for _, v in feats][::-1], color="#5b7db1")
        ax.tick_params(axis="y", labelsize=6)
    ax.set(xlabel="PSI against the previous month", title="Feature drift (highest 15)")
    fig.subplots_adjust(left=0.42)
    out["features"] = _png(fig)

    mig = outputs.get("migration")
    fig, ax = plt.subplots(figsize=(4.5, 3.8))
    if mig:
        matrix = [[mig["matrix"][a][b] for b in codes] for a in codes]
        ax.imshow([[v if v else 0.0 for v in row] for row in matrix], cmap="Blues")
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:,}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(codes)), codes)
        ax.set_yticks(range(len(codes)), codes)
    ax.set(xlabel="this month", ylabel="previous month", title="Tier migration")
    out["migration"] = _png(fig)
    return out


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render(outputs: dict[str, Any], monitoring: dict[str, Any], history: list[dict[str, Any]]) -> str:
    """The report's HTML text (no external resources, no scripts)."""
    codes = core_tiers.codes()
    plots = _plots(outputs, monitoring, history)
    pub = outputs["published"]
    total = max(pub["entities"], 1)
    parts = [f"<h1>月度信用风险分类监测报告 — monthly reclassification {html.escape(outputs['as_of'])}</h1>",
             _table(["item", "value"], [
                 ["cycle", outputs["cycle_id"]], ["publication", pub["publication_id"]],
                 ["entities published", f"{pub['entities']:,}"], ["model version", pub["model_version"]],
                 ["snapshot", pub["snapshot_id"]], ["score PSI vs previous month", outputs.get("psi_score")],
                 ["retrained", outputs["retrained"]], ["promoted", outputs["promoted"]]])]
    alerts = outputs.get("alerts") or []
    parts.append("<h2>告警 Alerts</h2>")
    parts.append(_table(["code", "中文", "English", "value"],
                        [[a["code"], a["zh"], a["en"], json.dumps(a.get("value"), ensure_ascii=False, default=str)]
                         for a in alerts]) if alerts else "<p class='ok'>no alerts 无告警</p>")
    parts.append("<h2>风险等级 Tiers</h2>")
    parts.append(_table(["tier", "label", "entities", "share"],
                        [[c, core_tiers.label(c).zh, f"{outputs['tier_counts'].get(c, 0):,}",
                          f"{outputs['tier_counts'].get(c, 0) / total:.1%}"] for c in codes]))
    fired = outputs.get("trigger_counts") or {}
    if fired:
        parts.append("<h3>直接判定 Direct triggers</h3>")
        parts.append(_table(["trigger", "entities"], [[k, f"{v:,}"] for k, v in fired.items()]))
    mig = outputs.get("migration")
    if mig:
        parts.append("<h3>Migration (rows: previous month, columns: this month)</h3>")
        parts.append(_table(["from \\ to", *codes, "gone"],
                            [[a, *(f"{mig['matrix'][a][b]:,}" for b in codes), mig["gone"][a]] for a in codes]
                            + [["new", *(mig["new"][b] for b in codes), ""]]))
    parts.append("<div class='plots'>" + "".join(f"<img alt='{k}' src='{v}'>" for k, v in plots.items()) + "</div>")
    jump = outputs.get("jumpers") or {}
    parts.append(f"<h2>等级跃升 Jumpers ({jump.get('count', 0):,}: up ≥2 tiers {jump.get('jumped', 0):,}, "
                 f"newly in {html.escape(str(jump.get('top_tier', '')))} {jump.get('entered_top', 0):,})</h2>")
    parts.append(_table(["uscc", "from", "to", "p before", "p now", "reasons 原因"],
                        [[j["uscc"], j["from"] or "new", j["to"], j["probability_before"], j["probability"],
                          "; ".join(f"{r['zh']} / {r['en']} (+{r['contribution']})" for r in j["reasons"])]
                         for j in jump.get("listed", [])[:100]]))
    parts += _tier_validation(outputs.get("tier_validation"))
    rep = outputs.get("repairs") or {}
    parts.append(f"<h2>信用修复生效 Repairs that took effect ({rep.get('count', 0)})</h2>")
    parts.append(_table(["uscc", "record", "case", "effect", "date", "tier before", "tier now"],
                        [[r["uscc"], f"{r['record_kind']} {r['record_id']}", r["case_id"], r["effect"],
                          r["revoked_date"] if r["effect"] == "revoked" else r["repaired_date"], r["tier_before"],
                          r["tier_now"]] for r in rep.get("listed", [])]))
    dq = outputs.get("data_quality") or {}
    parts.append("<h2>数据质量 Data quality</h2>")
    if dq.get("ingested"):
        parts.append(_table(["item", "value"], [
            ["ingest", dq["ingest_id"]], ["rows loaded", f"{dq['loaded']:,}"], ["new / revised", f"{dq['new']:,} / "
                                                                               f"{dq['revised']:,}"],
            ["quarantined", f"{dq['quarantined']:,} ({dq['quarantine_share']:.2%})"],
            ["duplicates", dq["deduplicated"]], ["corrupt files", ", ".join(dq["corrupt_files"]) or "none"]]))
        if dq["quarantined_by_rule"]:
            parts.append(_table(["rule", "rows"], [[k, v] for k, v in dq["quarantined_by_rule"].items()]))
    else:
        parts.append("<p>no drop ingested this cycle</p>")
    ret = outputs.get("retrain") or {}
    dec = ret.get("decision") or {}
    parts.append("<h2>再训练 Retraining cadence</h2>")
    rows = [["decision", "retrain" if dec.get("retrain") else "no retraining"],
            ["reasons", "; ".join(dec.get("reasons", []))],
            ["champion", f"v{(ret.get('champion') or {}).get('version')} (data to "
                         f"{(ret.get('champion') or {}).get('data_end')}, age {dec.get('champion_age_months')} months)"]]
    tr = ret.get("training")
    if tr:
        rows += [["challenger", f"v{tr.get('model_version')}"],
                 ["challenger AUC", (tr.get("metrics") or {}).get("auc")],
                 ["promotion", ("promoted: " if tr.get("promoted") else "refused: ")
                  + "; ".join(tr.get("promotion_reasons") or [])]]
    parts.append(_table(["item", "value"], rows))
    parts.append("<h2>Steps and versions</h2>")
    parts.append(_table(["step", "status", "seconds", "attempt"],
                        [[k, v["status"], v["seconds"], v["attempt"]] for k, v in outputs.get("timings", {}).items()]))
    parts.append("<pre>" + html.escape(json.dumps(outputs.get("versions", {}), ensure_ascii=False, indent=1,
                                                  default=str)) + "</pre>")
    return ("<!DOCTYPE html><html lang='zh'><head><meta charset='utf-8'><title>cycle "
            f"{html.escape(outputs['as_of'])}</title><style>{_CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>")


def _tier_validation(v: dict[str, Any] | None) -> list[str]:
    """Each tier's rate of adverse findings from random inspections (Hájek), beside predicted and naive."""
    head = "<h2>随机抽查验证 Tier validation from random inspections</h2>"
    if not v:
        return [head, "<p>no earlier publication to validate yet</p>"]

    def pct(x: float | None) -> str:
        return "" if x is None else f"{x:.2%}"

    rows = [[t["tier"], t["zh"], f"{t['entities']:,}", pct(t["mean_predicted"]), t["random_inspections"],
             (f"{pct(t['weighted']['rate'])} [{pct(t['weighted']['low'])}, {pct(t['weighted']['high'])}]"
              if t["weighted"] else "no random inspection"), f"{pct(t['naive_rate'])} of {t['all_inspections']}",
             pct(t["estimated_pi_share"])] for t in v["tiers"]]
    return [head, f"<p>publication {html.escape(v['publication_id'])} (as of {v['as_of']}), random inspections "
                  f"{v['window_start']} – {v['window_end']}; {html.escape(v['method'])}</p>",
            _table(["tier", "label", "entities", "mean predicted", "random inspections",
                    f"weighted rate [{v['confidence']:.0%} interval]", "naive rate (all inspections)",
                    "π estimated"], rows)]


def write(settings: Settings, *, outputs: dict[str, Any], monitoring: dict[str, Any],
          history: list[dict[str, Any]]) -> Path:
    """Write ``cycle-<as_of>.html`` under ``settings.reports_dir`` (replaced atomically) and return its path."""
    settings.ensure_home()
    path = settings.reports_dir / f"cycle-{outputs['as_of']}.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(outputs, monitoring, history), encoding="utf-8")
    tmp.replace(path)
    return path
