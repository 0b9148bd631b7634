"""Matching opinion items that name a company but carry no credit code to the one entity of that name."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc


def normalise_names(names: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Names as compared: NFKC form (full-width brackets, digits and letters folded), no whitespace, lower case;
    empty names become null."""
    out = pc.utf8_lower(pc.replace_substring_regex(pc.utf8_normalize(pc.cast(names, pa.string()), "NFKC"),
                                                   r"\s+", ""))
    return pc.if_else(pc.equal(out, ""), pa.scalar(None, pa.string()), out)


def normalise_name(name: str | None) -> str | None:
    """:func:`normalise_names` for one name."""
    return normalise_names(pa.array([name], type=pa.string()))[0].as_py()


def match_names(con: duckdb.DuckDBPyConnection, names: list[str], *, entities: str = "entities") -> dict[str, str]:
    """Match company names to credit codes where the normalised name belongs to exactly one entity.

    Args:
        con: warehouse connection holding ``entities`` (columns ``uscc``, ``name``).
        names: company names to match.
    Returns:
        ``{company_name: uscc}`` for the names matched; names absent from the result are unmatched
        (no entity, or several entities, carry that name).
    """
    wanted = pa.table({"company_name": pa.array(sorted(set(names)), type=pa.string())})
    wanted = wanted.append_column("norm", normalise_names(wanted["company_name"]))
    known = con.sql(f"SELECT uscc, name FROM {entities} WHERE name IS NOT NULL").to_arrow_table()
    known = known.append_column("norm", normalise_names(known["name"]))
    con.register("_wanted_names", wanted)
    con.register("_known_names", known)
    try:
        rows = con.execute(
            "SELECT w.company_name, min(k.uscc) AS uscc FROM _wanted_names w JOIN _known_names k USING (norm) "
            "GROUP BY w.company_name HAVING count(DISTINCT k.uscc) = 1"
        ).fetchall()
    finally:
        con.unregister("_wanted_names")
        con.unregister("_known_names")
    return dict(rows)
