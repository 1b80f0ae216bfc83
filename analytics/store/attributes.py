"""Reading one attribute of an OpenTelemetry attribute column, Map- or JSON-typed.

The ClickHouse exporter writes attributes as ``Map(LowCardinality(String), String)`` by default,
and as ``JSON`` in its ``json: true`` mode (newer versions); which one a table has is read from
its DESC TABLE, as the exporter itself does. Keys reach SQL as bound parameters (`key_sql` is a
``{name:String}`` placeholder), so a JSON path is read with ``getSubcolumn(column, key)`` rather
than ``column.`key```, which would put the name into the SQL text. A JSON attribute's value is
typed (``Dynamic``: numbers stay numbers); it is read back as text, as a Map value is, and an
absent path is NULL (ClickHouse docs, Data types > JSON: "reading a path that does not exist
returns NULL"; functions > getSubcolumn).
"""

from __future__ import annotations

from collections.abc import Mapping

MAP, JSON = "map", "json"


def kind(type_: str) -> str:
    """MAP or JSON, from a column's type as DESC TABLE gives it (``JSON`` or ``JSON(...)``)."""
    return JSON if type_ == "JSON" or type_.startswith("JSON(") else MAP


def kinds(columns: Mapping[str, str]) -> dict[str, str]:
    """Column name -> MAP or JSON, for the top-level attribute columns of a DESC TABLE mapping
    (not the Events.Attributes and Links.Attributes of nested columns)."""
    return {name: kind(type_) for name, type_ in columns.items() if name.endswith("Attributes") and "." not in name}


def has(column: str, kind_: str, key_sql: str) -> str:
    """SQL: whether the row's `column` has the attribute `key_sql`."""
    return f"isNotNull(getSubcolumn({column}, {key_sql}))" if kind_ == JSON else f"mapContains({column}, {key_sql})"


def value(column: str, kind_: str, key_sql: str) -> str:
    """SQL: the attribute `key_sql` of `column` as a String."""
    return f"toString(getSubcolumn({column}, {key_sql}))" if kind_ == JSON else f"{column}[{key_sql}]"
