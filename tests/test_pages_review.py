"""The reviewer's pages (threads, thread view, review queue) through AppTest, and the queue's data layer.

Every test runs the real app script against a real DuckDB file and checks what was stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import data_layer
from data_layer import queue as review_queue
from data_layer.auth import SYSTEM, Actor
from data_layer.engines.faults import FaultPlan, engine_error, injected
from data_layer.errors import InvalidInput

ME = "local-reviewer"
ANA, BO = Actor("ana"), Actor("bo")


@pytest.fixture
def app(monkeypatch, store_url, fresh_streamlit_caches):
    """An AppTest of the dashboard on the test's store (seed it first, or it stays empty)."""
    monkeypatch.setenv("FEEDBACK_DB", store_url)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    return AppTest.from_file("../app.py", default_timeout=30)


def open_page(at: AppTest, script: str, **params) -> AppTest:
    """Open one page with URL parameters. AppTest runs a page of an app with a `pages/` folder on
    its own (without app.py's sidebar), which is fine here: the pages need nothing from it."""
    at.switch_page(script)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def captions(at: AppTest) -> list[str]:
    return [caption.value for caption in at.caption]


def thread_ids(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["Thread"]) if at.dataframe else []


def votes(store, run_id: str, owner: str = ME) -> list[dict]:
    return [vote for vote in store.feedback.list_by_run_id(run_id, actor=SYSTEM) if vote["owner_id"] == owner]


# ---- threads page ---------------------------------------------------------------------------------


def test_threads_page_lists_a_page_of_threads_and_filters_in_sql(app, demo_store):
    at = open_page(app, "pages/threads.py")
    assert len(thread_ids(at)) == 25
    assert "Threads 1–25 of 60. Select a row to open the thread." in captions(at)
    first = demo_store.threads.list(limit=25)
    assert thread_ids(at) == [row["thread_id"] for row in first]

    at.text_input(key="q").set_value("benchmark").run()
    expected = demo_store.threads.list({"search": "benchmark"}, limit=25)
    assert 0 < len(expected) < 25
    assert thread_ids(at) == [row["thread_id"] for row in expected]

    at.selectbox(key="assistant").set_value("research-agent").run()
    at.checkbox(key="negative").check().run()
    expected = demo_store.threads.list({"search": "benchmark", "assistant_id": "research-agent", "has_negative": True})
    assert thread_ids(at) == [row["thread_id"] for row in expected]
    shown = at.dataframe[0].value
    downs = [
        int(users.split(" / ")[1]) + int(reviewers.split(" / ")[1])
        for users, reviewers in zip(shown["End users up / down"], shown["Reviewers up / down"], strict=True)
    ]
    assert len(downs) == len(expected) and all(down > 0 for down in downs)

    at.text_input(key="q").set_value("no thread says this").run()
    assert not at.dataframe
    assert at.info[0].value == "No thread matches these filters."


def test_threads_filters_and_page_come_from_the_url(app, demo_store):
    at = open_page(app, "pages/threads.py", sort="most runs", page="2")
    expected = demo_store.threads.list(order="runs desc", limit=25, offset=25)
    assert thread_ids(at) == [row["thread_id"] for row in expected]
    assert "Threads 26–50 of 60. Select a row to open the thread." in captions(at)

    at = open_page(AppTest.from_file("../app.py", default_timeout=30), "pages/threads.py", status="error")
    expected = demo_store.threads.list({"status": "error"}, limit=25)
    assert thread_ids(at) == [row["thread_id"] for row in expected]
    assert at.selectbox(key="status").value == "error"
    total = demo_store.threads.count({"status": "error"})
    assert 0 < total < 60 and any(f"of {total}." in caption for caption in captions(at))


def test_not_reviewed_by_me_hides_threads_after_my_vote(app, demo_store):
    at = open_page(app, "pages/threads.py")
    at.checkbox(key="unreviewed").check().run()
    before = demo_store.threads.count({"not_reviewed_by": ME})
    assert before == 60
    run = demo_store.runs.list_by_thread(thread_ids(at)[0])[0]
    demo_store.feedback.upsert(thread_id=run["thread_id"], run_id=run["run_id"], rating=1, owner_id=ME, actor=SYSTEM)
    st.cache_data.clear()  # a vote from elsewhere shows after the read TTL; don't wait for it
    at.run()
    assert any("of 59." in caption for caption in captions(at))
    assert run["thread_id"] not in thread_ids(at)


def test_selecting_a_row_opens_that_thread(app, demo_store):
    at = open_page(app, "pages/threads.py")
    wanted = thread_ids(at)[2]
    at.session_state["threads_table"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.query_params["thread"] == wanted
    assert any(wanted in caption for caption in captions(at))


@pytest.mark.parametrize("page", ["pages/threads.py", "pages/thread.py", "pages/queue.py"])
def test_pages_render_on_an_empty_database(app, store, page):
    at = open_page(app, page)
    shown = [info.value for info in at.info] + [done.value for done in at.success]
    expected = {
        "pages/threads.py": "No threads yet",
        "pages/thread.py": "Pick a thread",
        "pages/queue.py": "No runs match this filter.",
    }[page]
    assert any(expected in text for text in shown), shown


def test_unknown_thread_says_so(app, store):
    at = open_page(app, "pages/thread.py", thread="nope")
    assert "was not found" in at.warning[0].value


# ---- thread view -----------------------------------------------------------------------------------


def test_thread_view_shows_runs_chain_and_conversation(app, seeded):
    at = open_page(app, "pages/thread.py", thread="t1")
    texts = " ".join(captions(at))
    assert "follow-up to run `r1`" in texts
    assert "model `m1`" in texts
    assert any("Follow-up chain" in md.value and "`r1`" in md.value and "`r2`" in md.value for md in at.markdown)
    humans = [message for message in at.chat_message if message.name == "human"]
    assert [message.markdown[0].value for message in humans] == ["Plan a trip to Kyoto", "Shorter please"]
    assert not at.toggle(key="thread_show_trace").value


def test_hostile_message_is_shown_as_text(app, demo_store):
    hostile = demo_store.threads.list({"search": "tracker.example.invalid"}, limit=1)[0]
    at = open_page(app, "pages/thread.py", thread=hostile["thread_id"])
    shown = [md.value for md in at.markdown if "pwned" in md.value]
    assert shown, "the hostile message is not on the page"
    for text in shown:
        # every construct that could load, link or run is escaped into plain characters
        assert "\\<script>" in text and "\\<img" in text
        assert "!\\[tracker\\](\u200bhttps\\://tracker.example.invalid/pixel.png)" in text
        assert "\\[click me\\](javascript\\:alert(1))" in text
    assert not at.exception


def test_thumbs_click_writes_one_row_and_a_second_click_updates_it(app, seeded):
    at = open_page(app, "pages/thread.py", thread="t1")
    key = f"fb|{ME}|r1|"
    at.feedback(key=key + "|thumb").set_value(0).run()
    assert not at.exception
    first = votes(seeded, "r1")
    assert len(first) == 1
    assert (first[0]["rating"], first[0]["message_id"], first[0]["source"]) == (-1, None, "reviewer")

    at.text_area(key=key + "|comment").set_value("Misses the budget")
    at.multiselect(key=key + "|tags").set_value(["incorrect", "slow"]).run()
    typed = votes(seeded, "r1")  # saved as they changed, with no button
    assert [(v["rating"], v["comment"], v["tags"]) for v in typed] == [(-1, "Misses the budget", ["incorrect", "slow"])]
    at.feedback(key=key + "|thumb").set_value(1).run()
    second = votes(seeded, "r1")
    assert len(second) == 1
    assert second[0]["feedback_id"] == first[0]["feedback_id"]
    assert (second[0]["rating"], second[0]["comment"], second[0]["tags"]) == (1, "Misses the budget", [])
    assert seeded.threads.get("t1")["positive"] == 1


def test_vote_on_an_ai_message_and_retract_it(app, seeded):
    at = open_page(app, "pages/thread.py", thread="t1")
    key = f"fb|{ME}|r1|a1"
    at.feedback(key=key + "|thumb").set_value(1).run()
    rows = votes(seeded, "r1")
    assert [(row["message_id"], row["rating"]) for row in rows] == [("a1", 1)]
    assert "Saved :material/thumb_up: on this message." in [toast.value for toast in at.toast]

    at.button(key=key + "|thumb|retract").click().run()
    assert votes(seeded, "r1") == []
    assert at.feedback(key=key + "|thumb").value is None


def test_others_votes_are_listed_with_who_and_when(app, seeded):
    seeded.feedback.upsert(
        thread_id="t1", run_id="r2", rating=-1, owner_id="bo@example.com", comment="Too short", actor=SYSTEM
    )
    at = open_page(app, "pages/thread.py", thread="t1")
    # a name is plain text: punctuation escaped, and the invisible break after "@" keeps the address
    # from becoming a mailto link
    listed = [md.value for md in at.markdown if "bo\\@\u200bexample\\.com" in md.value]
    assert listed and ":material/thumb_down:" in listed[0] and "UTC" in listed[0]
    assert any("Too short" in md.value for md in at.markdown)


def test_a_rejected_vote_shows_why_and_keeps_what_was_typed(app, seeded):
    app.session_state["reviewer"] = "not a valid id"
    at = open_page(app, "pages/thread.py", thread="t1")
    key = "fb|not a valid id|r1|"
    at.feedback(key=key + "|thumb").set_value(0).run()
    at.text_area(key=key + "|comment").set_value("my long comment").run()
    assert any("Not saved" in error.value for error in at.error)
    assert any("Not saved" in md.value for md in at.markdown)
    assert seeded.feedback.count_by_run("t1", "r1", actor=SYSTEM) == 0
    assert at.text_area(key=key + "|comment").value == "my long comment"


def test_a_vote_on_a_full_disk_says_not_saved_and_keeps_what_was_typed(app, seeded, store_url):
    at = open_page(app, "pages/thread.py", thread="t1")
    key = f"fb|{ME}|r1|"
    full = FaultPlan(range(1, 10_000), engine_error(seeded.engine.name, "disk_full"))
    with injected(data_layer.shared_store(store_url).engine, full):
        at.feedback(key=key + "|thumb").set_value(0).run()
        at.text_area(key=key + "|comment").set_value("my long comment").run()
    assert full.fired == 2
    shown = [error.value for error in at.error]
    assert any("Not saved" in text and "cannot store anything right now" in text for text in shown), shown
    assert not any("changed this at the same moment" in warning.value for warning in at.warning)
    assert seeded.feedback.count_by_run("t1", "r1", actor=SYSTEM) == 0
    assert at.text_area(key=key + "|comment").value == "my long comment"


# ---- review queue ------------------------------------------------------------------------------------


def current_run_id(at: AppTest) -> str:
    return at.session_state["rq_run"]


def test_queue_votes_skips_and_moves_on(app, demo_store):
    at = open_page(app, "pages/queue.py")
    total = demo_store.queue.progress(actor=Actor(ME))[1]
    assert at.progress[0].value == 0
    first = current_run_id(at)

    at.button(key=f"rq_up|{first}").click().run()
    assert [vote["rating"] for vote in votes(demo_store, first)] == [1]
    second = current_run_id(at)
    assert second != first  # a vote moves on by itself ("Advance after a vote" is on)

    at.pills(key=f"rq|{ME}|{second}|tags").set_value(["not_as_expected"])
    at.toggle(key="rq_advance").set_value(False)
    at.button(key=f"rq_down|{second}").click().run()
    assert current_run_id(at) == second  # advancing is off: N moves on
    at.button(key=f"rq_next|{second}").click().run()
    assert [(vote["rating"], vote["tags"]) for vote in votes(demo_store, second)] == [(-1, ["not_as_expected"])]

    third = current_run_id(at)
    assert third != second
    at.button(key=f"rq_skip|{third}").click().run()
    assert votes(demo_store, third) == []
    assert current_run_id(at) not in (first, second, third)
    assert demo_store.queue.progress(actor=Actor(ME)) == (2, total)
    assert at.progress[0].value == round(100 * 2 / total)


def test_queue_filter_narrows_the_runs(app, demo_store):
    at = open_page(app, "pages/queue.py", rq_status="error")
    run = demo_store.runs.get(current_run_id(at))
    assert run["status"] == "error"
    at.checkbox(key="rq_followups").check().run()
    if demo_store.queue.progress({"status": "error", "follow_ups_only": True}, actor=Actor(ME))[1]:
        assert demo_store.runs.get(current_run_id(at))["follow_up_to_run_id"]
    else:
        assert "No runs match this filter." in at.success[0].value


def test_queue_does_not_hand_out_a_run_another_reviewer_holds(app, demo_store):
    held = demo_store.queue.next_run(actor=Actor("bo@example.com"))
    at = open_page(app, "pages/queue.py")
    assert current_run_id(at) != held["run_id"]


# ---- the queue in the data layer ---------------------------------------------------------------------


def test_claims_keep_reviewers_apart_until_the_lease_ends(demo_store):
    ana = demo_store.queue.next_run(actor=ANA)
    bo = demo_store.queue.next_run(actor=BO)
    assert ana["run_id"] != bo["run_id"]
    assert demo_store.queue.next_run(actor=ANA)["run_id"] == ana["run_id"]  # a reload resumes the same run
    assert not demo_store.queue.claim(ana["run_id"], actor=BO)
    assert demo_store.queue.holder(ana["run_id"], actor=SYSTEM)["owner_id"] == "ana"

    stale = datetime.now(UTC) - review_queue.LEASE - timedelta(seconds=1)
    demo_store.engine.write(
        lambda conn: conn.execute("UPDATE review_claims SET claimed_at = $at WHERE owner_id = 'ana'", {"at": stale})
    )
    assert demo_store.queue.claim(ana["run_id"], actor=BO)
    demo_store.queue.release(ana["run_id"], actor=BO)
    assert demo_store.queue.holder(ana["run_id"], actor=SYSTEM) is None


def test_skipped_runs_go_to_the_back_and_voted_runs_leave(demo_store):
    filters = {"assistant_id": "coding-agent", "status": "success"}
    reviewed, total = demo_store.queue.progress(filters, actor=ANA)
    assert (reviewed, total) == (0, demo_store.queue.progress(filters, actor=BO)[1])
    first = demo_store.queue.next_run(filters, actor=ANA)
    demo_store.queue.skip(first["run_id"], actor=ANA)
    second = demo_store.queue.next_run(filters, actor=ANA)
    assert second["run_id"] != first["run_id"]
    demo_store.feedback.upsert(
        thread_id=second["thread_id"], run_id=second["run_id"], rating=1, owner_id="ana", actor=SYSTEM
    )
    seen = set()
    while (run := demo_store.queue.next_run(filters, actor=ANA)) is not None and run["run_id"] not in seen:
        seen.add(run["run_id"])
        demo_store.queue.skip(run["run_id"], actor=ANA)
    assert second["run_id"] not in seen and first["run_id"] in seen
    assert len(seen) == total - 1
    assert demo_store.queue.progress(filters, actor=ANA) == (1, total)


def test_queue_filters_are_checked(demo_store):
    with pytest.raises(InvalidInput):
        demo_store.queue.next_run({"status": "bogus"}, actor=ANA)
    with pytest.raises(InvalidInput):
        demo_store.queue.progress({"colour": "red"}, actor=ANA)
    only = demo_store.queue.next_run({"negative_user_feedback": True, "follow_ups_only": True}, actor=ANA)
    if only is not None:
        assert only["follow_up_to_run_id"]
        assert any(
            vote["source"] == "end_user" and vote["rating"] == -1
            for vote in demo_store.feedback.list_by_run_id(only["run_id"], actor=SYSTEM)
        )
