"""Read-only SQL over the workspace, for aggregate questions.

The model writes the SQL; this file makes it safe to run:

* exactly one ``SELECT`` statement (DuckDB's own parser decides),
* only the documented tables (``workspace.TABLES``) and CTEs the query defines;
  no table functions that read files (``read_csv``, ``glob``, ...), no other catalogs,
* at most ``sql_row_limit`` rows and ``MAX_RESULT_CHARS`` characters back, and
  interrupted after ``sql_timeout_s``,
* run on the agent's connection, which is opened read-only with DuckDB's own
  sandbox (``enable_external_access = false``, ``lock_configuration = true``,
  see ``workspace/db.py``): the checks here are the second line, not the only one.

    >>> check_sql("SELECT count(*) FROM orders")      # doctest: +SKIP
    >>> check_sql("DELETE FROM orders")               # doctest: +SKIP
    Traceback (most recent call last):
    ToolError: only SELECT queries are allowed (got DELETE)
"""

from __future__ import annotations

import json
import threading
from datetime import date, datetime
from decimal import Decimal

import duckdb
from pydantic import BaseModel, Field

from workspace import TABLES

from .base import ToolContext, ToolError, ToolResult, tool

_SAFE_TABLE_FUNCTIONS = {"unnest", "range", "generate_series"}
_DENIED_FUNCTIONS = {"getenv", "current_setting", "read_text", "read_blob", "glob", "read_csv", "read_parquet", "read_json"}

SCHEMA_HINT = (
    "orders(order_id, customer_id, order_date DATE, total DOUBLE, n_items INT, status); "
    "customers(customer_id, name, email, zip, created_at); "
    "products(product_id, name, category, department, division, description, price); "
    "reviews(review_id, product_id, customer_id, rating INT 1-5, title, text, created_at, recommended BOOL, helpful INT, age INT); "
    "posts(post_id, author, text, created_at TIMESTAMP, source, likes, shares, is_repost BOOL); "
    "ratings(user_id, item_id, rating, rated_at); order_items(order_id, product_id, quantity, price). "
    "All ids are VARCHAR."
)


class SqlArgs(BaseModel):
    sql: str = Field(..., min_length=1, max_length=4000, description="One DuckDB SELECT over the tables: " + SCHEMA_HINT)


def _walk(node, found: dict, scope: frozenset = frozenset()) -> None:
    """Collect tables, table functions and functions; a table name counts as a CTE only inside the query
    that defines it (a CTE named like a file or a hidden table elsewhere in the query shadows nothing)."""
    if isinstance(node, dict):
        cte = node.get("cte_map")
        if isinstance(cte, dict) and cte.get("map"):
            scope = scope | {m["key"] for m in cte["map"]}
        t = node.get("type")
        if t == "BASE_TABLE":
            name = node.get("table_name")
            found["tables"].append((node.get("catalog_name") or "", node.get("schema_name") or "", name, name in scope))
        elif t == "SHOW_REF":  # SHOW / DESCRIBE / SUMMARIZE: the catalog is not the documented tables
            found["table_functions"].append("show")
        elif t == "TABLE_FUNCTION":
            fn = (node.get("function") or {}).get("function_name", "")
            found["table_functions"].append(fn)
        if node.get("class") == "FUNCTION" and node.get("function_name"):
            found["functions"].append(node["function_name"].lower())
        for v in node.values():
            _walk(v, found, scope)
    elif isinstance(node, list):
        for v in node:
            _walk(v, found, scope)


def check_sql(sql: str, con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Raise :class:`ToolError` unless ``sql`` is one SELECT over documented tables."""
    try:
        stmts = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise ToolError(f"SQL does not parse: {e}") from None
    if len(stmts) != 1:
        raise ToolError(f"exactly one statement is allowed (got {len(stmts)})")
    if stmts[0].type != duckdb.StatementType.SELECT:
        raise ToolError(f"only SELECT queries are allowed (got {stmts[0].type.name})")
    con = con or duckdb.connect()
    # fetchall, not fetchone: a half-read result would block the next query on this connection
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    if tree.get("error"):
        raise ToolError(f"SQL rejected: {tree.get('error_message')}")
    found: dict[str, list] = {"tables": [], "table_functions": [], "functions": []}
    _walk(tree, found)
    for cat, schema, name, is_cte in found["tables"]:
        if cat or schema not in ("", "main") or (name.lower() not in TABLES and not is_cte):
            raise ToolError(f"table {'.'.join(x for x in (cat, schema, name) if x)!r} is not allowed; use: {', '.join(TABLES)}")
    for fn in found["table_functions"]:
        if fn.lower() not in _SAFE_TABLE_FUNCTIONS:
            raise ToolError(f"table function {fn!r} is not allowed")
    for fn in found["functions"]:
        if fn in _DENIED_FUNCTIONS:
            raise ToolError(f"function {fn!r} is not allowed")


#: At most this many characters of result come back (all values together), and this many per value.
MAX_RESULT_CHARS = 200_000
MAX_VALUE_CHARS = 2_000


def _cap(v):
    return v[:MAX_VALUE_CHARS] + "…" if isinstance(v, str) and len(v) > MAX_VALUE_CHARS else v


def _plain(v):
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    return v


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, row_limit: int, timeout_s: float) -> tuple[list[str], list[list], bool]:
    """Check, then run with a row cap and a timeout. Returns (columns, rows, truncated)."""
    check_sql(sql, con)
    cur = con.cursor()
    timer = threading.Timer(timeout_s, cur.interrupt)
    timer.start()
    try:
        cur.execute(f"SELECT * FROM ({sql.strip().rstrip(';')}) AS q LIMIT {row_limit + 1}")
        cols = [d[0] for d in cur.description]
        rows: list[list] = []
        size = 0
        for r in cur.fetchmany(row_limit + 1):
            row = [_cap(_plain(v)) for v in r]
            size += sum(len(str(v)) for v in row)
            if size > MAX_RESULT_CHARS:  # the row cap is not a byte cap: one value can be megabytes
                return cols, rows, True
            rows.append(row)
    except duckdb.InterruptException:
        raise ToolError(f"query stopped after the {timeout_s:g} s timeout") from None
    except duckdb.Error as e:
        raise ToolError(f"query failed: {str(e).splitlines()[0]}") from None
    finally:
        timer.cancel()
        cur.close()
    return cols, rows[:row_limit], len(rows) > row_limit


@tool(
    "sql_query",
    "Run one read-only SQL SELECT over the workspace tables to count, sum, average or rank: totals, "
    "numbers per month, top items, trends. Tables: " + SCHEMA_HINT,
    examples=[
        "how many orders were placed in June 1997?",
        "sum of sales per year",
        "which product has the most reviews?",
        "average rating of dresses",
        "how many tweets were posted in 2016?",
        "top 5 customers by spend",
        "number of orders per month",
    ],
)
def sql_query(ctx: ToolContext, args: SqlArgs) -> ToolResult:
    cols, rows, truncated = run_sql(ctx.ws.con, args.sql, ctx.settings.sql_row_limit, ctx.settings.sql_timeout_s)
    shown = rows[:20]
    lines = [" | ".join(cols)] + [" | ".join("" if v is None else str(v) for v in r) for r in shown]
    more = (
        f"\n({len(rows)} rows{', truncated at the row limit' if truncated else ''}; first {len(shown)} shown)"
        if len(rows) > len(shown) or truncated
        else ""
    )
    return ToolResult(
        data={"sql": args.sql, "columns": cols, "rows": rows, "truncated": truncated},
        summary=f"SQL: {args.sql}\n" + "\n".join(lines) + more,
    )
