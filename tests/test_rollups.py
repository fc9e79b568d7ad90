"""The stats' precomputed columns (data_layer/rollups.py) stay right after every kind of write, on both
engines: a vote's copies of its run, a run's vote tallies and its follow-up flag."""

from __future__ import annotations

import pytest

from data_layer import integrity, open_store, rollups, schema, stats
from data_layer.auth import SYSTEM

COPIES = ", ".join(rollups.COPIES)
TALLIES = ", ".join(rollups.TALLY_COLUMNS)


def copies(store, run_id: str) -> set[tuple]:
    """The distinct copies the run's votes hold."""
    with store.engine.read() as conn:
        rows = conn.all(f"SELECT {COPIES} FROM feedback WHERE run_id = $r", {"r": run_id})
    return {tuple(row.values()) for row in rows}


def run_values(store, run_id: str) -> tuple:
    with store.engine.read() as conn:
        return tuple(
            conn.one(
                "SELECT created_at, assistant_id, model_name, status FROM runs WHERE run_id = $r", {"r": run_id}
            ).values()
        )


def tallies(store, run_id: str) -> dict:
    with store.engine.read() as conn:
        return dict(conn.one(f"SELECT {TALLIES}, followed_up FROM runs WHERE run_id = $r", {"r": run_id}))


def counts(**given) -> dict:
    out = {name: 0 for name in rollups.TALLY_COLUMNS}
    out["followed_up"] = False
    return {**out, **given}


def test_votes_through_the_api_keep_copies_and_tallies(seeded):
    store = seeded
    assert tallies(store, "r1") == counts(followed_up=True)
    store.feedback.create(thread_id="t1", run_id="r1", rating=1, owner_id="ann", actor=SYSTEM)
    store.feedback.create(thread_id="t1", run_id="r1", rating=-1, owner_id="bob", actor=SYSTEM)
    store.feedback.create(thread_id="t1", run_id="r1", rating=-1, owner_id="eve", source="end_user", actor=SYSTEM)
    store.feedback.create(thread_id="t1", run_id="r1", rating=1, owner_id="ann", message_id="a1", actor=SYSTEM)
    store.feedback.create(thread_id="t1", run_id="r1", rating=1, actor=SYSTEM)  # anonymous
    assert copies(store, "r1") == {run_values(store, "r1")}
    assert tallies(store, "r1") == counts(
        reviewer_positive=3,
        reviewer_negative=1,
        end_user_negative=1,
        panel_positive=1,
        panel_negative=1,
        followed_up=True,
    )

    # A changed vote (rating and source), then a retraction and a delete.
    store.feedback.upsert(thread_id="t1", run_id="r1", rating=1, owner_id="bob", source="end_user", actor=SYSTEM)
    assert tallies(store, "r1") == counts(
        reviewer_positive=3, end_user_positive=1, end_user_negative=1, panel_positive=1, followed_up=True
    )
    assert store.feedback.retract(thread_id="t1", run_id="r1", owner_id="ann", actor=SYSTEM)
    eve = store.feedback.find(run_id="r1", owner_id="eve", actor=SYSTEM)
    assert store.feedback.delete(eve["feedback_id"], thread_id="t1", run_id="r1", actor=SYSTEM)
    assert tallies(store, "r1") == counts(reviewer_positive=2, end_user_positive=1, followed_up=True)

    # A new vote through upsert on another run takes that run's values.
    store.feedback.upsert(thread_id="t2", run_id="r3", rating=-1, owner_id="ann", actor=SYSTEM)
    assert copies(store, "r3") == {run_values(store, "r3")}
    assert tallies(store, "r3") == counts(reviewer_negative=1, panel_negative=1)
    assert integrity.check(store) == {}


def run(run_id: str, thread_id: str = "t1", **fields) -> dict:
    return {"kind": "run", "run_id": run_id, "thread_id": thread_id, "status": "success", **fields}


def vote(run_id: str, owner: str, rating: int, thread_id: str = "t1", **fields) -> dict:
    return {
        "kind": "feedback",
        "thread_id": thread_id,
        "run_id": run_id,
        "owner_id": owner,
        "rating": rating,
        "source": "reviewer",
        **fields,
    }


def test_imported_votes_get_copies_and_tallies(seeded):
    store = seeded
    report = store.ingest(
        [
            vote("r2", "ann", -1),
            vote("r2", "bob", -1),
            vote("r2", "eve", 1, source="end_user"),
            vote("r3", "ann", 1, "t2"),
        ],
        actor=SYSTEM,
    )
    assert report.ok, report.summary()
    assert copies(store, "r2") == {run_values(store, "r2")}
    assert copies(store, "r3") == {run_values(store, "r3")}
    assert tallies(store, "r2") == counts(reviewer_negative=2, end_user_positive=1, panel_negative=2)
    # The same owner's vote again, changed: the tallies follow, nothing is added.
    assert store.ingest([vote("r2", "ann", 1, updated_at="2030-01-01T00:00:00Z")], actor=SYSTEM).ok
    assert tallies(store, "r2") == counts(
        reviewer_positive=1, reviewer_negative=1, end_user_positive=1, panel_positive=1, panel_negative=1
    )
    assert integrity.check(store) == {}


def test_a_reimported_run_carries_its_votes_copies_along(seeded):
    store = seeded
    store.feedback.create(thread_id="t1", run_id="r2", rating=-1, owner_id="ann", actor=SYSTEM)
    assert [row["model_name"] for row in stats.dashboard(store, actor=SYSTEM)["by_model"]] == ["m1"]

    report = store.ingest(
        [run("r2", status="error", model_name="m2", assistant_id="other", created_at="2026-10-01T08:00:00Z")],
        actor=SYSTEM,
    )
    assert report.ok, report.summary()
    assert copies(store, "r2") == {run_values(store, "r2")}
    (created_at, assistant_id, model_name, status) = run_values(store, "r2")
    assert (assistant_id, model_name, status) == ("other", "m2", "error")
    assert created_at.isoformat().startswith("2026-10-01T08:00:00")
    board = stats.dashboard(store, {"since": "2026-09-01", "until": "2026-10-31"}, actor=SYSTEM)
    assert [(row["model_name"], row["votes"]) for row in board["by_model"]] == [("m2", 1)]
    assert [(row["assistant_id"], row["votes"]) for row in board["by_assistant"]] == [("other", 1)]
    assert (board["bucket"], board["over_time"]["rows"][0]["bucket"]) == ("day", "2026-10-01")
    assert integrity.check(store) == {}


def test_a_follow_up_arriving_later_flips_its_predecessor(seeded):
    store = seeded
    assert tallies(store, "r2")["followed_up"] is False
    assert store.ingest([run("r4", created_at="2026-11-01T10:30:00Z")], actor=SYSTEM).ok
    assert tallies(store, "r2")["followed_up"] is True
    assert tallies(store, "r1")["followed_up"] is True

    # An explicit follow-up in another thread, then pointed elsewhere: the old target loses its flag.
    assert store.ingest([run("x1", "t9", follow_up_to_run_id="r3", created_at="2026-11-02T10:00:00Z")], actor=SYSTEM).ok
    assert tallies(store, "r3")["followed_up"] is True
    assert store.ingest([run("x1", "t9", follow_up_to_run_id="r4", created_at="2026-11-02T10:00:00Z")], actor=SYSTEM).ok
    assert tallies(store, "r3")["followed_up"] is False
    assert tallies(store, "r4")["followed_up"] is True

    # A run slipped in between: the detected follow-up moves from r4's predecessor to the new run.
    assert store.ingest([run("r1b", created_at="2026-11-01T10:02:00Z")], actor=SYSTEM).ok
    assert [tallies(store, r)["followed_up"] for r in ("r1", "r1b", "r2")] == [True, True, True]
    assert integrity.check(store) == {}


def test_integrity_names_stale_rollups_and_refresh_repairs_them(seeded):
    store = seeded
    store.feedback.create(thread_id="t1", run_id="r1", rating=1, owner_id="ann", actor=SYSTEM)

    def spoil(conn):
        conn.execute("UPDATE feedback SET run_status = 'error' WHERE run_id = 'r1'")
        conn.execute("UPDATE runs SET reviewer_positive = 7, followed_up = NOT followed_up WHERE run_id = 'r1'")

    store.engine.write(spoil)
    assert integrity.check(store) == {
        "vote copies of its run out of date": 1,
        "run vote tallies out of date": 1,
        "run follow-up flag out of date": 1,
        # the run counts of the stats take the run's tallies and flag as stored: its old cell and its new
        "stats counts in run_counts out of date": 2,
    }
    store.engine.write(rollups.refresh)
    assert integrity.check(store) == {}
    assert tallies(store, "r1") == counts(reviewer_positive=1, panel_positive=1, followed_up=True)


def store_rows_as_version_7(conn):
    """Rows as the code of schema version 7 stored them (today's importer writes the new columns)."""
    conn.execute(
        "INSERT INTO threads (thread_id, created_at, updated_at) VALUES ('t1', $at, $at)",
        {"at": "2026-11-01T10:00:00Z"},
    )
    for run_id, model, at, follows in (
        ("r1", "m1", "2026-11-01T10:00:00Z", None),
        ("r2", None, "2026-11-01T10:05:00Z", "r1"),
    ):
        conn.execute(
            "INSERT INTO runs (run_id, thread_id, status, model_name, follow_up_to_run_id, created_at, updated_at) "
            "VALUES ($r, 't1', 'success', $m, $f, CAST($at AS TIMESTAMPTZ), CAST($at AS TIMESTAMPTZ))",
            {"r": run_id, "m": model, "f": follows, "at": at},
        )
    for feedback_id, owner, rating, source in (("f1", "ann", 1, "reviewer"), ("f2", "bob", -1, "end_user")):
        conn.execute(
            "INSERT INTO feedback (feedback_id, thread_id, run_id, owner_id, scope, rating, tags, source, created_at, "
            "updated_at) VALUES ($id, 't1', 'r1', $o, '', $rating, CAST($tags AS TEXT[]), $s, now(), now())",
            {"id": feedback_id, "o": owner, "rating": rating, "tags": [], "s": source},
        )
    conn.execute("UPDATE threads SET run_count = 2, positive = 1, negative = 1")


def test_the_migration_fills_the_columns_for_data_already_stored(store_url, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(schema, "STEPS", schema.STEPS[:7])
        with open_store(store_url) as old:
            assert old.schema_version == 7
            old.engine.write(store_rows_as_version_7)
    with open_store(store_url) as new:
        assert new.schema_version == schema.STEPS[-1].version
        assert copies(new, "r1") == {run_values(new, "r1")}
        assert tallies(new, "r1") == counts(
            reviewer_positive=1, end_user_negative=1, panel_positive=1, followed_up=True
        )
        assert integrity.check(new) == {}


@pytest.mark.parametrize("reviewer", [None, "ann"])
def test_stats_read_the_rollups_after_writes(seeded, reviewer):
    store = seeded
    store.feedback.create(thread_id="t1", run_id="r1", rating=-1, owner_id="ann", comment="wrong", actor=SYSTEM)
    store.feedback.create(thread_id="t1", run_id="r1", rating=-1, owner_id="bob", actor=SYSTEM)
    store.feedback.create(thread_id="t1", run_id="r2", rating=1, owner_id="ann", message_id=None, actor=SYSTEM)
    assert store.ingest([vote("r2", "bob", 1)], actor=SYSTEM).ok
    board = stats.dashboard(store, {"reviewer": reviewer} if reviewer else None, actor=SYSTEM)
    negative = {"positive": 0, "negative": 2 if reviewer is None else 1}
    assert board["headline"]["current"]["runs_with_feedback"] == 2
    assert [(r["run_id"], r["negative"], r["positive"], r["latest_comment"]) for r in board["worst_runs"]] == [
        ("r1", negative["negative"], 0, "wrong")
    ]
    follow = {row["rating"]: (row["runs"], row["followed_up"]) for row in board["follow_ups"]}
    assert follow["negative"] == (1, 1) and follow["positive"] == (1, 0)
    assert board["reviewer_agreement"]["runs"] == 2


@pytest.mark.slow
def test_tallies_moved_by_each_write_equal_a_recount(seeded):
    """Vote writes move the thread's and run's tallies by difference; after a long random mix of them
    (new votes, changed rating or source, message votes, anonymous votes, retractions, deletes, an import
    in between) every tally equals a recount from the votes."""
    import random

    store = seeded
    rng = random.Random(7)
    targets = [("r1", None), ("r1", "a1"), ("r2", None)]
    owners = ["ann", "bob", "eve", None]
    for step in range(120):
        run_id, message_id = rng.choice(targets)
        owner = rng.choice(owners)
        action = rng.random()
        if action < 0.45:
            write = store.feedback.upsert if owner else store.feedback.create
            write(
                thread_id="t1",
                run_id=run_id,
                message_id=message_id,
                owner_id=owner,
                rating=rng.choice((1, -1)),
                source=rng.choice(("reviewer", "end_user")),
                actor=SYSTEM,
            )
        elif action < 0.65 and owner:
            store.feedback.retract(thread_id="t1", run_id=run_id, owner_id=owner, message_id=message_id, actor=SYSTEM)
        elif action < 0.85:
            votes = store.feedback.list_by_thread("t1", actor=SYSTEM)
            if votes:
                store.feedback.delete(rng.choice(votes)["feedback_id"], thread_id="t1", actor=SYSTEM)
        elif step % 3 == 0:
            assert store.ingest([vote(run_id, f"imp-{step % 4}", rng.choice((1, -1)))], actor=SYSTEM).ok
    votes = store.feedback.list_by_thread("t1", actor=SYSTEM)
    assert len(votes) > 5, "the mix should leave votes standing"
    thread = store.threads.get("t1")
    assert (thread["positive"], thread["negative"]) == (
        sum(v["rating"] == 1 for v in votes),
        sum(v["rating"] == -1 for v in votes),
    )
    for run_id in ("r1", "r2"):
        on_run = [v for v in votes if v["run_id"] == run_id]
        assert tallies(store, run_id)["reviewer_positive"] == sum(
            v["source"] == "reviewer" and v["rating"] == 1 for v in on_run
        )
        assert tallies(store, run_id)["panel_negative"] == sum(
            v["source"] == "reviewer" and v["rating"] == -1 and v["message_id"] is None and v["owner_id"] is not None
            for v in on_run
        )
    assert integrity.check(store) == {}
