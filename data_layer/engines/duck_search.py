"""DuckDB's ways of filling the message-search index (data_layer/search_index.py): SQL statements that
find a message's words by a regular expression (restores, migrations), and, for an import, the same rows
worked out with Arrow and numpy on a side connection beside the writer."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np
import pyarrow as pa

from data_layer import search_index
from data_layer.engines import WORD_SEPARATORS, postings
from data_layer.engines.duck_conn import DuckConn

# A message's words in order, and each word with the next. The words are the runs of characters other
# than the separators, each written as an escape in the regular expression's class (`translate` to
# spaces and a split, the PostgreSQL way, took 1.7 times as long).
_WORD = "[^" + "".join(f"\\x{ord(char):02x}" for char in WORD_SEPARATORS) + "]+"
_TOKENS = f"""
    SELECT s.thread_no, regexp_extract_all(lower(e.text), '{_WORD}') AS words
    FROM {{source}} e JOIN {search_index.THREADS} s ON s.thread_id = e.thread_id
    WHERE e.category = 'message' AND e.text <> ''
    """
_PAIRS = """
    SELECT DISTINCT thread_no, unnest(words[1:-2]) AS first_word, unnest(words[2:]) AS second_word
    FROM _search_tokens
    """


def index_terms_sql(source: str) -> list[str]:
    """The statements adding the message events of table `source` to the search index."""
    tokens = _TOKENS.format(source=source)
    return search_index.fill_statements(source, tokens, _PAIRS)


def index_terms(conn, source: str) -> None:
    """Add the message events of table `source` to the search index, inside the caller's transaction."""
    for statement in index_terms_sql(source):
        conn.execute(statement)


_SOURCE = "_search_source"
_WORDS = "_search_words_seen"


def compute(read: Callable[[], AbstractContextManager[DuckConn]], messages: pa.Table) -> dict[str, pa.Table]:
    """The search-index rows of `messages` (thread_id, category, text; non-empty message texts only),
    worked out on a connection `read()`: the rows `search_index.store_statements` adds.

    Only the lower-casing and the lookups in the index run in SQL; splitting the words, numbering them
    and the postings are `postings.postings`, Arrow and numpy over integers. The SQL way
    (`index_terms_sql`) grouped strings: 11 s for the 8.8 million words of 100,000 real-length records.
    """
    new_threads = pa.table({"thread_no": pa.array([], pa.int64()), "thread_id": pa.array([], pa.string())})
    if not messages.num_rows:
        return {"_search_new_threads": new_threads, **postings.empty()}
    messages = messages.append_column("message_no", pa.array(np.arange(messages.num_rows)))
    with read() as side:
        cursor = side.cursor
        cursor.register(_SOURCE, messages)
        try:
            new_threads = cursor.sql(search_index.NEW_THREADS_SELECT.format(source=_SOURCE)).to_arrow_table()
            cursor.register("_search_new_threads", new_threads)
            try:
                thread_of = cursor.sql(
                    f"SELECT s.thread_no FROM {_SOURCE} e JOIN {search_index.THREADS} s USING (thread_id) "
                    "ORDER BY e.message_no"
                ).fetchnumpy()["thread_no"]
            finally:
                cursor.unregister("_search_new_threads")
            lowered = cursor.sql(f"SELECT lower(text) AS text FROM {_SOURCE} ORDER BY message_no").to_arrow_table()
        finally:
            cursor.unregister(_SOURCE)

        def number(words: pa.Array) -> pa.Table:
            cursor.register(_WORDS, pa.table({"i": pa.array(np.arange(len(words))), "word": words}))
            try:
                numbered = search_index.ids_select(f"SELECT i, word FROM {_WORDS}")
                return cursor.sql(f"{numbered} ORDER BY n.i").to_arrow_table()
            finally:
                cursor.unregister(_WORDS)

        rows = postings.postings(lowered.column("text").combine_chunks(), thread_of, number)
    return {"_search_new_threads": new_threads.select(["thread_no", "thread_id"]), **rows}
