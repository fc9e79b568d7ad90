"""The review queue through AppTest on a real store: a comment and reasons given after the vote reach
the store, what is not saved is marked with one action to save it, the end users' votes are on the
card, and every key of the keyboard script has its button on the page.

The keyboard itself (the script in `pages/_keys.html`) runs only in a browser: tests/test_browser_queue.py.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import data_layer
from data_layer.auth import SYSTEM
from data_layer.engines.faults import FaultPlan, engine_error, injected
from pages import _keys

ME = "local-reviewer"


@pytest.fixture
def app(monkeypatch, store_url, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", store_url)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    return AppTest.from_file("../app.py", default_timeout=30)


@pytest.fixture
def at(app, demo_store) -> AppTest:
    """The queue page open on the demo data."""
    app.switch_page("pages/queue.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def shown(at: AppTest) -> str:
    return at.session_state["rq_run"]


def field(at: AppTest, run_id: str, name: str):
    key = f"rq|{ME}|{run_id}|{name}"
    return at.text_area(key=key) if name == "comment" else at.pills(key=key)


def mine(store, run_id: str) -> list[tuple[int, str | None, list[str]]]:
    return [
        (vote["rating"], vote["comment"], vote["tags"])
        for vote in store.feedback.list_by_run_id(run_id, actor=SYSTEM)
        if vote["owner_id"] == ME
    ]


def markdown(at: AppTest) -> str:
    return "\n".join(element.value for element in at.markdown)


def test_a_comment_and_reasons_given_after_the_vote_are_saved_on_next(at, demo_store):
    """The issue's order: vote, then write why, then Next, with no rerun between (as when the text
    box loses focus by the click on Next)."""
    run = shown(at)
    at.button(key=f"rq_down_stay|{run}").click().run()
    assert mine(demo_store, run) == [(-1, None, [])]
    assert shown(at) == run  # Shift+D stays on the run
    field(at, run, "comment").input("after-vote comment")
    field(at, run, "tags").set_value(["slow"])
    at.button(key=f"rq_next|{run}").click().run()
    assert mine(demo_store, run) == [(-1, "after-vote comment", ["slow"])]
    assert shown(at) != run


def test_a_comment_changed_after_the_vote_is_saved_at_once(at, demo_store):
    at.toggle(key="rq_advance").set_value(False).run()
    run = shown(at)
    at.button(key=f"rq_up|{run}").click().run()
    assert shown(at) == run  # advancing is off
    field(at, run, "comment").input("clear and short").run()
    assert mine(demo_store, run) == [(1, "clear and short", [])]
    field(at, run, "tags").set_value(["style_tone", "other"]).run()
    assert mine(demo_store, run) == [(1, "clear and short", ["style_tone", "other"])]
    assert ":green[saved]" in markdown(at)


def test_a_comment_without_a_vote_is_marked_and_not_dropped_by_next(at, demo_store):
    run = shown(at)
    field(at, run, "comment").input("not sure yet").run()
    assert any("**Not saved** yet" in caption.value for caption in at.caption)
    at.button(key=f"rq_next|{run}").click().run()
    assert shown(at) == run  # the first N warns and stays
    assert any("not saved" in warning.value for warning in at.warning)
    assert field(at, run, "comment").value == "not sure yet"
    at.button(key=f"rq_down|{run}").click().run()  # the one action that saves it: the vote
    assert mine(demo_store, run) == [(-1, "not sure yet", [])]
    assert shown(at) != run

    second = shown(at)
    field(at, second, "tags").set_value(["incorrect"]).run()
    at.button(key=f"rq_next|{second}").click().run()
    at.button(key=f"rq_next|{second}").click().run()  # asked twice: left unsaved, as the warning said
    assert shown(at) != second
    assert mine(demo_store, second) == []


def test_a_save_that_fails_is_marked_with_one_button_to_save_it(at, demo_store, store_url):
    at.toggle(key="rq_advance").set_value(False).run()
    run = shown(at)
    at.button(key=f"rq_down|{run}").click().run()
    full = FaultPlan(range(1, 10_000), engine_error(demo_store.engine.name, "disk_full"))
    with injected(data_layer.shared_store(store_url).engine, full):
        field(at, run, "comment").input("written while the disk was full").run()
    assert full.fired >= 1
    assert any("cannot store anything right now" in error.value for error in at.error)
    assert "**not saved**" in markdown(at)
    assert mine(demo_store, run) == [(-1, None, [])]
    assert field(at, run, "comment").value == "written while the disk was full"

    at.button(key=f"rq_save|{run}").click().run()
    assert mine(demo_store, run) == [(-1, "written while the disk was full", [])]
    assert ":green[saved]" in markdown(at)
    assert not at.error


def test_back_returns_to_the_run_just_voted_on(at, demo_store):
    first = shown(at)
    at.button(key=f"rq_up|{first}").click().run()
    assert shown(at) != first
    assert any(f"Saved :material/thumb_up: on run `{first[:8]}`" in caption.value for caption in at.caption)
    at.button(key=f"rq_back|{shown(at)}").click().run()
    assert shown(at) == first
    field(at, first, "comment").input("on second thoughts, too long")
    at.button(key=f"rq_down|{first}").click().run()
    assert mine(demo_store, first) == [(-1, "on second thoughts, too long", [])]


def test_the_end_users_votes_and_comments_are_on_the_card(app, demo_store):
    app.switch_page("pages/queue.py")
    app.query_params["rq_negative"] = "true"
    app.run()
    run = demo_store.runs.get(shown(app))
    said = [vote for vote in demo_store.feedback.list_by_run_id(run["run_id"], actor=SYSTEM)]
    said = [vote for vote in said if vote["source"] == "end_user"]
    assert any(vote["rating"] == -1 for vote in said)  # the filter's reason to show this run
    demo_store.feedback.upsert(
        thread_id=run["thread_id"],
        run_id=run["run_id"],
        rating=-1,
        comment="It ignored my **second** question",
        tags=["incorrect"],
        owner_id="user-queue-test",
        source="end_user",
        actor=SYSTEM,
    )
    app.run()
    card = markdown(app)
    assert "**End users' votes on this run**" in card
    assert "user\\-queue\\-test" in card and ":gray-badge[end user]" in card
    assert "It ignored my **second** question" in card
    assert card.count(":gray-badge[end user]") == len(said) + 1


def test_every_key_has_its_button(at):
    """The script presses buttons by the start of their keys: each must be on the page (Back once a
    vote has moved on)."""
    at.button(key=f"rq_up|{shown(at)}").click().run()
    run = shown(at)
    keys = {button.key for button in at.button}
    for name in _keys.BUTTONS.values():
        assert name in keys or f"{name}|{run}" in keys, name
    assert {f"rq|{ME}|{run}|comment", f"rq|{ME}|{run}|tags"} <= {w.key for w in (*at.text_area, *at.pills)}
