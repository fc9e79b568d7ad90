"""Message search through the `message_terms` index: the same threads as a substring scan, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from data_layer import open_store, threads

ANCHOR = datetime(2026, 11, 1, 18, 0, tzinfo=UTC)
TEXTS = {
    "t1": ["How do I export the Invoice?", "Open Billing, choose Export (CSV)."],
    "t2": ["The outdated pricing page says 40%.", "Reinvoice the customer_account today."],
    "t3": ["pricing is outdated", "信息过时，引用的是旧版本的文档。"],
    "t4": ["Look at https://tracker.example.invalid/x.png now", "Kubernetes pods restart"],
    "t5": [],
}
TITLES = {"t5": "Invoice question from the title only"}


def _records():
    out = []
    for thread_id, texts in TEXTS.items():
        out.append({"kind": "thread", "thread_id": thread_id, "display_name": TITLES.get(thread_id)})
        out.append({"kind": "run", "run_id": f"{thread_id}-r", "thread_id": thread_id, "status": "success"})
        for seq, text in enumerate(texts, start=1):
            kind = "human_message" if seq % 2 else "ai_message"
            out.append(
                {
                    "kind": "event",
                    "thread_id": thread_id,
                    "run_id": f"{thread_id}-r",
                    "seq": seq,
                    "event_type": kind,
                    "content": {"type": "human" if seq % 2 else "ai", "content": text},
                }
            )
    # A lifecycle event is not a message: its text is neither indexed nor searched.
    out.append(
        {"kind": "event", "thread_id": "t5", "run_id": "t5-r", "seq": 9, "event_type": "run_start", "content": "zebra"}
    )
    return out


def _expected(query: str) -> set[str]:
    """Case-insensitive substring of a title or a message text: what an ILIKE scan of every text returns."""
    needle = query.lower()
    found = set()
    for thread_id, texts in TEXTS.items():
        title = TITLES.get(thread_id) or (texts[0] if texts else "")
        if needle in title.lower() or any(needle in text.lower() for text in texts):
            found.add(thread_id)
    return found


QUERIES = [
    "invoice",
    "INVOICE",
    "voic",
    "export",
    "outdated pricing",
    "pricing is",
    "40%",
    "customer_account",
    "_",
    "tracker.example.invalid",
    "旧版本",
    "过时，引用",
    "zebra",
    "(csv)",
    "...",
    "e",
    "kubernetes pods restart",
    "absentword",
]


@pytest.fixture(scope="module")
def searched(module_store_url):
    with open_store(module_store_url) as store:
        assert store.ingest(_records()).ok
        yield store


@pytest.mark.parametrize("query", QUERIES)
def test_search_finds_the_same_threads_as_a_substring_scan(searched, query):
    listed = {row["thread_id"] for row in searched.threads.list(search=query, limit=100)}
    assert listed == _expected(query)
    assert searched.threads.count(search=query) == len(listed)


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


def test_importing_twice_adds_no_index_rows(searched):
    with searched.engine.read() as conn:
        before = conn.scalar("SELECT count(*) FROM message_terms")
        pairs = conn.scalar("SELECT count(*) FROM (SELECT DISTINCT term, thread_id FROM message_terms) d")
    assert before == pairs > 0
    assert searched.ingest(_records()).ok
    with searched.engine.read() as conn:
        assert conn.scalar("SELECT count(*) FROM message_terms") == before
        words = {row["term"] for row in conn.all("SELECT term FROM message_terms WHERE thread_id = 't1'")}
    assert words == {"how", "do", "i", "export", "the", "invoice", "open", "billing", "choose", "csv"}


def test_new_messages_of_a_stored_thread_become_searchable(store):
    assert store.ingest(_records()).ok
    assert store.threads.count(search="quokka") == 0
    event = {"kind": "event", "thread_id": "t1", "run_id": "t1-r", "seq": 3, "event_type": "ai_message"}
    assert store.ingest([dict(event, content="A quokka appears.")]).ok
    assert [row["thread_id"] for row in store.threads.list(search="quokka")] == ["t1"]


def test_the_migration_indexes_messages_stored_before_it(db_path):
    with open_store(db_path) as store:
        assert store.ingest(_records()).ok

        def forget(conn):
            conn.execute("DROP TABLE message_terms")
            conn.execute("DELETE FROM schema_version WHERE version >= 7")

        store.engine.write(forget)
    with open_store(db_path) as store:
        assert store.schema_version >= 7
        assert {row["thread_id"] for row in store.threads.list(search="outdated pricing")} == {"t2"}
        assert store.threads.count(search="pricing") == 2
