"""Import: validation naming every bad line, atomicity, idempotence, formats, follow-ups, deer-flow."""

from __future__ import annotations

import codecs
import gzip
import json
import sqlite3
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_layer import demo, errors, rules, stats
from data_layer.auth import SYSTEM

GOOD = [
    {"kind": "thread", "thread_id": "th", "assistant_id": "lead_agent", "display_name": "Hello"},
    {
        "kind": "run",
        "run_id": "ra",
        "thread_id": "th",
        "status": "success",
        "created_at": "2026-10-01T08:00:00Z",
        "model_name": "m",
    },
    {"kind": "event", "thread_id": "th", "run_id": "ra", "seq": 1, "event_type": "human_message", "content": "hi"},
    {
        "kind": "event",
        "thread_id": "th",
        "run_id": "ra",
        "seq": 2,
        "event_type": "ai_message",
        "content": {"type": "ai", "content": "hello!", "id": "ai-1"},
    },
    {"kind": "feedback", "thread_id": "th", "run_id": "ra", "rating": 1, "user_id": "u1", "comment": "nice"},
]


def write_jsonl(path, records):
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n")
    return path


def snapshot(store) -> dict:
    overview = stats.overview(store)
    return {key: overview[key] for key in ("threads", "runs", "events", "votes", "positive")}


def test_good_file_imports_every_kind(store, tmp_path):
    report = store.import_file(write_jsonl(tmp_path / "good.jsonl", GOOD), actor=SYSTEM)
    assert report.ok, report.summary()
    assert report.counts == {"thread": 1, "run": 1, "event": 2, "feedback": 1}
    assert snapshot(store) == {"threads": 1, "runs": 1, "events": 2, "votes": 1, "positive": 1}
    (feedback,) = store.feedback.list_by_thread("th", actor=SYSTEM)
    assert (feedback["owner_id"], feedback["source"], feedback["comment"]) == ("u1", "end_user", "nice")


def test_bad_lines_are_each_reported_and_nothing_is_stored(store, tmp_path):
    store.ingest(GOOD, actor=SYSTEM)
    before = snapshot(store)
    lines = [
        json.dumps({"kind": "thread", "thread_id": "new-thread"}),  # 1: fine
        '{"kind": "run", "run_id": "x", ',  # 2: malformed JSON
        json.dumps({"kind": "comment", "text": "?"}),  # 3: unknown kind
        json.dumps({"kind": "event", "thread_id": "th", "run_id": "ra", "event_type": "x"}),  # 4: no seq
        json.dumps({"kind": "run", "run_id": "r9", "thread_id": "th", "total_tokens": "12"}),  # 5: wrong type
        "",  # 6: blank, skipped
        json.dumps({"kind": "feedback", "thread_id": "th", "run_id": "ra", "rating": 5}),  # 7: bad rating
        json.dumps({"kind": "feedback", "thread_id": "th", "run_id": "ghost", "rating": 1}),  # 8: no such run
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = store.import_file(path, actor=SYSTEM)
    assert not report.ok
    by_line = {error["line"]: error["error"] for error in report.errors}
    assert sorted(by_line) == [2, 3, 4, 5, 7, 8]
    assert "malformed JSON" in by_line[2]
    assert "unknown kind 'comment'" in by_line[3]
    assert "missing required field seq" in by_line[4]
    assert "total_tokens must be an integer" in by_line[5]
    assert "rating must be 1 or -1" in by_line[7]
    assert "run ghost which is neither in this file nor in the database" in by_line[8]
    assert snapshot(store) == before
    assert store.threads.get("new-thread") is None
    assert "line 2:" in report.summary()


def test_reimporting_the_same_file_gives_the_same_counts_and_rows(store, tmp_path):
    path = write_jsonl(tmp_path / "demo.jsonl", demo.generate(threads=30, seed=3))
    first = store.import_file(path, actor=SYSTEM)
    rows_after_first = snapshot(store)
    threads_first = store.threads.list(limit=100, order="created_at asc")
    second = store.import_file(path, actor=SYSTEM)
    assert first.ok and second.ok
    assert first.counts == second.counts
    assert snapshot(store) == rows_after_first
    assert store.threads.list(limit=100, order="created_at asc") == threads_first


def test_records_may_arrive_in_any_order(store):
    report = store.ingest(list(reversed(GOOD)), actor=SYSTEM)
    assert report.ok, report.summary()
    messages = store.events.list_messages("th")
    assert [message["seq"] for message in messages] == [1, 2]
    assert store.feedback.aggregate_by_run("th", "ra", actor=SYSTEM)["positive"] == 1


def test_message_ids_come_from_the_dump_or_thread_and_seq(store):
    store.ingest(GOOD, actor=SYSTEM)
    human, ai = store.events.list_messages("th")
    assert (human["role"], human["message_id"], human["content"]) == ("human", "th:1", "hi")
    assert (ai["role"], ai["message_id"], ai["content"]) == ("ai", "ai-1", "hello!")


def test_old_and_new_event_names_and_langchain_dumps(store):
    records = [
        {"kind": "run", "run_id": "r", "thread_id": "t", "status": "success"},
        {
            "kind": "event",
            "thread_id": "t",
            "run_id": "r",
            "seq": 1,
            "event_type": "llm.human.input",
            "content": json.dumps({"type": "human", "content": "q?", "id": "h"}),
        },
        {
            "kind": "event",
            "thread_id": "t",
            "run_id": "r",
            "seq": 2,
            "event_type": "ai_tool_call",
            "content": {
                "lc": 1,
                "type": "constructor",
                "id": ["langchain", "schema", "messages", "AIMessage"],
                "kwargs": {
                    "content": "",
                    "id": "call-msg",
                    "tool_calls": [{"name": "web_search", "args": {"q": "x"}, "id": "c1"}],
                },
            },
        },
        {
            "kind": "event",
            "thread_id": "t",
            "run_id": "r",
            "seq": 3,
            "event_type": "llm.tool.result",
            "content": {"type": "tool", "content": "result text", "tool_call_id": "c1", "name": "web_search"},
        },
        {
            "kind": "event",
            "thread_id": "t",
            "run_id": "r",
            "seq": 4,
            "event_type": "llm.ai.response",
            "content": {
                "type": "ai",
                "content": [{"type": "text", "text": "part 1"}, {"type": "text", "text": "part 2"}],
            },
        },
        {"kind": "event", "thread_id": "t", "run_id": "r", "seq": 5, "event_type": "run.end", "content": "done"},
        {"kind": "event", "thread_id": "t", "run_id": "r", "seq": 6, "event_type": "middleware:title", "content": "x"},
    ]
    assert store.ingest(records, actor=SYSTEM).ok
    messages = store.events.list_messages("t")
    assert [m["role"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1]["tool_calls"] == [{"id": "c1", "name": "web_search", "args": {"q": "x"}}]
    assert messages[1]["message_id"] == "call-msg"
    assert (messages[2]["tool_call_id"], messages[2]["name"]) == ("c1", "web_search")
    assert messages[3]["content"] == "part 1\npart 2"
    assert messages[3]["message_id"] == "t:4"
    categories = [event["category"] for event in store.events.list("t")]
    assert categories == ["message"] * 4 + ["lifecycle", "middleware"]
    run = store.runs.get("r")
    assert (run["message_count"], run["first_human_message"], run["last_ai_message"]) == (4, "q?", "part 1\npart 2")


def test_follow_up_is_detected_after_a_successful_run_only(store):
    records = [
        {"kind": "run", "run_id": "r3", "thread_id": "t", "status": "success", "created_at": "2026-01-01T03:00:00Z"},
        {"kind": "run", "run_id": "r1", "thread_id": "t", "status": "success", "created_at": "2026-01-01T01:00:00Z"},
        {"kind": "run", "run_id": "r2", "thread_id": "t", "status": "error", "created_at": "2026-01-01T02:00:00Z"},
        {
            "kind": "run",
            "run_id": "r4",
            "thread_id": "t",
            "status": "success",
            "created_at": "2026-01-01T04:00:00Z",
            "follow_up_to_run_id": "r1",
        },
    ]
    assert store.ingest(records, actor=SYSTEM).ok
    links = {
        run["run_id"]: (run["follow_up_to_run_id"], run["follow_up_detected"]) for run in store.runs.list_by_thread("t")
    }
    assert links == {"r1": (None, False), "r2": ("r1", True), "r3": (None, False), "r4": ("r1", False)}
    assert [run["run_id"] for run in store.runs.list_by_thread("t")] == ["r1", "r2", "r3", "r4"]
    # A run arriving later, between r3 and r4, is linked in a later import too.
    assert store.ingest(
        [{"kind": "run", "run_id": "r5", "thread_id": "t", "status": "success", "created_at": "2026-01-01T05:00:00Z"}],
        actor=SYSTEM,
    ).ok
    assert store.runs.get("r5")["follow_up_to_run_id"] == "r4"


def test_a_later_vote_of_the_same_owner_replaces_the_earlier_one(store):
    store.ingest(GOOD, actor=SYSTEM)
    (first,) = store.feedback.list_by_run("th", "ra", actor=SYSTEM)
    report = store.ingest(
        [
            {
                "kind": "feedback",
                "thread_id": "th",
                "run_id": "ra",
                "rating": -1,
                "owner_id": "u1",
                "tags": ["slow"],
                "created_at": "2026-10-02T00:00:00Z",
            }
        ],
        actor=SYSTEM,
    )
    assert report.ok, report.summary()
    (only,) = store.feedback.list_by_run("th", "ra", actor=SYSTEM)
    assert only["feedback_id"] == first["feedback_id"]
    assert (only["rating"], only["tags"]) == (-1, ["slow"])


def test_two_votes_of_one_owner_in_one_file_keep_the_newest(store):
    records = GOOD[:2] + [
        {
            "kind": "feedback",
            "thread_id": "th",
            "run_id": "ra",
            "rating": 1,
            "owner_id": "u1",
            "created_at": "2026-10-03T00:00:00Z",
        },
        {
            "kind": "feedback",
            "thread_id": "th",
            "run_id": "ra",
            "rating": -1,
            "owner_id": "u1",
            "created_at": "2026-10-02T00:00:00Z",
        },
    ]
    assert store.ingest(records, actor=SYSTEM).ok
    assert store.feedback.aggregate_by_run("th", "ra", actor=SYSTEM) == {
        "run_id": "ra",
        "total": 1,
        "positive": 1,
        "negative": 0,
    }


def _second_run() -> dict:
    return {"kind": "run", "run_id": "rb", "thread_id": "th", "status": "success", "created_at": "2026-10-01T09:00:00Z"}


@pytest.mark.parametrize("fast", [True, False], ids=["fast-reader", "record-path"])
def test_a_named_vote_id_stored_for_another_run_is_refused(store, tmp_path, fast):
    named = {"kind": "feedback", "thread_id": "th", "run_id": "ra", "rating": 1, "owner_id": "u2", "feedback_id": "v-1"}
    assert store.ingest([*GOOD, _second_run(), named], actor=SYSTEM).ok
    before = store.feedback.list_by_thread("th", actor=SYSTEM)
    moved = [{**named, "run_id": "rb", "rating": -1}]
    report = (
        store.import_file(write_jsonl(tmp_path / "moved.jsonl", moved), actor=SYSTEM)
        if fast
        else store.ingest(moved, actor=SYSTEM)
    )
    assert not report.ok
    assert report.errors == [{"line": 1, "error": "feedback v-1 is stored for another run, owner or message"}]
    assert store.feedback.list_by_thread("th", actor=SYSTEM) == before


def test_a_derived_vote_id_taken_by_a_named_one_fails_the_import_and_changes_nothing(store, tmp_path):
    # The id a vote without one gets is derived from the vote: a file that named it on another run first
    # makes the later vote's insert fail on the id's key.
    vote = {"kind": "feedback", "thread_id": "th", "run_id": "ra", "rating": 1, "owner_id": "u2"}
    key = json.dumps(["th", "ra", "u2", None, 1, None, None])
    derived = str(uuid.uuid5(rules.FEEDBACK_NAMESPACE, key))
    assert store.ingest([*GOOD, _second_run(), {**vote, "run_id": "rb", "feedback_id": derived}], actor=SYSTEM).ok
    before = store.feedback.list_by_thread("th", actor=SYSTEM)
    with pytest.raises(errors.Conflict, match=derived):
        store.import_file(write_jsonl(tmp_path / "derived.jsonl", [vote]), actor=SYSTEM)
    assert store.feedback.list_by_thread("th", actor=SYSTEM) == before


def test_feedback_must_name_a_message_of_its_run(store):
    report = store.ingest(
        GOOD
        + [
            {
                "kind": "feedback",
                "thread_id": "th",
                "run_id": "ra",
                "rating": 1,
                "owner_id": "u2",
                "message_id": "ghost-msg",
            }
        ],
        actor=SYSTEM,
    )
    assert not report.ok
    assert report.errors == [{"line": 6, "error": "feedback names message ghost-msg which is not a message of run ra"}]


def test_event_must_agree_with_its_runs_thread(store):
    report = store.ingest(
        GOOD
        + [
            {
                "kind": "event",
                "thread_id": "elsewhere",
                "run_id": "ra",
                "seq": 9,
                "event_type": "ai_message",
                "content": "x",
            }
        ],
        actor=SYSTEM,
    )
    assert not report.ok
    assert "belongs to thread th" in report.errors[0]["error"]


@pytest.mark.parametrize(
    "record, message",
    [
        ({"kind": "event", "thread_id": "th", "run_id": "ra", "seq": -1, "event_type": "x"}, "seq -1 is out of range"),
        ({"kind": "event", "thread_id": "th", "run_id": "ra", "seq": 2**63, "event_type": "x"}, "out of range"),
        (
            {"kind": "event", "thread_id": "th", "run_id": "ra", "seq": 3, "event_type": "x", "content": "a\x00b"},
            "content contains a NUL byte",
        ),
        (
            {
                "kind": "event",
                "thread_id": "th",
                "run_id": "ra",
                "seq": 3,
                "event_type": "x",
                "content": "x" * 1_000_001,
            },
            "content is too long",
        ),
        ({"kind": "run", "run_id": "r'; DROP TABLE runs;--", "thread_id": "th"}, "run_id"),
        ({"kind": "run", "run_id": "a/b", "thread_id": "th"}, "run_id"),
        ({"kind": "run", "run_id": "rz", "thread_id": "th", "created_at": "9999-01-01T00:00:00Z"}, "out of range"),
        ({"kind": "run", "run_id": "rz", "thread_id": "th", "created_at": "yesterday"}, "not an ISO-8601"),
        ({"kind": "run", "run_id": "rz", "thread_id": "th", "status": "exploded"}, "status 'exploded'"),
        ({"kind": "thread", "thread_id": "tz", "metadata": [1, 2]}, "metadata must be a JSON object"),
        ({"kind": "feedback", "thread_id": "th", "run_id": "ra", "rating": 1, "tags": ["rude"]}, "unknown tag"),
    ],
)
def test_hostile_records_are_named_and_change_nothing(store, record, message):
    assert store.ingest(GOOD, actor=SYSTEM).ok
    before = snapshot(store)
    report = store.ingest([record], actor=SYSTEM)
    assert not report.ok
    assert report.errors[0]["line"] == 1
    assert message in report.errors[0]["error"]
    assert snapshot(store) == before


def test_unreadable_lines_are_named(store, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(
        b'{"kind": "thread", "thread_id": "ok"}\n'
        b'{"kind": "thread", "thread_id": "\xff\xfe"}\n'
        b'{"kind": "thread", "thread_id": "a", "thread_id": "b"}\n' + deep.encode() + b"\n"
        b'{"kind": "thread", "thread_id": "x", "metadata": ' + b'{"a":' * 40 + b"1" + b"}" * 40 + b"}\n"
    )
    report = store.import_file(path, actor=SYSTEM)
    by_line = {error["line"]: error["error"] for error in report.errors}
    assert "invalid UTF-8" in by_line[2]
    assert "duplicate key 'thread_id'" in by_line[3]
    assert "nested too deeply" in by_line[4] or "must be a JSON object" in by_line[4]
    assert "nested deeper than 32 levels" in by_line[5]
    assert snapshot(store)["threads"] == 0


def test_gzip_json_and_parquet_files(store, tmp_path):
    gz = tmp_path / "part.jsonl.gz"
    with gzip.open(gz, "wt") as stream:
        stream.write("\n".join(json.dumps(r) for r in GOOD[:3]))
    assert store.import_file(gz, actor=SYSTEM).counts == {"thread": 1, "run": 1, "event": 1, "feedback": 0}
    array = tmp_path / "rest.json"
    array.write_text(json.dumps(GOOD[3:]))
    assert store.import_file(array, actor=SYSTEM).ok
    parquet = tmp_path / "more.parquet"
    table = pa.table(
        {
            "kind": ["run", "event"],
            "run_id": ["rb", "rb"],
            "thread_id": ["th", "th"],
            "status": ["error", None],
            "seq": [None, 3],
            "event_type": [None, "human_message"],
            "content": [None, json.dumps({"type": "human", "content": "from parquet", "id": "pq-1"})],
        }
    )
    pq.write_table(table, parquet)
    report = store.import_file(parquet, actor=SYSTEM)
    assert report.ok, report.summary()
    assert store.runs.get("rb")["status"] == "error"
    assert store.events.list_messages("th", run_id="rb")[0]["content"] == "from parquet"
    assert snapshot(store) == {"threads": 1, "runs": 2, "events": 3, "votes": 1, "positive": 1}


def test_unknown_file_type_is_refused(store, tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("kind\nthread\n")
    with pytest.raises(ValueError, match="unknown file type"):
        store.import_file(path, actor=SYSTEM)


def make_deerflow_db(path) -> None:
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE threads_meta (thread_id TEXT PRIMARY KEY, assistant_id TEXT, user_id TEXT, display_name TEXT,
            status TEXT, metadata TEXT, created_at TEXT, updated_at TEXT);
        CREATE TABLE runs (run_id TEXT PRIMARY KEY, thread_id TEXT, assistant_id TEXT, user_id TEXT, status TEXT,
            model_name TEXT, error TEXT, total_tokens INTEGER, follow_up_to_run_id TEXT, metadata TEXT,
            created_at TEXT, updated_at TEXT);
        CREATE TABLE run_events (id INTEGER PRIMARY KEY, thread_id TEXT, run_id TEXT, event_type TEXT,
            category TEXT, content TEXT, metadata TEXT, seq INTEGER, created_at TEXT);
        CREATE TABLE feedback (feedback_id TEXT PRIMARY KEY, run_id TEXT, thread_id TEXT, user_id TEXT,
            message_id TEXT, rating INTEGER, comment TEXT, created_at TEXT);
        INSERT INTO threads_meta VALUES ('dt1', 'lead_agent', 'u1', 'Weather', 'idle', '{"a": 1}',
            '2026-09-01 10:00:00', '2026-09-01 10:05:00');
        INSERT INTO runs VALUES ('dr1', 'dt1', 'lead_agent', 'u1', 'success', 'gpt', NULL, 120, NULL, '{}',
            '2026-09-01 10:00:00', '2026-09-01 10:00:30');
        INSERT INTO runs VALUES ('dr2', 'dt1', 'lead_agent', 'u1', 'success', 'gpt', NULL, 80, NULL, NULL,
            '2026-09-01 10:04:00', '2026-09-01 10:04:30');
        INSERT INTO run_events VALUES (1, 'dt1', 'dr1', 'human_message', 'message',
            '{"type": "human", "content": "Weather in Paris?", "id": "m1"}', NULL, 1, '2026-09-01 10:00:01');
        INSERT INTO run_events VALUES (2, 'dt1', 'dr1', 'ai_message', 'message',
            '{"type": "ai", "content": "Sunny.", "id": "m2"}', NULL, 2, '2026-09-01 10:00:20');
        INSERT INTO run_events VALUES (3, 'dt1', 'dr1', 'run_end', 'lifecycle', '', NULL, 3, '2026-09-01 10:00:30');
        INSERT INTO feedback VALUES ('f-1', 'dr1', 'dt1', 'u1', 'm2', 1, 'good', '2026-09-01 10:01:00');
        INSERT INTO feedback VALUES ('f-2', 'dr2', 'dt1', 'u1', NULL, -1, NULL, '2026-09-01 10:06:00');
        """
    )
    db.commit()
    db.close()


def test_import_deerflow_sqlite(store, tmp_path):
    path = tmp_path / "deerflow.db"
    make_deerflow_db(path)
    report = store.import_deerflow(path, actor=SYSTEM)
    assert report.ok, report.summary()
    assert report.counts == {"thread": 1, "run": 2, "event": 3, "feedback": 2}
    assert store.threads.get("dt1")["metadata"] == {"a": 1}
    assert store.runs.get("dr2")["follow_up_to_run_id"] == "dr1"
    feedback = store.feedback.get("f-1", actor=SYSTEM)
    assert (feedback["message_id"], feedback["owner_id"], feedback["source"]) == ("m2", "u1", "end_user")
    assert store.import_deerflow(path, actor=SYSTEM).counts == report.counts
    assert snapshot(store) == {"threads": 1, "runs": 2, "events": 3, "votes": 2, "positive": 1}


def test_import_deerflow_refuses_what_is_not_its_database(store, tmp_path):
    with pytest.raises(ValueError, match="no such deer-flow database"):
        store.import_deerflow(tmp_path / "missing.db", actor=SYSTEM)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValueError, match="not a SQLite database"):
        store.import_deerflow(junk, actor=SYSTEM)


def test_demo_data_is_deterministic_and_rich(store):
    from datetime import date

    first = demo.generate(threads=40, seed=11, anchor=date(2026, 11, 1))
    assert first == demo.generate(threads=40, seed=11, anchor=date(2026, 11, 1))
    assert first != demo.generate(threads=40, seed=12, anchor=date(2026, 11, 1))
    assert store.ingest(first, actor=SYSTEM).ok
    runs = [record for record in first if record["kind"] == "run"]
    assert {run["status"] for run in runs} >= {"success", "error"}
    assert len({run["model_name"] for run in runs}) >= 3
    assert len({run["assistant_id"] for run in runs}) == 3
    votes = [record for record in first if record["kind"] == "feedback"]
    assert {vote["source"] for vote in votes} == {"reviewer", "end_user"}
    assert any(vote["tags"] for vote in votes) and any(vote["comment"] for vote in votes)
    assert any(
        run["follow_up_to_run_id"]
        for run in store.runs.list_by_thread(runs[-1]["thread_id"])
        + [r for t in {run["thread_id"] for run in runs} for r in store.runs.list_by_thread(t)]
    )
    contents = [json.dumps(r.get("content")) for r in first if r["kind"] == "event"]
    assert any("```python" in content for content in contents)


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_a_file_starting_with_a_byte_order_mark_imports(store, tmp_path, suffix):
    records = [{"kind": "thread", "thread_id": "bom1"}, {"kind": "run", "run_id": "bom1r", "thread_id": "bom1"}]
    path = tmp_path / f"bom{suffix}"
    text = "\n".join(json.dumps(record) for record in records) if suffix == ".jsonl" else json.dumps(records)
    path.write_bytes(codecs.BOM_UTF8 + text.encode())
    report = store.import_file(path, actor=SYSTEM)
    assert report.ok, report.summary()
    assert report.counts == {"thread": 1, "run": 1, "event": 0, "feedback": 0}
    assert store.runs.get("bom1r")["thread_id"] == "bom1"
