"""`queue export NAME`: one row per item with why it entered, its votes, consensus, a lead's verdict
and every reviewer's vote; read a page at a time; as JSONL and CSV, through the store on both engines
and through the command line."""

from __future__ import annotations

import csv
import io
import json

import pytest

from data_layer import cli, open_store
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import InvalidInput, NotFound
from data_layer.queues import QueueSpec
from tests.test_queues import runs, vote

LEAD = Actor("lee", "lead")


def arrange(store) -> None:
    records = runs(5)
    records += [
        {**vote("r-0", "ana", 1), "comment": '=HYPERLINK("http://x")', "tags": ["slow", "other"]},
        {**vote("r-0", "bo", -1), "comment": "wrong date"},
        vote("r-1", "ana", 1),
        vote("r-1", "bo", 1),
        vote("r-1", "cy", -1),
        vote("r-2", "eu", -1, "end_user"),  # an end user's vote is no review
    ]
    assert store.ingest(records, actor=SYSTEM).ok
    store.queues.create(QueueSpec("pair", sample_rate=1.0, reviewers_per_item=2), actor=SYSTEM)
    store.queues.adjudicate("pair", "r-0", verdict="bad", note="The date is wrong.", actor=LEAD)


EXPECTED = [
    {
        "run_id": "r-0",
        "thread_id": "r-t0",
        "reason": "sampled",
        "inclusion_probability": 1.0,
        "votes": 2,
        "consensus": "bad",
        "verdict": "bad",
        "verdict_note": "The date is wrong.",
        "verdict_by": "lee",
        "reviews": [
            {"owner": "ana", "rating": 1, "comment": '=HYPERLINK("http://x")', "tags": ["slow", "other"]},
            {"owner": "bo", "rating": -1, "comment": "wrong date", "tags": []},
        ],
    },
    {
        "run_id": "r-1",
        "thread_id": "r-t0",
        "reason": "sampled",
        "inclusion_probability": 1.0,
        "votes": 3,
        "consensus": "good",
        "verdict": None,
        "verdict_note": None,
        "verdict_by": None,
        "reviews": [
            {"owner": "ana", "rating": 1, "comment": None, "tags": []},
            {"owner": "bo", "rating": 1, "comment": None, "tags": []},
            {"owner": "cy", "rating": -1, "comment": None, "tags": []},
        ],
    },
] + [
    {
        "run_id": f"r-{n}",
        "thread_id": "r-t0",
        "reason": "sampled",
        "inclusion_probability": 1.0,
        "votes": 0,
        "consensus": None,
        "verdict": None,
        "verdict_note": None,
        "verdict_by": None,
        "reviews": [],
    }
    for n in (2, 3, 4)
]


@pytest.mark.parametrize("page_size", [2, 500])
def test_every_item_once_with_its_reviews_and_verdict_whatever_the_page(store, page_size):
    arrange(store)
    text = "".join(store.queues.export("pair", actor=Actor("vi", "viewer"), page_size=page_size))
    assert [json.loads(line) for line in text.splitlines()] == EXPECTED


def test_csv_has_a_column_per_review_field_and_inert_formulas(store):
    arrange(store)
    table = list(csv.reader(io.StringIO("".join(store.queues.export("pair", actor=SYSTEM, fmt="csv", page_size=2)))))
    header, rows = table[0], table[1:]
    assert header[:9] == [
        "run_id",
        "thread_id",
        "reason",
        "inclusion_probability",
        "votes",
        "consensus",
        "verdict",
        "verdict_note",
        "verdict_by",
    ]
    assert header[9:] == [f"review_{n}_{f}" for n in (1, 2, 3) for f in ("owner", "rating", "comment", "tags")]
    first = dict(zip(header, rows[0], strict=True))
    assert (first["review_1_comment"], first["review_1_tags"]) == ('\'=HYPERLINK("http://x")', "slow;other")
    assert (first["review_2_owner"], first["review_2_rating"], first["review_3_owner"]) == ("bo", "-1", "")
    assert [row[0] for row in rows] == ["r-0", "r-1", "r-2", "r-3", "r-4"]
    assert dict(zip(header, rows[1], strict=True))["review_3_owner"] == "cy"


def test_a_bad_export_is_refused_before_anything_is_read(store):
    arrange(store)
    with pytest.raises(NotFound, match="queue nope not found"):
        store.queues.export("nope", actor=SYSTEM)
    with pytest.raises(InvalidInput, match="csv or jsonl"):
        store.queues.export("pair", actor=SYSTEM, fmt="parquet")
    with pytest.raises(InvalidInput, match="page size"):
        store.queues.export("pair", actor=SYSTEM, page_size=0)


def test_the_export_command(tmp_path, capsys):
    db = str(tmp_path / "q.duckdb")
    with open_store(db) as store:
        arrange(store)
    assert cli.main(["queue", "export", "pair", "--json", "--db", db]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == EXPECTED
    target = tmp_path / "pair.csv"
    assert cli.main(["queue", "export", "pair", "--format", "csv", "--output", str(target), "--db", db]) == 0
    assert capsys.readouterr().out.strip() == str(target)
    assert target.read_bytes().startswith(b"\xef\xbb\xbfrun_id,thread_id,reason")
    assert len(target.read_text(encoding="utf-8-sig").splitlines()) == 6
    assert cli.main(["queue", "export", "nope", "--output", str(tmp_path / "x.csv"), "--db", db]) == 1
    assert capsys.readouterr().err.strip() == "error: queue nope not found"
    assert sorted(path.name for path in tmp_path.iterdir() if "csv" in path.name) == ["pair.csv"]


RUBRIC = [
    {"name": "factual", "kind": "binary", "required": True},
    {"name": "helpfulness", "kind": "ordinal"},
    {"name": "tone", "kind": "categorical", "options": ["warm", "=curt"]},
]


def test_the_reviews_carry_their_scores_and_csv_a_column_per_criterion(store):
    assert store.ingest(runs(2), actor=SYSTEM).ok
    store.queues.create(QueueSpec("scored", sample_rate=1.0, reviewers_per_item=2, rubric=RUBRIC), actor=SYSTEM)
    given = {"ana": {"factual": True, "helpfulness": 4, "tone": "=curt"}, "bo": {"factual": False}}
    for owner, scores in given.items():
        store.queues.submit("scored", "r-0", rating=1, scores=scores, actor=Actor(owner, "reviewer"))
    lines = [json.loads(line) for line in "".join(store.queues.export("scored", actor=SYSTEM)).splitlines()]
    assert [review["scores"] for review in lines[0]["reviews"]] == [
        {"factual": True, "helpfulness": 4, "tone": "=curt"},
        {"factual": False},
    ]
    table = list(csv.reader(io.StringIO("".join(store.queues.export("scored", actor=SYSTEM, fmt="csv")))))
    header, first = table[0], dict(zip(table[0], table[1], strict=True))
    assert header[9:] == [
        f"review_{n}_{field}"
        for n in (1, 2)
        for field in ("owner", "rating", "comment", "tags", "score.factual", "score.helpfulness", "score.tone")
    ]
    assert [first[f"review_1_score.{name}"] for name in ("factual", "helpfulness", "tone")] == ["yes", "4", "'=curt"]
    assert [first[f"review_2_score.{name}"] for name in ("factual", "helpfulness", "tone")] == ["no", "", ""]


def test_a_reviewer_yet_to_judge_a_blind_item_exports_no_other_review_of_it(store):
    assert store.ingest(runs(2), actor=SYSTEM).ok
    store.queues.create(QueueSpec("blind", sample_rate=1.0, reviewers_per_item=2, blind=True), actor=SYSTEM)
    store.queues.submit("blind", "r-0", rating=-1, comment="wrong", actor=Actor("ana", "reviewer"))
    store.queues.submit("blind", "r-1", rating=1, actor=Actor("ana", "reviewer"))
    store.queues.submit("blind", "r-1", rating=-1, actor=Actor("bo", "reviewer"))
    store.queues.adjudicate("blind", "r-1", verdict="good", note="fine", actor=LEAD)

    def exported(actor) -> dict:
        return {
            row["run_id"]: row
            for row in map(json.loads, "".join(store.queues.export("blind", actor=actor)).splitlines())
        }

    # bo has yet to judge r-0: ana's review and the consensus stay hidden; r-1 has all its votes
    for_bo = exported(Actor("bo", "reviewer"))
    assert (for_bo["r-0"]["reviews"], for_bo["r-0"]["consensus"]) == ([], None)
    assert [review["owner"] for review in for_bo["r-1"]["reviews"]] == ["ana", "bo"]
    assert (for_bo["r-1"]["verdict"], for_bo["r-1"]["verdict_note"]) == ("good", "fine")
    assert [review["owner"] for review in exported(Actor("ana", "reviewer"))["r-0"]["reviews"]] == ["ana"]
    assert exported(Actor("vi", "viewer"))["r-0"]["consensus"] == "bad"
    table = list(
        csv.reader(io.StringIO("".join(store.queues.export("blind", actor=Actor("bo", "reviewer"), fmt="csv"))))
    )
    assert "wrong" not in {cell for row in table for cell in row}
