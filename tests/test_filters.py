"""`data_layer.filters.Filters`: checked once when made, JSON-friendly, turned into fixed SQL by one
function, and refused by a reader that does not take one of its fields."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime

import pytest

from data_layer import export, insights, stats
from data_layer.auth import SYSTEM
from data_layer.errors import InvalidInput
from data_layer.filters import RUNS, VOTES, Filters, conditions


def test_times_are_iso_utc_and_a_date_until_includes_its_day():
    week = Filters(since="2026-03-01", until="2026-03-07")
    assert (week.since, week.until) == ("2026-03-01T00:00:00+00:00", "2026-03-08T00:00:00+00:00")
    assert Filters(since=date(2026, 3, 1), until=date(2026, 3, 7)) == week
    assert Filters(until="2026-03-07T12:00:00+02:00").until == "2026-03-07T10:00:00+00:00"  # a time: as it is
    assert Filters(since=1_772_323_200).since == "2026-03-01T00:00:00+00:00"  # epoch seconds
    assert week.until_time == datetime(2026, 3, 8, tzinfo=UTC)
    previous = week.previous()
    assert (previous.since, previous.until) == ("2026-02-22T00:00:00+00:00", "2026-03-01T00:00:00+00:00")
    assert Filters(since="2026-03-01").previous() is None
    # the period before the first weeks of 1970 starts before any time a caller may give: still given
    assert Filters(since="1970-01-02", until="1970-03-01").previous().since == "1969-11-04T00:00:00+00:00"


def test_values_are_json_friendly_and_checking_them_again_changes_nothing():
    chosen = Filters(
        since="2026-03-01", until="2026-03-07", assistant_id="A", status="error", has_negative=True, rating="negative"
    )
    assert chosen.rating == -1
    assert chosen.as_dict() == {
        "since": "2026-03-01T00:00:00+00:00",
        "until": "2026-03-08T00:00:00+00:00",
        "assistant_id": "A",
        "status": "error",
        "has_negative": True,
        "rating": -1,
    }
    assert Filters(**json.loads(json.dumps(asdict(chosen)))) == chosen
    assert Filters.of(chosen.as_dict()) == chosen
    assert Filters(assistant_id="", source="", search="") == Filters() and Filters().as_dict() == {}
    assert Filters(has_negative=None).has_negative is False


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"source": "robots"}, "source 'robots' is not one of"),
        ({"status": "bogus"}, "status 'bogus' is not one of"),
        ({"rating": "meh"}, "rating 'meh'"),
        ({"rating": True}, "rating True"),
        ({"action": "drop"}, "action 'drop'"),
        ({"thread_id": "x'; drop table feedback_audit; --"}, "thread_id"),
        ({"has_negative": "yes"}, "has_negative must be true or false"),
        ({"assistant_id": "a" * 201}, "assistant_id is too long"),
        ({"search": 7}, "search must be a string"),
        ({"since": "2026-02-30"}, "since '2026-02-30' is not a date"),
        ({"since": "yesterday"}, "since 'yesterday' is not an ISO-8601 timestamp"),
        ({"since": "2026-03-05", "until": "2026-03-01"}, "since must be before until"),
        # a hostile range from an address: refused, not an overflow in the date arithmetic
        ({"since": "0001-01-01", "until": "9999-12-31"}, "since 0001-01-01 is out of range"),
        ({"until": "9999-12-31"}, "until 9999-12-31 is out of range"),
    ],
)
def test_bad_values_are_refused_naming_the_field(fields, words):
    with pytest.raises(InvalidInput, match=words.replace("(", r"\(")):
        Filters(**fields)


def test_of_takes_filters_a_dict_or_nothing_and_refuses_what_a_reader_does_not_take():
    assert Filters.of(None) == Filters()
    with pytest.raises(InvalidInput, match="unknown filter 'colour'; the queue takes since, until"):
        Filters.of({"colour": "red"}, takes=("since", "until"), reader="the queue")
    with pytest.raises(InvalidInput, match="the stats cannot be filtered by search; it takes since"):
        Filters.of(Filters(search="x"), takes=("since",), reader="the stats")
    with pytest.raises(InvalidInput, match="filters must be a dict, got list"):
        Filters.of([("since", "2026-03-01")])
    assert Filters.of({"search": None}, takes=("since",)) == Filters()  # not set: nothing to refuse


def test_conditions_are_fixed_sql_and_the_values_only_parameters():
    hostile = "x' OR 1=1; --"
    chosen = Filters(since="2026-03-01", assistant_id=hostile, reviewer="ana")
    sql, params = conditions(chosen, RUNS)
    assert sql == "r.created_at >= $since AND r.assistant_id = $assistant_id"
    assert params == {"since": datetime(2026, 3, 1, tzinfo=UTC), "assistant_id": hostile}
    assert conditions(chosen, VOTES) == ("f.owner_id = $reviewer", {"reviewer": "ana"})
    assert conditions(Filters(), RUNS) == ("TRUE", {})


def test_every_reader_refuses_a_filter_it_does_not_take(store, tmp_path):
    readers = {
        "the threads list": lambda: store.threads.count({"reviewer": "ana"}),
        "the review queue": lambda: store.queue.progress({"search": "refund"}, actor=SYSTEM),
        "the audit trail": lambda: store.audit.count({"model_name": "m1"}, actor=SYSTEM),
        "the export": lambda: export.write(store, tmp_path / "x.csv", filters={"has_negative": True}, actor=SYSTEM),
        "the stats": lambda: stats.dashboard(store, {"status": "error"}, actor=SYSTEM),
        "the themes": lambda: insights.themes(store, {"thread_id": "t1"}, actor=SYSTEM),
        "the reviewers": lambda: insights.reviewers(store, {"reviewer": "ana"}, actor=SYSTEM),
    }
    for reader, call in readers.items():
        with pytest.raises(InvalidInput, match=f"^{reader} cannot be filtered by "):
            call()
    assert not (tmp_path / "x.csv").exists()


def test_a_date_until_includes_the_whole_day_for_threads_too(store):
    late = "2026-03-02T23:00:00Z"
    assert store.ingest(
        [
            {"kind": "thread", "thread_id": "t1", "created_at": late, "updated_at": late},
            {"kind": "run", "run_id": "r1", "thread_id": "t1", "status": "error", "created_at": late},
        ],
        actor=SYSTEM,
    ).ok
    assert store.threads.count({"since": "2026-03-02", "until": "2026-03-02"}) == 1
    assert store.threads.count({"until": "2026-03-02T12:00:00Z"}) == 0
    assert store.threads.count({"status": "error", "until": date(2026, 3, 2)}) == 1
    assert store.queue.progress({"since": "2026-03-02", "until": "2026-03-02"}, actor=SYSTEM) == (0, 1)
