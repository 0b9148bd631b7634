"""CLI: ``restrictions CODE... [--file F] [--purpose P] [--as-of D]``: joint-punishment measures in effect (失信联合惩戒)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli import Outcome, actor_of, iso_date
from core.errors import UserError
from core.progress import step
from core.settings import Settings

_HEADERS = {"uscc", "code", "credit_code", "统一社会信用代码", "信用代码"}


def register(sub, common) -> None:
    p = sub.add_parser("restrictions", parents=[common], help="joint-punishment measures in effect for credit codes "
                       "(失信联合惩戒查询): each measure with its basis, start, end, record and repair path")
    p.add_argument("codes", nargs="*", metavar="CODE", help="credit codes to check")
    p.add_argument("--file", type=Path, help="a text or CSV file (UTF-8 or GBK) with one code per line (first "
                   "column; a header line is skipped); at most 10,000 codes")
    p.add_argument("--purpose", help="only the measures relevant to this purpose (core/rules/restrictions.toml: "
                   "credit, procurement, approval, export_refund, honours, funding, consumption)")
    p.add_argument("--as-of", type=iso_date, help="the day to check (default today)")
    p.set_defaults(handler=_restrictions)


def read_codes(path: Path) -> list[str]:
    """Codes from a text/CSV file: the first column of each non-empty line, a header line skipped."""
    if not path.is_file():
        raise UserError(f"--file: expected an existing text or CSV file, got {path}")
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise UserError(f"--file: expected UTF-8 or GBK text, got undecodable bytes in {path}")
    codes = [line.split(",")[0].strip().strip('"') for line in text.splitlines()]
    codes = [c for c in codes if c]
    if codes and codes[0].lower() in _HEADERS:
        codes = codes[1:]
    return codes


def _restrictions(args: argparse.Namespace, settings: Settings) -> Outcome:
    from core import audit
    from core.opdb import engine
    from serving.restrictions import audit_entry, check_codes

    codes = list(args.codes) + (read_codes(args.file) if args.file else [])
    if not codes:
        raise UserError("CODE: expected at least one credit code or --file, got none")
    with step(f"checking {len(codes):,} code(s)"):
        batch = check_codes(settings, codes, purpose=args.purpose, on=args.as_of)
    entry = audit_entry(batch, codes, single=len(codes) == 1 and not args.file)
    with engine(settings).begin() as conn:
        audit.record(conn, actor=actor_of(args), role="cli", **entry)
    lines = [f"限制查询 restriction check as of {batch.as_of.isoformat()}"
             + (f", purpose {batch.purpose}" if batch.purpose else "")
             + f" (rules {batch.rules_version}): " + ", ".join(f"{k} {v:,}" for k, v in batch.counts.items() if v)]
    shown = batch.items if len(batch.items) <= 20 else [i for i in batch.items if i.status == "restricted"][:20]
    for item in shown:
        lines.append(f"{item.uscc}  {item.status_zh} ({item.status})"
                     + (f": {item.message}" if item.message and item.status != "no_restriction" else ""))
        if item.status == "no_restriction":
            lines.append(f"  无限制 (no restriction) as of {item.as_of.isoformat()}")
        for m in item.measures:
            end = m.end_date.isoformat() if m.end_date else "至移出之日 (until removed)"
            lines.append(f"  - {m.zh} [{m.code}] {m.start_date.isoformat()} → {end}")
            lines.append(f"    依据: {m.basis}")
            lines.append(f"    记录: {m.record.list_zh} {m.record.ref}"
                         + (f"（{m.record.department}，{m.record.document_number}）" if m.record.department else ""))
            lines.append(f"    修复: {m.repair.zh}（向{m.repair.apply_to}申请）")
    if len(shown) < len(batch.items):
        lines.append(f"... {len(batch.items) - len(shown):,} more (use --json for every answer)")
    return Outcome(batch.model_dump(mode="json"), lines)
