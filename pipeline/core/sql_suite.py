"""A GX suite's row-level expectations decided by DuckDB on the rows a check selects.

GX on pandas costs about 0.75 µs per row per expectation run, plus moving the rows into
pandas; DuckDB decides the same row-level rules in one scan of the warehouse. So a check
asks DuckDB first (`verdict`): when every expectation is met the check passes without GX;
when DuckDB finds a violation, or the suite holds something it cannot translate, the check
runs the GX suite as before, which gives the detailed result (counts, samples) and writes the
Data Docs. DuckDB only decides that a suite passes, never that it fails, so a rule it reads
more strictly than GX (its regular expressions are RE2: `$` is the end of the text, not also
before a final newline) costs a GX run, never a wrong verdict.

The rules follow GX's pandas semantics: column-map expectations skip missing values (null,
and NaN in a floating-point column); a unique column fails on any non-missing value seen
twice; compound uniqueness skips rows whose columns are all missing and counts missing as a
value otherwise; regular expressions match anywhere in the text (GX's `str.contains`);
lengths count characters.
"""

from __future__ import annotations

from typing import Any

import duckdb

# kwargs the translation understands, per expectation type (anything else: GX decides)
_KWARGS = {
    "expect_column_values_to_be_in_set": {"column", "value_set"},
    "expect_column_values_to_not_be_null": {"column"},
    "expect_column_values_to_be_between": {"column", "min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_values_to_match_regex": {"column", "regex"},
    "expect_column_value_lengths_to_be_between": {"column", "min_value", "max_value"},
    "expect_column_values_to_be_unique": {"column"},
    "expect_compound_columns_to_be_unique": {"column_list"},
}
_FLOATS = {"FLOAT", "DOUBLE", "REAL"}
_NUMBERS = _FLOATS | {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                      "UBIGINT"}


def _family(sql_type: str) -> str | None:
    """The Python values a column of this type compares with as pandas compares them."""
    if sql_type == "VARCHAR":
        return "str"
    if sql_type == "BOOLEAN":
        return "bool"
    if sql_type in _NUMBERS or sql_type.startswith("DECIMAL"):
        return "number"
    return None


def _of_family(value: Any, family: str | None) -> bool:
    if family == "bool":
        return isinstance(value, bool)
    if family == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return family == "str" and isinstance(value, str)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and value == value:
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return None


def _present(column: str, types: dict[str, str]) -> str:
    col = _ident(column)
    return f"({col} is not null and not isnan({col}))" if types[column] in _FLOATS else f"{col} is not null"


def _unexpected(exp: dict[str, Any], types: dict[str, str]) -> str | None:
    """A scalar subquery over `t` counting the rows (or repeated keys) that break `exp`, or
    None when it cannot be said in SQL."""
    kind, kwargs = exp["type"], exp["kwargs"]
    if kind not in _KWARGS or not _KWARGS[kind].issuperset(kwargs):
        return None
    columns = kwargs.get("column_list") or [kwargs["column"]]
    if any(c not in types for c in columns):
        return None
    col = _ident(columns[0])
    present = _present(columns[0], types)
    if kind == "expect_column_values_to_not_be_null":
        return f"count(*) filter (where not {present})"
    if kind == "expect_column_values_to_be_in_set":
        family = _family(types[columns[0]])
        if not kwargs["value_set"] or not all(_of_family(v, family) for v in kwargs["value_set"]):
            return None
        values = [_literal(v) for v in kwargs["value_set"]]
        if None in values:
            return None
        return f"count(*) filter (where {present} and {col} not in ({', '.join(values)}))"
    if kind in ("expect_column_values_to_be_between", "expect_column_value_lengths_to_be_between"):
        lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
        if lo is None and hi is None:
            return None
        if kind == "expect_column_values_to_be_between":
            value, family = col, _family(types[columns[0]])
        elif types[columns[0]] == "VARCHAR":
            value, family = f"length({col})", "number"
        else:
            return None
        bad = []
        for bound, strict, op, strict_op in ((lo, kwargs.get("strict_min"), "<", "<="),
                                             (hi, kwargs.get("strict_max"), ">", ">=")):
            if bound is not None:
                literal = _literal(bound)
                if literal is None or family != "number" or not _of_family(bound, family):
                    return None
                bad.append(f"{value} {strict_op if strict else op} {literal}")
        return f"count(*) filter (where {present} and ({' or '.join(bad)}))"
    if kind == "expect_column_values_to_match_regex":
        if types[columns[0]] != "VARCHAR":
            return None
        return f"count(*) filter (where {present} and not regexp_matches({col}, {_literal(kwargs['regex'])}))"
    if kind == "expect_column_values_to_be_unique":
        return f"(select count(*) from (select {col} from t where {present} group by all having count(*) > 1))"
    keys = ", ".join(_ident(c) for c in columns)
    some = " or ".join(_present(c, types) for c in columns)
    return f"(select count(*) from (select {keys} from t where {some} group by all having count(*) > 1))"


def verdict_query(spec: dict[str, Any], sql: str, types: dict[str, str]) -> str | None:
    """One query over the rows `sql` selects: their count, then the number of violations of
    each expectation; None when some expectation is not for SQL to decide."""
    parts = [_unexpected(exp, types) for exp in spec["expectations"]]
    if not parts or None in parts:
        return None
    return f"with t as ({sql}) select count(*), {', '.join(parts)} from t"


def verdict(con: duckdb.DuckDBPyConnection, spec: dict[str, Any], sql: str, params: list) -> tuple[bool, int] | None:
    """(every expectation met, rows) for the rows `sql` selects, or None when DuckDB cannot
    decide the suite (an expectation it does not translate, a column it cannot read)."""
    try:
        described = con.execute(f"select * from ({sql}) limit 0", params).description
        types = {name: str(kind) for name, kind, *_ in described}
        query = verdict_query(spec, sql, types)
        if query is None:
            return None
        rows, *unexpected = con.execute(query, params).fetchone()
    except duckdb.Error:
        return None
    return not any(unexpected), int(rows)

