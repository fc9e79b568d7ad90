"""The review queue in real headless Chromium against a real `streamlit run` on demo data: twenty runs
reviewed by keyboard alone, and the issue's order with the mouse (vote, then write why and pick a reason,
then Next); every vote, comment and reason is then read back from the DuckDB file. Saves
docs/screenshots/queue.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from data_layer import open_store
from tests.test_browser_review import TIMEOUT, queue_run, wait_ready

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ME = "local-reviewer"


Vote = tuple[int, str | None, list[str]]


def stored(db: str) -> list[tuple[str, Vote]]:
    """The reviewer's run votes in the file in the order they were first given, each with the run's
    short id as the page shows it."""
    with open_store(db) as store, store.engine.read() as conn:
        rows = conn.all(
            "SELECT run_id, rating, comment, tags FROM feedback"
            " WHERE owner_id = $me AND message_id IS NULL ORDER BY created_at",
            {"me": ME},
        )
    return [(row["run_id"][:8], (row["rating"], row["comment"], list(row["tags"]))) for row in rows]


UP, DOWN = (1, None, []), (-1, None, [])
# What the reviewer does, by keyboard, and the votes it gives: keys, text typed after "c", and AWAY /
# BACK where the reviewer looks at the page before going on (the next run shows; the run is back).
# 1-6 are the reasons in the order the page lists them (incorrect, not_as_expected, slow, ...).
# "u", "d", "u" at once reviews three runs: keys pressed before the next run shows wait for it.
AWAY, BACK = "<the next run shows>", "<the run is back>"
PLAN: list[tuple[list[str], list[Vote]]] = [
    (["u"], [UP]),
    (["d"], [DOWN]),
    (
        ["c", "slow and unclear, needs a summary", "Escape", "3", "d"],
        [(-1, "slow and unclear, needs a summary", ["slow"])],
    ),
    (
        ["Shift+D", "c", "wrong date; undone", "Escape", "1", "5", "n"],
        [(-1, "wrong date; undone", ["incorrect", "safety_legal"])],
    ),
    (["u", "d", "u"], [UP, DOWN, UP]),
    (
        ["d", AWAY, "b", BACK, "c", "back to add: not what was asked", "Escape", "2", "n"],
        [(-1, "back to add: not what was asked", ["not_as_expected"])],
    ),
    (
        ["Shift+U", "c", "good, but uses an odd tone", "Escape", "4", "n"],
        [(1, "good, but uses an odd tone", ["style_tone"])],
    ),
    (["d"], [DOWN]),
]
assert sum(len(votes) for _, votes in PLAN) == 10  # twice over: twenty runs


def header(page):
    return page.get_by_text(re.compile(r"^Run [0-9a-f]{8}")).first


def test_twenty_runs_reviewed_by_keyboard_alone(app_server, page):
    page.goto(app_server.url + "/queue")
    queue_run(page)
    # keys work with the focus on a control: a filter ticked and unticked keeps the focus on its box
    for _ in range(2):
        page.get_by_text("Only follow-up runs").click()
        wait_ready(page)
    expect(page.get_by_role("checkbox", name="Only follow-up runs")).to_be_focused()
    page.keyboard.press("?")
    expect(page.get_by_role("dialog").get_by_text("Shift+U / Shift+D")).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    # Escape closes the dialog once it has opened whole, its close button drawn and live.
    expect(page.get_by_role("dialog").get_by_role("button", name="Close")).to_be_enabled(timeout=TIMEOUT)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0, timeout=TIMEOUT)

    given: list[Vote] = []  # every vote, in order
    seen: dict[str, Vote] = {}  # the vote on each run that showed before its keys were pressed
    current = queue_run(page)
    for keys, votes in PLAN * 2:
        for key in keys:
            if key == AWAY:
                expect(header(page)).not_to_have_text(re.compile(current), timeout=TIMEOUT)
            elif key == BACK:
                expect(header(page)).to_have_text(re.compile(current), timeout=TIMEOUT)
            elif key in ("Escape", "Shift+D", "Shift+U") or len(key) == 1:
                page.keyboard.press(key)
            else:
                page.keyboard.type(key)
        seen[current] = votes[0]
        given += votes
        expect(page.get_by_text(f"You have reviewed {len(given)} of")).to_be_visible(timeout=TIMEOUT)
        current = queue_run(page, after=current)
        # nothing lingers from the run before: no toast
        assert page.locator('[data-testid="stToast"]').count() == 0

    app_server.stop()
    votes = stored(app_server.db)
    assert [vote for _, vote in votes] == given
    assert {run: vote for run, vote in votes if run in seen} == seen
    assert len({run for run, _ in votes}) == 20


def test_a_comment_and_reason_after_the_vote_reach_the_database(app_server, page):
    """The issue's order with the mouse: Bad, then a comment, then a reason, then Next; and a click on a
    vote button just after picking a reason counts."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(app_server.url + "/queue?rq_negative=true")
    first = queue_run(page)
    expect(page.get_by_text(re.compile("^End (user's vote|users' votes) on this run"))).to_be_visible()
    page.get_by_text("Advance after a vote").click()
    wait_ready(page)
    page.get_by_role("button", name="Bad (D)").click()
    expect(page.get_by_text(re.compile(r"^Your vote: thumb_down saved"))).to_be_visible(timeout=TIMEOUT)
    comment = page.locator(".st-key-rq_comment textarea")
    comment.click()
    comment.type("after-vote comment")
    page.get_by_role("button", name="3 · slow").click()
    wait_ready(page)
    expect(page.get_by_text(re.compile(r"^Your vote: thumb_down saved"))).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("button", name="Next (N)").click()
    second = queue_run(page, after=first)

    page.get_by_role("button", name="1 · incorrect").click()
    page.get_by_role("button", name="Bad (D)").click()  # at once, while the reason's rerun may still run
    expect(page.get_by_text(re.compile(r"^Your vote: thumb_down saved"))).to_be_visible(timeout=TIMEOUT)
    comment.click()
    comment.type("typed, then Next straight away")
    page.get_by_role("button", name="Next (N)").click()
    third = queue_run(page, after=second)

    # advancing on again: a vote moves on and says where it went; a comment without a vote is marked
    page.get_by_text("Advance after a vote").click()
    wait_ready(page)
    page.get_by_role("button", name="Good (U)").click()
    queue_run(page, after=third)
    expect(page.get_by_text(f"Saved thumb_up on run {third}")).to_be_visible(timeout=TIMEOUT)
    comment.click()
    comment.type("checking the sources first")
    page.get_by_role("button", name="1 · incorrect").click()
    expect(page.get_by_text(re.compile("^Not saved yet"))).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    page.screenshot(path=str(SHOTS / "queue.png"))

    app_server.stop()
    assert stored(app_server.db) == [
        (first, (-1, "after-vote comment", ["slow"])),
        (second, (-1, "typed, then Next straight away", ["incorrect"])),
        (third, (1, None, [])),
    ]
