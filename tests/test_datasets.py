"""Evaluation datasets from reviewed runs: what a snapshot holds for each verdict rule, its JSONL, Parquet
and card read back with `json` and `pyarrow` (and `datasets` when installed), a correction as `ideal`,
versions that never change, and refusals that store nothing; on DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from data_layer import backup, datasets, open_store
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Forbidden, InvalidInput, NotFound
from data_layer.queues import QueueSpec
from tests.conftest import ROOT

LEAD = Actor("lee", "lead")
RUBRIC = [{"name": "factual", "kind": "binary"}, {"name": "helpfulness", "kind": "ordinal"}]


def event(thread: str, run: str, seq: int, event_type: str, content) -> dict:
    return {
        "kind": "event",
        "thread_id": thread,
        "run_id": run,
        "seq": seq,
        "event_type": event_type,
        "content": content,
    }


def conversation() -> list[dict]:
    """Three threads: t1 with a system summary, a tool call and its result before r1's answer, and a
    follow-up run r2; t2 with r3; t3 with r4 (assistant a1 but t2's a2)."""
    records = [
        {"kind": "thread", "thread_id": "t1", "assistant_id": "a1"},
        {"kind": "thread", "thread_id": "t2", "assistant_id": "a2"},
        {"kind": "thread", "thread_id": "t3", "assistant_id": "a1"},
    ]
    for run, thread, assistant, day in (("r1", "t1", "a1", 1), ("r2", "t1", "a1", 2), ("r3", "t2", "a2", 3)):
        records.append(
            {
                "kind": "run",
                "run_id": run,
                "thread_id": thread,
                "assistant_id": assistant,
                "model_name": "m1",
                "status": "success",
                "created_at": f"2026-11-0{day}T10:00:00Z",
            }
        )
    records.append(
        {
            "kind": "run",
            "run_id": "r4",
            "thread_id": "t3",
            "assistant_id": "a1",
            "model_name": "m2",
            "status": "success",
            "created_at": "2026-11-04T10:00:00Z",
        }
    )
    records += [
        event("t1", "r1", 1, "summary", "You plan trips."),
        event("t1", "r1", 2, "human_message", {"type": "human", "content": "Trains to Lyon?", "id": "h1"}),
        event(
            "t1",
            "r1",
            3,
            "ai_tool_call",
            {
                "type": "ai",
                "content": "",
                "id": "c1",
                "tool_calls": [{"id": "call1", "name": "search", "args": {"q": "Lyon"}}],
            },
        ),
        event(
            "t1",
            "r1",
            4,
            "tool_result",
            {"type": "tool", "content": "8:00, 9:00", "tool_call_id": "call1", "name": "search"},
        ),
        event("t1", "r1", 5, "ai_message", {"type": "ai", "content": "At 8:00 and 9:00.", "id": "a1m"}),
        event("t1", "r1", 6, "run_end", "done"),
        event("t1", "r2", 7, "human_message", {"type": "human", "content": "And on Sunday?", "id": "h2"}),
        event("t1", "r2", 8, "ai_message", {"type": "ai", "content": "None on Sunday.", "id": "a2m"}),
        event("t2", "r3", 1, "human_message", {"type": "human", "content": "Weather?", "id": "h3"}),
        event("t2", "r3", 2, "ai_message", {"type": "ai", "content": "Sunny.", "id": "a3m"}),
        event("t3", "r4", 1, "human_message", {"type": "human", "content": "Hotels?", "id": "h4"}),
        event("t3", "r4", 2, "ai_message", {"type": "ai", "content": "Two near the station.", "id": "a4m"}),
    ]
    return records


def vote(store, run: str, thread: str, owner: str, rating: int, **extra) -> dict:
    return store.feedback.upsert(thread_id=thread, run_id=run, rating=rating, owner_id=owner, actor=SYSTEM, **extra)


@pytest.fixture
def reviewed(store):
    """r1 good (two up, with scores), r2 bad with a correction, r3 split and adjudicated good, r4 good with
    an end user's thumbs-down."""
    assert store.ingest(conversation(), actor=SYSTEM).ok
    store.queues.create(QueueSpec("q", sample_rate=1.0, reviewers_per_item=2, rubric=RUBRIC), actor=SYSTEM)
    vote(store, "r1", "t1", "alice", 1, comment="Clear.", scores={"factual": True, "helpfulness": 4})
    vote(store, "r1", "t1", "bob", 1)
    vote(store, "r2", "t1", "alice", -1, tags=["incorrect"], comment="Trains run on Sunday.")
    vote(store, "r2", "t1", "bob", -1, tags=["incorrect", "other"], correction="Sunday: 10:00 and 18:00.")
    vote(store, "r3", "t2", "alice", 1)
    vote(store, "r3", "t2", "bob", -1)
    store.queues.adjudicate("q", "r3", verdict="good", note="Sunny it was.", actor=LEAD)
    vote(store, "r4", "t3", "alice", 1)
    vote(store, "r4", "t3", "carol", 1)
    vote(store, "r4", "t3", "eu1", -1, source="end_user")
    return store


def read(store, name: str, version: int) -> tuple[list[dict], object, str]:
    jsonl = b"".join(datasets.content(store, name, version, "jsonl", actor=SYSTEM))
    parquet = b"".join(datasets.content(store, name, version, "parquet", actor=SYSTEM))
    card = b"".join(datasets.content(store, name, version, "card", actor=SYSTEM)).decode()
    rows = [json.loads(line) for line in jsonl.decode().splitlines()]
    return rows, pq.read_table(io.BytesIO(parquet)), card


def test_good_runs_of_a_filter_as_jsonl_parquet_and_card(reviewed):
    made = datasets.create(reviewed, "trips", verdict="good", filters={"assistant_id": "a1"}, actor=LEAD)
    assert (made["name"], made["version"], made["items"], made["created_by"]) == ("trips", 1, 2, "lee")
    assert made["counts"] == {
        "items": 2,
        "good": 2,
        "bad": 0,
        "disputed": 0,
        "no_verdict": 0,
        "corrected": 0,
        "adjudicated": 0,
    }
    rows, table, card = read(reviewed, "trips", 1)
    assert [(row["run_id"], row["verdict"], row["verdict_by"]) for row in rows] == [
        ("r1", "good", "reviewers"),
        ("r4", "good", "reviewers"),
    ]
    first = rows[0]
    assert first["messages"] == [
        {"role": "system", "content": "You plan trips."},
        {"role": "user", "content": "Trains to Lyon?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call1", "type": "function", "function": {"name": "search", "arguments": '{"q": "Lyon"}'}}
            ],
        },
        {"role": "tool", "content": "8:00, 9:00", "tool_call_id": "call1", "name": "search"},
    ]
    assert first["answer"] == first["ideal"] == "At 8:00 and 9:00."
    assert (first["reviewer_good"], first["reviewer_bad"], first["comments"]) == (2, 0, ["Clear."])
    alice = next(review for review in first["reviews"] if review["reviewer"] == "alice")
    assert alice["scores"] == {"factual": True, "helpfulness": 4}
    assert [review["source"] for review in rows[1]["reviews"]] == ["reviewer", "reviewer", "end_user"]
    assert table.num_rows == 2 and table.column("run_id").to_pylist() == ["r1", "r4"]
    assert table.column("verdict").to_pylist() == ["good", "good"]
    assert table.column("messages").to_pylist()[0][3]["tool_call_id"] == "call1"
    scored = [r["scores"] for r in table.column("reviews").to_pylist()[0] if r["reviewer"] == "alice"]
    assert scored == [[{"criterion": "factual", "value": "yes"}, {"criterion": "helpfulness", "value": "4"}]]
    assert "verdict rule: `good`" in card and '"assistant_id": "a1"' in card and "| 2 | 2 | 0 |" in card
    assert "license: null" in card and "## Licence" in card
    sha = hashlib.sha256(b"".join(datasets.content(reviewed, "trips", 1, "parquet", actor=SYSTEM))).hexdigest()
    assert made["files"]["parquet"]["sha256"] == sha and sha in card


def test_a_correction_is_the_ideal_and_the_later_conversation_is_kept(reviewed):
    datasets.create(reviewed, "fixes", verdict="corrected", actor=LEAD)
    rows, table, _ = read(reviewed, "fixes", 1)
    assert [row["run_id"] for row in rows] == ["r2"]
    (row,) = rows
    assert (row["verdict"], row["ideal"], row["correction"]) == ("bad", "Sunday: 10:00 and 18:00.", row["ideal"])
    assert row["answer"] == "None on Sunday."
    # The follow-up's conversation holds the first run's turns, its answer included.
    assert [m["content"] for m in row["messages"]][-2:] == ["At 8:00 and 9:00.", "And on Sunday?"]
    assert row["tags"] == ["incorrect", "other"]
    assert table.column("ideal").to_pylist() == ["Sunday: 10:00 and 18:00."]
    bad = datasets.create(reviewed, "bad", verdict="bad", actor=LEAD)
    assert (bad["items"], bad["counts"]["corrected"]) == (1, 1)


def test_adjudicated_runs_of_a_queue(reviewed):
    made = datasets.create(reviewed, "settled", verdict="disputed-resolved", queue="q", actor=SYSTEM)
    rows, _, card = read(reviewed, "settled", 1)
    assert [(r["run_id"], r["verdict"], r["verdict_by"], r["adjudication_note"]) for r in rows] == [
        ("r3", "good", "adjudication", "Sunny it was.")
    ]
    assert (rows[0]["ideal"], rows[0]["adjudicated_by"], made["counts"]["adjudicated"]) == ("Sunny.", "lee", 1)
    assert '"queue": "q"' in card
    good = datasets.create(reviewed, "all-good", verdict="good", actor=SYSTEM)
    assert [row["run_id"] for row in read(reviewed, "all-good", 1)[0]] == ["r1", "r3", "r4"]
    assert good["counts"]["adjudicated"] == 1


def test_a_vote_filter_picks_the_runs_holding_a_matching_vote(reviewed):
    datasets.create(reviewed, "complained", verdict="good", filters={"source": "end_user", "rating": -1}, actor=SYSTEM)
    assert [row["run_id"] for row in read(reviewed, "complained", 1)[0]] == ["r4"]


def test_a_new_snapshot_is_a_new_version_and_the_old_one_never_changes(reviewed):
    datasets.create(reviewed, "trips", verdict="good", actor=SYSTEM)
    first = {fmt: b"".join(datasets.content(reviewed, "trips", 1, fmt, actor=SYSTEM)) for fmt in datasets.FORMATS}
    vote(reviewed, "r2", "t1", "carol", 1)
    vote(reviewed, "r2", "t1", "alice", 1)
    second = datasets.create(reviewed, "trips", verdict="good", actor=SYSTEM)
    assert (second["version"], second["items"]) == (2, 4)
    again = {fmt: b"".join(datasets.content(reviewed, "trips", 1, fmt, actor=SYSTEM)) for fmt in datasets.FORMATS}
    assert again == first
    assert len(read(reviewed, "trips", 1)[0]) == 3 and len(read(reviewed, "trips", 2)[0]) == 4
    assert [(d["name"], d["version"]) for d in datasets.listing(reviewed, actor=Actor("vi", "viewer"))] == [
        ("trips", 2),
        ("trips", 1),
    ]
    assert datasets.get(reviewed, "trips", actor=SYSTEM)["version"] == 2


def test_the_files_load_with_json_pyarrow_and_datasets(reviewed, tmp_path):
    datasets.create(reviewed, "trips", verdict="good", actor=SYSTEM)
    out = tmp_path / "out"
    out.mkdir()
    paths = {
        fmt: datasets.write_file(reviewed, "trips", 1, fmt, out / name, actor=SYSTEM)
        for fmt, name in datasets.FORMATS.items()
    }
    lines = paths["jsonl"].read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == ["r1", "r3", "r4"]
    assert pq.read_table(paths["parquet"]).column("run_id").to_pylist() == ["r1", "r3", "r4"]
    assert paths["card"].read_text(encoding="utf-8").startswith("---\npretty_name: trips v1\n")
    assert sorted(p.name for p in out.iterdir()) == sorted(datasets.FORMATS.values())
    hf = pytest.importorskip("datasets")
    loaded = hf.load_dataset("parquet", data_files=str(paths["parquet"]), split="train")
    assert loaded["run_id"] == ["r1", "r3", "r4"] and loaded[0]["messages"][1]["content"] == "Trains to Lyon?"


def test_an_event_tells_of_a_new_dataset(reviewed):
    notify = reviewed.notify
    added = notify.add_webhook("http://127.0.0.1:9/", events="dataset.created", allow_private=True, actor=SYSTEM)
    datasets.create(reviewed, "trips", verdict="bad", actor=SYSTEM)
    (delivery,) = notify.deliveries(destination_id=added["destination_id"], actor=SYSTEM)
    sent = notify.event(delivery["event_id"], actor=SYSTEM)
    assert sent["kind"] == "dataset.created"
    payload = sent["payload"] if isinstance(sent["payload"], dict) else json.loads(sent["payload"])
    assert (payload["name"], payload["version"], payload["items"], payload["verdict"]) == ("trips", 1, 1, "bad")


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"name": "no spaces", "verdict": "good"}, "dataset name 'no spaces'"),
        ({"name": "x", "verdict": "great"}, "verdict 'great' is not one of good, bad, corrected, disputed-resolved"),
        ({"name": "x", "verdict": "good", "filters": {"assistant": "a1"}}, "unknown filter 'assistant'"),
        ({"name": "x", "verdict": "good", "filters": {"search": "Lyon"}}, "a dataset cannot be filtered by search"),
        ({"name": "x", "verdict": "good", "filters": {"since": "2026-13-01"}}, "since '2026-13-01' is not a date"),
        (
            {"name": "x", "verdict": "good", "filters": {"assistant_id": "nobody"}},
            "no run matches the verdict rule good",
        ),
        ({"name": "x", "verdict": "good", "queue": "nope"}, "queue nope not found"),
    ],
)
def test_a_bad_request_is_refused_naming_it_and_nothing_is_written(reviewed, given, named):
    datasets.create(reviewed, "x", verdict="bad", actor=SYSTEM)
    with pytest.raises((InvalidInput, NotFound), match=named.replace("(", r"\(").replace(")", r"\)")):
        datasets.create(reviewed, actor=SYSTEM, **given)
    assert [(d["name"], d["version"]) for d in datasets.listing(reviewed, actor=SYSTEM)] == [("x", 1)]
    with reviewed.engine.read() as conn:
        assert conn.scalar("SELECT count(DISTINCT version) FROM dataset_files") == 1


def test_only_admins_and_leads_make_datasets_and_unknown_ones_are_not_found(reviewed):
    with pytest.raises(Forbidden):
        datasets.create(reviewed, "x", verdict="good", actor=Actor("bo", "reviewer"))
    with pytest.raises(NotFound, match="dataset x version 3 not found"):
        datasets.content(reviewed, "x", 3, "jsonl", actor=SYSTEM)
    with pytest.raises(InvalidInput, match="not 'csv'"):
        datasets.content(reviewed, "x", 1, "csv", actor=SYSTEM)
    assert datasets.listing(reviewed, actor=SYSTEM) == []


def test_a_run_a_blind_queue_still_needs_votes_on_is_left_out(reviewed):
    spec = QueueSpec("blind", selection={"assistant_id": "a2"}, reviewers_per_item=3, blind=True)
    reviewed.queues.create(spec, actor=SYSTEM)
    datasets.create(reviewed, "trips", verdict="good", actor=SYSTEM)
    assert [row["run_id"] for row in read(reviewed, "trips", 1)[0]] == ["r1", "r4"]
    vote(reviewed, "r3", "t2", "carol", 1)
    datasets.create(reviewed, "trips", verdict="good", actor=SYSTEM)
    assert [row["run_id"] for row in read(reviewed, "trips", 2)[0]] == ["r1", "r3", "r4"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "data_layer", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.slow
def test_the_dataset_commands(tmp_path):
    db = str(tmp_path / "d.duckdb")
    with open_store(db) as store:
        assert store.ingest(conversation(), actor=SYSTEM).ok
        vote(store, "r1", "t1", "alice", 1)
        vote(store, "r4", "t3", "alice", 1)
        vote(store, "r2", "t1", "alice", -1)
    made = cli("dataset", "create", "trips", "--verdict", "good", "--assistant", "a1", "--model", "m1", "--db", db)
    assert made.returncode == 0, made.stderr
    assert made.stdout == "dataset trips version 1: 1 items (1 good, 0 bad, 0 corrected)\n"
    refused = cli("dataset", "create", "trips", "--verdict", "great", "--db", db)
    assert (refused.returncode, refused.stderr) == (
        1,
        "error: verdict 'great' is not one of good, bad, corrected, disputed-resolved\n",
    )
    refused = cli("dataset", "create", "trips", "--verdict", "bad", "--since", "2026-02-30", "--db", db)
    assert refused.returncode == 1 and "since '2026-02-30' is not a date" in refused.stderr
    again = cli("dataset", "create", "trips", "--verdict", "good", "--json", "--db", db)
    assert json.loads(again.stdout)["version"] == 2
    listed = json.loads(cli("dataset", "list", "--json", "--db", db).stdout)
    assert [(d["name"], d["version"], d["items"]) for d in listed] == [("trips", 2, 2), ("trips", 1, 1)]
    out = tmp_path / "trips.jsonl"
    written = cli("dataset", "export", "trips", "--version", "1", "--format", "jsonl", "-o", str(out), "--db", db)
    assert written.stdout.strip() == str(out)
    assert [json.loads(line)["run_id"] for line in out.read_text().splitlines()] == ["r1"]
    parquet = tmp_path / "trips.parquet"
    assert cli("dataset", "export", "trips", "--format", "parquet", "-o", str(parquet), "--db", db).returncode == 0
    assert pq.read_table(parquet).column("run_id").to_pylist() == ["r1", "r4"]
    missing = cli("dataset", "export", "trips", "--version", "7", "--format", "card", "-o", str(out), "--db", db)
    assert (missing.returncode, missing.stderr) == (1, "error: dataset trips version 7 not found\n")
    assert [json.loads(line)["run_id"] for line in out.read_text().splitlines()] == ["r1"]


def test_a_backup_restores_the_snapshots_byte_for_byte(reviewed, tmp_path, pg_url):
    datasets.create(reviewed, "trips", verdict="good", actor=SYSTEM)
    first = {fmt: b"".join(datasets.content(reviewed, "trips", 1, fmt, actor=SYSTEM)) for fmt in datasets.FORMATS}
    backup.backup(reviewed, tmp_path / "copy")
    # Restored into the other engine: the files' bytes travel in the backup's Parquet either way.
    other = pg_url if "://" not in reviewed.url else str(tmp_path / "restored.duckdb")
    with open_store(other) as restored:
        backup.restore(restored, tmp_path / "copy")
        again = {fmt: b"".join(datasets.content(restored, "trips", 1, fmt, actor=SYSTEM)) for fmt in datasets.FORMATS}
        assert datasets.listing(restored, actor=SYSTEM) == datasets.listing(reviewed, actor=SYSTEM)
    assert again == first
