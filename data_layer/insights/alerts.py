"""Did something just break? Each assistant's daily positive rate against its p-chart band, and the
days that fell below it.

The insight pages' filters narrow the votes (assistant, model, reviewer, source) as everywhere else;
of the date range only its end is used: the window is the `days` days up to it (or up to the newest
run, when the range ends later), because a day's band is set by the days around it and a range of a
day or a week has too few of them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from data_layer import analysis, rules
from data_layer.filters import RUN_COPIES, RUNS, VOTES, Filters, conditions
from data_layer.insights.compare import TAKES
from data_layer.insights.counts import day, int_rows, none_last

# A vote carries copies of its run's assistant and start time (`data_layer.rollups`), so the series
# scans the votes alone instead of joining a million of them with the runs.
_DAILY = """
SELECT f.run_assistant_id AS assistant_id, CAST(date_trunc('day', f.run_at) AS DATE) AS day,
       count(*) AS votes, count(*) FILTER (WHERE f.rating = 1) AS positive
FROM feedback f
WHERE {run} AND {vote} AND f.scope = ''
GROUP BY 1, 2
ORDER BY 1 NULLS LAST, 2
"""

_LAST_RUN = "SELECT max(r.created_at) FROM runs r WHERE {run}"


def daily_series(store, filters=None, *, days: int = 60, source: str | None = None, until: date | None = None) -> dict:
    """The daily positive rate of each assistant over the `days` days of runs up to `until` (default:
    the day of the newest run the filters match, or the last day of their range if that is earlier),
    with p-chart bands (`analysis.p_chart`), of the whole-run votes the filters keep (`source` is a
    shorthand for the filter of that name). Returns `{"until": day, "series": {assistant: [day rows]}}`; days
    without votes are absent."""
    days = rules.integer(days, "days", low=2, high=3660)
    chosen = Filters.of(filters, takes=TAKES, reader="the alerts")
    if source is not None:
        chosen = replace(chosen, source=source)
    end_of_range = chosen.until_time
    unbounded = replace(chosen, since=None, until=None)
    with store.engine.stale_read() as conn:
        if until is None:
            last_run, last_params = conditions(unbounded, RUNS)
            last = conn.scalar(_LAST_RUN.format(run=last_run), last_params)
            if last is None:
                return {"until": None, "series": {}}
            until = last.astimezone(UTC).date()
            if end_of_range is not None:
                until = min(until, (end_of_range - timedelta(microseconds=1)).astimezone(UTC).date())
        end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
        start = max(end - timedelta(days=days), rules.EARLIEST)
        window = replace(unbounded, since=start.isoformat(), until=end.isoformat())
        copies, copy_params = conditions(window, RUN_COPIES)
        vote, vote_params = conditions(window, VOTES)
        rows = conn.all(_DAILY.format(run=copies, vote=vote), {**copy_params, **vote_params})
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
    store, filters=None, *, days: int = 60, recent: int = 28, source: str | None = None, until: date | None = None
) -> list[dict]:
    """Days in the last `recent` days whose positive rate fell below an assistant's p-chart band
    (expected rate minus three standard errors for that day's votes, the expected rate taken from
    the other days of the last `days`). Newest first; each row has `assistant_id`, `day`, `votes`,
    `positive`, `rate`, `expected`, `low`, `high`. A day above the band is good news, not an alert."""
    recent = rules.integer(recent, "recent", low=1, high=3660)
    return flagged(daily_series(store, filters, days=days, source=source, until=until), recent)
