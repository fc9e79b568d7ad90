"""Judges' verdicts through the import (`kind: "feedback"`, `source: "judge"`, `judge`), on both engines:
kept in `judge_votes` and never among people's votes, one per judge and target, checked line by line,
all or nothing, audited as votes are, the same whether the file goes through the fast JSONL reader's
door or record by record."""

from __future__ import annotations

import json

import pytest

from data_layer.auth import SYSTEM
from data_layer.ingest import SCHEMAS, fast, read_jsonl, stage_records
from tests.conftest import ai_message

JUDGE = "helpfulness-v3@gpt-4.1"
OTHER = "helpfulness-v4@gpt-5"


def base() -> list[dict]:
    return [
        {"kind": "thread", "thread_id": "t1"},
        {"kind": "run", "run_id": "r1", "thread_id": "t1"},
        {"kind": "run", "run_id": "r2", "thread_id": "t1"},
        ai_message("t1", "r1", 1, "hello", "m1"),
    ]


def judged(run_id: str, rating: int, judge: str = JUDGE, **fields) -> dict:
    return {"kind": "feedback", "source": "judge", "judge": judge, "thread_id": "t1", "run_id": run_id,
            "rating": rating, **fields}  # fmt: skip


def jsonl(tmp_path, records: list[dict], name: str = "verdicts.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return str(path)


def stored(store) -> list[dict]:
    """Every stored verdict, without its ids and times."""
    with store.engine.read() as conn:
        rows = conn.all(
            "SELECT judge, thread_id, run_id, message_id, scope, rating, rationale, scores FROM judge_votes "
            "ORDER BY judge, run_id, scope"
        )
    return [{**row, "scores": json.loads(row["scores"]) if row["scores"] else None} for row in rows]


def people(store) -> int:
    with store.engine.read() as conn:
        return int(conn.scalar("SELECT count(*) FROM feedback"))


def audit_rows(store) -> list[dict]:
    return store.audit.list(actor=SYSTEM, limit=1000)


def test_verdicts_in_a_file_go_to_the_judges_table_one_per_judge_and_target(store, tmp_path):
    records = base() + [
        judged("r1", 1, rationale="first thought"),
        judged("r1", -1, rationale="looked again", scores={"factual": False, "tone": "curt", "clarity": 2}),
        judged("r2", 1, comment="said as a comment"),
        judged("r1", 1, message_id="m1"),
        judged("r1", 1, judge=OTHER, user_id=OTHER),
        {"kind": "feedback", "thread_id": "t1", "run_id": "r1", "owner_id": "ana", "rating": 1, "source": "reviewer"},
    ]
    report = store.import_file(jsonl(tmp_path, records), actor=SYSTEM)
    assert report.ok, report.summary()
    assert report.counts == {"thread": 1, "run": 2, "event": 1, "feedback": 1, "judge": 5}
    assert "5 judges' verdicts" in report.summary()
    assert stored(store) == [
        {"judge": JUDGE, "thread_id": "t1", "run_id": "r1", "message_id": None, "scope": "", "rating": -1,
         "rationale": "looked again", "scores": {"factual": False, "tone": "curt", "clarity": 2}},
        {"judge": JUDGE, "thread_id": "t1", "run_id": "r1", "message_id": "m1", "scope": "m1", "rating": 1,
         "rationale": None, "scores": None},
        {"judge": JUDGE, "thread_id": "t1", "run_id": "r2", "message_id": None, "scope": "", "rating": 1,
         "rationale": "said as a comment", "scores": None},
        {"judge": OTHER, "thread_id": "t1", "run_id": "r1", "message_id": None, "scope": "", "rating": 1,
         "rationale": None, "scores": None},
    ]  # fmt: skip
    # people's votes hold the reviewer's alone; the thread's verdicts read back in the shape of votes
    assert people(store) == 1
    assert [vote["owner_id"] for vote in store.feedback.list_by_thread("t1", actor=SYSTEM)] == ["ana"]
    shown = store.judges.for_thread("t1", actor=SYSTEM)
    assert {(v["judge"], v["run_id"], v["message_id"]) for v in shown} == {
        (JUDGE, "r1", None),
        (JUDGE, "r1", "m1"),
        (JUDGE, "r2", None),
        (OTHER, "r1", None),
    }
    # each verdict created is audited once, under the importer, in the shape of a vote's values
    created = [row for row in audit_rows(store) if row["new_value"]["source"] == "judge"]
    assert len(created) == 4 and {row["action"] for row in created} == {"create"}
    first = next(row for row in created if row["new_value"]["scores"])
    assert (first["actor_id"], first["run_id"], first["old_value"]) == ("system", "r1", None)
    assert {key: first["new_value"][key] for key in ("owner_id", "judge", "rating", "comment", "tags")} == {
        "owner_id": JUDGE,
        "judge": JUDGE,
        "rating": -1,
        "comment": "looked again",
        "tags": [],
    }
    assert first["feedback_id"] in {v["judge_vote_id"] for v in shown}


def test_importing_again_changes_nothing_and_a_later_verdict_replaces_the_stored_one(store, tmp_path):
    records = base() + [judged("r1", 1, rationale="fine", scores={"factual": True})]
    assert store.import_file(jsonl(tmp_path, records), actor=SYSTEM).ok
    (before,) = store.judges.for_thread("t1", actor=SYSTEM)
    trail = audit_rows(store)
    assert store.import_file(jsonl(tmp_path, records), actor=SYSTEM).ok
    assert store.judges.for_thread("t1", actor=SYSTEM) == [before]
    assert audit_rows(store) == trail
    # a new verdict of the same judge on the same run replaces it, keeping its id; audited as an update
    assert store.ingest([judged("r1", -1, rationale="wrong after all")], actor=SYSTEM).ok
    (after,) = store.judges.for_thread("t1", actor=SYSTEM)
    assert after["judge_vote_id"] == before["judge_vote_id"]
    assert (after["rating"], after["rationale"], after["scores"]) == (-1, "wrong after all", None)
    update = audit_rows(store)[-1]
    assert (update["action"], update["feedback_id"]) == ("update", before["judge_vote_id"])
    assert (update["old_value"]["rating"], update["old_value"]["scores"]) == (1, {"factual": True})
    assert (update["new_value"]["rating"], update["new_value"]["comment"]) == (-1, "wrong after all")


BAD = [
    (judged("r1", 1, judge=None), "missing required field judge"),
    ({**judged("r1", 1), "source": "end_user"}, "judge is given only with source judge"),
    ({"kind": "feedback", "thread_id": "t1", "run_id": "r1", "rating": 1, "judge": JUDGE}, "only with source judge"),
    (judged("r1", 1, judge="no spaces allowed"), "judge 'no spaces allowed' is not a valid id"),
    (judged("r1", 2), "rating must be 1 or -1"),
    (judged("r1", 1, rationale="a", comment="b"), "not both"),
    (judged("r1", 1, rationale=["x"]), "rationale must be"),
    (judged("r1", 1, scores=["x"]), "scores must be an object"),
    (judged("r1", 1, scores={"Bad Name": True}), "is not a criterion name"),
    (judged("r1", 1, scores={"factual": 0.5}), "score factual: '0.5' is not valid"),
    (judged("r1", 1, tags=["slow"]), "tags is not taken on a judge's verdict"),
    (judged("r1", 1, feedback_id="f1"), "feedback_id is not taken"),
    (judged("r1", 1, owner_id="ana"), "owner_id is not taken on a judge's verdict"),
    (judged("r9", 1), "judge's verdict for run r9 which is neither in this file nor in the database"),
    ({**judged("r1", 1), "thread_id": "t2"}, "names thread t2 but run r1 belongs to thread t1"),
    (judged("r1", 1, message_id="m9"), "names message m9 which is not a message of run r1"),
]


@pytest.mark.parametrize(("record", "error"), BAD, ids=[error[:30] for _, error in BAD])
def test_a_bad_verdict_names_its_line_and_field_and_nothing_is_stored(store, tmp_path, record, error):
    assert store.ingest(base()[:2], actor=SYSTEM).ok
    record = {key: value for key, value in record.items() if value is not None}
    records = [judged("r1", 1, rationale="good one"), record, {"kind": "thread", "thread_id": "t3"}]
    report = store.import_file(jsonl(tmp_path, records), actor=SYSTEM)
    assert not report.ok
    assert [e["line"] for e in report.errors] == [2] and error in report.errors[0]["error"], report.errors
    assert stored(store) == [] and people(store) == 0
    with store.engine.read() as conn:
        assert [row["thread_id"] for row in conn.all("SELECT thread_id FROM threads")] == ["t1"]
    assert audit_rows(store) == []


def test_both_readers_store_the_same_rows(store, tmp_path):
    """The same records as a JSONL file (which the fast reader turns away, for its verdicts) and given one
    by one (into another thread) store the very same verdicts."""
    records = base() + [
        judged("r1", 1, rationale="ok", scores={"tone": "friendly", "factual": True}),
        judged("r2", -1, comment="no"),
        judged("r1", -1, message_id="m1", judge=OTHER),
        {"kind": "feedback", "thread_id": "t1", "run_id": "r2", "owner_id": "ana", "rating": -1},
    ]
    path = jsonl(tmp_path, records)
    assert fast.stage_file(path, SCHEMAS) is None
    assert store.import_file(path, actor=SYSTEM).ok
    renamed = json.loads(json.dumps(records).replace('"t1"', '"t2"').replace('"r1"', '"s1"').replace('"r2"', '"s2"'))
    assert store.ingest(renamed, actor=SYSTEM).ok
    rows = stored(store)
    by_file = [row for row in rows if row["thread_id"] == "t1"]
    by_records = [
        {**row, "thread_id": "t1", "run_id": "r" + row["run_id"][1:]} for row in rows if row["thread_id"] == "t2"
    ]
    assert len(by_file) == 3 and sorted(by_file, key=str) == sorted(by_records, key=str)
    assert people(store) == 2


def test_a_file_with_a_judge_field_on_a_vote_is_refused_by_both_readers(store, tmp_path):
    vote = {"kind": "feedback", "thread_id": "t1", "run_id": "r1", "owner_id": "ana", "rating": 1, "judge": JUDGE}
    by_file = store.import_file(jsonl(tmp_path, base() + [vote]), actor=SYSTEM)
    by_records = store.ingest(base() + [vote], actor=SYSTEM)
    assert not by_file.ok and by_file.errors == by_records.errors == [
        {"line": 5, "error": "judge is given only with source judge, not with source 'end_user'"}
    ]
    assert people(store) == 0 and stored(store) == []


def staged_both_ways(path: str) -> tuple[dict | None, dict]:
    """The rows the fast reader stages for a file (None when it declines) and those of the per-record path."""
    quick = fast.stage_file(path, SCHEMAS)
    errors: list = []
    with open(path, "rb") as stream:
        slow = stage_records(read_jsonl(stream), lambda line, message: errors.append((line, message)), None)
    assert not errors, errors
    rows = {kind: table.to_pylist() for kind, table in slow.tables.items() if kind != "judge" or table.num_rows}
    return (None if quick is None else {kind: table.to_pylist() for kind, table in quick.tables.items()}), rows


def test_the_fast_reader_stages_verdicts_as_the_record_path_does(tmp_path):
    records = base() + [
        judged("r1", 1, rationale='fine, "quoted"\nand more', created_at="2026-03-02T10:00:00Z"),
        judged("r2", -1, comment="said as a comment", updated_at="2026-03-02T11:00:00+02:00"),
        judged("r1", -1, message_id="m1", user_id=JUDGE, tags=[]),
        judged("r1", 1, judge=OTHER, owner_id=OTHER, rationale=""),
        {"kind": "feedback", "thread_id": "t1", "run_id": "r1", "owner_id": "ana", "rating": 1, "source": "reviewer"},
        {"kind": "feedback", "thread_id": "t1", "run_id": "r2", "rating": -1, "comment": "an end user"},
    ]
    quick, slow = staged_both_ways(jsonl(tmp_path, records))
    assert quick is not None and quick == slow
    assert [row["judge"] for row in quick["judge"]] == [JUDGE, JUDGE, JUDGE, OTHER]
    assert [row["rationale"] for row in quick["judge"]] == ['fine, "quoted"\nand more', "said as a comment", None, ""]
    assert len(quick["feedback"]) == 2
    # a file of people's votes alone stages no verdicts' table
    quick, slow = staged_both_ways(jsonl(tmp_path, base() + records[-2:], "people.jsonl"))
    assert quick is not None and quick == slow and "judge" not in quick


@pytest.mark.parametrize(("record", "error"), BAD[:13], ids=[error[:30] for _, error in BAD[:13]])
def test_the_fast_reader_declines_every_bad_verdict(tmp_path, record, error):
    record = {key: value for key, value in record.items() if value is not None}
    path = jsonl(tmp_path, base() + [judged("r1", 1), record])
    assert fast.stage_file(path, SCHEMAS) is None


def test_a_fast_import_of_verdicts_stores_what_the_record_path_stores(store, tmp_path):
    records = base() + [judged("r1", 1, rationale="ok"), judged("r2", -1, comment="no"), judged("r1", 1, judge=OTHER)]
    path = jsonl(tmp_path, records)
    assert fast.stage_file(path, SCHEMAS) is not None
    assert store.import_file(path, actor=SYSTEM).ok
    renamed = json.loads(json.dumps(records).replace('"t1"', '"t2"').replace('"r1"', '"s1"').replace('"r2"', '"s2"'))
    assert store.ingest(renamed, actor=SYSTEM).ok
    rows = stored(store)
    by_file = [row for row in rows if row["thread_id"] == "t1"]
    by_records = [
        {**row, "thread_id": "t1", "run_id": "r" + row["run_id"][1:]} for row in rows if row["thread_id"] == "t2"
    ]
    assert len(by_file) == 3 and sorted(by_file, key=str) == sorted(by_records, key=str)
    assert len([row for row in audit_rows(store) if row["new_value"]["source"] == "judge"]) == 6
