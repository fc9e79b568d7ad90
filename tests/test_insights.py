"""The counting SQL of data_layer.insights on a real store (DuckDB file and PostgreSQL), against
hand-counted fixtures and the planted effects of the demo data."""

from __future__ import annotations

from datetime import date

import pytest

from data_layer import cli, demo, insights, open_store
from data_layer.auth import SYSTEM
from data_layer.errors import InvalidInput

ANCHOR = date(2026, 11, 1)


def _run(run_id, model, assistant="a1", day="2026-10-20"):
    return [
        {"kind": "thread", "thread_id": f"t-{run_id}", "assistant_id": assistant},
        {
            "kind": "run",
            "run_id": run_id,
            "thread_id": f"t-{run_id}",
            "assistant_id": assistant,
            "model_name": model,
            "status": "success",
            "created_at": f"{day}T10:00:00Z",
        },
    ]


def _vote(run_id, owner, rating, source="reviewer", comment=None, minute=0):
    return {
        "kind": "feedback",
        "thread_id": f"t-{run_id}",
        "run_id": run_id,
        "owner_id": owner,
        "rating": rating,
        "source": source,
        "comment": comment,
        "created_at": f"2026-10-21T10:{minute:02d}:00Z",
    }


@pytest.fixture
def small(store):
    records = _run("r1", "m1") + _run("r2", "m1") + _run("r3", "m2") + _run("r4", "m2")
    records += [
        _vote("r1", "ana", 1, minute=1),
        _vote("r1", "bo", 1, minute=2),
        _vote("r1", "u1", -1, "end_user", "outdated information here"),  # user down, reviewers up
        _vote("r2", "ana", -1, comment="Outdated information again", minute=5),
        _vote("r2", "bo", -1, minute=9),
        _vote("r2", "u2", -1, "end_user"),  # agree (down, down)
        _vote("r3", "ana", 1, comment="clear answer", minute=20),
        _vote("r3", "bo", -1, minute=30),
        _vote("r3", "u3", 1, "end_user"),  # reviewers tie: left out
        _vote("r4", "u4", 1, "end_user", "clear and right"),  # no reviewer
    ]
    assert store.ingest(records, actor=SYSTEM).ok
    return store


def test_slice_counts_keep_sources_apart(small):
    assert insights.slice_counts(small, {"model_name": "m1"}) == {
        "reviewer": {"votes": 4, "positive": 2},
        "end_user": {"votes": 2, "positive": 0},
    }
    compared = insights.compare_slices(small, {"model_name": "m1"}, {"model_name": "m2"})
    assert compared["reviewer"]["a"]["votes"] == 4 and compared["reviewer"]["b"]["votes"] == 2
    assert compared["end_user"]["b"] == {**compared["end_user"]["b"], "votes": 2, "positive": 2}
    assert compared["reviewer"]["verdict"] == "too_few"
    rows = insights.counts_by(small, "model_name")
    assert {(row["name"], row["source"]): (row["votes"], row["positive"]) for row in rows} == {
        ("m1", "reviewer"): (4, 2),
        ("m1", "end_user"): (2, 0),
        ("m2", "reviewer"): (2, 1),
        ("m2", "end_user"): (2, 2),
    }
    with pytest.raises(InvalidInput):
        insights.counts_by(small, "owner_id; DROP TABLE feedback")


def test_end_user_agreement_pairs_and_disagreements(small):
    result = insights.end_user_agreement(small)
    assert result["table"] == [[0, 0], [1, 1]] and result["ties"] == 1 and result["n"] == 2
    assert result["agreement"] == 0.5
    assert [row["model_name"] for row in result["by_model"]] == ["m1", "m2"]
    assert result["by_model"][1]["n"] == 0 and result["by_model"][1]["ties"] == 1
    found = insights.disagreements(small, actor=SYSTEM)
    assert found["total"] == 1 and found["user_down"] == 1 and found["user_up"] == 0
    (row,) = found["rows"]
    assert (row["run_id"], row["kind"], row["up"], row["down"]) == ("r1", "user_down_reviewers_up", 2, 0)
    # both sources are the point: a vote filter is refused, not ignored
    with pytest.raises(InvalidInput, match="cannot be filtered by source"):
        insights.end_user_agreement(small, {"source": "end_user"})
    assert insights.end_user_agreement(small, {"model_name": "m2"})["ties"] == 1


def test_reviewer_calibration_and_pace(small):
    rows = {row["reviewer"]: row for row in insights.reviewers(small, actor=SYSTEM)}
    # ana: r1 up (bo up: agree), r2 down (bo down: agree), r3 up (bo down: disagree)
    assert (rows["ana"]["votes"], rows["ana"]["compared"], rows["ana"]["agreed"]) == (3, 3, 2)
    assert rows["ana"]["median_gap_s"] == pytest.approx(240 + (900 - 240) / 2)  # gaps 4 min and 15 min
    assert rows["bo"]["median_gap_s"] == pytest.approx(14 * 60)  # gaps 7 and 21 min
    assert rows["bo"]["votes_per_day"] == 3.0


def test_themes_and_their_feedback(small):
    more = [_vote("r2", f"n{i}", -1, "end_user", "Outdated information!") for i in range(4)]
    more += [_vote("r4", f"p{i}", 1, "end_user", "Clear answer!") for i in range(40)]
    assert small.ingest(more, actor=SYSTEM).ok
    found = insights.themes(small, actor=SYSTEM, min_count=2)
    assert [row["phrase"] for row in found["phrases"]] == ["information", "outdated", "outdated information"]
    row = found["phrases"][0]
    assert (row["negative"], row["positive"]) == (6, 0) and len(row["feedback_ids"]) == 6
    assert row["z"] > 1.96 and row["by_model"] == {"m1": 6}
    listed = insights.feedback_by_ids(small, row["feedback_ids"], actor=SYSTEM)
    assert {item["run_id"] for item in listed} == {"r1", "r2"}
    assert all("utdated" in item["comment"] for item in listed)
    assert insights.feedback_by_ids(small, [], actor=SYSTEM) == []
    assert insights.themes(small, {"source": "end_user"}, actor=SYSTEM)["negative_comments"] == 5
    assert insights.themes(small, {"source": "reviewer"}, actor=SYSTEM)["phrases"] == []


def test_empty_store_answers_without_errors(store):
    assert insights.compare_slices(store, {}, {})["reviewer"]["verdict"] == "empty"
    assert insights.end_user_agreement(store)["n"] == 0 and insights.disagreements(store, actor=SYSTEM)["rows"] == []
    assert insights.reviewers(store, actor=SYSTEM) == [] and insights.themes(store, actor=SYSTEM)["phrases"] == []
    assert insights.daily_series(store) == {"until": None, "series": {}} and insights.alerts(store) == []


@pytest.mark.slow
def test_demo_data_shows_all_three_planted_effects(store):
    assert demo.seed(store, threads=200, seed=7, anchor=ANCHOR, actor=SYSTEM).ok
    reviewer = {row["name"]: row for row in insights.compare_all(store, "model_name")["reviewer"]}
    assert reviewer[demo.WORSE_MODEL]["verdict"] == "worse"
    compared = insights.compare_slices(store, {"model_name": "gpt-4.1"}, {"model_name": demo.WORSE_MODEL})
    assert compared["reviewer"]["verdict"] == "worse" and compared["end_user"]["verdict"] == "worse"
    top = [row["phrase"] for row in insights.themes(store, actor=SYSTEM)["phrases"][:15]]
    assert top[0] == "outdated" and "outdated information" in top and "信息过时" in top
    alerts = insights.alerts(store)
    bad_day = date.fromordinal(ANCHOR.toordinal() - demo.BAD_DAY_OFFSET).isoformat()
    assert [(row["assistant_id"], row["day"]) for row in alerts] == [(demo.BAD_DAY_ASSISTANT, bad_day)]


def test_cli_stats_alerts_exit_code(tmp_path, capsys):
    db = str(tmp_path / "cli.duckdb")
    with open_store(db) as store:
        assert demo.seed(store, threads=200, seed=7, anchor=ANCHOR, actor=SYSTEM).ok
    assert cli.main(["stats", "--alerts", "--db", db]) == 1
    out = capsys.readouterr().out
    assert out.startswith("ALERT ") and demo.BAD_DAY_ASSISTANT in out and out.count("ALERT") == 1
    quiet = str(tmp_path / "quiet.duckdb")
    with open_store(quiet) as store:
        assert store.ingest(_run("r1", "m1") + [_vote("r1", "ana", 1)], actor=SYSTEM).ok
    assert cli.main(["stats", "--alerts", "--db", quiet]) == 0
    assert capsys.readouterr().out.startswith("no alerts")
