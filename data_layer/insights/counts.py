"""Small helpers the insight questions share: ints out of count rows, the grouping columns a caller
may name, per-source tallies, and day keys."""

from __future__ import annotations

from datetime import UTC, date, datetime

from data_layer.errors import InvalidInput
from data_layer.schema import FEEDBACK_SOURCES

# What a caller may group by, mapped to fixed SQL.
DIMENSIONS = {"model_name": "r.model_name", "assistant_id": "r.assistant_id"}


def int_rows(rows: list[dict], *names: str) -> list[dict]:
    return [{**row, **{name: int(row[name] or 0) for name in names}} for row in rows]


def column_of(dimension: str) -> str:
    """The SQL column of a dimension a caller names, refused unless it is one of DIMENSIONS."""
    if dimension not in DIMENSIONS:
        raise InvalidInput(f"dimension {dimension!r:.40} is not one of {', '.join(DIMENSIONS)}")
    return DIMENSIONS[dimension]


def by_source(rows: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {source: {"votes": 0, "positive": 0} for source in FEEDBACK_SOURCES}
    for row in rows:
        out[row["source"]] = {"votes": int(row["votes"]), "positive": int(row["positive"])}
    return out


def none_last(item) -> tuple:
    """A sort key for (name, value) pairs: by name, a missing name last."""
    return (item[0] is None, item[0] or "")


def day(value) -> str | None:
    """The ISO date of a date or a time (its UTC day)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat() if value.tzinfo else value.date().isoformat()
    return value.isoformat() if isinstance(value, date) else value
