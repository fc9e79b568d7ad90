"""PostgreSQL's ways of filling the message-search index (data_layer/search_index.py): SQL statements that
split a message's words with `regexp_split_to_array` (restores, migrations), and, for an import, the same
rows worked out with Arrow and numpy (`postings`) and sent back by `COPY`.

Fills take turns under one transaction-scoped advisory lock, so that new ids never collide.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from data_layer import search_index
from data_layer.engines import SEPARATORS_SQL, SPACES_SQL, postings

# A message's words in order (empty pieces between separators dropped), and each word with the next.
_TOKENS = """
    SELECT s.thread_no,
           array_remove(regexp_split_to_array(translate(lower(e.text), {separators}, {spaces}), ' +'), '') AS words
    FROM {source} e JOIN {threads} s ON s.thread_id = e.thread_id
    WHERE e.category = 'message' AND e.text <> ''
    """
_PAIRS = """
    SELECT DISTINCT thread_no, unnest(words[:cardinality(words) - 1]) AS first_word, unnest(words[2:]) AS second_word
    FROM _search_tokens
    """
# Any lock key of our own: fills of the search index take turns, so that new ids never collide.
_LOCK = "SELECT pg_advisory_xact_lock(7410553002)"


def index_terms_sql(source: str) -> list[str]:
    """The statements adding the message events of table `source` to the search index."""
    tokens = _TOKENS.format(separators=SEPARATORS_SQL, spaces=SPACES_SQL, source=source, threads=search_index.THREADS)
    return [_LOCK, *search_index.fill_statements(source, tokens, _PAIRS)]


def index_terms(conn, source: str) -> None:
    """Add the message events of table `source` to the search index, inside the caller's transaction."""
    for statement in index_terms_sql(source):
        conn.execute(statement)


# Lower-cased by the server, as its SQL fill and its searches' regular expressions do.
_MESSAGES = f"""
    SELECT s.thread_no, lower(e.text) AS text
    FROM {{source}} e JOIN {search_index.THREADS} s ON s.thread_id = e.thread_id
    WHERE e.category = 'message' AND e.text <> ''
    """
_SEEN = "_search_words_seen"


def _table(conn, sql: str, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_batches(list(conn.arrow_batches(sql)), schema=schema)


def index_import(conn, source: str) -> None:
    """Add the message events of table `source` to the search index, inside the caller's transaction: the
    same rows as `index_terms`, worked out in Arrow and numpy over integers and loaded by `COPY`.

    The SQL fill unnests and groups strings on the server: 9 of the 11.5 s of an import of 10,000
    real-length records into an empty store (docs/benchmarks.md, "Importing real-length text").
    Only the lower-casing and the lookups of stored threads and words run on the server.
    """
    conn.execute(_LOCK)
    conn.execute("DROP TABLE IF EXISTS _search_new_threads")
    conn.execute(
        "CREATE TEMP TABLE _search_new_threads ON COMMIT DROP AS "
        + search_index.NEW_THREADS_SELECT.format(source=source)
    )
    messages = _table(
        conn, _MESSAGES.format(source=source), pa.schema([("thread_no", pa.int64()), ("text", pa.string())])
    )
    if messages.num_rows:
        rows = postings.postings(
            messages.column("text").combine_chunks(),
            messages.column("thread_no").to_numpy(),
            lambda words: _number(conn, words),
        )
        conn.execute(f"INSERT INTO search_threads (thread_no, thread_id) {search_index.NEW_THREADS}")
        conn.load("search_words", rows["_search_new_words"])
        conn.load("message_terms", rows["_search_terms"])
        conn.load("message_pairs", rows["_search_pairs"])
    conn.execute("DROP TABLE _search_new_threads")


def _number(conn, words: pa.Array) -> pa.Table:
    """`words` in their order with `word_id` and `fresh` (`search_index.ids_select` on the store); the words
    go to the server once by `COPY` and come back only as their positions."""
    conn.execute(f"DROP TABLE IF EXISTS {_SEEN}")
    conn.execute(f"CREATE TEMP TABLE {_SEEN} (i INTEGER NOT NULL, word TEXT NOT NULL) ON COMMIT DROP")
    conn.load(_SEEN, pa.table({"i": pa.array(np.arange(len(words), dtype=np.int32)), "word": words}))
    # The planner knows nothing of a new temporary table: without statistics it may probe word by word.
    conn.execute(f"ANALYZE {_SEEN}")
    numbered = search_index.ids_select(f"SELECT i, word FROM {_SEEN}")
    ids = _table(
        conn,
        f"SELECT i, word_id, fresh FROM ({numbered}) x ORDER BY i",
        pa.schema([("i", pa.int32()), ("word_id", pa.int64()), ("fresh", pa.bool_())]),
    )
    conn.execute(f"DROP TABLE {_SEEN}")
    return ids.append_column("word", words)
