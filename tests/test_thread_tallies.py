"""A thread's vote tallies by source (end users apart from reviewers), on both engines: every vote write and
import keeps them equal to a recount from the votes, the migration step fills them for stored threads, and
the threads list filters and sorts on them."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from data_layer import backup, integrity, open_store, rollups, schema
from data_layer.auth import SYSTEM
from data_layer.errors import InvalidInput
from data_layer.filters import Filters

SOURCES = ("end_user_positive", "end_user_negative", "reviewer_positive", "reviewer_negative")


def stored(store, thread_id: str) -> dict:
    with store.engine.read() as conn:
        row = conn.one(
            f"SELECT {', '.join(rollups.THREAD_TALLY_COLUMNS)} FROM threads WHERE thread_id = $t", {"t": thread_id}
        )
    return {name: int(value) for name, value in row.items()}


def recount(store, thread_id: str) -> dict:
    """The thread's tallies counted from its votes, in Python."""
    with store.engine.read() as conn:
        votes = conn.all("SELECT rating, source FROM feedback WHERE thread_id = $t", {"t": thread_id})
    out = {"positive": sum(v["rating"] == 1 for v in votes), "negative": sum(v["rating"] == -1 for v in votes)}
    for source in ("reviewer", "end_user"):
        out[f"{source}_positive"] = sum(v["source"] == source and v["rating"] == 1 for v in votes)
        out[f"{source}_negative"] = sum(v["source"] == source and v["rating"] == -1 for v in votes)
    return out


def agrees(store, thread_id: str = "t1", **expected) -> None:
    """The stored tallies equal a recount, and hold the expected per-source values."""
    assert stored(store, thread_id) == recount(store, thread_id)
    assert {name: stored(store, thread_id)[name] for name in expected} == expected


def test_every_vote_write_keeps_the_tallies_by_source(seeded):
    store = seeded
    agrees(store, end_user_positive=0, end_user_negative=0, reviewer_positive=0, reviewer_negative=0)
    store.feedback.create(thread_id="t1", run_id="r1", rating=-1, owner_id="eve", source="end_user", actor=SYSTEM)
    store.feedback.create(thread_id="t1", run_id="r1", rating=1, owner_id="ann", actor=SYSTEM)
    store.feedback.create(thread_id="t1", run_id="r2", rating=-1, owner_id="ann", message_id=None, actor=SYSTEM)
    store.feedback.create(thread_id="t1", run_id="r1", rating=1, source="end_user", actor=SYSTEM)  # anonymous
    agrees(store, end_user_positive=1, end_user_negative=1, reviewer_positive=1, reviewer_negative=1)

    # A changed rating, then a changed source: the vote moves between the columns.
    store.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, owner_id="ann", actor=SYSTEM)
    agrees(store, reviewer_positive=0, reviewer_negative=2)
    store.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, owner_id="ann", source="end_user", actor=SYSTEM)
    agrees(store, end_user_negative=2, reviewer_negative=1)

    # A retraction and an admin's delete take the vote out of its column.
    assert store.feedback.retract(thread_id="t1", run_id="r1", owner_id="eve", actor=SYSTEM)
    agrees(store, end_user_negative=1, end_user_positive=1)
    ann = store.feedback.find(run_id="r2", owner_id="ann", actor=SYSTEM)
    assert store.feedback.delete(ann["feedback_id"], thread_id="t1", run_id="r2", actor=SYSTEM)
    agrees(store, end_user_positive=1, end_user_negative=1, reviewer_positive=0, reviewer_negative=0)
    agrees(store, "t2", end_user_negative=0, reviewer_negative=0)
    assert integrity.check(store) == {}


def vote(run_id: str, owner: str, rating: int, source: str, thread_id: str = "t1", **fields) -> dict:
    return {
        "kind": "feedback",
        "thread_id": thread_id,
        "run_id": run_id,
        "owner_id": owner,
        "rating": rating,
        "source": source,
        **fields,
    }


def test_an_import_keeps_the_tallies_by_source(seeded):
    store = seeded
    store.feedback.create(thread_id="t1", run_id="r1", rating=1, owner_id="ann", actor=SYSTEM)
    report = store.ingest(
        [
            vote("r1", "eve", -1, "end_user"),
            vote("r2", "joe", -1, "end_user"),
            vote("r2", "bob", -1, "reviewer"),
            vote("r3", "eve", 1, "end_user", "t2"),
        ],
        actor=SYSTEM,
    )
    assert report.ok, report.summary()
    agrees(store, end_user_negative=2, reviewer_positive=1, reviewer_negative=1)
    agrees(store, "t2", end_user_positive=1)

    # The same votes again, changed (an end user's mind, a reviewer's vote as an end user's): moved, not added.
    later = "2030-01-01T00:00:00Z"
    report = store.ingest(
        [vote("r1", "eve", 1, "end_user", updated_at=later), vote("r2", "bob", -1, "end_user", updated_at=later)],
        actor=SYSTEM,
    )
    assert report.ok, report.summary()
    agrees(store, end_user_positive=1, end_user_negative=2, reviewer_positive=1, reviewer_negative=0)
    assert integrity.check(store) == {}


def store_rows_as_version_9(conn):
    """Votes as the code of schema version 9 stored them: the thread's overall tallies, none by source."""
    at = {"at": "2026-11-01T10:00:00Z"}
    conn.execute("INSERT INTO threads (thread_id, created_at, updated_at) VALUES ('t1', $at, $at)", at)
    conn.execute("INSERT INTO threads (thread_id, created_at, updated_at) VALUES ('t2', $at, $at)", at)
    conn.execute(
        "INSERT INTO runs (run_id, thread_id, status, created_at, updated_at) "
        "VALUES ('r1', 't1', 'success', CAST($at AS TIMESTAMPTZ), CAST($at AS TIMESTAMPTZ))",
        at,
    )
    for feedback_id, owner, rating, source in (
        ("f1", "ann", 1, "reviewer"),
        ("f2", "bob", -1, "end_user"),
        ("f3", "eve", -1, "end_user"),
        ("f4", "joe", -1, "reviewer"),
    ):
        conn.execute(
            "INSERT INTO feedback (feedback_id, thread_id, run_id, owner_id, scope, rating, tags, source, created_at, "
            "updated_at) VALUES ($id, 't1', 'r1', $o, '', $rating, CAST($tags AS TEXT[]), $s, now(), now())",
            {"id": feedback_id, "o": owner, "rating": rating, "tags": [], "s": source},
        )
    conn.execute("UPDATE threads SET run_count = 1, positive = 1, negative = 3 WHERE thread_id = 't1'")
    for statement in rollups.REFRESH:  # the precomputed columns of runs and votes, as version 9 has them
        conn.execute(statement)


def test_the_migration_fills_the_tallies_by_source(store_url, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(schema, "STEPS", tuple(step for step in schema.STEPS if step.version <= 9))
        with open_store(store_url) as old:
            assert old.schema_version == 9
            old.engine.write(store_rows_as_version_9)
    with open_store(store_url) as new:
        assert new.schema_version == schema.STEPS[-1].version
        agrees(new, end_user_positive=0, end_user_negative=2, reviewer_positive=1, reviewer_negative=1)
        agrees(new, "t2", end_user_negative=0, reviewer_negative=0)
        assert integrity.check(new) == {}
        assert [row["thread_id"] for row in new.threads.list({"negative_reviewer_feedback": True})] == ["t1"]


def test_integrity_names_stale_tallies_by_source_and_refresh_repairs_them(seeded):
    store = seeded
    store.feedback.create(thread_id="t1", run_id="r1", rating=-1, owner_id="eve", source="end_user", actor=SYSTEM)
    store.engine.write(lambda conn: conn.execute("UPDATE threads SET end_user_negative = 0, reviewer_negative = 1"))
    assert integrity.check(store) == {"thread tallies out of date": 2}
    store.engine.write(rollups.refresh)
    assert integrity.check(store) == {}
    agrees(store, end_user_negative=1, reviewer_negative=0)


def test_the_threads_list_filters_and_sorts_by_each_source(seeded):
    store = seeded
    assert store.ingest(
        [
            {"kind": "run", "run_id": "r5", "thread_id": "t3", "status": "success"},
            vote("r1", "eve", -1, "end_user"),
            vote("r1", "joe", -1, "end_user"),
            vote("r3", "ann", -1, "reviewer", "t2"),
            vote("r5", "ann", -1, "reviewer", "t3"),
            vote("r5", "bob", -1, "reviewer", "t3"),
            vote("r5", "eve", -1, "end_user", "t3"),
        ],
        actor=SYSTEM,
    ).ok

    def ids(filters: dict, order: str = "title asc") -> list[str]:
        listed = store.threads.list(filters, order=order)
        assert store.threads.count(filters) == len(listed)
        return [row["thread_id"] for row in listed]

    assert sorted(ids({"negative_user_feedback": True})) == ["t1", "t3"]
    assert sorted(ids({"negative_reviewer_feedback": True})) == ["t2", "t3"]
    assert ids(Filters(negative_user_feedback=True, negative_reviewer_feedback=True)) == ["t3"]
    assert ids({"has_negative": True}, "end_user_negative desc")[:2] == ["t1", "t3"]
    assert ids({}, "reviewer_negative desc")[:2] == ["t3", "t2"]
    row = next(row for row in store.threads.list() if row["thread_id"] == "t3")
    assert {name: row[name] for name in SOURCES} == {
        "end_user_positive": 0,
        "end_user_negative": 1,
        "reviewer_positive": 0,
        "reviewer_negative": 2,
    }
    assert (row["positive"], row["negative"]) == (0, 3)


@pytest.mark.parametrize("name", ["negative_user_feedback", "negative_reviewer_feedback"])
def test_the_source_filters_are_flags(name):
    with pytest.raises(InvalidInput, match=f"{name} must be true or false"):
        Filters(**{name: "yes"})
    assert Filters.of({name: True}).as_dict() == {name: True}


def test_a_backup_without_the_tallies_by_source_restores_with_them(seeded, tmp_path):
    """A backup of a store before step 10 holds threads without the columns: the restore counts them."""
    store = seeded
    store.feedback.create(thread_id="t1", run_id="r1", rating=-1, owner_id="eve", source="end_user", actor=SYSTEM)
    store.feedback.create(thread_id="t1", run_id="r2", rating=1, owner_id="ann", actor=SYSTEM)
    backup.backup(store, tmp_path / "bk")
    threads = tmp_path / "bk" / "threads.parquet"
    pq.write_table(pq.read_table(threads).drop_columns(list(SOURCES)), threads)
    manifest = json.loads((tmp_path / "bk" / backup.MANIFEST).read_text())
    (tmp_path / "bk" / backup.MANIFEST).write_text(json.dumps({**manifest, "schema_version": 9}))

    with open_store(str(tmp_path / "restored.duckdb")) as restored:
        backup.restore(restored, tmp_path / "bk")
        agrees(restored, end_user_positive=0, end_user_negative=1, reviewer_positive=1, reviewer_negative=0)
        assert integrity.check(restored) == {}
