"""How fast the dashboard is in a browser: the real Streamlit server on a DuckDB file, driven by
headless Chromium through Playwright, timed from a click to what the reviewer sees.

    python -m bench.generate --scale small --db /tmp/small.duckdb
    python -m bench.browser --db /tmp/small.duckdb --reps 5 [--docs]

Each repetition opens a thread from the Threads page, votes on it, visits Stats (its cached data
dropped by the vote, so cold), goes to Threads and straight back to Stats (cached), votes in the
review queue and visits every other page through the sidebar. A vote counts as shown when a new
"saved" toast (or the review queue's "Saved" line) appears; a page when its URL is the page's and an
element of its main content (a table, a chart, a conversation turn) drawn by the page's current run
is visible; Stats also when
its script has finished and every chart is drawn. The server runs as `tests/conftest.py`'s
`AppServer` starts it, on the given file; the benchmark writes to it (votes and queue claims).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from bench.generate import SCALES
from bench.report import write_section
from data_layer import open_store
from tests.conftest import CHROMIUM, AppServer
from tests.test_browser_review import keys_live

TIMEOUT = 120_000  # ms: a page slower than this is a failure, not a measurement
# The targets of issue 18, in ms, by the first part of a row's name.
TARGETS = {"vote": 300, "open thread": 1_000, "go to": 1_000, "stats cold": 1_500, "stats cached": 500}
# The elements that make up each page's main content; the first one drawn by the current run counts.
MAIN = {
    "threads": '[data-testid="stDataFrame"]',
    "thread": '[data-testid="stChatMessage"]',
    "queue": '[data-testid="stChatMessage"]',
    "stats": '[data-testid="stMetric"]',
    "compare": '[data-testid="stPlotlyChart"], [data-testid="stDataFrame"]',
    "agreement": '[data-testid="stPlotlyChart"], [data-testid="stDataFrame"], [data-testid="stMetric"]',
    "themes": '[data-testid="stPlotlyChart"], [data-testid="stDataFrame"]',
    "export": '[data-testid="stDownloadButton"], [data-testid="stDataFrame"]',
}
NAV_LABELS = {
    "threads": "Threads",
    "queue": "Review queue",
    "stats": "Stats",
    "compare": "Compare",
    "agreement": "Agreement",
    "themes": "Themes",
    "export": "Export",
}
# A page's own elements: inside the main area, drawn by the run now going on or just finished (an
# element's container, or a block's elements, are marked data-stale="false").
FRESH = '[data-testid="stMain"] :is([data-stale="false"] :is({0}), :is({0}):has([data-stale="false"]))'
# A vote shows as saved by a new "saved" toast (the thread page) or a new "Saved ... on run" line (the
# review queue, which moves on to the next run): toasts seen before are marked, and the lines' texts kept.
SAVED_TOAST = """() => [...document.querySelectorAll('[data-testid="stToast"]')]
    .some(toast => !toast.dataset.benchSeen && /saved/i.test(toast.innerText))
    || [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stCaptionContainer"]')]
    .some(line => /^Saved/.test(line.innerText) && !(window.benchSeenLines || []).includes(line.innerText))"""
MARK_TOASTS = """() => {
    document.querySelectorAll('[data-testid="stToast"]').forEach(toast => { toast.dataset.benchSeen = "1"; });
    window.benchSeenLines = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stCaptionContainer"]')]
        .map(line => line.innerText);
}"""
CHARTS_DRAWN = """() => {
    const charts = document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"]');
    return charts.length > 0 && [...charts].every(chart => chart.querySelector('.main-svg'));
}"""


class Session:
    """One reviewer's browser tab on the dashboard, with the timings it collects."""

    def __init__(self, page, url: str):
        self.page = page
        self.url = url
        self.times: dict[str, list[float]] = {}

    def record(self, name: str, started: float) -> None:
        self.times.setdefault(name, []).append((time.perf_counter() - started) * 1000)

    def settled(self) -> None:
        """Wait until the page's script (and any fragment) has finished, so the next step starts clean."""
        self.page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT)
        assert self.page.locator('[data-testid="stException"]').count() == 0, "the page shows an exception"

    def shown(self, page_name: str) -> None:
        """Wait for the main content of `page_name`, drawn by the page's current run."""
        paths = {f"/{page_name}", "/"} if page_name == "threads" else {f"/{page_name}"}  # the default page is /
        self.page.wait_for_url(lambda url: urlparse(url).path in paths, timeout=TIMEOUT)
        self.page.locator(FRESH.format(MAIN[page_name])).first.wait_for(state="visible", timeout=TIMEOUT)

    def go(self, page_name: str, row: str | None = None) -> None:
        """Click the page in the sidebar; time it to its main content when `row` names the timing."""
        link = self.page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=NAV_LABELS[page_name])
        started = time.perf_counter()
        link.click()
        self.shown(page_name)
        if row:
            self.record(row, started)

    def vote(self, row: str, click) -> None:
        """`click()` casts a vote; time it until a new "saved" toast shows."""
        self.page.evaluate(MARK_TOASTS)
        started = time.perf_counter()
        click()
        self.page.wait_for_function(SAVED_TOAST, timeout=TIMEOUT)
        self.record(row, started)
        self.settled()

    def repetition(self, number: int) -> None:
        page = self.page
        self.go("threads")
        self.settled()
        table = page.locator(FRESH.format(MAIN["threads"])).first.bounding_box()
        started = time.perf_counter()
        page.mouse.click(table["x"] + 15, table["y"] + 35 + 17 + 35 * (number % 20))  # a row's selection marker
        self.shown("thread")
        self.record("open thread (from the Threads table)", started)
        self.settled()

        thumbs = page.locator('[data-testid="stMain"] [data-testid="stFeedback"]').first
        unchecked = thumbs.locator('[role="radio"][aria-checked="false"]').first
        self.vote("vote on the thread page", unchecked.click)

        started = time.perf_counter()
        self.go("stats")
        self.record("stats cold (after a vote): headline", started)
        page.wait_for_function(CHARTS_DRAWN, timeout=TIMEOUT)
        self.settled()
        self.record("stats cold (after a vote): every chart", started)
        self.go("threads", "go to Threads")
        self.settled()
        started = time.perf_counter()
        self.go("stats")
        self.record("stats cached: headline", started)
        page.wait_for_function(CHARTS_DRAWN, timeout=TIMEOUT)
        self.settled()
        self.record("stats cached: every chart", started)

        self.go("queue", "go to Review queue")
        self.settled()
        keys_live(page)
        self.vote("vote in the review queue (key U or D)", lambda: page.keyboard.press("ud"[number % 2]))
        for name in ("compare", "agreement", "themes", "export"):
            self.go(name, f"go to {NAV_LABELS[name]}")
            self.settled()


def target_of(row: str) -> int | None:
    return next((ms for prefix, ms in TARGETS.items() if row.startswith(prefix)), None)


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def measure(db: str, reps: int, headed: bool = False) -> dict:
    """Start the dashboard on `db`, run `reps` timed repetitions after one untimed warm-up, and
    return the result (medians and every sample, in ms)."""
    from playwright.sync_api import sync_playwright

    with open_store(db) as store:
        threads = store.threads.count()
    scale = next((name for name, size in SCALES.items() if size.threads == threads), f"{threads:,} threads")
    result = {
        "scale": scale,
        "threads": threads,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average_at_start": load_average(),
        "reps": reps,
    }
    server = AppServer(db)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=not headed,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            )
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(server.url + "/", timeout=TIMEOUT)
            session = Session(page, server.url)
            session.shown("threads")
            session.repetition(0)  # warm-up: the first visit of each page loads modules and fills caches
            session.times.clear()
            for number in range(1, reps + 1):
                session.repetition(number)
                print(f"repetition {number} of {reps} done, load average {load_average()}", flush=True)
            browser.close()
    finally:
        server.stop()
    result["load_average_at_end"] = load_average()
    result["rows"] = {
        name: {"median": statistics.median(samples), "max": max(samples), "samples": samples}
        for name, samples in session.times.items()
    }
    return result


def markdown(result: dict) -> str:
    lines = [
        f"Scale `{result['scale']}` ({result['threads']:,} threads) on DuckDB, {result['reps']} repetitions after a "
        f"warm-up, run {result['started_at']} on {result['cores']} cores; load average "
        f"{result['load_average_at_start']} at the start and {result['load_average_at_end']} at the end.",
        "",
        "| step | median ms | max ms | target | met |",
        "|---|---:|---:|---|---|",
    ]
    for name, row in result["rows"].items():
        target = target_of(name)
        met = "" if target is None else ("yes" if row["median"] < target else "no")
        lines.append(
            f"| {name} | {row['median']:,.0f} | {row['max']:,.0f} | {f'< {target:,} ms' if target else ''} | {met} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="a DuckDB file, e.g. made by python -m bench.generate")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions after one warm-up")
    parser.add_argument("--out", help="write the result as JSON to this file")
    parser.add_argument("--docs", action="store_true", help="rewrite this scale's browser table in docs/benchmarks.md")
    parser.add_argument("--headed", action="store_true", help="show the browser window (needs a display)")
    args = parser.parse_args(argv)
    if not Path(args.db).exists():
        parser.error(f"{args.db} does not exist: make it with python -m bench.generate --db {args.db}")
    result = measure(args.db, args.reps, args.headed)
    table = markdown(result)
    print(table)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    if args.docs:
        write_section(f"browser-{result['scale']}", table)


if __name__ == "__main__":
    main()
