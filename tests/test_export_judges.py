"""Judges' verdicts in the export, on both engines: listed only when the source filter asks for `judge`,
as rows with `source` judge, the `judge` and `rationale` columns, in CSV, Parquet and JSONL; people's
exports and their counts unchanged; the command line's `export --source judge`."""

from __future__ import annotations

import csv
import json

import pyarrow.parquet as pq
import pytest

from data_layer import export, insights, open_store, stats
from data_layer.auth import SYSTEM
from data_layer.errors import InvalidInput
from tests.conftest import ai_message
from tests.test_export import _cli

JUDGE = "helpfulness-v3@gpt-4.1"


def records() -> list[dict]:
    def verdict(run: str, rating: int, **fields) -> dict:
        return {"kind": "feedback", "source": "judge", "judge": JUDGE, "thread_id": "t1", "run_id": run,
                "rating": rating, **fields}  # fmt: skip

    return [
        {"kind": "thread", "thread_id": "t1", "assistant_id": "A"},
        {"kind": "run", "run_id": "r1", "thread_id": "t1", "assistant_id": "A", "model_name": "m1",
         "last_ai_message": "four", "created_at": "2026-03-02T10:00:00Z"},
        {"kind": "run", "run_id": "r2", "thread_id": "t1", "assistant_id": "B", "model_name": "m2",
         "created_at": "2026-03-02T11:00:00Z"},
        ai_message("t1", "r2", 1, "the answer to r2", "a2"),
        {"kind": "feedback", "thread_id": "t1", "run_id": "r1", "owner_id": "ana", "rating": 1,
         "source": "reviewer", "comment": "fine", "created_at": "2026-03-02T12:00:00Z"},
        {"kind": "feedback", "thread_id": "t1", "run_id": "r2", "owner_id": "eu", "rating": -1,
         "created_at": "2026-03-02T12:01:00Z"},
        verdict("r1", 1, rationale="=correct, says 4", created_at="2026-03-02T13:00:00Z", scores={"factual": True}),
        verdict("r2", -1, comment="wrong answer", message_id="a2", created_at="2026-03-02T13:01:00Z"),
    ]  # fmt: skip


@pytest.fixture
def judged(store):
    report = store.ingest(records(), actor=SYSTEM)
    assert report.ok, report.summary()
    return store


def test_people_exports_are_unchanged_by_verdicts(judged):
    assert export.count(judged, actor=SYSTEM) == 2
    assert export.count(judged, {"source": "reviewer"}, actor=SYSTEM) == 1
    rows = export.preview(judged, actor=SYSTEM)
    assert [(row["reviewer"], row["source"]) for row in rows] == [("ana", "reviewer"), ("eu", "end_user")]
    assert list(rows[0]) == list(export.COLUMNS)
    # the judges' columns may be asked for on people's votes: empty
    asked = export.preview(judged, actor=SYSTEM, columns=["reviewer", "judge", "rationale"])
    assert asked == [
        {"reviewer": "ana", "judge": None, "rationale": None},
        {"reviewer": "eu", "judge": None, "rationale": None},
    ]


def test_the_source_judge_lists_the_verdicts_with_their_judge_and_rationale(judged):
    chosen = {"source": "judge"}
    assert export.count(judged, chosen, actor=SYSTEM) == 2
    rows = export.preview(judged, chosen, actor=SYSTEM)
    assert list(rows[0]) == [*export.COLUMNS, "judge", "rationale"]
    keys = ("reviewer", "source", "judge", "rationale", "rating", "comment", "tags", "run_id", "message_id",
            "assistant_id", "ai_message")  # fmt: skip
    picked = [{key: row[key] for key in keys} for row in rows]
    assert picked == [
        {"reviewer": JUDGE, "source": "judge", "judge": JUDGE, "rationale": "=correct, says 4", "rating": 1,
         "comment": None, "tags": [], "run_id": "r1", "message_id": None, "assistant_id": "A", "ai_message": "four"},
        {"reviewer": JUDGE, "source": "judge", "judge": JUDGE, "rationale": "wrong answer", "rating": -1,
         "comment": None, "tags": [], "run_id": "r2", "message_id": "a2", "assistant_id": "B",
         "ai_message": "the answer to r2"},
    ]  # fmt: skip
    # the other filters narrow the verdicts as they do votes
    assert export.count(judged, {"source": "judge", "rating": "negative"}, actor=SYSTEM) == 1
    assert export.count(judged, {"source": "judge", "assistant_id": "A"}, actor=SYSTEM) == 1
    assert export.count(judged, {"source": "judge", "reviewer": JUDGE}, actor=SYSTEM) == 2
    assert export.count(judged, {"source": "judge", "reviewer": "ana"}, actor=SYSTEM) == 0
    # a judge's score by criterion, as it gave it
    scored = export.preview(judged, chosen, actor=SYSTEM, columns=["run_id", "score.factual"])
    assert scored == [{"run_id": "r1", "score.factual": "true"}, {"run_id": "r2", "score.factual": None}]


def test_verdicts_written_as_csv_parquet_and_jsonl(judged, tmp_path):
    chosen = {"source": "judge"}
    columns = ["created_at", "source", "judge", "rationale", "rating", "run_id"]
    assert export.write(judged, tmp_path / "v.csv", filters=chosen, actor=SYSTEM, columns=columns) == 2
    with open(tmp_path / "v.csv", encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [(row["source"], row["judge"], row["rationale"], row["rating"]) for row in rows] == [
        ("judge", JUDGE, "'=correct, says 4", "1"),  # a formula start is neutralized here too
        ("judge", JUDGE, "wrong answer", "-1"),
    ]
    assert rows[0]["created_at_utc"] == "2026-03-02 13:00:00"
    assert export.write(judged, tmp_path / "v.parquet", filters=chosen, actor=SYSTEM) == 2
    table = pq.read_table(tmp_path / "v.parquet")
    # the score columns by default are those of the criteria people scored: none here
    assert table.column_names == [*export.COLUMNS, "judge", "rationale"]
    assert table.column("rationale").to_pylist() == ["=correct, says 4", "wrong answer"]
    assert export.write(judged, tmp_path / "v.jsonl", filters=chosen, actor=SYSTEM, columns=columns) == 2
    lines = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert [(line["judge"], line["rationale"], line["created_at"]) for line in lines] == [
        (JUDGE, "=correct, says 4", "2026-03-02T13:00:00+00:00"),
        (JUDGE, "wrong answer", "2026-03-02T13:01:00+00:00"),
    ]
    # people's export to the same formats holds no verdict and no judges' column
    assert export.write(judged, tmp_path / "p.parquet", actor=SYSTEM) == 2
    people = pq.read_table(tmp_path / "p.parquet")
    assert "judge" not in people.column_names and set(people.column("source").to_pylist()) == {"reviewer", "end_user"}


@pytest.mark.slow
def test_the_export_command_takes_source_judge(tmp_path):
    db = str(tmp_path / "j.duckdb")
    with open_store(db) as store:
        assert store.ingest(records(), actor=SYSTEM).ok
    out = tmp_path / "verdicts.jsonl"
    done = _cli("export", "--db", db, "--source", "judge", "--columns", "judge,rationale,rating", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"judge": JUDGE, "rationale": "=correct, says 4", "rating": 1},
        {"judge": JUDGE, "rationale": "wrong answer", "rating": -1},
    ]
    people = tmp_path / "people.jsonl"
    assert _cli("export", "--db", db, "--columns", "source", "-o", str(people)).returncode == 0
    assert [json.loads(line) for line in people.read_text().splitlines()] == [
        {"source": "reviewer"},
        {"source": "end_user"},
    ]


def test_readers_of_peoples_votes_refuse_the_source_judge(judged):
    with pytest.raises(InvalidInput, match="the stats reads people's votes; judges' verdicts are in the export"):
        stats.dashboard(judged, {"source": "judge"}, actor=SYSTEM)
    with pytest.raises(InvalidInput, match="reads people's votes"):
        insights.slice_counts(judged, {"source": "judge"})
    with pytest.raises(InvalidInput, match="source 'jury' is not one of reviewer, end_user"):
        export.count(judged, {"source": "jury"}, actor=SYSTEM)
