"""Answers for product managers: is B better than A, can end-user thumbs be trusted, why people
dislike answers, did something just break.

SQL here only counts (one query per question, aggregated in the database, the same text on DuckDB
and PostgreSQL); `data_layer.analysis` does the statistics on those counts. Filters are
`data_layer.filters.Filters` (runs narrowed by time, assistant and model; votes by reviewer and
source), and time is the run's, as on the stats page. Only whole-run votes count (`scope = ''`): a
reviewer's extra vote on one message of the same run is not a second, independent opinion.
Reviewer votes and end-user votes are always counted apart and never added together.

One module per question: `compare` (slices and every group against the rest), `agreement` (end
users against the reviewers' majority, the disagreements, each reviewer against the others),
`themes` (phrases of negative comments, the feedback behind them, reason tags), `alerts` (daily
p-charts); `counts` holds their small shared helpers. The answers that name people or quote their
words (`disagreements`, `reviewers`, `themes`, `feedback_by_ids`) take the `actor` asking, which
must be allowed to read (`auth.authorize`); the others are counts.
"""

from __future__ import annotations

from data_layer.insights.agreement import disagreements, end_user_agreement, reviewers
from data_layer.insights.alerts import alerts, daily_series, flagged
from data_layer.insights.compare import compare_all, compare_slices, counts_by, slice_counts
from data_layer.insights.counts import DIMENSIONS
from data_layer.insights.themes import CORPUS_LIMIT, MAX_IDS_PER_PHRASE, feedback_by_ids, tags_by, themes

__all__ = [
    "CORPUS_LIMIT",
    "DIMENSIONS",
    "MAX_IDS_PER_PHRASE",
    "alerts",
    "compare_all",
    "compare_slices",
    "counts_by",
    "daily_series",
    "disagreements",
    "end_user_agreement",
    "feedback_by_ids",
    "flagged",
    "reviewers",
    "slice_counts",
    "tags_by",
    "themes",
]
