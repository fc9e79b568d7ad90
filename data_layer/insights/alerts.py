"""Did something just break? Each assistant's daily positive rate against its p-chart band, and the
days that fell below it."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from data_layer import analysis, rules
from data_layer.insights.counts import day, int_rows, none_last

# A vote carries copies of its run's assistant and start time (`data_layer.rollups`), so the series
# scans the votes alone instead of joining a million of them with the runs.
_DAILY = """
SELECT f.run_assistant_id AS assistant_id, CAST(date_trunc('day', f.run_at) AS DATE) AS day,
       count(*) AS votes, count(*) FILTER (WHERE f.rating = 1) AS positive
FROM feedback f
WHERE f.run_at >= $since AND f.run_at < $until AND f.scope = ''
  AND (CAST($source AS TEXT) IS NULL OR f.source = $source)
GROUP BY 1, 2
ORDER BY 1 NULLS LAST, 2
"""

_LAST_RUN = "SELECT max(created_at) FROM runs"


def daily_series(store, *, days: int = 60, source: str | None = None, until: date | None = None) -> dict:
    """The daily positive rate of each assistant over the `days` days of runs up to `until` (default:
    the day of the newest run), with p-chart bands (`analysis.p_chart`). Returns `{"until": day,
    "series": {assistant: [day rows]}}`; days without votes are absent."""
    days = rules.integer(days, "days", low=2, high=3660)
    if source is not None:
        source = rules.source(source)
    with store.engine.read() as conn:
        if until is None:
            last = conn.scalar(_LAST_RUN)
            if last is None:
                return {"until": None, "series": {}}
            until = last.astimezone(UTC).date()
        end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
        rows = conn.all(_DAILY, {"since": end - timedelta(days=days), "until": end, "source": source})
    grouped: dict = defaultdict(list)
    for row in int_rows(rows, "votes", "positive"):
        grouped[row["assistant_id"]].append(
            {"day": day(row["day"]), "votes": row["votes"], "positive": row["positive"]}
        )
    series = {assistant: analysis.p_chart(rows) for assistant, rows in sorted(grouped.items(), key=none_last)}
    return {"until": until.isoformat(), "series": series}


def flagged(series: dict, recent: int = 28) -> list[dict]:
    """The alerts in a `daily_series()` result: days in its last `recent` days below the band."""
    if series["until"] is None:
        return []
    cutoff = (date.fromisoformat(series["until"]) - timedelta(days=recent - 1)).isoformat()
    found = [
        {"assistant_id": assistant, **{key: value for key, value in row.items() if key != "flag"}}
        for assistant, rows in series["series"].items()
        for row in rows
        if row["flag"] == "low" and row["day"] >= cutoff
    ]
    return sorted(found, key=lambda row: (row["day"], row["assistant_id"] or ""), reverse=True)


def alerts(
    store, *, days: int = 60, recent: int = 28, source: str | None = None, until: date | None = None
) -> list[dict]:
    """Days in the last `recent` days whose positive rate fell below an assistant's p-chart band
    (expected rate minus three standard errors for that day's votes, the expected rate taken from
    the other days of the last `days`). Newest first; each row has `assistant_id`, `day`, `votes`,
    `positive`, `rate`, `expected`, `low`, `high`. A day above the band is good news, not an alert."""
    recent = rules.integer(recent, "recent", low=1, high=3660)
    return flagged(daily_series(store, days=days, source=source, until=until), recent)
