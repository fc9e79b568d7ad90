"""An admin defines a queue with a rubric on the Queues page, in real headless Chromium signed in through
the trusted proxy header: a rubric the data layer refuses is named beside the field and nothing is
stored; a good one (a binary and a categorical criterion) is stored with the queue, as the database
shows afterwards. Writes docs/screenshots/queue_define.png."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from tests.conftest import AppServer
from tests.test_browser_review import SHOTS, TIMEOUT, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN = "ad@example.com"
RUBRIC = [
    {"name": "factual", "kind": "binary", "required": True, "description": "Are the facts right?"},
    {"name": "tone", "kind": "categorical", "options": ["friendly", "neutral", "curt"]},
]


@pytest.fixture
def admin_server(tmp_path):
    db = str(tmp_path / "define.duckdb")
    with open_store(db) as store:
        records = [{"kind": "thread", "thread_id": "thread-0", "title": "Trip"}]
        records += [
            {"kind": "run", "run_id": f"run-{n}", "thread_id": "thread-0", "assistant_id": "planner"} for n in range(4)
        ]
        assert store.ingest(records, actor=SYSTEM).ok
    env = {
        "FEEDBACK_DEMO": "0",
        auth.TRUSTED_HEADER_VARIABLE: "X-Forwarded-Email",
        auth.ROLES_VARIABLE: f"admin={ADMIN};default=reviewer",
    }
    server = AppServer(db, env=env)
    yield server
    server.stop()


def test_an_admin_defines_a_queue_with_a_binary_and_a_categorical_criterion(admin_server, chromium):
    context = chromium.new_context(
        viewport={"width": 1400, "height": 1400}, extra_http_headers={"X-Forwarded-Email": ADMIN}
    )
    try:
        page = context.new_page()
        page.goto(f"{admin_server.url}/queues")
        wait_ready(page)
        expect(page.get_by_text("No queue is defined yet.")).to_be_visible(timeout=TIMEOUT)
        page.get_by_text("Define a queue").click()
        form = page.locator('[data-testid="stForm"]')
        form.get_by_label("Name").fill("scored-sample")
        form.get_by_label("Random sample, % of all runs").fill("100")
        form.get_by_label("Reviewers per run").fill("2")
        rubric = form.get_by_role("textbox", name="Rubric (optional)")
        rubric.fill(json.dumps([{**RUBRIC[1], "options": ["friendly"]}]))
        form.get_by_role("button", name="Create queue").click()
        # the data layer's refusal shows inside the form, beside the rubric
        expect(form.get_by_text("a categorical criterion needs 2 to 20 options", exact=False)).to_be_visible(
            timeout=TIMEOUT
        )
        wait_ready(page)
        expect(page.get_by_text("No queue is defined yet.")).to_be_visible()
        rubric.fill(json.dumps(RUBRIC, indent=1))
        form.get_by_role("button", name="Create queue").click()
        expect(page.get_by_text("Saved: queue scored-sample with 4 runs and a rubric of 2 criteria.")).to_be_visible(
            timeout=TIMEOUT
        )
        wait_ready(page)
        expect(page.get_by_text("Rubric: factual (binary, required)", exact=False)).to_be_visible(timeout=TIMEOUT)
        expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible(timeout=TIMEOUT)
        page.screenshot(path=str(SHOTS / "queue_define.png"), full_page=True)
    finally:
        context.close()
    admin_server.stop()  # DuckDB lets one process hold the file
    with open_store(admin_server.db) as store:
        (queue,) = store.queues.list(actor=SYSTEM)
    assert (queue["name"], queue["items"], queue["reviewers_per_item"], queue["created_by"]) == (
        "scored-sample",
        4,
        2,
        ADMIN,
    )
    assert queue["rubric"] == [{**RUBRIC[0]}, {**RUBRIC[1], "required": False}]
