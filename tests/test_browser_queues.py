"""Named review queues in real headless Chromium: three reviewers, each in a browser context of their
own, work a blind queue that asks two reviewers per run; nobody sees another vote on a run before
voting on it (on the card and on the thread page), and every run ends with two votes from two people.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from data_layer import open_store
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec
from tests.conftest import AppServer
from tests.test_browser_review import TIMEOUT, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUNS = [f"run-{n:02d}" for n in range(6)]
REVIEWERS = ("ana-rev", "bo-rev", "cy-rev")
COMPLAINT = "Complaint-from-the-end-user"


@pytest.fixture
def queue_server(tmp_path):
    db = str(tmp_path / "queues.duckdb")
    with open_store(db) as store:
        records = []
        for n, run in enumerate(RUNS):
            thread = f"thread-{n:02d}"
            records += [
                {"kind": "thread", "thread_id": thread, "title": f"Question {n}"},
                {"kind": "run", "run_id": run, "thread_id": thread, "status": "success"},
                {
                    "kind": "feedback",
                    "thread_id": thread,
                    "run_id": run,
                    "owner_id": "eu",
                    "source": "end_user",
                    "rating": -1,
                    "comment": COMPLAINT,
                },
            ]
        assert store.ingest(records, actor=SYSTEM).ok
        spec = QueueSpec(
            "pair", sample_rate=1.0, reviewers_per_item=2, blind=True, instructions="Judge **both** parts."
        )
        store.queues.create(spec, actor=SYSTEM)
    server = AppServer(db, env={"FEEDBACK_DEMO": "0"})
    yield server
    server.stop()


def open_queue(context, url: str, name: str):
    """The reviewer `name`'s page on the queue: the name set on the Threads page first, so no run is
    claimed under the default name, then the queue opened through the sidebar and chosen."""
    page = context.new_page()
    page.goto(url)
    wait_ready(page)
    box = page.get_by_label("Reviewer name", exact=True)
    box.fill(name)
    box.press("Enter")
    wait_ready(page)
    page.get_by_role("link", name="Review queue").click()
    wait_ready(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Queue").click()
    page.get_by_role("option", name="pair", exact=True).click()
    wait_ready(page)
    expect(page.get_by_text("Judge both parts.")).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("heading", name="Review queue").click()  # the keys go to the page, not a box
    return page


def shown_run(page) -> str | None:
    """The run the card shows, or None when the queue has nothing left for this reviewer now (what is
    left is held by others: "Check again" is pressed for the next round)."""
    header = page.get_by_text(re.compile(r"^Run run-\d\d")).first
    done = page.get_by_text("Nothing left for you in pair")
    again = page.get_by_role("button", name="Check again")
    expect(header.or_(done).or_(again)).to_be_visible(timeout=TIMEOUT)
    wait_ready(page)
    if again.is_visible():
        again.click()
        wait_ready(page)
        return None
    return None if done.is_visible() else header.inner_text().split()[1]


def test_three_reviewers_work_a_blind_queue_of_two_votes_per_run(queue_server, chromium):
    contexts = [chromium.new_context(viewport={"width": 1400, "height": 1000}) for _ in REVIEWERS]
    try:
        pages = [open_queue(context, queue_server.url, name) for context, name in zip(contexts, REVIEWERS, strict=True)]
        offered: dict[str, list[str]] = {name: [] for name in REVIEWERS}
        first_voted = None
        for _round in range(len(RUNS) * 3):
            if all(page.get_by_text("Nothing left for you in pair").is_visible() for page in pages):
                break
            for name, page in zip(REVIEWERS, pages, strict=True):
                run = shown_run(page)
                if run is None:
                    continue
                # blind: the end user's complaint and the other reviewers' votes are not on the card
                assert page.get_by_text(COMPLAINT).count() == 0
                assert run not in offered[name], (name, run)
                offered[name].append(run)
                page.keyboard.press("u" if len(offered[name]) % 2 else "d")
                expect(page.get_by_text(re.compile(rf"^Saved .* on run {re.escape(run[:8])}"))).to_be_visible(
                    timeout=TIMEOUT
                )
                first_voted = first_voted or (name, run)
        for page in pages:
            for _attempt in range(5):
                assert shown_run(page) is None  # nobody is offered a run once every run has its two votes
                if page.get_by_text("Nothing left for you in pair").is_visible():
                    break
            expect(page.get_by_text("Nothing left for you in pair")).to_be_visible()

        # On the thread page a reviewer who voted sees the others' votes; an item still open to a
        # reviewer who has not voted shows none. Every run is done now, so the check runs on one
        # reviewer's view of a run they judged.
        name, run = first_voted
        page = pages[REVIEWERS.index(name)]
        thread = f"thread-{RUNS.index(next(r for r in RUNS if r.startswith(run[:8]))):02d}"
        page.goto(f"{queue_server.url}/thread?thread={thread}")
        wait_ready(page)
        expect(page.get_by_text(COMPLAINT).first).to_be_attached(timeout=TIMEOUT)
    finally:
        for context in contexts:
            context.close()
    queue_server.stop()  # DuckDB lets one process hold the file
    with open_store(queue_server.db) as store:
        items = store.queues.items("pair", actor=SYSTEM)
        assert {item["votes"] for item in items} == {2} and len(items) == len(RUNS)
        for run in RUNS:
            voters = [
                vote["owner_id"]
                for vote in store.feedback.list_by_run_id(run, actor=SYSTEM)
                if vote["source"] == "reviewer"
            ]
            assert len(voters) == len(set(voters)) == 2, (run, voters)
    assert sorted(sum(offered.values(), [])) == sorted(RUNS * 2)
