"""A corrected answer in real headless Chromium against a real `streamlit run` on demo data: a reviewer
votes on an ai message, writes the answer the agent should have given in the "Correct the answer" box,
and moves on; the diff against the agent's answer shows as text (a hostile tag in it stays characters,
nothing loads from another host), and the DuckDB file holds the correction with the vote, audited.
Saves docs/screenshots/correction.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from data_layer import demo, open_store
from data_layer.auth import SYSTEM
from pages._correction import LABEL, diff_text
from pages._votes import panel_key
from tests.test_browser_review import ME, SHOTS, TIMEOUT, WORD, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ADDED = "Cite the 2025 benchmark report by name."
CHECKED = "Measured on a 4-core laptop."
HOSTILE = '<img src="http://tracker.example.invalid/c.png" onerror="window.__pwned = 1">'


@pytest.fixture(scope="module")
def answered():
    """The thread, run and ai message the test corrects, and the message's text, from a twin of the app's data."""
    with open_store(":memory:") as twin:
        assert demo.seed(twin, threads=40, seed=7, actor=SYSTEM).ok
        thread = twin.threads.list({"search": WORD})[0]
        run = next(run for run in twin.runs.list_by_thread(thread["thread_id"]) if run["status"] == "success")
        message = [
            message
            for message in twin.events.list_messages(thread["thread_id"], run["run_id"])
            if message["role"] == "ai" and message["content"]
        ][-1]
        return {
            "thread_id": thread["thread_id"],
            "run_id": run["run_id"],
            "message_id": message["message_id"],
            "content": message["content"],
        }


def test_a_reviewer_writes_a_correction_and_sees_it_as_a_diff(app_server, page, answered):
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if "127.0.0.1" not in request.url else None)
    # the correction drops the heading, adds a sentence to the first point and a line at the end
    lines = answered["content"].splitlines()
    first_point = next(n for n, line in enumerate(lines) if line.startswith("- "))
    lines[first_point] += f" {CHECKED}"
    correction = "\n".join([*lines[1:], "", ADDED])
    taken_out = next(line for line in diff_text(answered["content"], correction).splitlines()[3:] if line[0] == "-")

    page.goto(f"{app_server.url}/thread?thread={answered['thread_id']}")
    panel = page.locator(f".st-key-{panel_key(answered['run_id'], answered['message_id'])}")
    down = panel.get_by_role("radio", name="Thumbs down")
    expect(down).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    down.click()
    expect(panel.get_by_text("Your vote: bad")).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)

    box = panel.get_by_role("textbox", name=LABEL)
    box.fill(correction)
    expect(panel.get_by_text("Not saved")).to_have_count(0)  # not sent yet: the box holds it until it is left
    box.press("Tab")  # leaving the box saves it with the vote
    wait_ready(page)
    expect(panel.get_by_text("Not saved")).to_have_count(0)
    diff = panel.locator('[data-testid="stCode"]').filter(has_text=ADDED)
    expect(diff).to_be_visible(timeout=TIMEOUT)
    shown = diff.inner_text()
    assert f"+{ADDED}" in shown and f"+{CHECKED}" in shown and taken_out in shown
    assert "--- agent's answer" in shown and "+++ correction" in shown
    diff.evaluate("block => block.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(SHOTS / "correction.png"))

    # an edit with a hostile tag: saved and shown as the characters typed, nothing runs or loads
    correction += f"\n{HOSTILE}"
    box.fill(correction)
    box.press("Tab")
    wait_ready(page)
    expect(panel.locator('[data-testid="stCode"]').filter(has_text=HOSTILE)).to_be_visible(timeout=TIMEOUT)
    assert page.evaluate("window.__pwned") is None
    assert panel.locator('img[src*="tracker"]').count() == 0
    assert not [url for url in outside if "tracker.example.invalid" in url]

    # a reload shows the stored correction in the box and its diff again
    page.reload()
    expect(panel.get_by_role("textbox", name=LABEL)).to_have_value(correction, timeout=TIMEOUT)
    expect(panel.locator('[data-testid="stCode"]').filter(has_text=ADDED)).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)

    app_server.stop()
    with open_store(app_server.db) as store:
        mine = [
            vote
            for vote in store.feedback.list_by_run_id(answered["run_id"], actor=SYSTEM)
            if vote["owner_id"] == ME and vote["message_id"] == answered["message_id"]
        ]
        assert [(vote["rating"], vote["correction"]) for vote in mine] == [(-1, correction)]
        trail = store.audit.list({"feedback_id": mine[0]["feedback_id"]}, actor=SYSTEM)
        assert [(row["action"], (row["new_value"] or {}).get("correction")) for row in trail] == [
            ("create", None),
            ("update", correction.removesuffix(f"\n{HOSTILE}")),
            ("update", correction),
        ]
