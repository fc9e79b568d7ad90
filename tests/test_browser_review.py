"""A reviewer's session in real headless Chromium against a real `streamlit run` on demo data:
find a thread by a word, vote on a run and on an ai message, change the vote, reload, work the
review queue by keyboard; then read the votes back from the DuckDB file. Saves the screenshots
in docs/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from data_layer import demo, open_store
from data_layer.auth import SYSTEM, Actor
from pages._votes import panel_key

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ME = "local-reviewer"
WORD = "benchmark"  # only in the research agent's answers, never in a thread's title
TIMEOUT = 20_000


@pytest.fixture(scope="module")
def expected():
    """What the app's database holds, rebuilt from the same deterministic demo data."""
    with open_store(":memory:") as twin:
        assert demo.seed(twin, threads=40, seed=7, actor=SYSTEM).ok
        found = twin.threads.list({"search": WORD})
        thread = found[0]
        runs = twin.runs.list_by_thread(thread["thread_id"])
        run = next(run for run in runs if run["status"] == "success")
        answer = [
            message
            for message in twin.events.list_messages(thread["thread_id"], run["run_id"])
            if message["role"] == "ai" and message["content"]
        ][-1]
        hostile = twin.threads.list({"search": "tracker.example.invalid"})[0]
        return {
            "count": len(found),
            "thread_id": thread["thread_id"],
            "run_id": run["run_id"],
            "message_id": answer["message_id"],
            "hostile": hostile["thread_id"],
            "runs": twin.queue.progress(actor=Actor(ME))[1],
        }


def wait_ready(page) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT)
    assert page.locator('[data-testid="stException"]').count() == 0


def queue_run(page, after: str | None = None) -> str:
    """The short id of the run the queue shows, once it is another than `after`."""
    header = page.get_by_text(re.compile(r"^Run [0-9a-f]{8}")).first
    expect(header).to_be_visible(timeout=TIMEOUT)
    if after:
        expect(header).not_to_have_text(re.compile(after), timeout=TIMEOUT)
    keys_live(page)
    return header.inner_text().split()[1]


def keys_live(page) -> None:
    """Wait until the queue hears its keys: the page idle, the vote buttons drawn and live, and the key
    listener (`pages/_keys.html`, in its own frame) installed on the page."""
    wait_ready(page)
    expect(page.get_by_role("button", name="Good (U)")).to_be_enabled(timeout=TIMEOUT)
    page.wait_for_function("() => window.__reviewQueueKeys != null", timeout=TIMEOUT)


def pick_reason(page, panel, reason: str) -> None:
    """Type a reason into the panel's multiselect and pick it, as a keyboard user does.

    Streamlit's list highlights its first match a moment after the filter narrows it, and may close
    once more while the panel re-renders after a vote; an Enter in either moment selects nothing (no
    value reaches the server), or in the moment before the filter narrows it, selects the first reason
    of the whole list. So wait for the highlight, remove any other reason an early Enter picked, and
    start again until the reason alone is selected.
    """
    box = panel.locator('[data-testid="stMultiSelect"]')

    def chosen() -> list[str]:
        return [chip.get_attribute("aria-label") for chip in box.locator("[data-tag]").all()]

    for _ in range(3):
        for other in [label for label in chosen() if label != reason]:
            box.get_by_role("button", name=f"Remove {other}", exact=True).click()
            wait_ready(page)
        if chosen() == [reason]:
            return
        tags = box.locator("input")
        tags.click()
        tags.press_sequentially(reason)
        option = page.get_by_role("option", name=reason)
        try:
            expect(page.get_by_role("option")).to_have_count(1, timeout=3_000)
            expect(tags).to_have_attribute("aria-activedescendant", option.get_attribute("id", timeout=3_000))
        except (AssertionError, PlaywrightTimeout):
            tags.press("Escape")
            wait_ready(page)
            continue
        tags.press("Enter")
        tags.press("Escape")
        wait_ready(page)
    assert chosen() == [reason], f"could not pick the reason {reason!r} alone in three tries"


def test_reviewer_session(app_server, page, expected):
    SHOTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if "127.0.0.1" not in request.url else None)

    # A deep link as the server's first page (the app's own frame draws it), and a hostile
    # message in it is text: no script runs, nothing loads from outside, nothing links out
    page.goto(f"{app_server.url}/thread?thread={expected['hostile']}")
    expect(page.get_by_text("window.__pwned = 1").first).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    assert page.evaluate("window.__pwned") is None
    expect(page.get_by_label("Reviewer name", exact=True)).to_have_value(ME)
    assert page.locator('[data-testid="stMain"] img[src="x"], a[href^="javascript:"], a[href*="tracker"]').count() == 0
    assert not [url for url in outside if "tracker.example.invalid" in url]

    # Threads: find the thread by a word from its messages, open it by clicking its row
    page.goto(app_server.url + "/")
    page.wait_for_selector('[data-testid="stDataFrame"]', timeout=TIMEOUT)
    search = page.get_by_label("Search titles and messages", exact=True)
    search.fill(WORD)
    search.press("Enter")
    expect(page.get_by_text(f"of {expected['count']}. Select a row")).to_be_visible(timeout=TIMEOUT)
    assert f"q={WORD}" in page.url
    wait_ready(page)
    table = page.locator('[data-testid="stDataFrame"]').bounding_box()
    page.mouse.click(table["x"] + 15, table["y"] + 35 + 17)  # the first row's selection marker
    page.wait_for_url(f"**/thread?thread={expected['thread_id']}", timeout=TIMEOUT)

    # Thread: thumbs-down on the run with a comment and a reason
    run_panel = page.locator(f".st-key-{panel_key(expected['run_id'], None)}")
    run_panel.get_by_role("radio", name="Thumbs down").click(timeout=TIMEOUT)
    expect(run_panel.get_by_text(re.compile("^saved"))).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    pick_reason(page, run_panel, "incorrect")
    expect(run_panel.locator('[data-testid="stMultiSelect"]').get_by_text("incorrect")).to_be_visible()
    wait_ready(page)
    run_panel.get_by_label("Comment (optional)").fill("Cites outdated sources")
    run_panel.get_by_label("Comment (optional)").press("Control+Enter")  # saved as it leaves the box
    wait_ready(page)
    expect(run_panel.get_by_text("Not saved")).to_have_count(0)

    # ...and on one ai message: thumbs up, then changed to thumbs down
    message_panel = page.locator(f".st-key-{panel_key(expected['run_id'], expected['message_id'])}")
    message_panel.get_by_role("radio", name="Thumbs up").click()
    expect(message_panel.get_by_text("Your vote: good")).to_be_visible(timeout=TIMEOUT)
    message_panel.get_by_role("radio", name="Thumbs down").click()
    expect(message_panel.get_by_text("Your vote: bad")).to_be_visible(timeout=TIMEOUT)

    # Reload: both votes come back from the database
    page.reload()
    expect(run_panel.get_by_text("Your vote: bad")).to_be_visible(timeout=TIMEOUT)
    expect(run_panel.get_by_label("Comment (optional)")).to_have_value("Cites outdated sources")
    expect(run_panel.get_by_role("radio", name="Thumbs down")).to_have_attribute("aria-checked", "true")
    expect(message_panel.get_by_role("radio", name="Thumbs down")).to_have_attribute("aria-checked", "true")
    wait_ready(page)

    # Review queue by keyboard: U, D (each votes and moves on), S (tests/test_browser_queue.py has more)
    page.goto(app_server.url + "/queue")
    first = queue_run(page)
    page.keyboard.press("u")
    second = queue_run(page, after=first)
    page.keyboard.press("d")
    third = queue_run(page, after=second)
    page.keyboard.press("s")
    queue_run(page, after=third)
    # the run voted on in the thread view counts too
    expect(page.get_by_text(f"You have reviewed 3 of {expected['runs']} runs")).to_be_visible(timeout=TIMEOUT)

    # Every vote is in the DuckDB file
    app_server.stop()
    with open_store(app_server.db) as store:
        mine = [
            vote
            for vote in store.feedback.list_by_thread(expected["thread_id"], actor=SYSTEM)
            if vote["owner_id"] == ME
        ]
        on_run = [vote for vote in mine if vote["run_id"] == expected["run_id"] and vote["message_id"] is None]
        on_message = [vote for vote in mine if vote["message_id"] == expected["message_id"]]
        assert [(v["rating"], v["comment"], v["tags"]) for v in on_run] == [
            (-1, "Cites outdated sources", ["incorrect"])
        ]
        assert [v["rating"] for v in on_message] == [-1]

        def my_votes_on(short_id: str) -> list[int]:
            with store.engine.read() as conn:
                rows = conn.all(
                    "SELECT rating FROM feedback WHERE owner_id = $me AND run_id LIKE $prefix",
                    {"me": ME, "prefix": short_id + "%"},
                )
            return [row["rating"] for row in rows]

        assert my_votes_on(first) == [1]
        assert my_votes_on(second) == [-1]
        assert my_votes_on(third) == []
        with store.engine.read() as conn:
            skipped = conn.scalar(
                "SELECT count(*) FROM review_skips WHERE owner_id = $me AND run_id LIKE $prefix",
                {"me": ME, "prefix": third + "%"},
            )
        assert skipped == 1
