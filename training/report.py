"""The self-contained HTML evaluation report: tables and matplotlib plots embedded as base64 PNGs."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from features.catalog import DIMENSIONS

_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.plots img{width:48%;margin:1%}
.ok{color:#07641d}.bad{color:#a40000}"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(ev: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    m = ev["metrics"]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(ev["curves"]["roc"]["fpr"], ev["curves"]["roc"]["tpr"], label=f"model AUC {m['auc']:.3f}")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test slice)")
    ax.legend(loc="lower right")
    out["roc"] = _png(fig)

    cal = ev["curves"]["calibration"]
    fig, ax = plt.subplots(figsize=(5, 4))
    mx = max(max(r["mean_p"] for r in cal), max(r["event_rate"] for r in cal), 1e-3)
    ax.plot([0, mx], [0, mx], "k:", lw=1)
    ax.plot([r["mean_p"] for r in cal], [r["event_rate"] for r in cal], "o-")
    ax.set(xlabel="mean predicted probability", ylabel="observed event rate",
           title=f"Calibration by decile (ECE {m['ece']:.4f})")
    out["calibration"] = _png(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    codes = list(ev["tiers"])
    rates = [ev["tiers"][c]["event_rate"] for c in codes]
    ax.bar(codes, rates, color=["#4c9f50", "#e0c341", "#ec8a2c", "#c8332b"][: len(codes)])
    for i, c in enumerate(codes):
        ax.text(i, rates[i], f"{rates[i]:.1%}\n{ev['tiers'][c]['share']:.0%} of rows", ha="center", va="bottom",
                fontsize=8)
    ax.set(ylabel="event rate in the next 12 months", title="Event rate per tier")
    out["tiers"] = _png(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    imp = ev["importance"]
    names = list(imp)[::-1]
    ax.barh(names, [imp[n] for n in names])
    ax.set(xlabel="share of split gain", title="Importance by dimension")
    out["importance"] = _png(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    ch = ev.get("champion") or {}
    if ch.get("comparable") and ch.get("hist"):
        h = ch["hist"]
        labels = (f"champion v{ch['version']}", "candidate")
        series = (h["champion"], h["candidate"])
        title = f"Scores vs champion (PSI {ch['psi']:.3f})"
    else:
        h = ev["curves"]["valid_vs_test"]
        labels, series = ("valid slice", "test slice"), (h["valid"], h["test"])
        title = f"Score stability valid→test (PSI {m['psi_valid_to_test']:.3f})"
    edges = h["edges"]
    mids = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
    width = (edges[1] - edges[0]) * 0.45
    for k, (lab, s) in enumerate(zip(labels, series, strict=True)):
        total = sum(s) or 1
        ax.bar([x + (k - 0.5) * width for x in mids], [v / total for v in s], width=width, label=lab)
    ax.set(xlabel="calibrated probability", ylabel="share of rows", title=title)
    ax.legend()
    out["psi"] = _png(fig)
    return out


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}"
        return html.escape("" if v is None else str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{fmt(r.get(c))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render(ev: dict[str, Any], *, title: str, meta: dict[str, Any], gate: dict[str, Any] | None = None) -> str:
    """The report as one HTML string (no external files)."""
    from core import tiers as core_tiers

    plots = _plots(ev)
    m = ev["metrics"]
    key_metrics = [{"metric": k, "value": m[k]} for k in (
        "auc", "ks", "brier", "ece", "log_loss", "event_rate", "mean_probability", "cd_capture", "baseline_auc",
        "ground_truth_auc", "ground_truth_violating_auc", "valid_auc", "psi_valid_to_test", "psi_vs_champion", "champion_auc_same_slice")
        if k in m]
    tier_rows = []
    for code, t in ev["tiers"].items():
        try:
            lab = core_tiers.label(code)
            name = f"{code} {lab.zh} ({lab.en})"
        except KeyError:
            name = code
        tier_rows.append({"tier": name, **t})
    parts = [f"<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    parts.append("<p>" + " · ".join(f"<b>{html.escape(str(k))}</b>: {html.escape(str(v))}"
                                   for k, v in meta.items()) + "</p>")
    if gate is not None:
        cls = "ok" if gate.get("promoted") else "bad"
        word = "promoted to champion / 已晋升为当前模型" if gate.get("promoted") else "not promoted / 未晋升"
        parts.append(f"<h2>Promotion gate 晋升检查</h2><p class='{cls}'><b>{word}</b></p><ul>"
                     + "".join(f"<li>{html.escape(r)}</li>" for r in gate.get("reasons", [])) + "</ul>")
    parts.append("<h2>Metrics on the newest slice 最新验证切片指标</h2>" + _table(key_metrics, ["metric", "value"]))
    cand_rows = [{"candidate": k + (" ✔ registered 已登记" if c.get("registered") else ""), **c}
                 for k, c in (ev.get("candidates") or {}).items()]
    if cand_rows:
        parts.append("<h2>Candidates 候选模型 (chosen on temporal folds, shown on test)</h2>"
                     + _table(cand_rows, ["candidate", "cv_auc", "auc", "ks", "brier", "ece", "params"]))
    parts.append("<h2>Tiers 风险分类</h2>" + _table(tier_rows, ["tier", "rows", "share", "events", "event_rate"]))
    parts.append("<div class='plots'>" + "".join(f"<img alt='{k}' src='{v}'>" for k, v in plots.items()) + "</div>")
    mix = ev.get("detection_mix")
    if mix:
        rows = [{"tier": code, **v} for code, v in mix.items()]
        parts.append("<h2>How the label was detected 标签的发现方式 (test slice, share of positives per tier: "
                     "random 随机抽查 / targeted 定向检查与案件线索 / complaint 投诉举报 / none 无检查)</h2>"
                     + _table(rows, ["tier", "positives", "random", "targeted", "complaint", "none"]))
    imp_rows = [{"dimension": f"{d} {DIMENSIONS.get(d, (d, d))[0]}", "gain_share": v}
                for d, v in ev["importance"].items()]
    parts.append("<h2>Importance by dimension 维度重要性</h2>" + _table(imp_rows, ["dimension", "gain_share"]))
    src_rows = [{"source": t, "gain_share": v} for t, v in (ev.get("importance_by_source") or {}).items()]
    if src_rows:
        parts.append("<h2>Importance by source table 数据来源重要性</h2>" + _table(src_rows, ["source", "gain_share"]))
    codes = list(ev["tiers"])
    for col, rows in ev.get("population_tiers", {}).items():
        parts.append(f"<h2>Tier rates by {html.escape(col)} 分主体类别/规模的风险分类</h2>" + _table(
            rows, ["group", "rows", "event_rate", *(f"share_{c}" for c in codes),
                   *(f"event_rate_{c}" for c in codes)]))
    for col, rows in ev.get("slices", {}).items():
        parts.append(f"<h2>Slice: {html.escape(col)}</h2>" + _table(
            rows, ["group", "rows", "events", "event_rate", "mean_probability", "auc", "share_cd", "share_d"]))
    w = ev.get("window", {})
    win_rows = [{"slice": s, **w[s]} for s in ("train", "valid", "test") if s in w]
    split = w.get("split") or {}
    said = (f"<p>{html.escape(split.get('zh', ''))} — {html.escape(split.get('en', ''))}</p>" if split else "")
    parts.append("<h2>Training window 训练窗口</h2>" + said
                 + _table(win_rows, ["slice", "start", "end", "rows", "events"]))
    parts.append("</body></html>")
    return "".join(parts)


def write(ev: dict[str, Any], path: str | Path, *, title: str, meta: dict[str, Any],
          gate: dict[str, Any] | None = None) -> Path:
    """Render the report and write it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(ev, title=title, meta=meta, gate=gate), encoding="utf-8")
    return path
