"""Threads: the browsing list (filtered, sorted, paginated in SQL) and single-thread lookups."""

from __future__ import annotations

import builtins

from data_layer import rules
from data_layer.engines import WORD_SEPARATORS
from data_layer.errors import InvalidInput
from data_layer.filters import Filters, Table, conditions
from data_layer.rows import plain, plain_all

LIST_COLUMNS = """t.thread_id, t.display_name, t.title, t.assistant_id, t.owner_id, t.status, t.created_at,
    t.updated_at, t.last_activity_at, t.run_count, t.positive, t.negative, t.end_user_positive,
    t.end_user_negative, t.reviewer_positive, t.reviewer_negative"""

# Sort keys a caller may ask for, mapped to fixed SQL; nothing a caller sends reaches the SQL text.
ORDERS = {
    "updated_at": "t.last_activity_at",
    "created_at": "t.created_at",
    "runs": "t.run_count",
    "negative": "t.negative",
    "positive": "t.positive",
    "end_user_negative": "t.end_user_negative",
    "reviewer_negative": "t.reviewer_negative",
    "title": "t.title",
}

# Message search: a thread matches when its title contains the search text (case-insensitive substring,
# as ILIKE), or one of its messages matches the search's words (data_layer/search_index.py holds the
# index): lower-cased, with any run of whitespace and punctuation counted as one word break, the
# message holds the search's words one after another; the first may be the end of a longer word and the
# last the start of one, unless the search starts or ends with a break. So `outdated pricing` also finds
# "outdated, pricing" (the one deliberate widening; every thread the substring scan found is still
# found). A search with no word at all (`...`, `%`) scans the texts for the substring.
_TITLE = "t.title ILIKE $pattern ESCAPE '\\'"
_MESSAGE = """t.thread_id IN (SELECT e.thread_id FROM run_events e
        WHERE e.category = 'message' AND e.text ILIKE $pattern ESCAPE '\\')"""
# The threads of the postings of some word ids, joined rather than nested IN (SELECT ...): PostgreSQL's
# planner, which cannot know that one pair of common words names 90 % of the threads, looped over every
# thread for a nested semi-join (3 s at 10,000 threads) but joins the postings to their threads well.
_WORD_IDS = "(SELECT w.word_id FROM search_words w WHERE w.word LIKE ${})"
# The conditions on word ids are the engine's `among_words`.
_TERM = """t.thread_id IN (SELECT s.thread_id FROM message_terms m JOIN search_threads s ON s.thread_no = m.thread_no
        WHERE {word})"""
_PAIR = """t.thread_id IN (SELECT s.thread_id FROM message_pairs p JOIN search_threads s ON s.thread_no = p.thread_no
        WHERE {first} AND {second})"""
# Three words or more: the texts matched with a regular expression (the engine's own operator,
# `matches_regex` in engines/duck.py and pg.py). On DuckDB (`narrows_phrases`), only the texts of the
# threads holding the first and the last pair of adjacent words: it still reads every text, but matches
# only those, 0.16 to 0.22 s for a rare phrase at 5 million messages and 0.6 s for one in 90 % of the
# threads (the substring scan: 0.33 and 0.65 s). PostgreSQL answers the expression from its trigram index
# and would instead read each named thread's events one thread at a time. Making each text into its words
# joined by single spaces and matching that with LIKE takes 2.5 s.
_RUN_OF_WORDS = "t.thread_id IN (SELECT e.thread_id FROM run_events e WHERE e.category = 'message' AND {})"
# Nested, this one: DuckDB pushes the few threads of a rare phrase into its scan of the events as a filter
# (0.2 s), which it did not for two joins (0.5 s).
_NARROWED = """e.thread_id IN (SELECT s.thread_id FROM search_threads s
        WHERE s.thread_no IN (SELECT p.thread_no FROM message_pairs p WHERE p.first_id IN {} AND p.second_id IN {})
          AND s.thread_no IN (SELECT p.thread_no FROM message_pairs p WHERE p.first_id IN {} AND p.second_id IN {}))"""
# Any one of the separators; each as its \xHH escape, which RE2 (DuckDB) and PostgreSQL's regexes both read.
_BREAK = "[" + "".join(f"\\x{ord(char):02x}" for char in WORD_SEPARATORS) + "]"
_WORD_BREAKS = str.maketrans(WORD_SEPARATORS, " " * len(WORD_SEPARATORS))


_GET = f"SELECT {LIST_COLUMNS}, t.metadata FROM threads t WHERE t.thread_id = $thread_id"


def like_pattern(text: str) -> str:
    """A substring ILIKE pattern with the user's own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_words(text: str) -> list[str]:
    """The lower-cased words of `text`, split where the search index splits message text."""
    return [word for word in text.lower().translate(_WORD_BREAKS).split(" ") if word]


def search_clause(text: str, engine) -> tuple[str, dict]:
    """The search filter for `text` and its parameters, with `engine`'s `matches_regex` (a template of
    `{text}` and `{pattern}`) and `narrows_phrases`."""
    params = {"pattern": like_pattern(text)}
    words = search_words(text)
    if not words:
        return f"({_TITLE} OR {_MESSAGE})", params
    broken_before = text[0] in WORD_SEPARATORS
    broken_after = text[-1] in WORD_SEPARATORS
    last = len(words) - 1
    # A word holds no LIKE wildcard or escape, nor any regular expression syntax: every ASCII punctuation
    # character is a word break.
    for index, word in enumerate(words):
        starts = "" if index > 0 or broken_before else "%"
        ends = "" if index < last or broken_after else "%"
        params[f"word{index}"] = f"{starts}{word}{ends}"
    if last == 0:
        word = engine.among_words.format(column="m.word_id", ids=_WORD_IDS.format("word0"))
        return f"({_TITLE} OR {_TERM.format(word=word)})", params
    if last == 1:
        first = engine.among_words.format(column="p.first_id", ids=_WORD_IDS.format("word0"))
        second = engine.among_words.format(column="p.second_id", ids=_WORD_IDS.format("word1"))
        return f"({_TITLE} OR {_PAIR.format(first=first, second=second)})", params
    params["words"] = (
        "(?i)"
        + (f"(?:^|{_BREAK})" if broken_before else "")
        + f"{_BREAK}+".join(words)
        + (f"(?:{_BREAK}|$)" if broken_after else "")
    )
    condition = engine.matches_regex.format(text="e.text", pattern="$words")
    if engine.narrows_phrases:
        ids = [_WORD_IDS.format(f"word{index}") for index in (0, 1, last - 1, last)]
        condition = f"{_NARROWED.format(*ids)} AND {condition}"
    return f"({_TITLE} OR {_RUN_OF_WORDS.format(condition)})", params


def order_by(order: str) -> str:
    parts = (order or "").split()
    if not parts or parts[0] not in ORDERS or len(parts) > 2:
        raise InvalidInput(f"order {order!r:.60} is not one of {', '.join(ORDERS)} (asc or desc)")
    direction = parts[1].lower() if len(parts) == 2 else "desc"
    if direction not in ("asc", "desc"):
        raise InvalidInput(f"order direction {direction!r:.20} is not asc or desc")
    return f"{ORDERS[parts[0]]} {direction.upper()} NULLS LAST, t.thread_id {direction.upper()}"


# The list's filters (`data_layer.filters`), in the order the conditions are written.
FILTERS: Table = {
    "search": search_clause,
    "assistant_id": "t.assistant_id = $assistant_id",
    "status": "t.thread_id IN (SELECT r.thread_id FROM runs r WHERE r.status = $status)",
    "model_name": "t.thread_id IN (SELECT r.thread_id FROM runs r WHERE r.model_name = $model_name)",
    "not_reviewed_by": """NOT EXISTS (SELECT 1 FROM feedback f
        WHERE f.thread_id = t.thread_id AND f.owner_id = $not_reviewed_by)""",
    "since": "t.last_activity_at >= $since",
    "until": "t.last_activity_at < $until",
    "has_negative": "t.negative > 0",
    "negative_user_feedback": "t.end_user_negative > 0",
    "negative_reviewer_feedback": "t.reviewer_negative > 0",
}


# The filters that join the threads with the runs or the votes, whose pages `Engine.row_id` speeds up (DuckDB
# reads a page of `threads` alone by row id first on its own; a search's page is as fast either way).
_JOINED = ("status", "model_name", "not_reviewed_by")


def _page(where: str, order: str, row_id: str | None) -> str:
    """One page of the list: in one pass, or ordered by row id first and then read whole (`Engine.row_id`)."""
    if row_id is None:
        return f"SELECT {LIST_COLUMNS} FROM threads t WHERE {where} ORDER BY {order} LIMIT $limit OFFSET $offset"
    return f"""
    WITH page AS MATERIALIZED (
        SELECT t.{row_id} AS row_id FROM threads t WHERE {where} ORDER BY {order} LIMIT $limit OFFSET $offset
    )
    SELECT {LIST_COLUMNS} FROM threads t WHERE t.{row_id} IN (SELECT row_id FROM page) ORDER BY {order}
    """


class ThreadRepo:
    def __init__(self, engine):
        self._engine = engine

    def get(self, thread_id) -> dict | None:
        if not isinstance(thread_id, str):
            return None
        with self._engine.read() as conn:
            return plain(conn.one(_GET, {"thread_id": thread_id}))

    def _where(self, filters) -> tuple[str, dict, bool]:
        """The conditions of `filters`, their parameters, and whether one of them is a join of `_JOINED`."""
        chosen = Filters.of(filters, takes=FILTERS, reader="the threads list")
        where, params = conditions(chosen, FILTERS, engine=self._engine)
        return where, params, any(getattr(chosen, name) not in (None, False) for name in _JOINED)

    def list(self, filters=None, *, order="updated_at desc", limit=50, offset=0) -> list[dict]:
        """One page of threads under `filters` (a `Filters` or its dict: `search`, `assistant_id`,
        `status`, `model_name`, `not_reviewed_by`, `since`/`until` of the last activity, `has_negative`,
        `negative_user_feedback` and `negative_reviewer_feedback` for a thumbs-down from that source),
        each with its run count, last activity and vote tallies: `positive`/`negative` over every source,
        and `end_user_positive`, `end_user_negative`, `reviewer_positive`, `reviewer_negative`."""
        where, params, joined = self._where(filters)
        params["limit"] = rules.integer(limit, "limit", low=1, high=10_000)
        params["offset"] = rules.integer(offset, "offset", high=2**62)
        sql = _page(where, order_by(order), self._engine.row_id if joined else None)
        with self._engine.stale_read() as conn:
            return plain_all(conn.all(sql, params))

    def count(self, filters=None) -> int:
        """How many threads `list` pages through under the same `filters`."""
        where, params, _ = self._where(filters)
        with self._engine.stale_read() as conn:
            return int(conn.scalar(f"SELECT count(*) FROM threads t WHERE {where}", params))

    def assistants(self) -> builtins.list[str]:
        """Every assistant id seen, for filter choices."""
        with self._engine.stale_read() as conn:
            rows = conn.all("SELECT DISTINCT assistant_id FROM runs WHERE assistant_id IS NOT NULL ORDER BY 1")
        return [row["assistant_id"] for row in rows]
