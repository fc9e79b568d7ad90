"""DuckDB's statements of the message-search index (data_layer/search_index.py): a message's words by a
regular expression, and the words of an import worked out on a side connection beside the writer."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pyarrow as pa

from data_layer import search_index
from data_layer.engines import WORD_SEPARATORS
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


def _computed(pairs: str) -> dict[str, str]:
    """What the side connection hands back to the writer: the rows `search_index.store_statements` adds."""
    return {
        "_search_new_threads": search_index.NEW_THREADS,
        "_search_new_words": search_index.NEW_WORDS,
        "_search_terms": search_index.TERMS,
        "_search_pairs": search_index.pairs_select(pairs),
    }


_SOURCE = "_search_source"


def compute(read: Callable[[], AbstractContextManager[DuckConn]], messages: pa.Table) -> dict[str, pa.Table]:
    """The search-index rows of `messages` (thread_id, category, text), worked out on a connection `read()`."""
    with read() as side:
        side.cursor.register(_SOURCE, messages)
        for statement in search_index.compute_statements(_SOURCE, _TOKENS.format(source=_SOURCE)):
            side.execute(statement)
        return {name: side.cursor.sql(sql).to_arrow_table() for name, sql in _computed(_PAIRS).items()}
