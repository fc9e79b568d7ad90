"""The two ways each engine builds the message-search index give the same postings.

An import works the index out with Arrow and numpy (`engines/postings.py`: beside the writer on DuckDB,
`duck_search.compute`; in the writer's transaction on PostgreSQL, `pg_search.index_import`); a restore
or a migration fills it with SQL (`index_terms_sql`). Whatever way a message was indexed,
the words it is found by must be the same, on texts meant to catch the difference: separators at the
edges, runs of them, characters beyond ASCII and beyond the basic plane, a capital dotted I (which
Python lower-cases to two characters and DuckDB to one), texts with no word at all, and words that are
in the index already.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from data_layer import open_store
from data_layer.auth import SYSTEM
from data_layer.engines import WORD_SEPARATORS
from data_layer.engines.postings import distinct_sorted

_PIECES = ["invoice", "Invoice", "ÉCOLE", "école", "İstanbul", "信息过时，引用", "😀x", "a", "", "Данные", "ß", "v2"]


def _text(rng: random.Random) -> str:
    parts = [rng.choice(WORD_SEPARATORS) * rng.randint(0, 3)]
    for _ in range(rng.randint(0, 8)):
        parts += [rng.choice(_PIECES), rng.choice(WORD_SEPARATORS) * rng.randint(1, 2)]
    return "".join(parts)


def _records(rng: random.Random, threads: range) -> list[dict]:
    out = []
    for n in threads:
        thread_id = f"t{n:03d}"
        out += [
            {"kind": "thread", "thread_id": thread_id},
            {"kind": "run", "run_id": f"{thread_id}-r{n}", "thread_id": thread_id, "status": "success"},
        ]
        for seq in range(1, rng.randint(1, 5)):
            out.append(
                {
                    "kind": "event",
                    "thread_id": thread_id,
                    "run_id": f"{thread_id}-r{n}",
                    "seq": seq + 10 * n,
                    "event_type": "ai_message",
                    "content": {"type": "ai", "content": _text(rng)},
                }
            )
    return out


def _postings(store) -> tuple[set, set]:
    """The index as words and thread ids, so that the two ways may number them differently."""
    with store.engine.read() as conn:
        terms = conn.all(
            """SELECT w.word, s.thread_id FROM message_terms m
               JOIN search_words w USING (word_id) JOIN search_threads s USING (thread_no)"""
        )
        pairs = conn.all(
            """SELECT a.word, b.word, s.thread_id FROM message_pairs p
               JOIN search_words a ON a.word_id = p.first_id JOIN search_words b ON b.word_id = p.second_id
               JOIN search_threads s USING (thread_no)"""
        )
    return {tuple(row.values()) for row in terms}, {tuple(row.values()) for row in pairs}


@pytest.fixture
def second_url(request, store_url, tmp_path) -> str:
    """A second store on the same engine as `store_url`."""
    if store_url.endswith(".duckdb"):
        return str(tmp_path / "filled.duckdb")
    server = request.getfixturevalue("pg_server")
    url = server.create_database("filled")
    request.addfinalizer(lambda: server.drop_database(url))
    return url


def test_an_import_indexes_as_the_sql_fill_does(store_url, second_url):
    rng = random.Random(3)
    first, second = _records(rng, range(0, 30)), _records(rng, range(20, 60))
    with open_store(store_url) as imported:
        # Two imports: the second meets stored words and stored threads.
        assert imported.ingest(first, actor=SYSTEM).ok
        assert imported.ingest(second, actor=SYSTEM).ok
        by_import = _postings(imported)
        with imported.engine.read() as conn:
            ids = [row["word_id"] for row in conn.all("SELECT word_id FROM search_words")]
        assert len(set(ids)) == len(ids)
    with open_store(second_url) as filled:
        assert filled.ingest(first, actor=SYSTEM).ok
        assert filled.ingest(second, actor=SYSTEM).ok

        def refill(conn) -> None:
            for table in ("search_threads", "search_words", "message_terms", "message_pairs"):
                conn.execute(f"DELETE FROM {table}")
            filled.engine.index_terms(conn, "run_events")

        filled.engine.write(refill)
        by_sql = _postings(filled)
    assert by_import == by_sql
    terms, pairs = by_import
    assert {word for word, _ in terms} >= {"invoice", "école", "istanbul", "信息过时，引用", "😀x", "данные", "ß"}
    assert len(terms) > 100 and len(pairs) > 100


@pytest.mark.parametrize("high", [50, 2**40])
def test_distinct_rows_come_out_sorted_whether_or_not_they_pack_into_one_integer(high):
    rng = np.random.default_rng(5)
    columns = [rng.integers(0, high, 5_000), rng.integers(0, 3, 5_000), rng.integers(0, high, 5_000)]
    columns = [np.concatenate([column, column[:700]]) for column in columns]
    got = list(zip(*(column.tolist() for column in distinct_sorted(columns))))
    assert got == sorted(set(zip(*(column.tolist() for column in columns))))
