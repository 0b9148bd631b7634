"""Pictures for the console as inline SVG drawn on the server (no script, no CDN, no web fonts).

Every text in a picture is escaped; the browser draws it with the system's CJK font.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

TIER_COLOURS = {"A": "#2e7d32", "B": "#1565c0", "C": "#ef6c00", "D": "#c62828"}
_FONT = 'font-family="sans-serif" font-size="12"'


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
                  f'width="{width}" height="{height}" {_FONT}><title>{escape(title)}</title>{"".join(body)}</svg>')


def tier_bars(shares: dict[str, float], targets: dict[str, float] | None, *, labels: dict[str, str],
              title: str = "分类分布") -> Markup:
    """Horizontal bars of each tier's share, with the policy's target share as a tick mark."""
    width, row, left = 520, 30, 130
    scale = width - left - 70
    top = max([*shares.values(), *(targets or {}).values(), 0.01])
    body = []
    for i, (code, share) in enumerate(shares.items()):
        y = 8 + i * row
        w = share / top * scale
        body.append(f'<text x="0" y="{y + 15}">{escape(code)} {escape(labels.get(code, ""))}</text>')
        body.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="20" fill="{TIER_COLOURS.get(code, "#666")}"/>')
        tick = left + targets[code] / top * scale if targets and code in targets else None
        body.append(f'<text x="{left + max(w, (tick or left) - left) + 8:.1f}" y="{y + 15}">{share:.1%}</text>')
        if tick is not None:
            x = tick
            body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 3}" y2="{y + 23}" stroke="#000" '
                        f'stroke-width="2" stroke-dasharray="3,2"/>')
    if targets:
        y = 8 + len(shares) * row + 10
        body.append(f'<line x1="{left}" x2="{left + 16}" y1="{y}" y2="{y}" stroke="#000" stroke-width="2" '
                    f'stroke-dasharray="3,2"/><text x="{left + 22}" y="{y + 4}">虚线：政策目标比例</text>')
    return _svg(width, 8 + len(shares) * row + (28 if targets else 4), body, title)


def migration_grid(matrix: dict[str, dict[str, int]], *, title: str = "分类迁移矩阵") -> Markup:
    """A heat map: rows are the previous tier, columns the current one; cell shade by share of the row."""
    codes = list(matrix)
    cell, left, top = 64, 70, 40
    body = [f'<text x="{left}" y="14">本期分类 →</text>',
            f'<text x="0" y="{top + 12}" font-size="11">上期 ↓</text>']
    for j, b in enumerate(codes):
        body.append(f'<text x="{left + j * cell + cell / 2 - 4}" y="{top - 6}" font-weight="bold">{escape(b)}</text>')
    for i, a in enumerate(codes):
        total = sum(matrix[a].values()) or 1
        y = top + i * cell
        body.append(f'<text x="{left - 20}" y="{y + cell / 2 + 4}" font-weight="bold">{escape(a)}</text>')
        for j, b in enumerate(codes):
            n = matrix[a][b]
            shade = 0.08 + 0.85 * n / total
            colour = "#1565c0" if a == b else "#c62828" if j > i else "#2e7d32"
            body.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                        f'fill="{colour}" fill-opacity="{shade:.2f}"/>')
            body.append(f'<text x="{left + j * cell + 6}" y="{y + cell / 2 + 4}">{n:,}</text>')
    y = top + len(codes) * cell + 16
    body.append(f'<text x="0" y="{y}" font-size="11">红：风险上升　绿：风险下降　蓝：不变</text>')
    return _svg(left + len(codes) * cell + 10, y + 6, body, title)


def stacked_bars(groups: list[tuple[str, dict[str, int]]], *, title: str) -> Markup:
    """One horizontal bar per group (town, industry), split by tier share; the count at the end."""
    width, row, left = 720, 24, 250
    scale = width - left - 70
    body = []
    for i, (name, counts) in enumerate(groups):
        y = 6 + i * row
        total = sum(counts.values()) or 1
        x = float(left)
        body.append(f'<text x="0" y="{y + 13}">{escape(name)}</text>')
        for code, n in counts.items():
            w = n / total * scale
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="17" fill="{TIER_COLOURS.get(code, "#666")}">'
                        f'<title>{escape(code)}: {n:,}</title></rect>')
            x += w
        body.append(f'<text x="{left + scale + 6}" y="{y + 13}">{total:,}</text>')
    y = 6 + len(groups) * row + 8
    for k, code in enumerate(TIER_COLOURS):
        body.append(f'<rect x="{left + k * 60}" y="{y}" width="12" height="12" fill="{TIER_COLOURS[code]}"/>'
                    f'<text x="{left + k * 60 + 16}" y="{y + 11}">{code}类</text>')
    return _svg(width, y + 18, body, title)


def tier_history(points: list[tuple[str, str, float]], *, title: str = "分类历史") -> Markup:
    """Tier (step line, D at the top) and probability of each publication, oldest left."""
    codes = list(TIER_COLOURS)
    width, height, left, top = 560, 200, 40, 14
    inner_w, inner_h = width - left - 20, height - top - 40
    n = len(points)
    body = []
    for k, code in enumerate(codes):
        y = top + inner_h - k * inner_h / (len(codes) - 1)
        body.append(f'<line x1="{left}" x2="{left + inner_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                    f'<text x="8" y="{y + 4:.1f}" fill="{TIER_COLOURS[code]}" font-weight="bold">{code}</text>')
    xs = [left + (inner_w * i / max(n - 1, 1) if n > 1 else inner_w / 2) for i in range(n)]
    ys = [top + inner_h - codes.index(t) * inner_h / (len(codes) - 1) for _, t, _ in points]
    if n > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{xs[i]:.1f},{ys[i - 1 if i else 0]:.1f} L{xs[i]:.1f},{ys[i]:.1f}"
                        for i in range(n))
        body.append(f'<path d="{path}" fill="none" stroke="#555" stroke-width="2"/>')
    for (label, t, p), x, y in zip(points, xs, ys, strict=True):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{TIER_COLOURS.get(t, "#666")}">'
                    f'<title>{escape(label)} {escape(t)}类 概率 {p:.2%}</title></circle>')
    step = max(1, n // 6)
    for i in sorted({*range(0, n, step), n - 1} if n else set()):
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        body.append(f'<text x="{xs[i]:.1f}" y="{height - 12}" font-size="11" text-anchor="{anchor}">'
                    f'{escape(points[i][0])}</text>')
    return _svg(width, height, body, title)
