"""An admin's Notifications page in real headless Chromium against a real `streamlit run`: add a webhook to a
receiver the test runs, take the secret the page shows once, vote through the REST API, and see the signed
delivery arrive and the log say so; then read the destination and the delivery back from the DuckDB file.
Saves docs/screenshots/notifications.png.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from tests.conftest import AppServer
from tests.receiver import Receiver
from tests.test_browser_review import TIMEOUT, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def test_an_admin_adds_a_webhook_and_sees_its_delivery(page, tmp_path):
    db = str(tmp_path / "notify.duckdb")
    with open_store(db) as setup:
        setup.ingest(
            [
                {"kind": "thread", "thread_id": "t1", "assistant_id": "support-agent"},
                {"kind": "run", "thread_id": "t1", "run_id": "r1", "status": "success", "model_name": "gpt-4.1"},
            ],
            actor=SYSTEM,
        )
    receiver = Receiver()
    token = auth.new_token()
    env = {
        "FEEDBACK_DEMO": "0",
        "FEEDBACK_API_TOKENS": auth.token_entry("ana", "reviewer", token),
        "FEEDBACK_NOTIFY_EVERY": "0.2",
        "FEEDBACK_BACKUP_EVERY": "0",
    }
    server = AppServer(db, env=env)
    try:
        page.goto(f"{server.url}/notifications")
        wait_ready(page)
        expect(page.get_by_text("No destinations: nothing is sent.")).to_be_visible(timeout=TIMEOUT)
        page.get_by_text("Add a webhook", exact=True).click()
        wait_ready(page)
        page.get_by_label("URL", exact=True).fill(receiver.url)
        allow = "Allow a private, loopback or link-local address (a receiver inside this network)"
        # Under load the click can land before the form's widgets are live: wait for the box, then it must
        # show the click took.
        expect(page.get_by_label(allow, exact=True)).to_be_enabled(timeout=TIMEOUT)
        wait_ready(page)
        page.get_by_text(allow, exact=True).click()
        expect(page.get_by_label(allow, exact=True)).to_be_checked(timeout=TIMEOUT)
        page.get_by_role("button", name="Add webhook").click()
        wait_ready(page)
        expect(page.get_by_text("Saved: destination 1.", exact=False)).to_be_visible(timeout=TIMEOUT)
        secret = page.locator('[data-testid="stCode"] code').first.inner_text().strip()
        assert secret.startswith("whsec_")

        answer = httpx.put(
            f"{server.url}/api/threads/t1/runs/r1/feedback",
            json={"rating": 1, "comment": "Clear <b>answer</b>"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        receiver.wait(1)
        page.reload()
        wait_ready(page)
        expect(page.get_by_text("Select a delivery to see each attempt")).to_be_visible(timeout=TIMEOUT)
        page.screenshot(path=str(SHOTS / "notifications.png"), full_page=True)
    finally:
        server.stop()
        receiver.close()
    (event,) = receiver.verified(secret)
    assert (event["type"], event["data"]["comment"], event["data"]["model_name"]) == (
        "vote.created",
        "Clear <b>answer</b>",
        "gpt-4.1",
    )
    with open_store(db) as after:
        (destination,) = after.notify.destinations(actor=SYSTEM)
        assert (destination["url"], destination["allow_private"], destination["created_by"]) == (
            receiver.url,
            True,
            "local-reviewer",
        )
        (delivery,) = after.notify.deliveries(actor=SYSTEM)
        assert (delivery["status"], delivery["last_status"], delivery["kind"]) == ("delivered", 200, "vote.created")
