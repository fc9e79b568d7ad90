"""Every aggregate of data_layer.stats (through `stats.dashboard`) against answers computed by hand on a
small fixture.

The fixture (runs dated 2026-03, one run in the week before):
- thread t1 (assistant A): r1 (m1, success, 03-02 10:00) and its follow-up r2 (m1, success, 03-02 11:00)
- thread t2 (assistant B): r3 (m2, success, 03-03 09:00) and its follow-up r4 (m2, error, 03-03 10:00)
- thread t3 (assistant A): r5 (m2, success, 02-25), the previous period
Votes: r1 ana +1, bo -1 [incorrect, slow], end user u1 -1 (no tags); r2 ana +1, bo +1;
r3 ana -1 [incorrect], bo -1 (no tags); r5 ana +1.
"""

from __future__ import annotations

import math

import pytest

from data_layer import open_store, stats
from data_layer.analysis import wilson
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Forbidden, InvalidInput

WEEK = {"since": "2026-03-01", "until": "2026-03-07"}


def _run(run_id, thread_id, assistant, model, status, when):
    return {
        "kind": "run",
        "run_id": run_id,
        "thread_id": thread_id,
        "assistant_id": assistant,
        "model_name": model,
        "status": status,
        "created_at": when,
        "updated_at": when,
    }


def _vote(run_id, thread_id, owner, rating, when, *, tags=(), source="reviewer", comment=None):
    return {
        "kind": "feedback",
        "run_id": run_id,
        "thread_id": thread_id,
        "owner_id": owner,
        "rating": rating,
        "tags": list(tags),
        "source": source,
        "comment": comment,
        "created_at": when,
    }


FIXTURE = [
    {"kind": "thread", "thread_id": "t1", "assistant_id": "A"},
    {"kind": "thread", "thread_id": "t2", "assistant_id": "B"},
    {"kind": "thread", "thread_id": "t3", "assistant_id": "A"},
    _run("r1", "t1", "A", "m1", "success", "2026-03-02T10:00:00Z"),
    _run("r2", "t1", "A", "m1", "success", "2026-03-02T11:00:00Z"),
    _run("r3", "t2", "B", "m2", "success", "2026-03-03T09:00:00Z"),
    _run("r4", "t2", "B", "m2", "error", "2026-03-03T10:00:00Z"),
    _run("r5", "t3", "A", "m2", "success", "2026-02-25T09:00:00Z"),
    _vote("r1", "t1", "ana", 1, "2026-03-02T12:00:00Z"),
    _vote("r1", "t1", "bo", -1, "2026-03-02T13:00:00Z", tags=["incorrect", "slow"], comment="Outdated answer"),
    _vote("r1", "t1", "u1", -1, "2026-03-02T14:00:00Z", source="end_user"),
    _vote("r2", "t1", "ana", 1, "2026-03-02T12:00:00Z"),
    _vote("r2", "t1", "bo", 1, "2026-03-02T12:30:00Z"),
    _vote("r3", "t2", "ana", -1, "2026-03-03T11:00:00Z", tags=["incorrect"], comment="Wrong version"),
    _vote("r3", "t2", "bo", -1, "2026-03-03T12:00:00Z"),
    _vote("r5", "t3", "ana", 1, "2026-02-25T10:00:00Z"),
]


ENGINES = ("duckdb", pytest.param("postgresql", marks=pytest.mark.postgres))


@pytest.fixture(scope="module", params=ENGINES)
def small(request, tmp_path_factory):
    """The fixture above, once per engine for the whole module (these tests only read)."""
    server = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    url = server.create_database() if server else str(tmp_path_factory.mktemp("stats") / "small.duckdb")
    with open_store(url) as opened:
        report = opened.ingest(FIXTURE, actor=SYSTEM)
        assert report.ok, report.summary()
        yield opened
    if server:
        server.drop_database(url)


def test_wilson_interval_matches_hand_computation():
    low, high = wilson(3, 5)
    assert low == pytest.approx(0.2307, abs=1e-4)
    assert high == pytest.approx(0.8824, abs=1e-4)
    assert wilson(0, 0) == (None, None)
    low, high = wilson(1, 1)
    assert high == 1.0 and low == pytest.approx(0.2065, abs=1e-4)
    assert wilson(0, 4)[0] == 0.0


def board(store, filters=None, **options) -> dict:
    return stats.dashboard(store, filters, actor=SYSTEM, **options)


def test_headline_with_previous_period(small):
    head = board(small, WEEK)["headline"]
    assert head["current"] == {
        "runs": 4,
        "runs_with_feedback": 3,
        "votes": 7,
        "positive": 3,
        "negative": 4,
        "positive_rate": pytest.approx(3 / 7),
        "by_source": {
            "reviewer": {"votes": 6, "positive": 3, "positive_rate": 0.5},
            "end_user": {"votes": 1, "positive": 0, "positive_rate": 0.0},
        },
    }
    assert head["previous"]["runs"] == 1 and head["previous"]["votes"] == 1
    assert head["previous"]["positive_rate"] == 1.0
    assert head["change"] == {
        "runs": 3,
        "runs_with_feedback": 2,
        "votes": 6,
        "positive_rate": pytest.approx(3 / 7 - 1),
    }


def test_headline_reviewer_and_source_narrow_votes_not_runs(small):
    ana = board(small, {**WEEK, "reviewer": "ana"})["headline"]["current"]
    assert (ana["runs"], ana["votes"], ana["positive"]) == (4, 3, 2)
    users = board(small, {**WEEK, "source": "end_user"})["headline"]["current"]
    assert (users["runs"], users["votes"], users["negative"], users["runs_with_feedback"]) == (4, 1, 1, 1)
    assert board(small)["headline"]["change"] is None  # no date range, nothing to compare with


def test_over_time_per_day_with_counts(small):
    result = board(small, WEEK)["over_time"]
    assert result["bucket"] == "day"
    assert [(r["bucket"], r["votes"], r["positive"], r["negative"]) for r in result["rows"]] == [
        ("2026-03-02", 5, 3, 2),
        ("2026-03-03", 2, 0, 2),
    ]
    first = result["rows"][0]
    assert first["positive_rate"] == pytest.approx(0.6)
    assert (first["low"], first["high"]) == pytest.approx(wilson(3, 5))


def test_bucket_is_week_for_long_ranges(small):
    result = board(small, {"since": "2025-12-01", "until": "2026-03-07"})["over_time"]
    assert result["bucket"] == "week"
    # 2026-02-25 is a Wednesday, 03-02 a Monday: ISO weeks start on Monday
    assert [(r["bucket"], r["votes"]) for r in result["rows"]] == [("2026-02-23", 1), ("2026-03-02", 7)]


def test_rate_by_assistant_and_model_worst_first(small):
    assistants = board(small, WEEK)["by_assistant"]
    assert [(r["assistant_id"], r["votes"], r["positive"], r["positive_rate"]) for r in assistants] == [
        ("B", 2, 0, 0.0),
        ("A", 5, 3, 0.6),
    ]
    assert assistants[0]["low"] == 0.0 and assistants[0]["high"] == pytest.approx(wilson(0, 2)[1])
    models = board(small, WEEK)["by_model"]
    assert [(r["model_name"], r["votes"], r["positive"]) for r in models] == [("m2", 2, 0), ("m1", 5, 3)]


def test_rate_ties_put_more_votes_first(store):
    records = [{"kind": "thread", "thread_id": "t", "assistant_id": "X"}]
    for index, (model, rating) in enumerate([("few", 1), ("few", -1), ("many", 1), ("many", -1), ("many", 1)]):
        records.append(_run(f"r{index}", "t", "X", model, "success", f"2026-03-0{index + 1}T10:00:00Z"))
        records.append(_vote(f"r{index}", "t", "ana", rating, f"2026-03-0{index + 1}T11:00:00Z"))
    records.append(_run("r9", "t", "X", "many", "success", "2026-03-09T10:00:00Z"))
    records.append(_vote("r9", "t", "ana", -1, "2026-03-09T11:00:00Z"))
    assert store.ingest(records, actor=SYSTEM).ok
    models = board(store)["by_model"]
    assert [(r["model_name"], r["votes"], r["positive_rate"]) for r in models] == [("many", 4, 0.5), ("few", 2, 0.5)]


def test_reason_tags_count_untagged_negatives(small):
    over_time = board(small, WEEK)["tags_over_time"]
    assert over_time["bucket"] == "day"
    assert [(r["bucket"], r["tag"], r["negative"]) for r in over_time["rows"]] == [
        ("2026-03-02", "incorrect", 1),
        ("2026-03-02", "slow", 1),
        ("2026-03-02", "untagged", 1),
        ("2026-03-03", "incorrect", 1),
        ("2026-03-03", "untagged", 1),
    ]
    by_assistant = board(small, WEEK)["tags_by_assistant"]
    assert [(r["assistant_id"], r["tag"], r["negative"]) for r in by_assistant] == [
        ("A", "incorrect", 1),
        ("A", "slow", 1),
        ("A", "untagged", 1),
        ("B", "incorrect", 1),
        ("B", "untagged", 1),
    ]
    assert board(small, {**WEEK, "source": "end_user"})["tags_by_assistant"] == [
        {"assistant_id": "A", "tag": "untagged", "negative": 1}
    ]


def test_follow_ups_split_by_rating(small):
    rows = {r["rating"]: r for r in board(small, WEEK)["follow_ups"]}
    assert list(rows) == ["negative", "mixed", "positive", "unrated"]
    assert (rows["negative"]["runs"], rows["negative"]["followed_up"], rows["negative"]["rate"]) == (1, 1, 1.0)
    assert (rows["mixed"]["runs"], rows["mixed"]["followed_up"]) == (1, 1)
    assert (rows["positive"]["runs"], rows["positive"]["followed_up"], rows["positive"]["rate"]) == (1, 0, 0.0)
    assert (rows["unrated"]["runs"], rows["unrated"]["rate"], rows["unrated"]["low"]) == (0, None, None)
    # the end user's thumbs-down is what makes r1 mixed; reviewers alone see it as r1: +1 -1 (still mixed)
    only_ana = {r["rating"]: r["runs"] for r in board(small, {**WEEK, "reviewer": "ana"})["follow_ups"]}
    assert only_ana == {"negative": 1, "mixed": 0, "positive": 2, "unrated": 0}


def test_reviewer_activity_counts_reviewer_votes_only(small):
    rows = board(small, WEEK)["reviewers"]
    assert [(r["reviewer"], r["votes"], r["positive"], r["negative"], r["runs"]) for r in rows] == [
        ("ana", 3, 2, 1, 3),
        ("bo", 3, 1, 2, 3),
    ]
    assert board(small, {**WEEK, "source": "end_user"})["reviewers"] == []


def test_agreement_percent_and_fleiss_kappa(small):
    result = board(small, WEEK)["reviewer_agreement"]
    # r1 split (0 of 1 pair agrees), r2 and r3 unanimous: P = 2/3; p(up) = 3/6, Pe = 0.5
    assert (result["runs"], result["ratings"], result["positive"], result["unanimous"]) == (3, 6, 3, 2)
    assert result["percent_agreement"] == pytest.approx(2 / 3)
    assert result["kappa"] == pytest.approx(1 / 3)
    by = {row["assistant_id"]: row for row in result["by_assistant"]}
    assert by["A"]["runs"] == 2 and by["A"]["percent_agreement"] == pytest.approx(0.5)
    assert by["A"]["kappa"] == pytest.approx((0.5 - 0.625) / 0.375)
    assert by["B"]["percent_agreement"] == 1.0 and by["B"]["kappa"] is None  # every rating the same
    # the reviewer filter does not narrow agreement (one reviewer agrees with nobody)
    assert board(small, {**WEEK, "reviewer": "ana"})["reviewer_agreement"]["runs"] == 3


def test_worst_runs_most_negative_then_newest(small):
    rows = board(small, WEEK)["worst_runs"]
    assert [(r["run_id"], r["negative"], r["positive"]) for r in rows] == [("r3", 2, 0), ("r1", 2, 1)]
    assert rows[0]["thread_id"] == "t2" and rows[0]["assistant_id"] == "B" and rows[0]["model_name"] == "m2"
    assert rows[0]["latest_comment"] == "Wrong version"
    assert rows[1]["latest_comment"] == "Outdated answer"  # the end user's later vote has no comment
    assert rows[0]["created_at"].startswith("2026-03-03T09:00:00")
    assert [r["run_id"] for r in board(small, WEEK, worst=1)["worst_runs"]] == ["r3"]


def test_the_dashboard_asks_to_read_and_takes_only_its_filters(small):
    everything = board(small, WEEK)
    assert everything["bucket"] == "day"
    assert everything["bounds"]["first_run_at"].startswith("2026-02-25")
    # it names reviewers and quotes comments: a role that may not read gets nothing
    assert stats.dashboard(small, WEEK, actor=Actor("vi", "viewer")) == everything
    for refused in (Actor("eu", "end_user"), None):
        with pytest.raises(Forbidden):
            stats.dashboard(small, WEEK, actor=refused)
        with pytest.raises(Forbidden):
            stats.reviewers_seen(small, actor=refused)
    assert stats.reviewers_seen(small, actor=Actor("vi", "viewer")) == ["ana", "bo"]
    with pytest.raises(InvalidInput, match="the stats cannot be filtered by search"):
        board(small, {**WEEK, "search": "outdated"})
    with pytest.raises(InvalidInput, match="worst"):
        board(small, WEEK, worst=0)


def test_empty_database(store):
    everything = board(store, WEEK)
    assert everything["headline"]["current"] == {
        "runs": 0,
        "runs_with_feedback": 0,
        "votes": 0,
        "positive": 0,
        "negative": 0,
        "positive_rate": None,
        "by_source": {name: {"votes": 0, "positive": 0, "positive_rate": None} for name in ("reviewer", "end_user")},
    }
    assert everything["headline"]["change"]["positive_rate"] is None
    assert everything["over_time"]["rows"] == [] and everything["tags_over_time"]["rows"] == []
    assert everything["by_assistant"] == [] and everything["reviewers"] == [] and everything["worst_runs"] == []
    assert [r["runs"] for r in everything["follow_ups"]] == [0, 0, 0, 0]
    assert everything["reviewer_agreement"]["runs"] == 0 and everything["reviewer_agreement"]["kappa"] is None
    assert everything["bounds"] == {"first_run_at": None, "last_run_at": None}
    assert stats.overview(store)["positive_rate"] is None


def test_one_vote(store):
    assert store.ingest(
        [
            {"kind": "thread", "thread_id": "t", "assistant_id": "A"},
            _run("r", "t", "A", "m", "success", "2026-03-02T10:00:00Z"),
            _vote("r", "t", "ana", 1, "2026-03-02T11:00:00Z"),
        ],
        actor=SYSTEM,
    ).ok
    everything = board(store)
    assert everything["headline"]["current"]["positive_rate"] == 1.0
    [row] = everything["by_assistant"]
    assert (row["votes"], row["positive_rate"], row["high"]) == (1, 1.0, 1.0)
    assert row["low"] == pytest.approx(wilson(1, 1)[0])
    assert everything["reviewer_agreement"]["runs"] == 0
    assert {r["rating"]: r["runs"] for r in everything["follow_ups"]}["positive"] == 1
    assert everything["worst_runs"] == []
    assert everything["over_time"]["rows"][0]["votes"] == 1


def test_demo_data_shows_the_planted_findings(demo_store):
    everything = board(demo_store)
    assert everything["by_model"][0]["model_name"] == "qwen-max-old"
    worst, best = everything["by_model"][0], everything["by_model"][-1]
    assert worst["high"] < best["low"]  # clearly worse, not noise
    tags = {row["tag"] for row in everything["tags_by_assistant"]}
    assert "incorrect" in tags and stats.UNTAGGED in tags
    # The rates count whole-run votes: the store's total less the votes on single messages.
    with demo_store.engine.read() as conn:
        on_messages = conn.scalar("SELECT count(*) FROM feedback WHERE scope <> ''")
    whole_run = stats.overview(demo_store)["votes"] - on_messages
    assert on_messages > 0 and everything["headline"]["current"]["votes"] == whole_run
    assert sum(row["votes"] for row in everything["over_time"]["rows"]) == whole_run
    assert not math.isnan(everything["reviewer_agreement"]["percent_agreement"])
