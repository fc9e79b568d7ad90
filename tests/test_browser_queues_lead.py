"""The Queues page in real headless Chromium, signed in as a lead through the trusted proxy header: the
lead sees who is behind, settles a disputed run with a verdict and a note, and the database holds the
verdict and its log row. Writes docs/screenshots/queues.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec
from tests.conftest import ROOT, AppServer
from tests.test_browser_review import TIMEOUT, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LEAD = "lee@example.com"
NOTE = "The museum opens at nine: the answer is right and bo misread the listing."


def review(run: str, owner: str, rating: int, comment: str | None = None) -> dict:
    thread = f"thread-{run[-2:]}"
    return {
        "kind": "feedback",
        "thread_id": thread,
        "run_id": run,
        "owner_id": owner,
        "rating": rating,
        "source": "reviewer",
        "comment": comment,
    }


@pytest.fixture
def lead_server(tmp_path):
    db = str(tmp_path / "lead.duckdb")
    with open_store(db) as store:
        records = []
        for n in range(8):
            records += [
                {"kind": "thread", "thread_id": f"thread-{n:02d}", "title": f"Question {n}"},
                {
                    "kind": "run",
                    "run_id": f"run-{n:02d}",
                    "thread_id": f"thread-{n:02d}",
                    "assistant_id": ("planner", "coder")[n % 2],
                    "model_name": "m1",
                    "status": "success",
                },
            ]
        records += [
            review("run-00", "ana@example.com", 1, "Opening hours are right."),
            review("run-00", "bo@example.com", -1, "Wrong opening hours."),
        ]
        records += [review(f"run-{n:02d}", "ana@example.com", 1 if n < 4 else -1) for n in range(1, 6)]
        records += [
            {**review(run, "user-7", rating), "source": "end_user"} for run, rating in (("run-02", -1), ("run-06", 1))
        ]
        records += [review(f"run-{n:02d}", "bo@example.com", (1, -1)[n % 2]) for n in range(1, 4)]
        assert store.ingest(records, actor=SYSTEM).ok
        spec = QueueSpec(
            "weekly-sample",
            sample_rate=1.0,
            reviewers_per_item=2,
            assignees=("ana@example.com", "bo@example.com", "cy@example.com"),
            instructions="Judge the **whole run**.",
            rubric=[{"name": "factual", "kind": "binary"}, {"name": "helpfulness", "kind": "ordinal"}],
        )
        store.queues.create(spec, actor=SYSTEM)
        # the reviewers' votes again, now with scores for the rubric (an import changes only the scores)
        scored = [
            {**record, "scores": {"factual": record["rating"] == 1, "helpfulness": 4 if record["rating"] == 1 else 2}}
            for record in records
            if record["kind"] == "feedback" and record["source"] == "reviewer"
        ]
        assert store.ingest(scored, actor=SYSTEM).ok
    env = {
        "FEEDBACK_DEMO": "0",
        auth.TRUSTED_HEADER_VARIABLE: "X-Forwarded-Email",
        auth.ROLES_VARIABLE: f"lead={LEAD};default=reviewer",
    }
    server = AppServer(db, env=env)
    yield server
    server.stop()


def test_a_lead_settles_a_disputed_run_on_the_queues_page(lead_server, chromium):
    context = chromium.new_context(
        viewport={"width": 1400, "height": 1000}, extra_http_headers={"X-Forwarded-Email": LEAD}
    )
    try:
        page = context.new_page()
        page.goto(f"{lead_server.url}/queues?queue=weekly-sample")
        wait_ready(page)
        expect(page.get_by_text("role lead")).to_be_visible(timeout=TIMEOUT)
        expect(page.get_by_text("Behind: cy@example.com.", exact=False)).to_be_visible(timeout=TIMEOUT)
        dispute = page.locator(".st-key-qs_dispute-run-00")
        expect(dispute.get_by_text("Wrong opening hours.")).to_be_visible()
        dispute.get_by_role("radio", name="good", exact=True).click()
        dispute.get_by_label("Note (why)").fill(NOTE)
        dispute.get_by_role("button", name="Set verdict").click()
        expect(page.get_by_text("Saved: run run-00 is good, by lee@example.com.")).to_be_visible(timeout=TIMEOUT)
        wait_ready(page)
        expect(dispute.get_by_text("verdict good by lee@example.com", exact=False)).to_be_visible(timeout=TIMEOUT)
        expect(page.locator('[data-testid="stPlotlyChart"]')).to_be_visible(timeout=TIMEOUT)
        expect(page.get_by_text("Per criterion of the rubric")).to_be_visible(timeout=TIMEOUT)
        expect(page.get_by_text("Each criterion's scores from the reviewers' votes", exact=False)).to_be_visible()
        # The page scrolls inside Streamlit's own container: a tall window shows it whole.
        page.set_viewport_size({"width": 1400, "height": 3000})
        page.get_by_role("heading", name="Queues").scroll_into_view_if_needed()
        wait_ready(page)
        page.screenshot(path=str(ROOT / "docs" / "screenshots" / "queues.png"))
    finally:
        context.close()
    lead_server.stop()  # DuckDB lets one process hold the file
    with open_store(lead_server.db) as store:
        decided = [row for row in store.queues.adjudications("weekly-sample", actor=SYSTEM) if row["verdict"]]
        assert [(row["run_id"], row["verdict"], row["note"], row["decided_by"]) for row in decided] == [
            ("run-00", "good", NOTE, LEAD)
        ]
        with store.engine.read() as conn:
            log = conn.all(
                "SELECT run_id, queue_name, verdict, old_verdict, note, owner_id, actor_role FROM adjudication_log"
            )
        assert [tuple(row.values()) for row in log] == [("run-00", "weekly-sample", "good", None, NOTE, LEAD, "lead")]
