"""No content makes the browser call another host: hostile markdown, HTML, math and links stored in
every text field a page shows (messages, tool calls, comments, titles, event types, model and
assistant names, ids, metadata, a queue's instructions) and sent in the query parameters of every page, in real Chromium
against a real `streamlit run`.

Every request the browser makes is recorded; any to a host other than the dashboard's own fails
the test, as does a dialog, a script that ran (`window.__pwned`), or a link, image or frame in the
page whose address came from the content. The payloads are in tests/hostile_content.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest

from data_layer import open_store
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec
from tests.hostile_content import ID_PAYLOADS, PAYLOADS, SHORT_PAYLOADS

from .conftest import AppServer

pytestmark = pytest.mark.browser

TIMEOUT = 30_000
THREADS = 8  # the payloads are spread over this many threads, one id payload each
START = datetime(2026, 3, 2, 9, tzinfo=UTC)
LIGHT_THREAD = "light"
QUEUE = "hostile"  # one short run: the thread page for the `run` parameter stays quick
# What no address in a page (link, image, frame, style) may hold: markers only the payloads carry.
MARKERS = ("evil", "ev.il", "javascript:", "pwned", "ivborw0kggo")


def _chunks(items: list, count: int) -> list[list]:
    return [items[index::count] for index in range(count)]


def hostile_records() -> list[dict]:
    """Threads whose every shown field holds a payload; votes by reviewers and end users on each run."""
    records: list[dict] = []
    for number, payloads in enumerate(_chunks(PAYLOADS, THREADS)):
        thread_id = ID_PAYLOADS[number]
        records.append(
            {
                "kind": "thread",
                "thread_id": thread_id,
                "assistant_id": ID_PAYLOADS[(number + 1) % len(ID_PAYLOADS)],
                "display_name": " ".join(payloads)[:1000],
                "metadata": {"title": payloads[0]},
            }
        )
        for index, payload in enumerate(payloads):
            key = f"{number}{index}"
            run_id = f"{('www.ev.i', 'a:smile:', 'run-')[index % 3]}{key}"
            at = START + timedelta(days=number * 2 + index % 3, hours=index)
            records.append(
                {
                    "kind": "run",
                    "run_id": run_id,
                    "thread_id": thread_id,
                    "status": "success" if index % 4 else "error",
                    "error": payload,
                    "model_name": payload[:200],
                    "first_human_message": payload,
                    "last_ai_message": payload,
                    "metadata": {"note": payload},
                    "created_at": at.isoformat(),
                    "updated_at": (at + timedelta(seconds=7)).isoformat(),
                }
            )
            events = [
                ("human_message", {"type": "human", "content": payload, "id": f"h{key}"}),
                (
                    "ai_message",
                    {
                        "type": "ai",
                        "content": "",
                        "id": f"c{key}",
                        "tool_calls": [{"id": f"call{key}", "name": payload[:80], "args": {"query": payload}}],
                    },
                ),
                (
                    "tool_result",
                    {"type": "tool", "content": payload, "name": payload[:80], "tool_call_id": f"call{key}"},
                ),
                ("ai_message", {"type": "ai", "content": f"## Answer\n\n{payload}\n\n- one\n- two", "id": f"a{key}"}),
                (payload[:100], {"type": "system", "content": payload}),
            ]
            for seq, (event_type, content) in enumerate(events, start=1):
                records.append(
                    {
                        "kind": "event",
                        "thread_id": thread_id,
                        "run_id": run_id,
                        "seq": seq,
                        "event_type": event_type,
                        "category": "message",
                        "content": content,
                        "metadata": {"payload": payload},
                        "created_at": (at + timedelta(seconds=seq)).isoformat(),
                    }
                )
            records.append(
                {
                    "kind": "event",
                    "thread_id": thread_id,
                    "run_id": run_id,
                    "seq": len(events) + 1,
                    "event_type": "run.trace",
                    "content": payload,
                    "metadata": {"payload": payload},
                }
            )
            owner = ID_PAYLOADS[(number + index) % len(ID_PAYLOADS)]
            votes = [
                (owner, None, -1, "reviewer", ["incorrect"]),
                (f"rev{index}", None, 1, "reviewer", []),
                (f"user{key}", None, -1 if index % 2 else 1, "end_user", []),
                (owner, f"a{key}", -1, "reviewer", ["other"]),
            ]
            for voter, message_id, rating, source, tags in votes:
                records.append(
                    {
                        "kind": "feedback",
                        "thread_id": thread_id,
                        "run_id": run_id,
                        "message_id": message_id,
                        "owner_id": voter,
                        "rating": rating,
                        "comment": f"{payload} evil example comment" if rating == -1 else "clear and correct answer",
                        "tags": tags,
                        "source": source,
                        "created_at": (at + timedelta(minutes=5)).isoformat(),
                    }
                )
    records += [
        {"kind": "thread", "thread_id": LIGHT_THREAD, "assistant_id": "plain", "display_name": "A light thread"},
        {
            "kind": "run",
            "run_id": "light-run",
            "thread_id": LIGHT_THREAD,
            "status": "success",
            "model_name": "m",
            "created_at": START.isoformat(),
        },
    ]
    return records


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("content") / "content.duckdb")
    with open_store(db) as store:
        report = store.ingest(hostile_records(), actor=SYSTEM)
        assert report.ok, report.summary()
        # every run in a queue whose instructions are the payloads; its reviewers split on each run
        spec = QueueSpec(QUEUE, instructions="\n\n".join(PAYLOADS)[:20_000], sample_rate=1.0, reviewers_per_item=2)
        store.queues.create(spec, actor=SYSTEM)
    running = AppServer(db, env={"FEEDBACK_DEMO": "0"})
    yield running
    running.stop()


class Guard:
    """Records what the content made the browser do: requests elsewhere, dialogs, scripts, links."""

    def __init__(self, page, origin: str):
        self.page = page
        self.own = urlsplit(origin).netloc
        self.outside: list[str] = []
        self.dialogs: list[str] = []
        self.problems: list[str] = []
        page.on("request", lambda request: self._request(request.url))
        page.on("websocket", lambda socket: self._request(socket.url))
        page.on("dialog", self._dialog)

    def _request(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss") or parts.netloc != self.own:
            self.outside.append(url)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def visit(self, url: str, *, ready: str = '[data-testid="stSidebarNav"]') -> None:
        self.page.goto(url)
        self.settle(ready, where=url)

    def settle(self, ready: str = '[data-testid="stSidebarNav"]', *, where: str | None = None) -> None:
        self.page.wait_for_selector(ready, state="attached", timeout=TIMEOUT)
        self.page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT)
        self.page.wait_for_timeout(150)  # React draws the last delta, Plotly its charts
        self.check(where or self.page.url)

    def check(self, where: str) -> None:
        planted = self.page.evaluate(
            """(markers) => {
                const found = [];
                const names = ["href", "src", "srcset", "data", "poster", "action", "formaction", "xlink:href",
                               "background", "style"];
                for (const element of document.querySelectorAll("*")) {
                    for (const name of names) {
                        const value = element.getAttribute(name);
                        const address = (value || "").toLowerCase();
                        // "#..." is a heading's anchor in the page itself, named after the heading's text
                        if (!address.startsWith("#") && markers.some((marker) => address.includes(marker))) {
                            found.push(`<${element.tagName.toLowerCase()} ${name}="${value.slice(0, 80)}">`);
                        }
                    }
                }
                return found;
            }""",
            list(MARKERS),
        )
        if self.page.evaluate("typeof window.__pwned") != "undefined":
            self.problems.append(f"{where}: a payload's script ran")
        if self.dialogs:
            self.problems.append(f"{where}: dialogs opened: {self.dialogs}")
        if self.outside:
            self.problems.append(f"{where}: requests to other hosts: {sorted(set(self.outside))[:6]}")
        if planted:
            self.problems.append(f"{where}: links or media from content: {planted[:6]}")
        self.dialogs.clear()
        self.outside.clear()

    def expect(self, shown: bool, problem: str) -> None:
        """A payload that must be on the page as text: it is there, so the checks above saw it."""
        if not shown:
            self.problems.append(problem)

    def assert_clean(self) -> None:
        assert not self.problems, f"{len(self.problems)} findings:\n" + "\n".join(self.problems)


@pytest.fixture
def guard(page, server):
    return Guard(page, server.url)


def expand_everything(page) -> None:
    """Open every closed expander, so content drawn only when open is drawn."""
    page.evaluate(
        """() => document.querySelectorAll('[data-testid="stExpander"] details:not([open]) > summary')
                .forEach((summary) => summary.click())"""
    )


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def chart_text(page) -> str:
    return " ".join(page.locator('[data-testid="stPlotlyChart"] svg text').all_text_contents())


def test_stored_content_is_shown_as_text_on_every_page(server, guard, page):
    base = server.url
    for number in range(THREADS):
        guard.visit(
            f"{base}/thread?{urlencode({'thread': ID_PAYLOADS[number]})}", ready='[data-testid="stChatMessage"]'
        )
        page.get_by_text("Show system and trace events").click()
        guard.settle('[data-testid="stDataFrame"]')
        expand_everything(page)
        guard.settle()
        shown = "https://evil.example/" in main_text(page).replace("\u200b", "")
        guard.expect(shown, f"thread {ID_PAYLOADS[number]}: the payloads are not shown as text")
    for path in (
        "/",
        "/queue",
        f"/queues?queue={QUEUE}",
        "/compare",
        "/compare?by=assistant",
        "/agreement",
        "/themes",
        "/export",
    ):
        guard.visit(base + path, ready='[data-testid="stHeading"]')
        expand_everything(page)
        guard.check(path)
    guard.visit(base + "/stats", ready='[data-testid="stPlotlyChart"] .main-svg')
    expand_everything(page)
    guard.check("/stats, expanded")
    label = '<a href="https://evil.example/html-link">gpt-evil</a>'
    guard.expect(label in chart_text(page), f"/stats: the model {label} is not a label as written")
    guard.visit(base + "/themes", ready='[data-testid="stHeading"]')
    phrases = page.locator('[data-testid="stButtonGroup"] button')
    guard.expect(phrases.count() > 0, "/themes: no phrase stands out in the payload comments")
    if phrases.count():
        phrases.first.click()
        guard.settle('[data-testid="stDataFrame"]')
    guard.visit(base + "/audit", ready='[data-testid="stHeading"]')
    guard.assert_clean()


def packed(payloads: list[str], limit: int = 200) -> list[str]:
    """The payloads joined by spaces into values of at most `limit` characters (the part a page quotes)."""
    values, current = [], ""
    for payload in payloads:
        if current and len(current) + 1 + len(payload) > limit:
            values.append(current)
            current = ""
        current = f"{current} {payload}" if current else payload
    return [*values, current]


def _query_urls() -> list[str]:
    """Every page with payloads in its query parameters: long ones where a page quotes up to 200
    characters, short ones where it quotes 20, several at once where the page reads several."""
    long = packed(PAYLOADS + SHORT_PAYLOADS)
    short = SHORT_PAYLOADS
    urls = [f"/thread?{urlencode({'thread': value})}" for value in long]
    urls += [f"/thread?{urlencode({'thread': LIGHT_THREAD, 'run': value})}" for value in packed(PAYLOADS + ID_PAYLOADS)]

    def at(values: list[str], index: int) -> str:
        return values[index % len(values)]

    for index in range(len(short)):
        filters = {
            "from": at(short, index),
            "to": at(short, index + 1),
            "source": at(short, index + 2),
            "assistant": at(long, index),
            "model": at(long, index + 1),
            "reviewer": at(ID_PAYLOADS, index),
        }
        urls.append("/export?" + urlencode({**filters, "rating": at(short, index + 3)}))
        if index % 2 == 0:
            urls.append("/stats?" + urlencode(filters))
    for index in range(2):
        some = {"long": at(long, index + 3), "short": at(short, index + 4), "id": at(ID_PAYLOADS, index + 4)}
        flags = {name: some["short"] for name in ("status", "sort", "dates", "page", "negative", "unreviewed")}
        urls.append("/threads?" + urlencode({"q": some["long"], "assistant": some["id"], **flags}))
        queue = {name: some["short"] for name in ("rq_status", "rq_dates", "rq_negative", "rq_followups")}
        urls.append("/queue?" + urlencode({"rq_assistant": some["id"], "rq_model": some["long"], **queue}))
        audit = {"au_actor": some["long"], "au_feedback": some["id"], "au_thread": some["long"], "au_run": some["id"]}
        urls.append("/audit?" + urlencode({**audit, "au_action": some["short"], "au_dates": some["short"]}))
        urls.append("/compare?" + urlencode({"by": some["short"], "a": some["long"], "b": some["id"]}))
        urls.append("/queues?" + urlencode({"queue": some["long"], "qs_by": some["short"]}))
        urls.append("/agreement?" + urlencode({"thread": some["long"], "run": some["short"]}))
        urls.append("/themes?" + urlencode({"phrase": some["long"], "model": some["short"]}))
    return urls


def test_query_parameters_are_shown_as_text_on_every_page(server, guard, page):
    for path in _query_urls():
        guard.visit(
            server.url + path, ready='[data-testid="stMain"] [data-testid="stHeading"], [data-testid="stAlert"]'
        )
        if path.startswith("/thread?"):
            quoted = page.locator('[data-testid="stMain"] [data-testid="stAlert"]').first.inner_text()
            guard.expect(any(marker in quoted for marker in MARKERS), f"{path}: the value is not quoted as text")
    guard.assert_clean()
