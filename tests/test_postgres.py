"""PostgreSQL as the store: same answers as DuckDB, errors mapped, connections and transactions done right.

The rest of the data-layer suite already runs on both engines through the `store` fixture; these
tests cover what only a server brings: credentials, a pool shared by threads, several processes
migrating and writing at once, retried serialization failures, temporary tables on pooled connections.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from datetime import date

import psycopg
import pytest

import data_layer
from data_layer import demo, open_store
from data_layer.auth import SYSTEM
from data_layer.engines import pg
from data_layer.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from tests.conftest import ROOT
from tests.pg_server import PASSWORD

pytestmark = pytest.mark.postgres

ANCHOR = date(2026, 11, 20)


@pytest.fixture
def closed_port():
    """A loopback port this test holds bound and never listens on: a connection to it is refused, even while
    other test processes start servers on free ports."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _bad_urls(pg_server, pg_url, closed_port) -> dict[str, str]:
    database = pg_url.rsplit("/", 1)[1]
    return {
        "wrong port": pg_server.url(database, port=closed_port),
        "wrong password": pg_server.url(database, password="not-the-password"),
        "missing database": pg_server.url("no_such_database"),
    }


EXPECTED = {
    "wrong port": "cannot reach PostgreSQL at 127.0.0.1:",
    "wrong password": "refused the credentials of user postgres",
    "missing database": "PostgreSQL database 'no_such_database' does not exist",
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_bad_connection_settings_are_one_clear_line_without_the_password(pg_server, pg_url, closed_port, case):
    url = _bad_urls(pg_server, pg_url, closed_port)[case]
    with pytest.raises(StoreUnavailable) as raised:
        open_store(url)
    message = str(raised.value)
    assert EXPECTED[case] in message
    assert "\n" not in message
    assert PASSWORD not in message and "not-the-password" not in message


def test_cli_reports_bad_connection_settings_in_one_line(pg_server, pg_url, closed_port):
    for case, url in _bad_urls(pg_server, pg_url, closed_port).items():
        done = subprocess.run(
            [sys.executable, "-m", "data_layer", "stats", "--db", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1, case
        assert done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, (case, done.stderr)
        assert lines[0].startswith("error: ") and EXPECTED[case] in lines[0]
        assert PASSWORD not in done.stderr and "not-the-password" not in done.stderr


def test_page_shows_bad_connection_settings_clearly(
    pg_server, pg_url, closed_port, monkeypatch, fresh_streamlit_caches
):
    from streamlit.testing.v1 import AppTest

    for case, url in _bad_urls(pg_server, pg_url, closed_port).items():
        monkeypatch.setenv("FEEDBACK_DB", url)
        data_layer.release_shared()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        at.run()
        assert not at.exception, case
        shown = [element.value for element in at.error]
        assert len(shown) == 1 and EXPECTED[case] in shown[0], (case, shown)
        assert PASSWORD not in shown[0] and "not-the-password" not in shown[0]


def test_store_url_hides_the_password(pg_url):
    with open_store(pg_url) as store:
        assert PASSWORD not in store.url
        assert store.url.startswith("postgresql://postgres:***@127.0.0.1:")


def test_both_engines_return_the_same_values(db_path, pg_url):
    """One SQL text per query: the same records in, the same plain dicts out, on either engine."""
    records = demo.generate(threads=25, seed=3, anchor=ANCHOR)
    answers = []
    for url in (db_path, pg_url):
        with open_store(url) as store:
            assert store.ingest(records, actor=SYSTEM).ok
            threads = store.threads.list(limit=100)
            first = threads[0]["thread_id"]
            runs = store.runs.list_by_thread(first)
            answers.append(
                {
                    "threads": threads,
                    "count": store.threads.count({"search": "the", "has_negative": True}),
                    "runs": runs,
                    "messages": [{k: v for k, v in m.items() if k != "id"} for m in store.events.list(first)],
                    "feedback": store.feedback.list_by_thread(first, actor=SYSTEM),
                    "stats": store.feedback.aggregate_by_run(first, runs[0]["run_id"], actor=SYSTEM),
                    "assistants": store.threads.assistants(),
                    "models": store.runs.models(),
                }
            )
    duck, postgres = answers
    assert postgres["threads"] and postgres["runs"] and postgres["messages"]
    for key in duck:
        assert postgres[key] == duck[key], key


def test_message_search_has_trigram_indexes(pg_url):
    with open_store(pg_url) as store:
        assert store.ingest(demo.generate(threads=10, seed=2, anchor=ANCHOR), actor=SYSTEM).ok
        with store.engine.read() as conn:
            indexes = {row["indexname"] for row in conn.all("SELECT indexname FROM pg_indexes")}
            conn.execute("SET enable_seqscan = off")
            plan = " ".join(
                row["QUERY PLAN"]
                for row in conn.all(
                    "EXPLAIN SELECT thread_id FROM run_events WHERE category = 'message' AND text ILIKE $p",
                    {"p": "%kyoto%"},
                )
            )
        assert {"run_events_text_trgm", "threads_title_trgm"} <= indexes
        assert "run_events_text_trgm" in plan
        assert store.threads.count({"search": "e"}) > 0


def test_unique_violation_is_conflict_and_rolls_back(pg_url):
    with open_store(pg_url) as store:

        def twice(conn):
            conn.execute("INSERT INTO schema_version (version, name) VALUES (900, 'a')")
            conn.execute("INSERT INTO schema_version (version, name) VALUES (900, 'b')")

        with pytest.raises(Conflict):
            store.engine.write(twice)
        with store.engine.read() as conn:
            assert conn.scalar("SELECT count(*) FROM schema_version WHERE version = 900") == 0


def test_check_violation_is_invalid_input(pg_url):
    with open_store(pg_url) as store:
        with pytest.raises(InvalidInput):
            store.engine.write(
                lambda conn: conn.execute(
                    """INSERT INTO feedback (feedback_id, thread_id, run_id, scope, rating, tags, source,
                                             created_at, updated_at)
                       VALUES ('f', 't', 'r', '', 5, CAST($tags AS TEXT[]), 'reviewer', now(), now())""",
                    {"tags": []},
                )
            )


_RAISE = "DO $$ BEGIN RAISE EXCEPTION 'simulated by the server' USING ERRCODE = '{code}'; END $$"


@pytest.mark.parametrize("code", ["40001", "40P01"], ids=["serialization_failure", "deadlock"])
def test_serialization_failures_and_deadlocks_are_retried_then_conflict(pg_url, code):
    with open_store(pg_url) as store:
        attempts = []

        def flaky(conn):
            attempts.append(1)
            conn.execute("INSERT INTO schema_version (version, name) VALUES ($v, 'x')", {"v": 900 + len(attempts)})
            if len(attempts) < 3:
                conn.execute(_RAISE.format(code=code))
            return "done"

        assert store.engine.write(flaky) == "done"
        assert len(attempts) == 3
        with store.engine.read() as conn:
            # the failed attempts were rolled back; only the third one's row is there
            assert conn.all("SELECT version FROM schema_version WHERE version > 899") == [{"version": 903}]

        always = []

        def hopeless(conn):
            always.append(1)
            conn.execute(_RAISE.format(code=code))

        with pytest.raises(Conflict):
            store.engine.write(hopeless)
        assert len(always) == pg._RETRIES


def test_statement_timeout_is_a_clear_error(pg_url, monkeypatch):
    monkeypatch.setattr(pg, "STATEMENT_TIMEOUT_MS", 200)
    with open_store(pg_url) as store:
        with pytest.raises(StoreUnavailable, match="took too long"):
            with store.engine.read() as conn:
                conn.execute("SELECT pg_sleep(2)")
        with store.engine.read() as conn:
            assert conn.scalar("SELECT current_setting('TimeZone')") == "UTC"


def test_import_leaves_no_temporary_tables_on_pooled_connections(pg_url):
    with open_store(pg_url) as store:
        bad = store.ingest([{"kind": "run", "run_id": "r", "thread_id": "t", "status": "exploded"}], actor=SYSTEM)
        assert not bad.ok
        good = store.ingest(demo.generate(threads=5, seed=1, anchor=ANCHOR), actor=SYSTEM)
        assert good.ok and good.counts["thread"] == 5
        again = store.ingest(demo.generate(threads=5, seed=1, anchor=ANCHOR), actor=SYSTEM)
        assert again.ok
        with psycopg.connect(pg_url) as admin:
            leftover = admin.execute("SELECT relname FROM pg_class WHERE relpersistence = 't'").fetchall()
        assert leftover == []
        assert store.threads.count() == 5


def test_processes_starting_together_migrate_once(pg_url):
    """Replicas starting at once on an empty database: one migrates, the others wait, none fails."""
    errors, versions = [], []

    def start():
        try:
            with open_store(pg_url) as store:
                versions.append(store.schema_version)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(versions)) == 1
    with psycopg.connect(pg_url) as admin:
        applied = admin.execute("SELECT version, count(*) FROM schema_version GROUP BY version").fetchall()
    assert all(count == 1 for _, count in applied)


def test_concurrent_votes_from_two_pools_keep_one_vote_per_target(pg_url):
    """Two stores (two pools, as two replicas hold) and many threads voting on the same targets."""
    with open_store(pg_url) as first, open_store(pg_url) as second:
        assert first.ingest(demo.generate(threads=3, seed=5, anchor=ANCHOR), actor=SYSTEM).ok
        thread = first.threads.list(limit=1)[0]["thread_id"]
        run = first.runs.list_by_thread(thread)[0]["run_id"]
        failures, creates = [], []

        def vote(store, worker):
            try:
                for step in range(15):
                    owner = f"rev-{step % 3}"
                    store.feedback.upsert(
                        thread_id=thread,
                        run_id=run,
                        owner_id=owner,
                        rating=1 if (worker + step) % 2 else -1,
                        actor=SYSTEM,
                    )
                    try:
                        store.feedback.create(thread_id=thread, run_id=run, owner_id="racer", rating=1, actor=SYSTEM)
                        creates.append(worker)
                    except Conflict:
                        pass
            except Exception as error:  # noqa: BLE001 - collected and asserted below
                failures.append(error)

        workers = [threading.Thread(target=vote, args=(first if i % 2 else second, i)) for i in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert failures == []
        assert len(creates) == 1
        votes = first.feedback.list_by_run(thread, run, actor=SYSTEM)
        ours = sorted(vote["owner_id"] for vote in votes if (vote["owner_id"] or "").startswith(("racer", "rev-")))
        assert ours == ["racer", "rev-0", "rev-1", "rev-2"]
        tally = second.threads.get(thread)
        stored = first.feedback.list_by_thread(thread, actor=SYSTEM)
        assert tally["positive"] == sum(vote["rating"] == 1 for vote in stored)
        assert tally["negative"] == sum(vote["rating"] == -1 for vote in stored)


def test_missing_thread_is_not_found_on_postgres(pg_url):
    with open_store(pg_url) as store:
        with pytest.raises(NotFound):
            store.feedback.upsert(thread_id="t", run_id="nope", owner_id="ana", rating=1, actor=SYSTEM)


_UPSTREAM = """
CREATE TABLE threads_meta (thread_id TEXT PRIMARY KEY, assistant_id TEXT, user_id TEXT, display_name TEXT,
    status TEXT, metadata JSONB, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, thread_id TEXT, assistant_id TEXT, user_id TEXT, status TEXT,
    model_name TEXT, error TEXT, total_tokens INTEGER, follow_up_to_run_id TEXT, metadata JSONB,
    created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ);
CREATE TABLE run_events (id BIGSERIAL PRIMARY KEY, thread_id TEXT, run_id TEXT, event_type TEXT,
    category TEXT, content TEXT, metadata JSONB, seq INTEGER, created_at TIMESTAMPTZ, UNIQUE (thread_id, seq));
CREATE TABLE feedback (feedback_id TEXT PRIMARY KEY, run_id TEXT, thread_id TEXT, user_id TEXT,
    message_id TEXT, rating INTEGER, comment TEXT, created_at TIMESTAMPTZ);
INSERT INTO threads_meta VALUES ('dt1', 'lead_agent', 'u1', 'Weather', 'idle', '{"a": 1}',
    '2026-09-01 10:00:00+00', '2026-09-01 10:05:00+00');
INSERT INTO runs VALUES ('dr1', 'dt1', 'lead_agent', 'u1', 'success', 'gpt', NULL, 120, NULL, '{}',
    '2026-09-01 10:00:00+00', '2026-09-01 10:00:30+00');
INSERT INTO run_events (thread_id, run_id, event_type, category, content, seq, created_at) VALUES
    ('dt1', 'dr1', 'human_message', 'message', '{"type": "human", "content": "Weather in Paris?", "id": "m1"}', 1,
     '2026-09-01 10:00:01+00'),
    ('dt1', 'dr1', 'ai_message', 'message', '{"type": "ai", "content": "Sunny.", "id": "m2"}', 2,
     '2026-09-01 10:00:20+00');
INSERT INTO feedback VALUES ('f-1', 'dr1', 'dt1', 'u1', 'm2', 1, 'good', '2026-09-01 10:01:00+00');
"""

_MORE = """
UPDATE threads_meta SET display_name = 'Weather, Paris', updated_at = '2026-09-01 11:00:00+00';
INSERT INTO runs VALUES ('dr2', 'dt1', 'lead_agent', 'u1', 'success', 'gpt', NULL, 80, NULL, NULL,
    '2026-09-01 10:04:00+00', '2026-09-01 10:04:30+00');
INSERT INTO run_events (thread_id, run_id, event_type, category, content, seq, created_at) VALUES
    ('dt1', 'dr2', 'llm.human.input', 'message', 'And tomorrow?', 3, '2026-09-01 10:04:01+00');
INSERT INTO feedback VALUES ('f-2', 'dr2', 'dt1', 'u1', NULL, -1, NULL, '2026-09-01 10:06:00+00');
"""


@pytest.fixture
def upstream(pg_server):
    """A deer-flow gateway's own PostgreSQL database, on the same test server."""
    url = pg_server.create_database("upstream")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_UPSTREAM)
    yield url
    pg_server.drop_database(url)


def test_import_deerflow_from_postgres_is_incremental(store, upstream):
    first = store.import_deerflow(upstream, actor=SYSTEM)
    assert first.ok, first.summary()
    assert first.counts == {"thread": 1, "run": 1, "event": 2, "feedback": 1}
    assert store.threads.get("dt1")["metadata"] == {"a": 1}
    vote = store.feedback.get("f-1", actor=SYSTEM)
    assert (vote["message_id"], vote["owner_id"], vote["source"], vote["rating"]) == ("m2", "u1", "end_user", 1)

    again = store.import_deerflow(upstream, actor=SYSTEM)
    assert again.ok and again.counts == {"thread": 0, "run": 0, "event": 0, "feedback": 0}

    with psycopg.connect(upstream, autocommit=True) as conn:
        conn.execute(_MORE)
    third = store.import_deerflow(upstream, actor=SYSTEM)
    assert third.ok, third.summary()
    assert third.counts == {"thread": 1, "run": 1, "event": 1, "feedback": 1}
    thread = store.threads.get("dt1")
    assert (thread["display_name"], thread["run_count"], thread["positive"], thread["negative"]) == (
        "Weather, Paris",
        2,
        1,
        1,
    )
    assert store.runs.get("dr2")["follow_up_to_run_id"] == "dr1"
    assert [m["content"] for m in store.events.list_messages("dt1")] == ["Weather in Paris?", "Sunny.", "And tomorrow?"]
    with store.engine.read() as conn:
        sources = {row["source"] for row in conn.all("SELECT source FROM import_marks")}
    assert len(sources) == 1 and PASSWORD not in sources.pop()


def test_import_deerflow_cli_from_postgres_names_no_password(pg_url, upstream):
    command = [sys.executable, "-m", "data_layer", "import-deerflow", upstream, "--db", pg_url]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "imported 1 threads, 1 runs, 2 events, 1 feedbacks" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "imported 0 threads, 0 runs, 0 events, 0 feedbacks" in again.stdout


def test_import_deerflow_from_unreachable_postgres_is_one_clear_error(store, pg_server):
    with pytest.raises(StoreUnavailable, match="deer-flow source: PostgreSQL database 'nope' does not exist"):
        store.import_deerflow(pg_server.url("nope"), actor=SYSTEM)
