"""A queue with a rubric in real headless Chromium: the card shows the criteria beside the thumbs, a vote
waits (saying so) until the required ones are set, then goes in with its scores, which the database
holds; the Stats page shows the criteria. Saves docs/screenshots/queue_rubric.png and stats_criteria.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from data_layer import open_store
from data_layer.auth import SYSTEM, Actor
from data_layer.queues import QueueSpec
from tests.conftest import AppServer
from tests.test_browser_review import SHOTS, TIMEOUT, keys_live, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ME = "rubric-rev"
RUBRIC = [
    {"name": "factual", "kind": "binary", "required": True, "description": "Are the answer's facts right?"},
    {
        "name": "helpfulness",
        "kind": "ordinal",
        "required": True,
        "labels": ["Useless", "Poor", "Adequate", "Good", "Excellent"],
    },
    {"name": "tone", "kind": "categorical", "options": ["friendly", "neutral", "curt"]},
]
RUNS = {
    f"run-{n:02d}": ("research-agent" if n % 2 else "coding-agent", "gpt-4.1" if n < 3 else "qwen-max")
    for n in range(6)
}


@pytest.fixture
def rubric_server(tmp_path):
    db = str(tmp_path / "rubric.duckdb")
    with open_store(db) as store:
        records = []
        for n, (run, (assistant, model)) in enumerate(RUNS.items()):
            thread = f"thread-{n:02d}"
            records += [
                {"kind": "thread", "thread_id": thread, "display_name": f"Question {n}"},
                {
                    "kind": "run",
                    "run_id": run,
                    "thread_id": thread,
                    "status": "success",
                    "assistant_id": assistant,
                    "model_name": model,
                },
                {
                    "kind": "event",
                    "thread_id": thread,
                    "run_id": run,
                    "seq": 1,
                    "event_type": "human_message",
                    "content": {"type": "human", "content": f"When was the Eiffel Tower finished? ({n})"},
                },
                {
                    "kind": "event",
                    "thread_id": thread,
                    "run_id": run,
                    "seq": 2,
                    "event_type": "ai_message",
                    "content": {"type": "ai", "content": "It was finished in 1889, for the World's Fair."},
                },
            ]
        assert store.ingest(records, actor=SYSTEM).ok
        spec = QueueSpec(
            "scored", sample_rate=1.0, reviewers_per_item=3, rubric=RUBRIC, instructions="Score each criterion."
        )
        store.queues.create(spec, actor=SYSTEM)
        # two other reviewers have scored every run already, so Stats has numbers per assistant and model
        for n, run in enumerate(RUNS):
            for reviewer, shift in (("bo", 0), ("cy", 1)):
                good = (n + shift) % 3 != 0
                store.queues.submit(
                    "scored",
                    run,
                    rating=1 if good else -1,
                    scores={
                        "factual": good,
                        "helpfulness": 4 + shift if good else 2,
                        "tone": ("friendly", "curt")[n % 2],
                    },
                    actor=Actor(reviewer, "reviewer"),
                )
    server = AppServer(db, env={"FEEDBACK_DEMO": "0"})
    yield server
    server.stop()


def test_a_reviewer_scores_the_rubric_on_the_card_and_the_database_holds_it(rubric_server, page):
    page.goto(rubric_server.url)
    wait_ready(page)
    box = page.get_by_label("Reviewer name", exact=True)
    box.fill(ME)
    box.press("Enter")
    wait_ready(page)
    page.get_by_role("link", name="Review queue").click()
    wait_ready(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Queue").click()
    page.get_by_role("option", name="scored", exact=True).click()
    wait_ready(page)
    expect(page.get_by_text("Score each criterion.")).to_be_visible(timeout=TIMEOUT)
    header = page.get_by_text(re.compile(r"^Run run-\d\d")).first
    expect(header).to_be_visible(timeout=TIMEOUT)
    run = next(r for r in RUNS if r.startswith(header.inner_text().split()[1]))
    rubric = page.locator(".st-key-rq_rubric_inputs")
    expect(rubric.get_by_text("factual *")).to_be_visible()

    # D before the required criteria: nothing is saved, and the card says what is missing
    page.get_by_role("heading", name="Review queue").click()
    keys_live(page)
    page.keyboard.press("d")
    wait_ready(page)
    warning = page.get_by_text("this queue's rubric requires factual, helpfulness")
    expect(warning).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Your vote: not yet")).to_be_visible()

    for choice in ("no", "4 · Good", "friendly"):
        rubric.locator("button").filter(has_text=re.compile(f"^{choice}$")).click()
        wait_ready(page)
    expect(warning).to_be_hidden()
    expect(page.get_by_text("The required criteria are set: press U or D again")).to_be_visible()
    page.set_viewport_size({"width": 1400, "height": 1500})
    page.screenshot(path=str(SHOTS / "queue_rubric.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.get_by_role("heading", name="Review queue").click()
    keys_live(page)
    page.keyboard.press("d")
    expect(page.get_by_text(re.compile(rf"^Saved .* on run {re.escape(run[:8])}"))).to_be_visible(timeout=TIMEOUT)

    page.get_by_role("link", name="Stats").click()
    wait_ready(page)
    section = page.get_by_role("heading", name="Rubric criteria")
    expect(section).to_be_visible(timeout=TIMEOUT)
    section.scroll_into_view_if_needed()
    expect(page.get_by_text(re.compile(r"^Scores reviewers gave the criteria"))).to_be_visible()
    charts = page.locator('[data-testid="stPlotlyChart"]').filter(has=page.locator(".main-svg"))
    expect(charts.last).to_be_visible(timeout=TIMEOUT)
    section.evaluate("heading => heading.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(SHOTS / "stats_criteria.png"))

    rubric_server.stop()  # DuckDB lets one process hold the file
    with open_store(rubric_server.db) as store:
        mine = store.feedback.find(run_id=run, owner_id=ME, actor=SYSTEM)
        assert mine["rating"] == -1 and mine["source"] == "reviewer"
        assert mine["scores"] == {"factual": False, "helpfulness": 4, "tone": "friendly"}
        assert store.audit.list({"feedback_id": mine["feedback_id"]}, actor=SYSTEM)[-1]["new_value"]["scores"] == {
            "factual": False,
            "helpfulness": 4,
            "tone": "friendly",
        }
