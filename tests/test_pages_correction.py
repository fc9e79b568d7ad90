"""The thread page's correction box through AppTest on a real store, on both engines: a correction typed
beside a vote is saved with it, kept when the thumb changes, marked "Not saved" with a Save button when
the store could not take it, comes back with an undo; and the diff is made of the texts as written."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import data_layer
from data_layer import corrections
from data_layer.auth import SYSTEM
from data_layer.engines.faults import FaultPlan, engine_error, injected
from pages._correction import diff_text
from tests.test_pages_review import ME, open_page

KEY = f"fb|{ME}|r1|"
FIXED = "Day 1: Fushimi Inari at dawn. Then Kiyomizu-dera."


@pytest.fixture
def app(monkeypatch, store_url, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", store_url)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    return AppTest.from_file("../app.py", default_timeout=30)


def mine(store) -> dict:
    return store.feedback.find(run_id="r1", owner_id=ME, actor=SYSTEM)


def test_a_correction_is_saved_with_the_vote_kept_and_back_with_an_undo(app, seeded):
    at = open_page(app, "pages/thread.py", thread="t1")
    at.feedback(key=KEY + "|thumb").set_value(0).run()
    at.text_area(key=KEY + "|correction").set_value(FIXED).run()
    assert mine(seeded)["correction"] == FIXED
    assert [code.value for code in at.code if "+++ correction" in code.value] == [
        diff_text(seeded.runs.get("r1")["last_ai_message"], FIXED)
    ]
    at.feedback(key=KEY + "|thumb").set_value(1).run()  # another thumb keeps it
    assert (mine(seeded)["rating"], mine(seeded)["correction"]) == (1, FIXED)
    at.feedback(key=KEY + "|thumb").set_value(None).run()  # retract, then undo
    assert mine(seeded) is None
    next(button for button in at.button if button.label == "Undo").click().run()
    assert mine(seeded)["correction"] == FIXED
    assert at.text_area(key=KEY + "|correction").value == FIXED


def test_a_correction_the_store_could_not_take_is_kept_marked_and_saved_with_one_click(app, seeded, store_url):
    at = open_page(app, "pages/thread.py", thread="t1")
    at.feedback(key=KEY + "|thumb").set_value(0).run()
    full = FaultPlan(range(1, 10_000), engine_error(seeded.engine.name, "disk_full"))
    with injected(data_layer.shared_store(store_url).engine, full):
        at.text_area(key=KEY + "|correction").set_value(FIXED).run()
    assert mine(seeded)["correction"] is None
    assert ":orange-badge[:material/edit_off: Not saved]" in [md.value for md in at.markdown]
    assert at.text_area(key=KEY + "|correction").value == FIXED
    at.button(key=KEY + "|comment|save").click().run()
    assert mine(seeded)["correction"] == FIXED
    assert ":orange-badge[:material/edit_off: Not saved]" not in [md.value for md in at.markdown]


def test_the_box_holds_at_most_the_longest_correction(app, seeded):
    at = open_page(app, "pages/thread.py", thread="t1")
    at.feedback(key=KEY + "|thumb").set_value(0).run()
    assert at.text_area(key=KEY + "|correction").max_chars == corrections.MAX_LENGTH


def test_the_diff_compares_sentences_and_says_nothing_for_the_same_text():
    diff = diff_text("One. Two.\nThree.", "One. Deux.\nThree.")
    assert diff.splitlines()[3:] == [" One.", "-Two.", "+Deux.", " Three."]
    assert diff_text("Same.", "Same.") == ""
    assert diff_text(None, "New.").splitlines()[3:] == ["+New."]


def test_the_audit_page_shows_the_correction_before_and_after(app, seeded):
    seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, correction=FIXED, owner_id=ME, actor=SYSTEM)
    seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, correction="", owner_id=ME, actor=SYSTEM)
    at = open_page(app, "pages/audit.py")
    table = at.dataframe[0].value
    assert list(table["before"]) == ["—", f'down · correction "{FIXED}"']
    assert list(table["after"]) == [f'down · correction "{FIXED}"', "down"]
