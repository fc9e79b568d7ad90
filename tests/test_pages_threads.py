"""The threads page through AppTest: end users' and reviewers' votes in columns of their own, a filter
for a thumbs-down from each source (from the widgets and from the URL), a sort by each, and titles
given the rows they need. Runs the real app script against a real DuckDB file."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from data_layer.auth import SYSTEM
from tests.test_pages_review import open_page, thread_ids

USERS, REVIEWERS = "End users up / down", "Reviewers up / down"


@pytest.fixture
def app(monkeypatch, db_path, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", db_path)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    return AppTest.from_file("../app.py", default_timeout=30)


@pytest.fixture
def listed(db_path):
    """Three threads: t1 with an end user's thumbs-down, t2 with a reviewer's, t3 with both (and a long title)."""
    from data_layer import open_store

    long_title = "Why " + "does the export stop halfway " * 9 + "?"
    records = [
        {"kind": "thread", "thread_id": "t1", "display_name": "Refund question"},
        {"kind": "thread", "thread_id": "t2", "display_name": "Invoice twice"},
        {"kind": "thread", "thread_id": "t3", "display_name": long_title},
    ]
    for number, thread_id in enumerate(("t1", "t2", "t3"), start=1):
        records.append(
            {
                "kind": "run",
                "run_id": f"r{number}",
                "thread_id": thread_id,
                "status": "success",
                "created_at": f"2026-11-0{number}T10:00:00Z",
            }
        )
    for run_id, owner, rating, source in (
        ("r1", "user-1", -1, "end_user"),
        ("r1", "user-2", 1, "end_user"),
        ("r1", "ana", 1, "reviewer"),
        ("r2", "ana", -1, "reviewer"),
        ("r2", "bo", -1, "reviewer"),
        ("r3", "user-3", -1, "end_user"),
        ("r3", "user-4", -1, "end_user"),
        ("r3", "bo", -1, "reviewer"),
    ):
        thread_id = {"r1": "t1", "r2": "t2", "r3": "t3"}[run_id]
        records.append(
            {
                "kind": "feedback",
                "thread_id": thread_id,
                "run_id": run_id,
                "owner_id": owner,
                "rating": rating,
                "source": source,
            }
        )
    with open_store(db_path) as store:
        assert store.ingest(records, actor=SYSTEM).ok
    return long_title


def columns(at: AppTest) -> dict[str, dict[str, str]]:
    shown = at.dataframe[0].value
    return {
        thread: {"users": users, "reviewers": reviewers}
        for thread, users, reviewers in zip(shown["Thread"], shown[USERS], shown[REVIEWERS], strict=True)
    }


def test_end_users_and_reviewers_votes_are_columns_of_their_own(app, listed):
    at = open_page(app, "pages/threads.py", sort="title")
    assert list(at.dataframe[0].value.columns) == [
        "Title",
        "Assistant",
        "Runs",
        "Last activity",
        USERS,
        REVIEWERS,
        "Thread",
    ]
    assert columns(at) == {
        "t1": {"users": "1 / 1", "reviewers": "1 / 0"},
        "t2": {"users": "0 / 0", "reviewers": "0 / 2"},
        "t3": {"users": "0 / 2", "reviewers": "0 / 1"},
    }
    # The whole title and id are sent, and the rows are tall enough to wrap the longest title in full.
    assert listed in list(at.dataframe[0].value["Title"])
    assert at.dataframe[0].proto.row_height >= 12 + 18 * -(-len(listed) // 32)


def test_a_thumbs_down_from_each_source_filters_apart(app, listed):
    at = open_page(app, "pages/threads.py", sort="title")
    at.checkbox(key="user_negative").check().run()
    assert sorted(thread_ids(at)) == ["t1", "t3"]

    at.checkbox(key="user_negative").uncheck()
    at.checkbox(key="reviewer_negative").check().run()
    assert sorted(thread_ids(at)) == ["t2", "t3"]

    at.checkbox(key="user_negative").check().run()
    assert thread_ids(at) == ["t3"]
    assert "Threads 1–1 of 1. Select a row to open the thread." in [caption.value for caption in at.caption]


def test_the_source_filters_and_sorts_come_from_the_url(app, listed):
    at = open_page(app, "pages/threads.py", reviewer_negative="true", sort="most thumbs-down from reviewers")
    assert at.checkbox(key="reviewer_negative").value is True
    assert thread_ids(at) == ["t2", "t3"]

    at = open_page(
        AppTest.from_file("../app.py", default_timeout=30), "pages/threads.py", sort="most thumbs-down from end users"
    )
    assert thread_ids(at) == ["t3", "t1", "t2"]
