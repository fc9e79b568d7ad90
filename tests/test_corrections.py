"""Corrected answers (`data_layer/corrections.py`) on both engines: written in the vote's transaction,
replaced, kept when the vote is written again without one, removed with the vote, audited, put back by an
undo, carried by the vote's notification, refused when too long or from an end user, with nothing stored
changed."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

from data_layer import corrections, export, integrity
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Forbidden, InvalidInput

ANA, ROOT = Actor("ana"), Actor("root", "admin")
FIXED = "Day 1: **Fushimi Inari** at dawn, then Kiyomizu-dera.\n\nDay 2: Arashiyama."


def stored(store) -> list[tuple]:
    with store.engine.read() as conn:
        rows = conn.all("SELECT feedback_id, correction FROM vote_corrections ORDER BY feedback_id")
    return [(row["feedback_id"], row["correction"]) for row in rows]


def trail(store, feedback_id) -> list[tuple]:
    rows = store.audit.list({"feedback_id": feedback_id}, actor=ROOT)
    return [
        (row["action"], (row["old_value"] or {}).get("correction"), (row["new_value"] or {}).get("correction"))
        for row in rows
    ]


def test_a_correction_is_written_with_its_vote_replaced_kept_and_read_back(seeded):
    vote = seeded.feedback.upsert(thread_id="t1", run_id="r1", message_id="a1", rating=-1, correction=FIXED, actor=ANA)
    assert vote["correction"] == FIXED
    assert stored(seeded) == [(vote["feedback_id"], FIXED)]
    assert seeded.feedback.get(vote["feedback_id"], actor=SYSTEM)["correction"] == FIXED
    assert [v["correction"] for v in seeded.feedback.list_by_thread("t1", actor=ANA)] == [FIXED]
    with seeded.engine.read() as conn:
        assert corrections.for_votes(conn, [vote["feedback_id"], "nope"]) == {vote["feedback_id"]: FIXED}

    # written again without one: the vote keeps it
    kept = seeded.feedback.upsert(
        thread_id="t1", run_id="r1", message_id="a1", rating=-1, comment="dates wrong", actor=ANA
    )
    assert kept["feedback_id"] == vote["feedback_id"] and kept["correction"] == FIXED
    assert stored(seeded) == [(vote["feedback_id"], FIXED)]

    # given again: replaced, on the same row
    again = seeded.feedback.upsert(
        thread_id="t1", run_id="r1", message_id="a1", rating=1, correction="Just temples.", actor=ANA
    )
    assert again["correction"] == "Just temples."
    assert stored(seeded) == [(vote["feedback_id"], "Just temples.")]

    # given empty: removed, the vote stays
    cleared = seeded.feedback.upsert(thread_id="t1", run_id="r1", message_id="a1", rating=1, correction="  ", actor=ANA)
    assert cleared["correction"] is None and stored(seeded) == []
    assert seeded.feedback.get(vote["feedback_id"], actor=SYSTEM)["correction"] is None

    assert trail(seeded, vote["feedback_id"]) == [
        ("create", None, FIXED),
        ("update", FIXED, FIXED),
        ("update", FIXED, "Just temples."),
        ("update", "Just temples.", None),
    ]
    # another reviewer's vote on the same target holds its own correction
    other = seeded.feedback.upsert(thread_id="t1", run_id="r1", message_id="a1", rating=-1, correction="B", actor=ROOT)
    assert stored(seeded) == [(other["feedback_id"], "B")]
    assert integrity.check(seeded) == {}


def test_a_new_vote_by_create_holds_its_correction_and_a_vote_without_one_reads_none(seeded):
    plain = seeded.feedback.create(thread_id="t1", run_id="r2", rating=1, actor=ANA)
    assert plain["correction"] is None
    vote = seeded.feedback.create(thread_id="t1", run_id="r1", rating=-1, correction=FIXED, actor=ANA)
    assert vote["correction"] == FIXED
    assert {v["run_id"]: v["correction"] for v in seeded.feedback.list_by_thread("t1", actor=ANA)} == {
        "r1": FIXED,
        "r2": None,
    }


def test_a_correction_goes_with_its_vote_and_an_undo_brings_it_back(seeded):
    vote = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, correction=FIXED, actor=ANA)
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", actor=ANA)
    assert stored(seeded) == []
    assert integrity.check(seeded) == {}

    restored = seeded.feedback.restore(vote["feedback_id"], actor=ANA)
    assert restored["correction"] == FIXED
    assert stored(seeded) == [(vote["feedback_id"], FIXED)]
    assert seeded.feedback.get(vote["feedback_id"], actor=SYSTEM)["correction"] == FIXED

    assert seeded.feedback.delete(vote["feedback_id"], actor=ROOT)
    assert stored(seeded) == []
    assert trail(seeded, vote["feedback_id"]) == [
        ("create", None, FIXED),
        ("retract", FIXED, None),
        ("create", None, FIXED),
        ("delete", FIXED, None),
    ]
    assert integrity.check(seeded) == {}


@pytest.mark.parametrize(
    ("given", "actor", "error", "message"),
    [
        ("x" * (corrections.MAX_LENGTH + 1), ANA, InvalidInput, "correction is 20001 characters long; at most 20000"),
        (["not", "text"], ANA, InvalidInput, "correction must be text, got list"),
        ("a\x00b", ANA, InvalidInput, "correction may not contain NUL"),
        ("Better answer", Actor("eu", "end_user"), Forbidden, r"eu \(end_user\) may not write a correction"),
    ],
)
def test_a_bad_correction_is_refused_naming_the_field_and_nothing_changes(seeded, given, actor, error, message):
    vote = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, correction=FIXED, actor=ANA)
    audited = seeded.audit.count(actor=SYSTEM)
    with pytest.raises(error, match=message):
        seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, correction=given, actor=actor)
    with pytest.raises(error, match=message):
        seeded.feedback.create(thread_id="t1", run_id="r2", rating=-1, correction=given, actor=actor)
    assert seeded.feedback.get(vote["feedback_id"], actor=SYSTEM)["rating"] == 1
    assert stored(seeded) == [(vote["feedback_id"], FIXED)]
    assert seeded.feedback.list_by_run("t1", "r2", actor=SYSTEM) == []
    assert seeded.audit.count(actor=SYSTEM) == audited


def test_the_longest_correction_is_stored_whole(seeded):
    longest = "é" * corrections.MAX_LENGTH
    vote = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, correction=longest, actor=ANA)
    assert stored(seeded) == [(vote["feedback_id"], longest)]


def test_a_vote_event_carries_the_correction(seeded):
    # a destination that takes vote events makes them written; nothing is sent here
    seeded.notify.add_webhook("http://127.0.0.1:9/hook", allow_private=True, actor=SYSTEM)
    seeded.feedback.upsert(thread_id="t1", run_id="r2", rating=1, actor=ANA)
    seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, correction=FIXED, actor=ANA)
    seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, comment="late", actor=ANA)
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", actor=ANA)
    with seeded.engine.read() as conn:
        events = conn.all("SELECT kind, payload FROM outbox ORDER BY created_at")
    assert [(row["kind"], json.loads(row["payload"]).get("correction", "none")) for row in events] == [
        ("vote.created", "none"),
        ("vote.created", FIXED),
        ("vote.updated", FIXED),
        ("vote.deleted", FIXED),
    ]


def test_the_export_has_a_correction_column_in_every_format(seeded, tmp_path):
    seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, correction=FIXED, actor=ANA)
    seeded.feedback.upsert(thread_id="t1", run_id="r2", rating=1, actor=ANA)
    listed = "- temples\n- food"
    seeded.feedback.upsert(thread_id="t1", run_id="r1", message_id="a1", rating=-1, correction=listed, actor=ANA)
    assert "correction" in export.COLUMNS
    expected = {("r1", None): FIXED, ("r2", None): None, ("r1", "a1"): listed}

    rows = export.preview(seeded, actor=SYSTEM, columns=["run_id", "message_id", "correction"])
    assert {(row["run_id"], row["message_id"]): row["correction"] for row in rows} == expected

    export.write(seeded, tmp_path / "e.parquet", actor=SYSTEM)
    table = pq.read_table(tmp_path / "e.parquet").to_pylist()
    assert {(row["run_id"], row["message_id"]): row["correction"] for row in table} == expected

    export.write(seeded, tmp_path / "e.jsonl", actor=SYSTEM)
    lines = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert {(row["run_id"], row["message_id"]): row["correction"] for row in lines} == expected

    # CSV for spreadsheets: a correction starting like a formula (a markdown list) gets its quote
    export.write(seeded, tmp_path / "e.csv", actor=SYSTEM)
    with open(tmp_path / "e.csv", encoding="utf-8-sig", newline="") as stream:
        cells = {(row["run_id"], row["message_id"]): row["correction"] for row in csv.DictReader(stream)}
    assert cells == {("r1", ""): FIXED, ("r2", ""): "", ("r1", "a1"): "'" + listed}


@pytest.mark.parametrize("fmt", ["records", "jsonl"])
def test_the_import_refuses_a_correction_naming_it_and_stores_nothing(store, tmp_path, fmt):
    records = [
        {"kind": "thread", "thread_id": "t1"},
        {"kind": "run", "run_id": "r1", "thread_id": "t1"},
        {"kind": "feedback", "thread_id": "t1", "run_id": "r1", "owner_id": "bo", "rating": 1, "correction": "Yes."},
    ]
    if fmt == "jsonl":
        path = tmp_path / "votes.jsonl"
        path.write_text("\n".join(json.dumps(record) for record in records) + "\n")
        report = store.import_file(path, actor=SYSTEM)
    else:
        report = store.ingest(records, actor=SYSTEM)
    assert not report.ok
    assert [(error["line"], error["error"][:52]) for error in report.as_dict()["errors"]] == [
        (3, "correction: the import takes no corrected answers; s")
    ]
    assert store.threads.get("t1") is None and stored(store) == []
