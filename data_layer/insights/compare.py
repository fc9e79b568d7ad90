"""Is B better than A? Whole-run votes of two slices, or of every model or assistant against the
rest, counted per source; `data_layer.analysis` gives the verdicts."""

from __future__ import annotations

from data_layer import analysis
from data_layer.filters import RUNS, VOTES, Filters, conditions
from data_layer.insights.counts import by_source, column_of, int_rows
from data_layer.schema import FEEDBACK_SOURCES

# The filters a slice takes: runs by time, assistant and model; votes by reviewer and source.
TAKES = (*RUNS, *VOTES)

_SLICE_COUNTS = """
SELECT f.source, count(*) AS votes, count(*) FILTER (WHERE f.rating = 1) AS positive
FROM feedback f JOIN runs r ON r.run_id = f.run_id
WHERE {run} AND {vote} AND f.scope = ''
GROUP BY f.source
"""

_COUNTS_BY = """
SELECT {column} AS name, f.source, count(*) AS votes, count(*) FILTER (WHERE f.rating = 1) AS positive
FROM feedback f JOIN runs r ON r.run_id = f.run_id
WHERE {run} AND {vote} AND f.scope = ''
GROUP BY {column}, f.source
ORDER BY 1 NULLS LAST, 2
"""


def run_and_vote(filters, reader: str) -> tuple[str, str, dict]:
    """The run condition (alias `r`), the vote condition (alias `f`) and their parameters."""
    chosen = Filters.of(filters, takes=TAKES, reader=reader)
    run, run_params = conditions(chosen, RUNS)
    vote, vote_params = conditions(chosen, VOTES)
    return run, vote, {**run_params, **vote_params}


def slice_counts(store, filters=None) -> dict[str, dict]:
    """Whole-run votes and thumbs-up of one slice, per source: `{"reviewer": {...}, "end_user": {...}}`."""
    run, vote, params = run_and_vote(filters, "a slice")
    with store.engine.stale_read() as conn:
        return by_source(conn.all(_SLICE_COUNTS.format(run=run, vote=vote), params))


def compare_slices(store, a=None, b=None) -> dict[str, dict]:
    """Slice B against slice A (each a `Filters` or its dict), separately for reviewer votes and for
    end-user votes: `{source: analysis.compare(...)}` with rates, intervals, test and verdict."""
    counts_a, counts_b = slice_counts(store, a), slice_counts(store, b)
    return {source: analysis.compare(counts_a[source], counts_b[source]) for source in FEEDBACK_SOURCES}


def counts_by(store, dimension: str = "model_name", filters=None) -> list[dict]:
    """Whole-run votes per model or assistant and source: rows of `name`, `source`, `votes`, `positive`."""
    column = column_of(dimension)
    run, vote, params = run_and_vote(filters, "the counts")
    with store.engine.stale_read() as conn:
        rows = conn.all(_COUNTS_BY.format(column=column, run=run, vote=vote), params)
    return int_rows(rows, "votes", "positive")


def compare_all(store, dimension: str = "model_name", filters=None) -> dict[str, list[dict]]:
    """Every model (or assistant) against all the others together, per source, Holm-corrected for
    the number of groups tested: `{source: [analysis result with "name" and "p_holm"]}`."""
    grouped: dict[str, list[dict]] = {source: [] for source in FEEDBACK_SOURCES}
    for row in counts_by(store, dimension, filters):
        grouped[row["source"]].append({"name": row["name"], "votes": row["votes"], "positive": row["positive"]})
    return {source: analysis.each_against_rest(groups) for source, groups in grouped.items()}
