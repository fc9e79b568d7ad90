"""A blind queue in real headless Chromium: a reviewer opens an item of a blind queue on the queue's card
and, by a deep link, on the thread page, and sees no other vote on its run (not the other reviewer's,
not the end user's thumbs or comment, not the thread's counts that include them); votes on the thread
page; then sees them all. The DuckDB file holds the vote. Saves docs/screenshots/thread_blind.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from data_layer import open_store
from data_layer.auth import SYSTEM, Actor
from data_layer.queues import QueueSpec
from pages._votes import panel_key
from tests.conftest import AppServer, ai_message
from tests.test_browser_review import SHOTS, TIMEOUT, wait_ready
from tests.test_browser_thread import counts

pytestmark = [pytest.mark.browser, pytest.mark.slow]

THREAD, BLIND, OPEN = "t-blind", "run-blind", "run-open"
COMPLAINT = "The-price-is-from-last-year"
BO_SAID = "Bo-thinks-the-answer-is-fine"
HAPPY = "Happy-with-the-follow-up"
HIDDEN = "Blind queue pair: other votes on one run of this thread are hidden until you vote on it as a whole."


@pytest.fixture
def blind_server(tmp_path):
    """Thread t-blind: the end user complained about run-blind and liked run-open. The blind queue `pair`
    takes complaints and asks two reviewers each; bo-rev has judged run-blind."""
    db = str(tmp_path / "blind.duckdb")
    with open_store(db) as store:
        records = [
            {"kind": "thread", "thread_id": THREAD, "title": "What does the plan cost?"},
            {"kind": "run", "run_id": BLIND, "thread_id": THREAD, "status": "success"},
            {"kind": "run", "run_id": OPEN, "thread_id": THREAD, "status": "success"},
            ai_message(THREAD, BLIND, 1, "It costs 10 a month.", "m-blind"),
            ai_message(THREAD, OPEN, 2, "Here is this year's page.", "m-open"),
        ]
        for run, rating, comment in ((BLIND, -1, COMPLAINT), (OPEN, 1, HAPPY)):
            records.append(
                {
                    "kind": "feedback",
                    "thread_id": THREAD,
                    "run_id": run,
                    "owner_id": "eu",
                    "source": "end_user",
                    "rating": rating,
                    "comment": comment,
                }
            )
        assert store.ingest(records, actor=SYSTEM).ok
        spec = QueueSpec("pair", selection={"negative_user_feedback": True}, reviewers_per_item=2, blind=True)
        store.queues.create(spec, actor=SYSTEM)
        store.queues.submit("pair", BLIND, rating=1, comment=BO_SAID, actor=Actor("bo-rev", "reviewer"))
    server = AppServer(db, env={"FEEDBACK_DEMO": "0"})
    yield server
    server.stop()


def sign_as(page, name: str) -> None:
    box = page.get_by_label("Reviewer name", exact=True)
    box.fill(name)
    box.press("Enter")
    wait_ready(page)


def test_a_reviewer_sees_no_other_vote_on_a_blind_item_until_voting(blind_server, chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1100})
    try:
        page = context.new_page()
        page.goto(blind_server.url)
        wait_ready(page)
        sign_as(page, "ana-rev")
        # the threads list does not draw the tallies of the thread: they count hidden votes
        expect(page.get_by_text(re.compile("Tallies marked hidden until you vote count votes"))).to_be_visible(
            timeout=TIMEOUT
        )

        # the queue's card: the run, and no other vote on it
        page.get_by_role("link", name="Review queue").click()
        wait_ready(page)
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Queue").click()
        page.get_by_role("option", name="pair", exact=True).click()
        wait_ready(page)
        expect(page.get_by_text(re.compile(r"^Run run-blin"))).to_be_visible(timeout=TIMEOUT)
        expect(page.get_by_text("It costs 10 a month.")).to_be_visible()
        for secret in (COMPLAINT, BO_SAID, "End user's vote on this run"):
            assert page.get_by_text(secret).count() == 0, secret

        # the thread page by a deep link (a new session: the name is given again)
        page.goto(f"{blind_server.url}/thread?thread={THREAD}")
        wait_ready(page)
        sign_as(page, "ana-rev")
        expect(page.get_by_text(HIDDEN)).to_be_visible(timeout=TIMEOUT)
        blind_panel = page.locator(f".st-key-{panel_key(BLIND, None)}")
        expect(blind_panel.get_by_text("not voted yet")).to_be_visible()
        # the run outside the queue shows its end user's vote; the blind run shows none of its two
        assert counts(page) == (1, 0)
        expect(page.get_by_text(HAPPY)).to_be_attached()
        for secret in (COMPLAINT, BO_SAID):
            assert page.get_by_text(secret).count() == 0, secret
        assert blind_panel.get_by_text(re.compile("^others:")).count() == 0
        assert blind_panel.get_by_text(re.compile(r"^Other votes \(")).count() == 0
        expect(page.get_by_text(re.compile("Other votes on this run are hidden until you vote"))).to_have_count(1)
        page.screenshot(path=str(SHOTS / "thread_blind.png"), full_page=True)

        blind_panel.get_by_role("radio", name="Thumbs down").click()
        expect(blind_panel.get_by_text("Your vote: bad")).to_be_visible(timeout=TIMEOUT)
        wait_ready(page)
        # voted: every vote on the run shows, and the counts hold them
        expect(page.get_by_text(HIDDEN)).to_have_count(0)
        assert counts(page) == (2, 2)
        expect(blind_panel.get_by_text(re.compile("^others: 1 .* 1 "))).to_be_visible()
        blind_panel.get_by_text(re.compile(r"^Other votes \(2\)")).click()
        expect(blind_panel.get_by_text(COMPLAINT)).to_be_visible(timeout=TIMEOUT)
        expect(blind_panel.get_by_text(BO_SAID)).to_be_visible()
    finally:
        context.close()
    blind_server.stop()  # DuckDB lets one process hold the file
    with open_store(blind_server.db) as store:
        votes = store.feedback.list_by_run_id(BLIND, actor=SYSTEM)
        assert sorted((v["owner_id"], v["source"], v["rating"]) for v in votes) == [
            ("ana-rev", "reviewer", -1),
            ("bo-rev", "reviewer", 1),
            ("eu", "end_user", -1),
        ]
        item = store.queues.items("pair", actor=SYSTEM)
        assert [(i["run_id"], i["votes"], i["consensus"]) for i in item] == [(BLIND, 2, "disputed")]
        assert store.queues.thread_tallies(THREAD, actor=Actor("ana-rev", "reviewer"))["blind"] == {}
