"""Turn database rows into plain, JSON-friendly dicts (ISO-8601 times, parsed JSON, lists)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import overload

JSON_COLUMNS = frozenset({"metadata", "tool_calls"})


def plain_value(name: str, value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if name in JSON_COLUMNS and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, tuple):
        return list(value)
    return value


@overload
def plain(row: dict) -> dict: ...


@overload
def plain(row: None) -> None: ...


def plain(row: dict | None) -> dict | None:
    if row is None:
        return None
    return {name: plain_value(name, value) for name, value in row.items()}


def plain_all(rows: list[dict]) -> list[dict]:
    return [plain(row) for row in rows]
