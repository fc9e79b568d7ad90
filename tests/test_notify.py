"""Notifications on both engines: events written with their change, delivered signed to a real HTTP receiver
with retries and backoff, raised once (alerts, finished queues), refused for private addresses, and claimed
once per destination by two sender replicas on PostgreSQL."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import apprise
import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from streamlit.testing.v1 import AppTest

from data_layer import auth, open_store
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Conflict, Forbidden, InvalidInput
from data_layer.notify import sender, service
from data_layer.notify.settings import Settings
from data_layer.queues import QueueSpec
from tests.conftest import AppServer
from tests.receiver import Receiver
from tests.test_cli import cli

ANA = Actor("ana")


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def quick(monkeypatch):
    """Retries a twentieth of a second apart (doubling), as a test can wait for them."""
    monkeypatch.setenv("FEEDBACK_NOTIFY_RETRY", "0.05")
    monkeypatch.setenv("FEEDBACK_NOTIFY_TIMEOUT", "2")


def deliver_all(store, rounds: int = 60) -> None:
    """Run the sender until nothing is pending (a few seconds at most)."""
    for _ in range(rounds):
        store.notify.run(actor=SYSTEM)
        if not store.notify.deliveries(actor=SYSTEM, status="pending"):
            return
        time.sleep(0.05)
    raise AssertionError(store.notify.deliveries(actor=SYSTEM, status="pending"))


def test_votes_arrive_signed_with_the_vote(seeded, receiver, quick):
    webhook = seeded.notify.add_webhook(receiver.url, allow_private=True, actor=SYSTEM)
    assert webhook["secret"].startswith("whsec_")
    assert "secret" not in seeded.notify.destinations(actor=SYSTEM)[0]
    created = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, comment="Wrong date", actor=ANA)
    seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, actor=ANA)
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", actor=ANA)
    # Nothing is sent inside the vote: the events wait in the outbox for the sender.
    assert receiver.requests == []
    deliver_all(seeded)

    events = receiver.verified(webhook["secret"])
    assert [(event["type"], event["data"]["rating"]) for event in events] == [
        ("vote.created", -1),
        ("vote.updated", 1),
        ("vote.deleted", 1),
    ]
    assert {event["data"]["feedback_id"] for event in events} == {created["feedback_id"]}
    assert events[0]["data"]["comment"] == "Wrong date" and events[0]["data"]["owner_id"] == "ana"
    assert events[0]["data"]["model_name"] == "m1"
    ids = [request["headers"]["webhook-id"] for request in receiver.requests]
    assert len(set(ids)) == 3 and all(i.startswith("msg_") for i in ids)
    with pytest.raises(WebhookVerificationError):
        Webhook(seeded.notify.add_webhook(receiver.url, allow_private=True, actor=SYSTEM)["secret"]).verify(
            receiver.requests[0]["body"], receiver.requests[0]["headers"]
        )
    assert [row["status"] for row in seeded.notify.deliveries(actor=SYSTEM)] == ["delivered"] * 3


def test_a_receiver_failing_three_times_gets_the_fourth_attempt(seeded, quick):
    receiver = Receiver(fail_first=3)
    try:
        webhook = seeded.notify.add_webhook(receiver.url, events=["vote.created"], allow_private=True, actor=SYSTEM)
        seeded.feedback.create(thread_id="t1", run_id="r1", rating=1, actor=ANA)
        deliver_all(seeded)
    finally:
        receiver.close()
    assert len(receiver.requests) == 4
    assert len({request["headers"]["webhook-id"] for request in receiver.requests}) == 1
    assert receiver.verified(webhook["secret"])[3]["type"] == "vote.created"
    (delivery,) = seeded.notify.deliveries(actor=SYSTEM)
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == ("delivered", 4, 200)
    attempts = seeded.notify.attempts(delivery["delivery_id"], actor=SYSTEM)
    assert [attempt["status_code"] for attempt in attempts] == [500, 500, 500, 200]
    assert attempts[0]["error"].startswith("HTTP 500")
    times = [datetime.fromisoformat(attempt["attempted_at"]) for attempt in attempts]
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:])]
    # exponential backoff: 0.05 s, 0.1 s, 0.2 s at least
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2, gaps


def test_retries_stop_at_the_end_of_the_window_and_send_again_restarts_them(seeded, quick, monkeypatch):
    monkeypatch.setenv("FEEDBACK_NOTIFY_GIVE_UP", "0.5")
    receiver = Receiver(fail_first=10**6)
    try:
        seeded.notify.add_webhook(receiver.url, allow_private=True, actor=SYSTEM)
        seeded.feedback.create(thread_id="t1", run_id="r1", rating=1, actor=ANA)
        deliver_all(seeded)
        (failed,) = seeded.notify.deliveries(actor=SYSTEM)
        assert failed["status"] == "failed" and failed["last_status"] == 500
        assert 2 <= failed["attempts"] == len(receiver.requests) < 10
        receiver.fail_first = 0
        again = seeded.notify.send_again(failed["delivery_id"], actor=SYSTEM)
        assert again["status"] == "pending"
        deliver_all(seeded)
    finally:
        receiver.close()
    assert seeded.notify.delivery(failed["delivery_id"], actor=SYSTEM)["status"] == "delivered"


def test_an_event_exists_only_with_its_change(seeded, receiver):
    """A refused vote writes no event; with no destination no event is stored at all."""
    seeded.feedback.create(thread_id="t1", run_id="r1", rating=1, actor=ANA)
    with seeded.engine.read() as conn:
        assert conn.scalar("SELECT count(*) FROM outbox") == 0
    seeded.notify.add_webhook(receiver.url, allow_private=True, actor=SYSTEM)
    with pytest.raises(Conflict):
        seeded.feedback.create(thread_id="t1", run_id="r1", rating=-1, actor=ANA)
    with pytest.raises(Forbidden):
        seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, owner_id="bo", actor=ANA)
    with seeded.engine.read() as conn:
        assert conn.scalar("SELECT count(*) FROM outbox") == 0
        assert conn.scalar("SELECT count(*) FROM deliveries") == 0


def test_imported_votes_are_events_and_a_filter_narrows_them(seeded, receiver, quick):
    everything = seeded.notify.add_webhook(
        receiver.url, events="vote.created,vote.updated", allow_private=True, actor=SYSTEM
    )
    other = Receiver()
    try:
        narrowed = seeded.notify.add_webhook(
            other.url, events=["vote.created"], assistant_id="other_agent", allow_private=True, actor=SYSTEM
        )
        report = seeded.ingest(
            [
                {"kind": "thread", "thread_id": "t9", "assistant_id": "other_agent"},
                {"kind": "run", "thread_id": "t9", "run_id": "r9", "assistant_id": "other_agent", "status": "success"},
                {"kind": "feedback", "thread_id": "t9", "run_id": "r9", "owner_id": "u1", "rating": -1},
                {
                    "kind": "feedback",
                    "thread_id": "t1",
                    "run_id": "r1",
                    "owner_id": "u2",
                    "rating": 1,
                    "tags": ["slow"],
                },
            ],
            actor=SYSTEM,
        )
        assert report.ok, report.summary()
        deliver_all(seeded)
        events = receiver.verified(everything["secret"])
        mine = other.verified(narrowed["secret"])
    finally:
        other.close()
    assert sorted((e["type"], e["data"]["run_id"], e["data"]["owner_id"]) for e in events) == [
        ("vote.created", "r1", "u2"),
        ("vote.created", "r9", "u1"),
    ]
    by_run = {event["data"]["run_id"]: event["data"] for event in events}
    assert by_run["r1"]["tags"] == ["slow"] and by_run["r1"]["model_name"] == "m1"
    single = seeded.feedback.find(run_id="r1", owner_id="u2", actor=SYSTEM)
    # An imported vote's event carries the same fields as a vote written one at a time (which, like it, has
    # a `correction` only when the vote holds one).
    written = set(single) - {"scope", "correction"}
    assert by_run["r1"]["created_at"] == single["created_at"] and set(by_run["r1"]) >= written
    assert [(e["data"]["run_id"], e["data"]["assistant_id"]) for e in mine] == [("r9", "other_agent")]


def test_a_queue_finishes_once(seeded, receiver, quick):
    webhook = seeded.notify.add_webhook(receiver.url, events=["queue.finished"], allow_private=True, actor=SYSTEM)
    seeded.queues.create(QueueSpec("all-runs", selection={"model_name": "m1"}), actor=SYSTEM)
    seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, actor=ANA)
    with seeded.engine.read() as conn:
        assert conn.scalar("SELECT count(*) FROM outbox") == 0  # one item of two is done
    seeded.feedback.upsert(thread_id="t1", run_id="r2", rating=-1, actor=ANA)
    seeded.feedback.upsert(thread_id="t1", run_id="r2", rating=1, actor=ANA)
    seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, actor=Actor("bo"))
    deliver_all(seeded)
    events = receiver.verified(webhook["secret"])
    assert [(e["type"], e["data"]["queue"], e["data"]["items"]) for e in events] == [("queue.finished", "all-runs", 2)]


FILE_TARGET = {"path": None}


@apprise.decorators.notify(on="feedbacktest", name="Feedback test file")
def _write_to_file(body, title, notify_type, *args, **kwargs):
    """An apprise target of the tests' own: it appends each message to a file."""
    with open(FILE_TARGET["path"], "a", encoding="utf-8") as stream:
        stream.write(json.dumps({"title": title, "body": body}) + "\n")
    return True


def test_the_planted_bad_day_raises_one_alert_to_an_apprise_target(demo_store, tmp_path, monkeypatch):
    FILE_TARGET["path"] = tmp_path / "alerts.jsonl"
    destination = demo_store.notify.add_apprise("feedbacktest://alerts", actor=SYSTEM)
    assert destination["events"] == ["alert.raised"]
    raised = demo_store.notify.check_alerts(actor=SYSTEM)
    assert [(alert["assistant_id"], alert["day"]) for alert in raised] == [
        ("support-agent", (datetime.now(UTC).date() - timedelta(days=12)).isoformat())
    ]
    deliver_all(demo_store)
    assert demo_store.notify.check_alerts(actor=SYSTEM) == []
    deliver_all(demo_store)
    lines = [json.loads(line) for line in FILE_TARGET["path"].read_text().splitlines()]
    assert len(lines) == 1
    assert lines[0]["title"] == f"Feedback alert: support-agent on {raised[0]['day']}"
    assert f"{raised[0]['votes']} whole-run votes" in lines[0]["body"]
    with pytest.raises(InvalidInput, match="event kind"):
        demo_store.notify.add_webhook("http://127.0.0.1/", events=["vote.sent"], allow_private=True, actor=SYSTEM)


REFUSED = [
    "http://127.0.0.1:8501/api/ingest",
    "http://localhost/",
    "http://[::1]/",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/",
    "http://[::ffff:127.0.0.1]/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_addresses_are_refused_without_the_allow_setting(store, url):
    with pytest.raises(InvalidInput, match="refused unless the destination is added with allow private"):
        store.notify.add_webhook(url, actor=SYSTEM)
    assert store.notify.destinations(actor=SYSTEM) == []
    assert store.notify.add_webhook(url, allow_private=True, actor=SYSTEM)["allow_private"] is True


def test_this_host_and_bad_urls_are_refused(store):
    with pytest.raises(InvalidInput, match="refused|does not resolve"):
        store.notify.add_webhook(f"http://{socket.gethostname()}/", actor=SYSTEM)
    for url in ("ftp://example.com/", "http:///nohost", "http://user:pw@127.0.0.1/", "http://a b/", ""):
        with pytest.raises(InvalidInput):
            store.notify.add_webhook(url, allow_private=True, actor=SYSTEM)
    with pytest.raises(InvalidInput, match="refused"):
        store.notify.add_apprise("json://127.0.0.1:9/alerts", actor=SYSTEM)
    with pytest.raises(Forbidden):
        store.notify.add_webhook("http://127.0.0.1/", allow_private=True, actor=Actor("ana", "reviewer"))
    assert store.notify.destinations(actor=SYSTEM) == []


def test_a_name_that_resolves_to_a_private_address_at_send_time_is_refused(seeded, receiver, quick, monkeypatch):
    """A host public when configured and private when sent to (DNS rebinding) gets no request."""
    real = socket.getaddrinfo
    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80))]
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *a, **k: public if host == "hooks.test" else real(host, *a, **k)
    )
    port = receiver.server.server_address[1]
    seeded.notify.add_webhook(f"http://hooks.test:{port}/hook", actor=SYSTEM)
    loopback = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *a, **k: loopback if host == "hooks.test" else real(host, *a, **k)
    )
    seeded.feedback.create(thread_id="t1", run_id="r1", rating=1, actor=ANA)
    seeded.notify.run(actor=SYSTEM)
    (delivery,) = seeded.notify.deliveries(actor=SYSTEM)
    assert delivery["status"] == "pending" and "a loopback address" in delivery["last_error"]
    assert receiver.requests == []


def test_a_vote_made_on_the_page_is_delivered(seeded, receiver, quick, monkeypatch, store_url, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", store_url)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    monkeypatch.setenv("FEEDBACK_NOTIFY_EVERY", "0")
    webhook = seeded.notify.add_webhook(receiver.url, allow_private=True, actor=SYSTEM)
    at = AppTest.from_file("../app.py", default_timeout=30)
    at.switch_page("pages/thread.py")
    at.query_params["thread"] = "t1"
    at.run()
    at.feedback(key="fb|local-reviewer|r1||thumb").set_value(0).run()
    assert not at.exception
    deliver_all(seeded)
    (event,) = receiver.verified(webhook["secret"])
    assert (event["type"], event["data"]["owner_id"], event["data"]["rating"]) == ("vote.created", "local-reviewer", -1)


@pytest.mark.slow
def test_two_replicas_on_postgresql_deliver_each_event_once(pg_url, quick):
    receiver = Receiver(delay=0.01)
    replicas = [open_store(pg_url), open_store(pg_url)]
    try:
        first = replicas[0]
        first.ingest(
            [{"kind": "thread", "thread_id": "t1", "assistant_id": "a"}]
            + [{"kind": "run", "thread_id": "t1", "run_id": f"r{n}", "status": "success"} for n in range(40)],
            actor=SYSTEM,
        )
        webhook = first.notify.add_webhook(receiver.url, allow_private=True, actor=SYSTEM)
        for n in range(40):
            first.feedback.create(thread_id="t1", run_id=f"r{n}", rating=1, actor=ANA)
        start = threading.Barrier(2)

        def replica(store):
            start.wait()
            while store.notify.deliveries(actor=SYSTEM, status="pending"):
                sender.deliver_due(store.engine, limit=3)

        workers = [threading.Thread(target=replica, args=(store,)) for store in replicas]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        ids = [request["headers"]["webhook-id"] for request in receiver.requests]
        assert len(ids) == 40 and len(set(ids)) == 40
        assert len(receiver.verified(webhook["secret"])) == 40
        with first.engine.read() as conn:
            assert conn.scalar("SELECT count(*) FROM delivery_attempts") == 40
    finally:
        receiver.close()
        for store in replicas:
            store.close()


def test_the_page_adds_a_webhook_shows_its_log_and_sends_again(
    seeded, receiver, quick, monkeypatch, store_url, fresh_streamlit_caches
):
    monkeypatch.setenv("FEEDBACK_DB", store_url)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    monkeypatch.setenv("FEEDBACK_NOTIFY_EVERY", "0")
    at = AppTest.from_file("../app.py", default_timeout=30)
    at.switch_page("pages/notifications.py")
    at.run()
    assert not at.exception
    at.text_input(key="nt_url").set_value("http://127.0.0.1:9/hook")
    at.button[0].click().run()
    assert "refused unless the destination is added with allow private" in at.error[0].value
    assert seeded.notify.destinations(actor=SYSTEM) == []

    at.text_input(key="nt_url").set_value(receiver.url)
    at.multiselect(key="nt_events").set_value(["vote.created"])
    at.checkbox(key="nt_private").check()
    at.button[0].click().run()
    secret = at.code[0].value
    assert secret.startswith("whsec_") and at.success[0].value.startswith("Saved: destination 1.")
    (destination,) = seeded.notify.destinations(actor=SYSTEM)
    assert (destination["url"], destination["events"], destination["allow_private"]) == (
        receiver.url,
        ["vote.created"],
        True,
    )

    seeded.feedback.create(thread_id="t1", run_id="r1", rating=1, actor=ANA)
    deliver_all(seeded)
    at.run()
    log = at.dataframe[1].value
    assert list(log["status"]) == ["delivered"] and list(log["last answer"]) == [200]
    at.session_state["nt_log"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert list(at.dataframe[2].value["answer"]) == [200]
    at.button(key="nt_again").click().run()
    assert seeded.notify.deliveries(actor=SYSTEM)[0]["status"] == "pending"
    deliver_all(seeded)
    assert [Webhook(secret).verify(r["body"], r["headers"])["type"] for r in receiver.requests] == ["vote.created"] * 2


@pytest.mark.slow
def test_a_vote_through_the_api_survives_a_kill_before_its_delivery(tmp_path):
    """The dashboard is SIGKILLed while its sender is delivering a vote made through the REST API; the
    restarted dashboard delivers it (the same event, signed), with no visit needed."""
    db = str(tmp_path / "app.duckdb")
    receiver = Receiver()
    token = auth.new_token()
    env = {
        "FEEDBACK_DEMO": "0",
        "FEEDBACK_API_TOKENS": auth.token_entry("ana", "reviewer", token),
        "FEEDBACK_NOTIFY_EVERY": "0.2",
        "FEEDBACK_NOTIFY_TIMEOUT": "1",
        "FEEDBACK_BACKUP_EVERY": "0",
    }
    with open_store(db) as setup:
        setup.ingest(
            [
                {"kind": "thread", "thread_id": "t1", "assistant_id": "a"},
                {"kind": "run", "thread_id": "t1", "run_id": "r1", "status": "success"},
            ],
            actor=SYSTEM,
        )
        secret = setup.notify.add_webhook(receiver.url, allow_private=True, actor=SYSTEM)["secret"]
    receiver.hold.set()
    server = AppServer(db, env=env)
    try:
        answer = httpx.put(
            f"{server.url}/api/threads/t1/runs/r1/feedback",
            json={"rating": -1, "comment": "Stale prices"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert receiver.arrived.wait(30)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
    finally:
        server.stop()
    receiver.release()
    restarted = AppServer(db, env=env)
    try:
        receiver.wait(2, timeout=60)
    finally:
        restarted.stop()
        receiver.close()
    first, second = receiver.requests[:2]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    event = Webhook(secret).verify(second["body"], second["headers"])
    assert (event["type"], event["data"]["comment"], event["data"]["owner_id"]) == (
        "vote.created",
        "Stale prices",
        "ana",
    )
    with open_store(db) as after:
        (delivery,) = after.notify.deliveries(actor=SYSTEM)
        assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)
        assert after.feedback.find(run_id="r1", owner_id="ana", actor=SYSTEM)["rating"] == -1


@pytest.mark.slow
def test_the_command_line_adds_a_webhook_and_raises_each_alert_once(tmp_path, receiver):
    db = str(tmp_path / "cli.duckdb")
    assert cli("demo", "--db", db, "--threads", "60").returncode == 0
    refused = cli("notify", "add-webhook", receiver.url, "--db", db)
    assert refused.returncode == 1 and "refused unless" in refused.stderr and "Traceback" not in refused.stderr
    added = cli("notify", "add-webhook", receiver.url, "--events", "alert.raised", "--allow-private", "--db", db)
    assert added.returncode == 0, added.stderr
    secret = added.stdout.splitlines()[1]
    listed = json.loads(cli("notify", "list", "--json", "--db", db).stdout)
    assert [(d["url"], d["events"]) for d in listed] == [(receiver.url, ["alert.raised"])]
    assert secret not in cli("notify", "list", "--db", db).stdout

    first = cli("stats", "--alerts", "--notify", "--db", db)
    assert first.returncode == 1 and "1 new alert(s) raised; deliveries: 1 delivered" in first.stderr
    again = cli("stats", "--alerts", "--notify", "--db", db)
    assert "0 new alert(s) raised; deliveries: 0 delivered" in again.stderr
    (alert,) = receiver.verified(secret)
    assert (alert["type"], alert["data"]["assistant_id"]) == ("alert.raised", "support-agent")
    assert alert["data"]["rate"] < alert["data"]["band"]["low"] <= alert["data"]["expected"]
    log = cli("notify", "log", "--attempts", "--db", db)
    assert "alert.raised" in log.stdout and "delivered" in log.stdout and "\t200\t" in log.stdout
    assert cli("notify", "send-again", "1", "--db", db).returncode == 0
    assert cli("notify", "run", "--db", db).stdout.strip() == "1 delivered, 0 retrying, 0 failed"
    assert len(receiver.requests) == 2
    assert cli("notify", "remove", "1", "--db", db).returncode == 0
    assert cli("notify", "list", "--db", db).stdout.strip() == "no destinations"


def test_a_restored_backup_keeps_destinations_and_deliveries_and_takes_new_ones(seeded, receiver, quick, tmp_path):
    from data_layer import backup

    first = seeded.notify.add_webhook(receiver.url, allow_private=True, actor=SYSTEM)
    seeded.feedback.create(thread_id="t1", run_id="r1", rating=1, actor=ANA)
    deliver_all(seeded)
    backup.backup(seeded, tmp_path / "copy")
    with open_store(str(tmp_path / "restored.duckdb")) as restored:
        backup.restore(restored, tmp_path / "copy")
        assert [d["destination_id"] for d in restored.notify.destinations(actor=SYSTEM)] == [1]
        second = restored.notify.add_webhook(receiver.url, allow_private=True, actor=SYSTEM)
        assert second["destination_id"] == 2
        restored.feedback.create(thread_id="t1", run_id="r2", rating=-1, actor=ANA)
        deliver_all(restored)
        assert sorted(d["delivery_id"] for d in restored.notify.deliveries(actor=SYSTEM)) == [1, 2, 3]
        assert {len(restored.notify.attempts(i, actor=SYSTEM)) for i in (1, 2, 3)} == {1}
    signed_by = []
    for request in receiver.requests:
        for name, secret in (("first", first["secret"]), ("second", second["secret"])):
            try:
                Webhook(secret).verify(request["body"], request["headers"])
            except WebhookVerificationError:
                continue
            signed_by.append(name)
    assert sorted(signed_by) == ["first", "first", "second"]


@apprise.decorators.notify(on="feedbackfail", name="Feedback test target that refuses")
def _refuse(body, title, notify_type, *args, **kwargs):
    return False


def test_an_apprise_target_that_fails_is_retried_and_logged(demo_store, quick):
    demo_store.notify.add_apprise("feedbackfail://alerts", actor=SYSTEM)
    assert len(demo_store.notify.check_alerts(actor=SYSTEM)) == 1
    demo_store.notify.run(actor=SYSTEM)
    (delivery,) = demo_store.notify.deliveries(actor=SYSTEM)
    assert delivery["status"] == "pending" and delivery["last_error"].startswith("apprise could not deliver")
    (attempt,) = demo_store.notify.attempts(delivery["delivery_id"], actor=SYSTEM)
    assert attempt["status_code"] is None and attempt["error"] == delivery["last_error"]


def test_the_dashboards_sender_thread_checks_alerts_on_its_schedule_and_raises_each_once(demo_store, tmp_path):
    FILE_TARGET["path"] = tmp_path / "scheduled.jsonl"
    demo_store.notify.add_apprise("feedbacktest://alerts", actor=SYSTEM)
    settings = Settings(every=0.05, retry=0.05, give_up=60, timeout=2, alerts_every=0.1)
    notifier = service.Notifier(demo_store, settings).start()
    try:
        deadline = time.monotonic() + 30
        while not FILE_TARGET["path"].exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)  # ten more checks
    finally:
        notifier.stop()
    assert notifier.last_error is None
    lines = FILE_TARGET["path"].read_text().splitlines()
    assert len(lines) == 1 and "support-agent" in json.loads(lines[0])["title"]
