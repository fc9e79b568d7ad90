"""The thread page's vote panel through AppTest on a real store: the header's counts move with a vote in
the same run, the chosen thumb is named in words, a retraction is undone exactly, an admin's delete
waits for its confirmation, and what could not be saved is marked with one action to save it."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import data_layer
from data_layer.auth import SYSTEM
from data_layer.engines.faults import FaultPlan, engine_error, injected
from tests.test_pages_review import ME, captions, open_page, votes

KEY = f"fb|{ME}|r1|"


@pytest.fixture
def app(monkeypatch, store_url, fresh_streamlit_caches):
    """The dashboard on the test's store, as in test_pages_review.py."""
    monkeypatch.setenv("FEEDBACK_DB", store_url)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    return AppTest.from_file("../app.py", default_timeout=30)


def header(at) -> str:
    return next(caption for caption in captions(at) if caption.startswith("thread `t1`"))


def markdown(at) -> list[str]:
    return [md.value for md in at.markdown]


def test_the_headers_counts_move_with_the_vote_in_the_same_run(app, seeded):
    """AppTest runs the whole page each time; the browser test checks the same in a real session, where a
    panel drawn as a fragment would leave the header one vote behind."""
    at = open_page(app, "pages/thread.py", thread="t1")
    assert "0 :material/thumb_up: · 0 :material/thumb_down:" in header(at)
    at.feedback(key=KEY + "|thumb").set_value(1).run()
    assert "1 :material/thumb_up: · 0 :material/thumb_down:" in header(at)
    at.feedback(key=KEY + "|thumb").set_value(0).run()
    assert "0 :material/thumb_up: · 1 :material/thumb_down:" in header(at)
    assert seeded.threads.get("t1")["negative"] == 1


def test_the_chosen_thumb_is_named_and_the_comment_box_and_reasons_are_open_beside_it(app, seeded):
    at = open_page(app, "pages/thread.py", thread="t1")
    assert not [area for area in at.text_area if area.key == KEY + "|comment"]
    assert not any("Your vote:" in text for text in markdown(at))
    at.feedback(key=KEY + "|thumb").set_value(0).run()
    assert ":red-badge[:material/thumb_down: Your vote: bad]" in markdown(at)
    assert at.text_area(key=KEY + "|comment") and not at.multiselect(key=KEY + "|tags").disabled
    at.feedback(key=KEY + "|thumb").set_value(1).run()
    assert ":green-badge[:material/thumb_up: Your vote: good]" in markdown(at)
    assert at.multiselect(key=KEY + "|tags").disabled  # reasons go with a thumbs-down, and say so


def test_a_retraction_by_the_thumb_is_undone_with_its_id_comment_reasons_and_times(app, seeded):
    at = open_page(app, "pages/thread.py", thread="t1")
    at.feedback(key=KEY + "|thumb").set_value(0).run()
    at.text_area(key=KEY + "|comment").set_value("Misses the budget")
    at.multiselect(key=KEY + "|tags").set_value(["incorrect"]).run()
    [saved] = votes(seeded, "r1")
    assert (saved["comment"], saved["tags"]) == ("Misses the budget", ["incorrect"])

    at.feedback(key=KEY + "|thumb").set_value(None).run()  # a click on the chosen thumb
    assert votes(seeded, "r1") == []
    assert "Your vote on this run was retracted." in captions(at)
    at.button(key=KEY + "|undo|button").click().run()
    assert votes(seeded, "r1") == [saved]
    assert at.feedback(key=KEY + "|thumb").value == 0
    assert at.text_area(key=KEY + "|comment").value == "Misses the budget"
    assert not [button for button in at.button if button.key == KEY + "|undo|button"]

    at.button(key=KEY + "|thumb|retract").click().run()  # the button retracts the same way
    assert votes(seeded, "r1") == []
    at.button(key=KEY + "|undo|button").click().run()
    assert votes(seeded, "r1") == [saved]


def test_a_new_vote_ends_the_undo_offer(app, seeded):
    at = open_page(app, "pages/thread.py", thread="t1")
    at.feedback(key=KEY + "|thumb").set_value(1).run()
    at.feedback(key=KEY + "|thumb").set_value(None).run()
    assert [button for button in at.button if button.key == KEY + "|undo|button"]
    at.feedback(key=KEY + "|thumb").set_value(0).run()
    assert not [button for button in at.button if button.key == KEY + "|undo|button"]
    assert [vote["rating"] for vote in votes(seeded, "r1")] == [-1]


def test_an_admins_delete_of_another_vote_waits_for_the_confirmation(app, seeded):
    theirs = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, owner_id="bo", comment="no", actor=SYSTEM)
    at = open_page(app, "pages/thread.py", thread="t1")
    delete = KEY + f"|thumb|delete|{theirs['feedback_id']}"
    at.button(key=delete).click().run()
    assert votes(seeded, "r1", "bo") == [theirs]  # asked, not done
    at.button(key="fb_delete_cancel").click().run()
    assert votes(seeded, "r1", "bo") == [theirs]
    assert not [button for button in at.button if button.key == "fb_delete_confirm"]

    at.button(key=delete).click().run()
    at.button(key="fb_delete_confirm").click().run()
    assert votes(seeded, "r1", "bo") == []
    assert "0 :material/thumb_up: · 0 :material/thumb_down:" in header(at)


def test_a_comment_the_store_could_not_take_is_marked_and_saved_with_one_click(app, seeded, store_url):
    at = open_page(app, "pages/thread.py", thread="t1")
    at.feedback(key=KEY + "|thumb").set_value(0).run()
    full = FaultPlan(range(1, 10_000), engine_error(seeded.engine.name, "disk_full"))
    with injected(data_layer.shared_store(store_url).engine, full):
        at.text_area(key=KEY + "|comment").set_value("Misses the budget").run()
    assert [vote["comment"] for vote in votes(seeded, "r1")] == [None]
    assert ":orange-badge[:material/edit_off: Not saved]" in markdown(at)
    at.button(key=KEY + "|comment|save").click().run()
    assert [vote["comment"] for vote in votes(seeded, "r1")] == ["Misses the budget"]
    assert ":orange-badge[:material/edit_off: Not saved]" not in markdown(at)


def test_another_reviewers_rubric_scores_show_under_their_vote(app, seeded):
    from data_layer.auth import Actor
    from data_layer.queues import QueueSpec

    rubric = [
        {"name": "factual", "kind": "binary"},
        {"name": "tone", "kind": "categorical", "options": ["warm", "curt"]},
    ]
    seeded.queues.create(QueueSpec("graded", sample_rate=1.0, rubric=rubric), actor=SYSTEM)
    seeded.queues.submit("graded", "r1", rating=1, scores={"factual": "no", "tone": "curt"}, actor=Actor("bo"))
    at = open_page(app, "pages/thread.py", thread="t1")
    assert "Rubric: factual: no · tone: curt" in captions(at)
