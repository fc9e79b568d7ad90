"""Why do people dislike answers? Words and phrases typical of negative comments against positive
ones, the feedback holding a phrase, and the reason tags of negative votes per model or assistant."""

from __future__ import annotations

from collections import Counter, defaultdict

from data_layer import analysis, auth, phrases, rules
from data_layer.errors import InvalidInput
from data_layer.insights.compare import run_and_vote
from data_layer.insights.counts import column_of, int_rows
from data_layer.queues import blind
from data_layer.rows import plain_all

CORPUS_LIMIT = 20_000  # newest comments read for themes; enough for stable phrases, bounded memory
MAX_IDS_PER_PHRASE = 500

_CORPUS = """
SELECT f.feedback_id, f.rating, f.comment, r.assistant_id, r.model_name
FROM feedback f JOIN runs r ON r.run_id = f.run_id
WHERE {run} AND {vote} AND f.comment IS NOT NULL AND f.comment <> ''
ORDER BY f.created_at DESC, f.feedback_id
LIMIT $limit
"""

_FEEDBACK_BY_IDS = """
SELECT f.feedback_id, f.thread_id, f.run_id, f.owner_id, f.source, f.rating, f.comment, f.tags, f.created_at,
       r.assistant_id, r.model_name
FROM feedback f JOIN runs r ON r.run_id = f.run_id
WHERE f.feedback_id IN (SELECT unnest(CAST($ids AS TEXT[]))) AND {shown}
ORDER BY f.created_at DESC, f.feedback_id
LIMIT $limit
"""

_TAGS_BY = """
SELECT {column} AS name, t.tag, count(*) AS negative
FROM (
    SELECT f.run_id, unnest(f.tags) AS tag
    FROM feedback f
    WHERE f.rating = -1 AND f.scope = '' AND {vote}
) t JOIN runs r ON r.run_id = t.run_id
WHERE {run}
GROUP BY 1, 2
ORDER BY 1 NULLS LAST, 3 DESC, 2
"""


def themes(
    store, filters=None, *, actor: auth.Actor, top: int = 30, min_count: int = 2, prior_strength: float | None = None
) -> dict:
    """Words and two-word phrases typical of negative comments against positive ones.

    Reads only comment texts (newest CORPUS_LIMIT) with their rating, model and assistant, of votes on
    whole runs and on single messages alike: a theme is in the words wherever they were written. Each
    comment counts a phrase once. The score is the z of the weighted log-odds with an informative
    Dirichlet prior (`analysis.log_odds`); kept are phrases seen in at least `min_count` negative
    comments with z above 1.96, best first. Each phrase carries `feedback_ids` (up to
    MAX_IDS_PER_PHRASE, newest first) of the negative comments holding it and counts `by_model` /
    `by_assistant`, so a page can open the feedback and show where the theme comes from. The phrases
    are people's words: the actor must be allowed to read."""
    auth.authorize(actor, "read")
    run, vote, params = run_and_vote(filters, "the themes")
    with store.engine.stale_read() as conn:
        rows = conn.all(_CORPUS.format(run=run, vote=vote), {**params, "limit": CORPUS_LIMIT})
    negative: Counter[str] = Counter()
    positive: Counter[str] = Counter()
    holders: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        found = phrases.phrases(row["comment"])
        (negative if row["rating"] == -1 else positive).update(found)
        if row["rating"] == -1:
            for phrase in found:
                holders[phrase].append(row)
    scores = analysis.log_odds(negative, positive, prior_strength)
    picked = sorted(
        (item for item in scores.items() if item[1]["target"] >= min_count and item[1]["z"] > analysis.Z95),
        key=lambda item: (-item[1]["z"], item[0]),
    )[:top]
    out = []
    for phrase, score in picked:
        comments = holders[phrase]
        out.append(
            {
                "phrase": phrase,
                "language": phrases.language(phrase),
                "z": score["z"],
                "log_odds": score["delta"],
                "negative": score["target"],
                "positive": score["other"],
                "feedback_ids": [row["feedback_id"] for row in comments[:MAX_IDS_PER_PHRASE]],
                "by_model": dict(Counter(row["model_name"] for row in comments).most_common()),
                "by_assistant": dict(Counter(row["assistant_id"] for row in comments).most_common()),
            }
        )
    return {
        "phrases": out,
        "negative_comments": sum(1 for row in rows if row["rating"] == -1),
        "positive_comments": sum(1 for row in rows if row["rating"] == 1),
        "truncated": len(rows) == CORPUS_LIMIT,
    }


def feedback_by_ids(store, ids, *, actor: auth.Actor, limit: int = 500) -> list[dict]:
    """The feedback rows with these ids (newest first) with their run's assistant and model; the actor
    must be allowed to read, and the votes the blind rule hides from it are left out (`queues/blind.py`)."""
    auth.authorize(actor, "read")
    if not isinstance(ids, list | tuple) or not all(isinstance(item, str) for item in ids):
        raise InvalidInput("ids must be a list of feedback ids")
    if not ids:
        return []
    shown, hidden = blind.shown(actor)
    params = {"ids": list(ids), "limit": rules.integer(limit, "limit", low=1, high=10_000), **hidden}
    with store.engine.stale_read() as conn:
        return plain_all(conn.all(_FEEDBACK_BY_IDS.format(shown=shown), params))


def tags_by(store, dimension: str = "model_name", filters=None) -> list[dict]:
    """Reason tags of negative whole-run votes per model or assistant (as the stats count them): rows of
    `name`, `tag`, `negative`."""
    column = column_of(dimension)
    run, vote, params = run_and_vote(filters, "the reason tags")
    with store.engine.stale_read() as conn:
        rows = conn.all(_TAGS_BY.format(column=column, run=run, vote=vote), params)
    return int_rows(rows, "negative")
