"""Message search through the search index (`data_layer/search_index.py`), on both engines.

Each search is compared with a brute-force reading of every text: the documented meaning (the search's
words one after another, any run of whitespace and punctuation between them one word break), which
also finds everything the old substring scan found.
"""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_layer import backup, integrity, open_store, threads
from data_layer.auth import SYSTEM
from data_layer.engines import WORD_SEPARATORS

TEXTS = {
    "t1": ["How do I export the Invoice?", "Open Billing, choose Export (CSV)."],
    "t2": ["The outdated pricing page says 40%.", "Reinvoice the customer_account today."],
    "t3": ["pricing is outdated", "信息过时，引用的是旧版本的文档。"],
    "t4": ["Look at https://tracker.example.invalid/x.png now", "Kubernetes pods restart"],
    "t5": [],
    "t6": ["The OUTDATED,  pricing page", "path C:\\temp\\a_b 100% done"],
    "t7": ["outdated\npricing\tpage. Kubernetes-pods   restart!", "v2.0.1 released; see 2.0"],
    "t8": ["...", "pricingoutdated", "e"],
    "t9": ["Invoice", "outdated pricing", "pricing page outdated pricing"],
}
TITLES = {"t5": "Invoice question from the title only", "t8": "Outdated, pricing in a title"}


def _records(texts: dict, titles: dict) -> list[dict]:
    out = []
    for thread_id, messages in texts.items():
        out.append({"kind": "thread", "thread_id": thread_id, "display_name": titles.get(thread_id)})
        out.append({"kind": "run", "run_id": f"{thread_id}-r", "thread_id": thread_id, "status": "success"})
        for seq, text in enumerate(messages, start=1):
            human = seq % 2 == 1
            out.append(
                {
                    "kind": "event",
                    "thread_id": thread_id,
                    "run_id": f"{thread_id}-r",
                    "seq": seq,
                    "event_type": "human_message" if human else "ai_message",
                    "content": {"type": "human" if human else "ai", "content": text},
                }
            )
    return out


def _records_with_lifecycle():
    # A lifecycle event is not a message: its text is neither indexed nor searched.
    lifecycle = {"kind": "event", "thread_id": "t5", "run_id": "t5-r", "seq": 9, "event_type": "run_start"}
    return [*_records(TEXTS, TITLES), dict(lifecycle, content="zebra outdated pricing")]


def _words(text: str) -> list[str]:
    return [w for w in "".join(" " if c in WORD_SEPARATORS else c for c in text.lower()).split(" ") if w]


def matches(query: str, text: str) -> bool:
    """The documented meaning of a search, from the text itself: no index, no SQL."""
    words = _words(query)
    if not words:
        return query.lower() in text.lower()
    needle = (" " if query[0] in WORD_SEPARATORS else "") + " ".join(words)
    needle += " " if query[-1] in WORD_SEPARATORS else ""
    return needle in " " + " ".join(_words(text)) + " "


def expected(query: str, texts: dict, titles: dict) -> set[str]:
    found = set()
    for thread_id, messages in texts.items():
        title = titles.get(thread_id) or (messages[0] if messages else "")
        if query.lower() in (title or "").lower() or any(matches(query, text) for text in messages):
            found.add(thread_id)
    return found


def substring_scan(query: str, texts: dict, titles: dict) -> set[str]:
    """What the old search returned: a case-insensitive substring of a title or a message text."""
    found = set()
    for thread_id, messages in texts.items():
        title = titles.get(thread_id) or (messages[0] if messages else "")
        if any(query.lower() in text.lower() for text in [title or "", *messages]):
            found.add(thread_id)
    return found


QUERIES = [
    "invoice",
    "INVOICE",
    "voic",
    "export",
    "outdated pricing",
    "OUTDATED PRICING",
    "outdated, pricing",
    "dated pric",
    "outdated pricing page",
    "the outdated pricing page",
    "pricing page outdated pricing",
    "pricing is",
    "pricing is outdated",
    " pricing is outdated",
    "pricing page outdated pricing.",
    "(page outdated pricing)",
    "40%",
    "100% done",
    "customer_account",
    "c:\\temp\\a_b",
    "_",
    "%",
    "tracker.example.invalid",
    "https://tracker.example.invalid/x.png now",
    "旧版本",
    "过时，引用",
    "zebra",
    "(csv)",
    "(CSV).",
    " invoice",
    "invoice ",
    "...",
    "e",
    "kubernetes pods restart",
    "outdated pricing page kubernetes pods restart",
    "OUTDATED pricing page: kubernetes pods restart v2 0",
    "kubernetes-pods",
    "2.0",
    "v2.0.1",
    "1 released",
    "absentword",
    "absent words here",
]


@pytest.fixture(scope="module")
def searched(module_store_url):
    with open_store(module_store_url) as store:
        assert store.ingest(_records_with_lifecycle(), actor=SYSTEM).ok
        yield store


@pytest.mark.parametrize("query", QUERIES)
def test_search_finds_the_threads_whose_messages_hold_the_words(searched, query):
    listed = {row["thread_id"] for row in searched.threads.list({"search": query}, limit=100)}
    assert listed == expected(query, TEXTS, TITLES)
    assert searched.threads.count({"search": query}) == len(listed)
    assert listed >= substring_scan(query, TEXTS, TITLES)


def test_the_widening_is_only_at_word_breaks(searched):
    # The substring scan missed these: a comma, two spaces, a newline between the words.
    assert substring_scan("outdated pricing", TEXTS, TITLES) == {"t2", "t9"}
    assert {row["thread_id"] for row in searched.threads.list({"search": "outdated pricing"})} == {
        "t2",
        "t6",
        "t7",
        "t9",
    }
    # Words glued together ("pricingoutdated"), or in another order, are not the words one after another;
    # titles are still matched as substrings only (t8's "Outdated, pricing").
    assert searched.threads.count({"search": "pricing outdated"}) == 0
    # A break at the edge of the search is a word edge: " invoice" starts a word ("Reinvoice" does not),
    # "invoice " ends one (and is in t5's title).
    assert {row["thread_id"] for row in searched.threads.list({"search": " invoice"})} == {"t1", "t9"}
    assert {row["thread_id"] for row in searched.threads.list({"search": "invoice "})} == {"t1", "t2", "t5", "t9"}


def test_search_with_filters_and_pages(searched):
    ordered = searched.threads.list({"search": "pricing"}, order="title asc", limit=2)
    rest = searched.threads.list({"search": "pricing"}, order="title asc", limit=2, offset=2)
    assert len(ordered) == 2 and not {r["thread_id"] for r in ordered} & {r["thread_id"] for r in rest}
    assert searched.threads.count({"search": "pricing", "has_negative": True}) == 0


_VOCABULARY = ("ab", "abc", "bc", "c", "ca", "b", "abab", "x1", "1", "É", "日本")
_BREAKS = (" ", "  ", ", ", ".", "\n", "-", "%", "_", "\\", "'", "(", ")")


def _random_text(rng: random.Random) -> str:
    parts = [rng.choice(_BREAKS) if rng.random() < 0.3 else ""]
    for index in range(rng.randint(1, 6)):
        if index:
            parts.append(rng.choice(_BREAKS) if rng.random() < 0.9 else "")
        parts.append(rng.choice(_VOCABULARY).upper() if rng.random() < 0.2 else rng.choice(_VOCABULARY))
    parts.append(rng.choice(_BREAKS) if rng.random() < 0.3 else "")
    return "".join(parts)


def test_random_texts_and_searches_agree_with_reading_every_text(store):
    rng = random.Random(7)
    texts = {f"r{n}": [_random_text(rng) for _ in range(rng.randint(1, 3))] for n in range(40)}
    titles = {thread_id: "title" for thread_id in texts}
    assert store.ingest(_records(texts, titles), actor=SYSTEM).ok
    queries = {_random_text(rng) for _ in range(60)} | {"ab ab", "b c", "a b", "bc ca ab", "c c c", "1 ab"}
    for query in sorted(queries):
        listed = {row["thread_id"] for row in store.threads.list({"search": query}, limit=100)}
        assert listed == expected(query, texts, titles), query
        assert listed >= substring_scan(query, texts, titles), query
        assert store.threads.count({"search": query}) == len(listed), query


def test_search_words_split_like_the_index():
    assert threads.search_words("Tracker.Example.invalid/X_y 40% 旧版本") == [
        "tracker",
        "example",
        "invalid",
        "x",
        "y",
        "40",
        "旧版本",
    ]
    assert threads.search_words("... %_") == []


def _index_rows(store) -> dict:
    with store.engine.read() as conn:
        return {
            table: conn.scalar(f"SELECT count(*) FROM {table}")
            for table in ("search_threads", "search_words", "message_terms", "message_pairs")
        }


def test_importing_twice_adds_no_index_rows(searched):
    before = _index_rows(searched)
    with searched.engine.read() as conn:
        distinct = conn.scalar("SELECT count(*) FROM (SELECT DISTINCT word_id, thread_no FROM message_terms) d")
        words = {
            row["word"]
            for row in conn.all(
                """SELECT w.word FROM message_terms m JOIN search_words w ON w.word_id = m.word_id
                JOIN search_threads s ON s.thread_no = m.thread_no WHERE s.thread_id = 't1'"""
            )
        }
        pairs = conn.all(
            """SELECT a.word AS first_word, b.word AS second_word FROM message_pairs p
            JOIN search_words a ON a.word_id = p.first_id JOIN search_words b ON b.word_id = p.second_id
            JOIN search_threads s ON s.thread_no = p.thread_no WHERE s.thread_id = 't3'"""
        )
    assert before["message_terms"] == distinct > 0
    assert words == {"how", "do", "i", "export", "the", "invoice", "open", "billing", "choose", "csv"}
    # No pair crosses from one message into the next.
    assert sorted((row["first_word"], row["second_word"]) for row in pairs) == [("is", "outdated"), ("pricing", "is")]
    assert searched.ingest(_records_with_lifecycle(), actor=SYSTEM).ok
    assert _index_rows(searched) == before
    assert integrity.check(searched) == {}


def test_new_messages_of_a_stored_thread_become_searchable(store):
    assert store.ingest(_records(TEXTS, TITLES), actor=SYSTEM).ok
    assert store.threads.count({"search": "quokka"}) == 0
    event = {"kind": "event", "thread_id": "t1", "run_id": "t1-r", "seq": 3, "event_type": "ai_message"}
    new_thread = [
        {"kind": "thread", "thread_id": "t10"},
        {"kind": "run", "run_id": "t10-r", "thread_id": "t10", "status": "success"},
        {**event, "thread_id": "t10", "run_id": "t10-r", "seq": 1, "content": "Brand-new pricing quokka!"},
    ]
    assert store.ingest([dict(event, content="A quokka appears, invoice in hand."), *new_thread], actor=SYSTEM).ok
    assert {row["thread_id"] for row in store.threads.list({"search": "quokka"})} == {"t1", "t10"}
    assert {row["thread_id"] for row in store.threads.list({"search": "quokka appears"})} == {"t1"}
    assert {row["thread_id"] for row in store.threads.list({"search": "new pricing quokka"})} == {"t10"}
    assert {row["thread_id"] for row in store.threads.list({"search": "invoice in hand"})} == {"t1"}
    assert integrity.check(store) == {}


def test_the_migration_indexes_messages_stored_before_it(db_path):
    with open_store(db_path) as store:
        assert store.ingest(_records(TEXTS, TITLES), actor=SYSTEM).ok

        def back_to_step_8(conn):
            for table in ("search_threads", "search_words", "message_terms", "message_pairs"):
                conn.execute(f"DROP TABLE {table}")
            conn.execute("CREATE TABLE message_terms (term TEXT NOT NULL, thread_id TEXT NOT NULL)")
            conn.execute("DELETE FROM schema_version WHERE version >= 9")

        store.engine.write(back_to_step_8)
    with open_store(db_path) as store:
        assert store.schema_version >= 9
        assert {row["thread_id"] for row in store.threads.list({"search": "outdated pricing"})} == {
            "t2",
            "t6",
            "t7",
            "t9",
        }
        assert store.threads.count({"search": "pricing"}) == 6
        assert integrity.check(store) == {}


def test_the_integrity_check_sees_a_thread_missing_from_the_index(store):
    assert store.ingest(_records(TEXTS, TITLES), actor=SYSTEM).ok
    store.engine.write(lambda conn: conn.execute("DELETE FROM search_threads WHERE thread_id = 't2'"))
    assert integrity.check(store) == {"message thread missing from the search index": 1}


def _searches(store) -> dict:
    return {
        query: store.threads.count({"search": query})
        for query in ("invoice", "outdated pricing", "pricing is outdated")
    }


def test_a_backup_restores_its_index_and_an_older_one_is_reindexed(store, tmp_path):
    assert store.ingest(_records(TEXTS, TITLES), actor=SYSTEM).ok
    found = _searches(store)
    assert found == {"invoice": 4, "outdated pricing": 4, "pricing is outdated": 1}
    backup.backup(store, tmp_path / "new")
    with open_store(str(tmp_path / "new.duckdb")) as copy:
        backup.restore(copy, tmp_path / "new")
        assert _index_rows(copy) == _index_rows(store)
        assert _searches(copy) == found
    # A backup from before step 9: the old word table, none of the new ones.
    backup.backup(store, tmp_path / "old")
    manifest = json.loads((tmp_path / "old" / backup.MANIFEST).read_text())
    for table in ("search_threads", "search_words", "message_pairs"):
        del manifest["counts"][table]
        (tmp_path / "old" / f"{table}.parquet").unlink()
    manifest["schema_version"] = 8
    pq.write_table(pa.table({"term": ["invoice"], "thread_id": ["t1"]}), tmp_path / "old" / "message_terms.parquet")
    manifest["counts"]["message_terms"] = 1
    (tmp_path / "old" / backup.MANIFEST).write_text(json.dumps(manifest))
    with open_store(str(tmp_path / "old.duckdb")) as copy:
        backup.restore(copy, tmp_path / "old")
        assert _searches(copy) == found
        assert integrity.check(copy) == {}
