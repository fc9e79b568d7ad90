"""DuckDB's ways of filling the message-search index (data_layer/search_index.py): SQL statements that
find a message's words by a regular expression (restores, migrations), and, for an import, the same rows
worked out with Arrow and numpy on a side connection beside the writer."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


_SOURCE = "_search_source"
_WORDS = "_search_words_seen"
_SEPARATOR = np.zeros(256, dtype=bool)
_SEPARATOR[[ord(char) for char in WORD_SEPARATORS]] = True


def _words(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Every word of the non-empty `texts` in order, and the index of the text each comes from.

    The same words as `_WORD` finds: the separators are ASCII and no byte of a UTF-8 character beyond
    ASCII is, so splitting the bytes is splitting the characters. No Python object per word is made:
    the words are the text bytes with the separators taken out, cut by offsets worked out with numpy.
    """
    texts = texts.cast(pa.large_string())
    offsets = np.frombuffer(texts.buffers()[1], np.int64)[texts.offset : texts.offset + len(texts) + 1]
    data = np.frombuffer(texts.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    offsets = offsets - offsets[0]
    inside = ~_SEPARATOR[data]
    # A word starts inside after a separator or at a text's start, and ends before a separator or the text's end.
    before = np.concatenate(([False], inside[:-1]))
    before[offsets[:-1]] = False
    after = np.concatenate((inside[1:], [False]))
    after[offsets[1:] - 1] = False
    starts = np.flatnonzero(inside & ~before)
    del before
    ends = np.flatnonzero(inside & ~after) + 1
    del after
    cuts = np.concatenate(([0], np.cumsum(ends - starts)))
    words = pa.LargeStringArray.from_buffers(len(starts), pa.py_buffer(cuts), pa.py_buffer(data[inside]))
    # Each text's first word by a search of its few offsets among the many starts, not the other way round.
    firsts = np.searchsorted(starts, offsets)
    return words, np.repeat(np.arange(len(texts), dtype=np.int32), np.diff(firsts))


def _distinct_sorted(columns: list[np.ndarray], keep: np.ndarray | None = None) -> list[np.ndarray]:
    """The distinct rows of non-negative integer `columns` (only those where `keep`, when given), sorted
    by the first column, then the next."""
    bits = [max(1, int(column.max(initial=0)).bit_length()) for column in columns]
    if sum(bits) > 63:
        if keep is not None:
            columns = [column[keep] for column in columns]
        order = np.lexsort(columns[::-1])
        rows = [column[order] for column in columns]
        first = _first_of_runs(rows)
        return [row[first] for row in rows]
    # Packed into one integer each, in place: the temporaries of three columns cost as much as the sort.
    key = columns[0].astype(np.int64)
    for column, width in zip(columns[1:], bits[1:]):
        key <<= width
        key |= column
    if keep is not None:
        key = key[keep]
    # Sorted and compared with the neighbour: numpy's np.unique hashes, 10 times slower here.
    key.sort()
    key = key[_first_of_runs([key])]
    out = []
    for width in reversed(bits[1:]):
        out.append(key & ((1 << width) - 1))
        key >>= width
    return [key, *out[::-1]]


def _first_of_runs(rows: list[np.ndarray]) -> np.ndarray:
    """Where sorted `rows` differ from the row before: the first of each run of equal rows."""
    first = np.zeros(len(rows[0]), dtype=bool)
    first[:1] = True
    for row in rows:
        first[1:] |= row[1:] != row[:-1]
    return first


def _ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct `values` sorted, and each value's position among them."""
    distinct, position = np.unique(values, return_inverse=True)
    # int32 positions: the per-word arrays gathered through them are the import's largest.
    return distinct, position.astype(np.int32)


def _empty() -> dict[str, pa.Table]:
    numbers = pa.array([], pa.int64())
    return {
        "_search_new_threads": pa.table({"thread_no": numbers, "thread_id": pa.array([], pa.string())}),
        "_search_new_words": pa.table({"word_id": numbers, "word": pa.array([], pa.string())}),
        "_search_terms": pa.table({"word_id": numbers, "thread_no": numbers}),
        "_search_pairs": pa.table({"first_id": numbers, "second_id": numbers, "thread_no": numbers}),
    }


def compute(read: Callable[[], AbstractContextManager[DuckConn]], messages: pa.Table) -> dict[str, pa.Table]:
    """The search-index rows of `messages` (thread_id, category, text; non-empty message texts only),
    worked out on a connection `read()`: the rows `search_index.store_statements` adds.

    Only the lower-casing and the lookups in the index run in SQL; splitting the words, numbering them
    and the postings are Arrow and numpy over integers, sorted by packed integer keys. The SQL way
    (`index_terms_sql`) grouped strings: 11 s for the 8.8 million words of 100,000 real-length records.
    """
    if not messages.num_rows:
        return _empty()
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
        words, text_of = _words(lowered.column("text").combine_chunks())
        del lowered
        encoded = pc.dictionary_encode(words)
        seen = pa.table({"i": pa.array(np.arange(len(encoded.dictionary))), "word": encoded.dictionary})
        cursor.register(_WORDS, seen)
        try:
            numbered = search_index.ids_select(f"SELECT i, word FROM {_WORDS}")
            ids = cursor.sql(f"{numbered} ORDER BY n.i").to_arrow_table()
        finally:
            cursor.unregister(_WORDS)
    word_id = ids.column("word_id").to_numpy()
    fresh = ids.filter(ids.column("fresh")).sort_by("word_id")
    sorted_ids, word_rank = _ranks(word_id)
    sorted_threads, thread_rank = _ranks(thread_of)
    # The index's columns are INTEGER: the postings, millions of rows, go out as 32-bit integers.
    sorted_ids, sorted_threads = sorted_ids.astype(np.int32), sorted_threads.astype(np.int32)
    token = word_rank[encoded.indices.to_numpy()]
    del encoded, words
    thread = thread_rank[text_of]
    same = text_of[1:] == text_of[:-1]
    # numpy sorts without the GIL: the terms on a thread of their own while this one sorts the pairs.
    with ThreadPoolExecutor(1) as pool:
        sorting = pool.submit(_distinct_sorted, [token, thread])
        pairs = _distinct_sorted([token[:-1], token[1:], thread[:-1]], keep=same)
        terms = sorting.result()
    return {
        "_search_new_threads": new_threads.select(["thread_no", "thread_id"]),
        "_search_new_words": pa.table({"word_id": fresh.column("word_id"), "word": fresh.column("word")}),
        "_search_terms": pa.table({"word_id": sorted_ids[terms[0]], "thread_no": sorted_threads[terms[1]]}),
        "_search_pairs": pa.table(
            {
                "first_id": sorted_ids[pairs[0]],
                "second_id": sorted_ids[pairs[1]],
                "thread_no": sorted_threads[pairs[2]],
            }
        ),
    }
