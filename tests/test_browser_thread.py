"""The thread page's vote panel in real headless Chromium against a real `streamlit run` on demo data: a
reviewer votes, then writes a comment and picks a reason, retracts and undoes, and moves on to another
page; the DuckDB file holds the vote with both. On the way: the header's counts move with the vote,
the chosen thumb is filled, coloured and named, and the reasons open with one click. Saves
docs/screenshots/thread.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from data_layer import open_store
from data_layer.auth import SYSTEM
from pages._votes import panel_key
from tests.test_browser_review import ME, SHOTS, TIMEOUT, WORD, expected, wait_ready  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
COMMENT = "after-vote comment"


def counts(page) -> tuple[int, int]:
    """The thread header's thumbs-up and thumbs-down counts, as drawn now."""
    text = page.get_by_text(re.compile(r"^thread .* runs · last activity")).inner_text()
    up, down = re.search(r"(\d+)\s*thumb_up\s*·\s*(\d+)\s*thumb_down", text).groups()
    return int(up), int(down)


def test_a_comment_and_a_reason_typed_after_a_vote_are_stored_when_the_reviewer_moves_on(app_server, page, expected):  # noqa: F811
    page.goto(f"{app_server.url}/thread?thread={expected['thread_id']}")
    panel = page.locator(f".st-key-{panel_key(expected['run_id'], None)}")
    down = panel.get_by_role("radio", name="Thumbs down")
    expect(down).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    up, before = counts(page)

    # the header's counts move in the rerun of the vote itself: read once it is drawn, never polled
    down.click()
    expect(panel.get_by_text("Your vote: bad")).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    assert counts(page) == (up, before + 1)
    down.click()  # a click on the chosen thumb retracts, and offers undo
    expect(panel.get_by_role("button", name="Undo")).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    assert counts(page) == (up, before)
    down.click()
    expect(panel.get_by_text("Your vote: bad")).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    assert counts(page) == (up, before + 1)

    # the chosen thumb: checked for screen readers, named in words, white on red
    expect(down).to_have_attribute("aria-checked", "true")
    expect(panel.get_by_role("radio", name="Thumbs up")).to_have_attribute("aria-checked", "false")
    assert down.evaluate("button => getComputedStyle(button).backgroundColor") == "rgb(194, 47, 47)"

    # the comment box and reasons are open beside the vote; the reasons list opens with one click
    box = panel.get_by_label("Comment (optional)")
    box.click()
    box.press_sequentially(COMMENT)
    panel.locator('[data-testid="stMultiSelect"] input').click()
    page.get_by_role("option", name="slow", exact=True).click(timeout=5_000)
    page.keyboard.press("Escape")
    expect(panel.locator('[data-testid="stMultiSelect"] [data-tag]')).to_have_attribute("aria-label", "slow")
    expect(page.get_by_role("option")).to_have_count(0)
    wait_ready(page)
    expect(panel.get_by_text("Not saved")).to_have_count(0)
    panel.evaluate("panel => panel.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(SHOTS / "thread.png"))

    # retract by the chosen thumb, then undo: the vote, its comment and reason come back
    down.click()
    panel.get_by_role("button", name="Undo").click(timeout=TIMEOUT)
    expect(box).to_have_value(COMMENT, timeout=TIMEOUT)
    expect(down).to_have_attribute("aria-checked", "true")
    wait_ready(page)

    # move on to another page at once, by the sidebar
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Threads").click()
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=TIMEOUT)
    wait_ready(page)

    app_server.stop()
    with open_store(app_server.db) as store:
        mine = [
            vote
            for vote in store.feedback.list_by_run_id(expected["run_id"], actor=SYSTEM)
            if vote["owner_id"] == ME and vote["message_id"] is None
        ]
        assert [(vote["rating"], vote["comment"], vote["tags"]) for vote in mine] == [(-1, COMMENT, ["slow"])]
        trail = store.audit.list({"run_id": expected["run_id"], "actor_id": ME}, actor=SYSTEM)
        actions = [(row["action"], row["feedback_id"]) for row in trail]
        # the undo put back the very vote the retraction removed, with its first created_at
        assert actions[-2:] == [("retract", mine[0]["feedback_id"]), ("create", mine[0]["feedback_id"])]
        assert trail[-1]["new_value"]["created_at"] == trail[-2]["old_value"]["created_at"] == mine[0]["created_at"]


def test_an_admins_delete_asks_first_and_closing_the_dialog_keeps_the_vote(app_server, page, expected):  # noqa: F811
    page.goto(f"{app_server.url}/thread?thread={expected['thread_id']}")
    panel = page.locator(f".st-key-{panel_key(expected['run_id'], None)}")
    panel.get_by_text(re.compile(r"^Other votes \(\d+\)")).click(timeout=TIMEOUT)
    delete = panel.get_by_role("button", name="Delete", exact=True)
    expect(delete.first).to_be_visible(timeout=TIMEOUT)
    listed = delete.count()
    wait_ready(page)
    dialog = page.get_by_role("dialog")

    delete.first.click()
    expect(dialog.get_by_role("button", name="Delete vote")).to_be_visible(timeout=TIMEOUT)
    page.keyboard.press("Escape")  # dismissed: nothing deleted, and it does not come back
    expect(dialog).to_be_hidden(timeout=TIMEOUT)
    wait_ready(page)
    delete.first.click()
    dialog.get_by_role("button", name="Cancel").click(timeout=TIMEOUT)
    expect(dialog).to_be_hidden(timeout=TIMEOUT)
    wait_ready(page)
    expect(dialog).to_have_count(0)
    assert delete.count() == listed

    owner = (
        panel.locator('[data-testid="stExpander"] strong').first.inner_text().replace("\u200b", "")
    )  # the break after "@"
    delete.first.click()
    expect(dialog).to_contain_text(owner, timeout=TIMEOUT)
    dialog.get_by_role("button", name="Delete vote").click()
    expect(dialog).to_be_hidden(timeout=TIMEOUT)
    expect(delete).to_have_count(listed - 1, timeout=TIMEOUT)

    app_server.stop()
    with open_store(app_server.db) as store:
        owners = [vote["owner_id"] for vote in store.feedback.list_by_run_id(expected["run_id"], actor=SYSTEM)]
        trail = store.audit.list({"run_id": expected["run_id"], "action": "delete"}, actor=SYSTEM)
    assert [(row["actor_id"], row["old_value"]["owner_id"]) for row in trail] == [(ME, owner)]
    assert owner not in owners
