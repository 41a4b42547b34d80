"""The merge primitives of the reports ETL (reports/etl.py, reports/etl_departures.py)."""

from __future__ import annotations

from typing import Any

import psycopg


def date_key(expr: str) -> str:
    """SQL turning a date expression into its dim_date key (yyyymmdd)."""
    return f"to_char({expr}, 'YYYYMMDD')::integer"


def upsert(
    tgt: psycopg.Connection,
    table: str,
    key: list[str],
    columns: list[str],
    select_sql: str,
    params: dict[str, Any] | None = None,
) -> int:
    """INSERT ... ON CONFLICT DO UPDATE, touching only rows whose values differ.
    Returns the rows inserted or updated."""
    names = ", ".join(key + columns)
    assign = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    old = ", ".join(f"t.{c}" for c in columns)
    new = ", ".join(f"EXCLUDED.{c}" for c in columns)
    statement = (
        f"INSERT INTO star.{table} AS t ({names}) {select_sql} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {assign} WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
    )
    return tgt.execute(statement, params).rowcount


def delete_rows(tgt: psycopg.Connection, statement: str, params: dict[str, Any] | None = None) -> int:
    return tgt.execute(statement, params).rowcount
