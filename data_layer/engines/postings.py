"""The rows an import adds to the message-search index (data_layer/search_index.py), worked out with Arrow and
numpy over integers: the words of the lower-cased texts, their ids, and the postings sorted as the index
keeps them. Both engines use it for an import; each engine supplies the lower-cased texts, the thread
numbers and the lookup of word ids in its own store."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_layer.engines import WORD_SEPARATORS

_SEPARATOR = np.zeros(256, dtype=bool)
_SEPARATOR[[ord(char) for char in WORD_SEPARATORS]] = True


def words(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Every word of the non-empty `texts` in order, and the index of the text each comes from.

    The same words as the engines' SQL fill finds (`index_terms_sql`): the separators are ASCII and no
    byte of a UTF-8 character beyond ASCII is, so splitting the bytes is splitting the characters. No
    Python object per word is made: the words are the text bytes with the separators taken out, cut by
    offsets worked out with numpy.
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


def distinct_sorted(columns: list[np.ndarray], keep: np.ndarray | None = None) -> list[np.ndarray]:
    """The distinct rows of non-negative integer `columns` (only those where `keep`, when given), sorted
    by the first column, then the next."""
    bits = [max(1, int(column.max(initial=0)).bit_length()) for column in columns]
    if sum(bits) > 63:
        if keep is not None:
            columns = [column[keep] for column in columns]
        order = np.lexsort(columns[::-1])
        rows = [column[order] for column in columns]
        first = first_of_runs(rows)
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
    key = key[first_of_runs([key])]
    out = []
    for width in reversed(bits[1:]):
        out.append(key & ((1 << width) - 1))
        key >>= width
    return [key, *out[::-1]]


def first_of_runs(rows: list[np.ndarray]) -> np.ndarray:
    """Where sorted `rows` differ from the row before: the first of each run of equal rows."""
    first = np.zeros(len(rows[0]), dtype=bool)
    first[:1] = True
    for row in rows:
        first[1:] |= row[1:] != row[:-1]
    return first


def ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct `values` sorted, and each value's position among them."""
    distinct, position = np.unique(values, return_inverse=True)
    # int32 positions: the per-word arrays gathered through them are the import's largest.
    return distinct, position.astype(np.int32)


def empty() -> dict[str, pa.Table]:
    """The rows of no message: `_search_new_words`, `_search_terms` and `_search_pairs`, empty."""
    numbers = pa.array([], pa.int64())
    return {
        "_search_new_words": pa.table({"word_id": numbers, "word": pa.array([], pa.string())}),
        "_search_terms": pa.table({"word_id": numbers, "thread_no": numbers}),
        "_search_pairs": pa.table({"first_id": numbers, "second_id": numbers, "thread_no": numbers}),
    }


def postings(lowered: pa.Array, thread_of: np.ndarray, number: Callable[[pa.Array], pa.Table]) -> dict[str, pa.Table]:
    """The index rows of the lower-cased non-empty texts `lowered`, each in thread number `thread_of`:
    `_search_new_words` (word_id, word), `_search_terms` (word_id, thread_no) and `_search_pairs`
    (first_id, second_id, thread_no), the postings distinct and sorted.

    `number(words)` answers the distinct `words` in their order with `word_id` and `fresh` (a word the
    store lacks, numbered after its largest id): `search_index.ids_select` on the engine's store.
    """
    found, text_of = words(lowered)
    encoded = pc.dictionary_encode(found)
    del found
    ids = number(encoded.dictionary)
    word_id = ids.column("word_id").to_numpy()
    fresh = ids.filter(ids.column("fresh")).sort_by("word_id")
    sorted_ids, word_rank = ranks(word_id)
    sorted_threads, thread_rank = ranks(thread_of)
    # The index's columns are INTEGER: the postings, millions of rows, go out as 32-bit integers.
    sorted_ids, sorted_threads = sorted_ids.astype(np.int32), sorted_threads.astype(np.int32)
    token = word_rank[encoded.indices.to_numpy()]
    del encoded
    thread = thread_rank[text_of]
    same = text_of[1:] == text_of[:-1]
    # numpy sorts without the GIL: the terms on a thread of their own while this one sorts the pairs.
    with ThreadPoolExecutor(1) as pool:
        sorting = pool.submit(distinct_sorted, [token, thread])
        pairs = distinct_sorted([token[:-1], token[1:], thread[:-1]], keep=same)
        terms = sorting.result()
    return {
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
