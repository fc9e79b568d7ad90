"""The threads list in real headless Chromium against a real `streamlit run`: reached at its own path, its
end-user and reviewer filters from the URL, and the demo notice of a first start. Each test reads the
database afterwards. Saves docs/screenshots/threads.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from data_layer import demo, open_store
from data_layer.auth import SYSTEM
from tests.conftest import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
TIMEOUT = 20_000
NOTICE = "The database was empty, so demo data was loaded"
# Records whether the notice ever appears in the page, however briefly.
WATCH = f"""
new MutationObserver(() => {{
    if (document.body && document.body.innerText.includes({NOTICE!r})) window.__noticeSeen = true;
}}).observe(document, {{childList: true, subtree: true, characterData: true}});
"""
PAGES = ("thread", "queue", "stats", "compare", "agreement", "themes", "export", "audit")


def wait_ready(page) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT)
    assert page.locator('[data-testid="stException"]').count() == 0


def shows_total(page, total: int) -> None:
    """Wait until the list says it holds `total` threads (a click's rerun may still be on its way)."""
    caption = page.get_by_text(re.compile(rf"^Threads [\d,]+–[\d,]+ of {total:,}\. Select a row"))
    expect(caption).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)


def test_every_page_opens_at_its_own_path_and_the_list_filters_by_source(app_server, page):
    # What the server's database holds, from the same deterministic demo data (`app_server`'s).
    by_end_users, by_reviewers, both = (
        {"negative_user_feedback": True},
        {"negative_reviewer_feedback": True},
        {"negative_user_feedback": True, "negative_reviewer_feedback": True},
    )
    with open_store(":memory:") as twin:
        assert demo.seed(twin, threads=40, seed=7, actor=SYSTEM).ok
        expected = {str(filters): twin.threads.count(filters) for filters in (by_end_users, by_reviewers, both)}
        assert 0 < expected[str(both)] < min(expected[str(by_end_users)], expected[str(by_reviewers)]) < 40

    # The threads list at its own path (the default page, also served at the root), its query kept.
    page.goto(f"{app_server.url}/threads?user_negative=true")
    wait_ready(page)
    assert page.url.split("?")[0] == f"{app_server.url}/"
    assert page.get_by_text("Page not found").count() == 0
    expect(page.get_by_role("heading", name="Threads")).to_be_visible()
    expect(page.get_by_label("Thumbs-down from end users", exact=True)).to_be_checked()
    shows_total(page, expected[str(by_end_users)])

    page.get_by_text("Thumbs-down from end users", exact=True).click()
    page.get_by_text("Thumbs-down from reviewers", exact=True).click()
    expect(page.get_by_label("Thumbs-down from reviewers", exact=True)).to_be_checked()
    shows_total(page, expected[str(by_reviewers)])
    assert "reviewer_negative=true" in page.url and "user_negative" not in page.url
    page.get_by_text("Thumbs-down from end users", exact=True).click()
    shows_total(page, expected[str(both)])
    page.screenshot(path=str(SHOTS / "threads.png"))

    # Every other page at its own path, without "Page not found".
    for path in PAGES:
        page.goto(f"{app_server.url}/{path}")
        wait_ready(page)
        assert page.url.startswith(f"{app_server.url}/{path}"), path
        assert page.get_by_text("Page not found").count() == 0, path

    app_server.stop()
    with open_store(app_server.db) as store:
        assert {
            str(filters): store.threads.count(filters) for filters in (by_end_users, by_reviewers, both)
        } == expected


def test_the_demo_notice_shows_in_the_first_session_of_the_start_that_seeded(tmp_path, chromium):
    db = str(tmp_path / "empty.duckdb")

    def session(server) -> bool:
        """Whether a new browser session is shown the notice at any moment (a toast goes after a few seconds)."""
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        context.add_init_script(WATCH)
        try:
            opened = context.new_page()
            opened.goto(server.url + "/")
            opened.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)
            wait_ready(opened)
            return opened.evaluate("window.__noticeSeen === true")
        finally:
            context.close()

    first = AppServer(db, env={"FEEDBACK_DEMO": "1"})
    try:
        assert session(first), "the session that seeded the database is told so"
        assert not session(first), "a second session of the same start is not"
    finally:
        first.stop()
    again = AppServer(db, env={"FEEDBACK_DEMO": "1"})
    try:
        assert not session(again), "a later start seeds nothing and says nothing"
    finally:
        again.stop()

    with open_store(db) as store:
        assert store.threads.count() == len(
            {record["thread_id"] for record in demo.generate() if "thread_id" in record}
        )
