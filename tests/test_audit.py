"""The audit trail of feedback: every change recorded with its vote's old and new value, in the same
transaction, readable by admins only, filtered and paginated; and the admin page that shows it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from data_layer.errors import Conflict, Forbidden, InvalidInput

ANA, BO, CY = auth.Actor("ana@x.com", "admin"), auth.Actor("bo@x.com"), auth.Actor("cy@x.com")


def trail(store, limit=100, offset=0, **filters) -> list[dict]:
    return store.audit.list(filters, actor=ANA, limit=limit, offset=offset)


def test_create_update_retract_and_delete_by_different_users_are_every_step_in_order(seeded):
    bo_vote = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, comment="fine", actor=BO)
    seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, tags=["slow"], actor=BO)
    cy_vote = seeded.feedback.create(thread_id="t1", run_id="r1", rating=1, message_id="a1", actor=CY)
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", message_id="a1", actor=CY)
    assert seeded.feedback.delete(bo_vote["feedback_id"], actor=ANA)

    steps = trail(seeded)
    assert [(step["actor_id"], step["actor_role"], step["action"], step["feedback_id"]) for step in steps] == [
        ("bo@x.com", "reviewer", "create", bo_vote["feedback_id"]),
        ("bo@x.com", "reviewer", "update", bo_vote["feedback_id"]),
        ("cy@x.com", "reviewer", "create", cy_vote["feedback_id"]),
        ("cy@x.com", "reviewer", "retract", cy_vote["feedback_id"]),
        ("ana@x.com", "admin", "delete", bo_vote["feedback_id"]),
    ]
    created, updated, _, retracted, deleted = steps
    assert created["old_value"] is None
    assert (created["new_value"]["rating"], created["new_value"]["comment"]) == (1, "fine")
    assert created["new_value"]["owner_id"] == "bo@x.com"
    assert (updated["old_value"]["rating"], updated["new_value"]["rating"]) == (1, -1)
    assert (updated["old_value"]["tags"], updated["new_value"]["tags"]) == ([], ["slow"])
    assert updated["new_value"]["comment"] is None
    assert (retracted["old_value"]["message_id"], retracted["new_value"]) == ("a1", None)
    assert (deleted["old_value"]["rating"], deleted["new_value"]) == (-1, None)
    assert all((step["thread_id"], step["run_id"]) == ("t1", "r1") for step in steps)
    times = [step["changed_at"] for step in steps]
    assert times == sorted(times)

    # the vote is gone, its history is not
    assert seeded.feedback.get(bo_vote["feedback_id"], actor=SYSTEM) is None
    history = trail(seeded, feedback_id=bo_vote["feedback_id"])
    assert [step["action"] for step in history] == ["create", "update", "delete"]


def test_a_scripts_writes_are_recorded_as_the_system_in_the_owners_name(seeded):
    vote = seeded.feedback.upsert(thread_id="t1", run_id="r2", rating=1, owner_id="script", actor=SYSTEM)
    seeded.feedback.delete(vote["feedback_id"], actor=SYSTEM)
    steps = trail(seeded)
    assert [(step["actor_id"], step["actor_role"], step["action"]) for step in steps] == [
        ("system", "system", "create"),
        ("system", "system", "delete"),
    ]
    assert steps[0]["new_value"]["owner_id"] == steps[1]["old_value"]["owner_id"] == "script"


def test_a_refused_or_failed_write_leaves_no_audit_row(seeded):
    seeded.feedback.create(thread_id="t1", run_id="r1", rating=1, actor=BO)
    with pytest.raises(Conflict):
        seeded.feedback.create(thread_id="t1", run_id="r1", rating=-1, actor=BO)
    with pytest.raises(Forbidden):
        seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, actor=auth.Actor("vi", "viewer"))
    with pytest.raises(InvalidInput):
        seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=5, actor=BO)
    assert seeded.feedback.retract(thread_id="t1", run_id="r2", actor=CY) is False
    assert [step["action"] for step in trail(seeded)] == ["create"]
    assert seeded.audit.count(actor=ANA) == 1


def test_filters_and_pagination(seeded):
    for rating in (1, -1, 1):
        seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=rating, actor=BO)
    seeded.feedback.upsert(thread_id="t1", run_id="r2", rating=1, actor=CY)
    seeded.feedback.upsert(thread_id="t2", run_id="r3", rating=-1, actor=CY)

    assert seeded.audit.count(actor=ANA) == 5
    assert [step["run_id"] for step in trail(seeded, actor_id="cy@x.com")] == ["r2", "r3"]
    assert [step["action"] for step in trail(seeded, actor_id="bo@x.com")] == ["create", "update", "update"]
    assert seeded.audit.count({"action": "update"}, actor=ANA) == 2
    assert seeded.audit.count({"thread_id": "t1"}, actor=ANA) == 4
    assert seeded.audit.count({"run_id": "r3", "actor_id": "cy@x.com"}, actor=ANA) == 1
    assert seeded.audit.count({"run_id": "r3", "actor_id": "bo@x.com"}, actor=ANA) == 0
    now = datetime.now(UTC)
    assert seeded.audit.count({"since": now - timedelta(hours=1), "until": now + timedelta(hours=1)}, actor=ANA) == 5
    assert seeded.audit.count({"since": (now + timedelta(hours=1)).isoformat()}, actor=ANA) == 0

    everything = trail(seeded)
    pages = [trail(seeded, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [step["id"] for page in pages for step in page] == [step["id"] for step in everything]


def test_only_admins_read_the_trail_and_bad_filters_are_named(seeded):
    for reader in (BO, auth.Actor("vi", "viewer"), auth.Actor("eu", "end_user"), None):
        with pytest.raises(Forbidden):
            seeded.audit.list(actor=reader)
        with pytest.raises(Forbidden):
            seeded.audit.count(actor=reader)
    with pytest.raises(InvalidInput, match="action"):
        seeded.audit.list({"action": "drop"}, actor=ANA)
    with pytest.raises(InvalidInput, match="since"):
        seeded.audit.list({"since": "yesterday"}, actor=ANA)
    with pytest.raises(InvalidInput, match="limit"):
        seeded.audit.list(actor=ANA, limit=0)
    with pytest.raises(InvalidInput, match="thread_id"):
        seeded.audit.list({"thread_id": "x'; drop table feedback_audit; --"}, actor=ANA)


# ---- the admin page ---------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path, monkeypatch, fresh_streamlit_caches) -> str:
    path = str(tmp_path / "audit-page.duckdb")
    monkeypatch.setenv("FEEDBACK_DB", path)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    monkeypatch.delenv(auth.TRUSTED_HEADER_VARIABLE, raising=False)
    monkeypatch.setenv(auth.ROLES_VARIABLE, "admin=ana@x.com;viewer=*@partner.com;default=reviewer")
    with open_store(path) as store:
        assert store.ingest(
            [
                {"kind": "thread", "thread_id": "t1"},
                {"kind": "run", "run_id": "r1", "thread_id": "t1", "status": "success"},
                {"kind": "run", "run_id": "r2", "thread_id": "t1", "status": "success"},
            ],
            actor=SYSTEM,
        ).ok
        store.feedback.upsert(thread_id="t1", run_id="r1", rating=1, actor=BO)
        store.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, actor=BO)
        store.feedback.upsert(thread_id="t1", run_id="r2", rating=1, actor=CY)
    return path


def signed_in_as(email: str | None) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=30)
    if email:
        at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32}
        at.user = {"is_logged_in": True, "email": email, "sub": f"sub-{email}"}
    return at


def test_the_audit_page_lists_every_change_for_an_admin_and_filters(db):
    at = signed_in_as("ana@x.com")
    at.switch_page("pages/audit.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["action"]) == ["create", "update", "create"]
    assert list(table["who"]) == ["bo@x.com", "bo@x.com", "cy@x.com"]
    assert "3 changes" in " ".join(caption.value for caption in at.caption)
    at.selectbox(key="au_action").select("update").run()
    assert list(at.dataframe[0].value["who"]) == ["bo@x.com"]
    at.text_input(key="au_actor").input("nobody").run()
    assert not at.dataframe
    assert any("No changes match" in info.value for info in at.info)


@pytest.mark.parametrize("email", ["bo@x.com", "pat@partner.com"])
def test_the_audit_page_is_for_admins_only(db, email):
    at = signed_in_as(email)
    at.switch_page("pages/audit.py").run()
    assert not at.exception
    assert any("Admins only" in warning.value for warning in at.warning)
    assert not at.dataframe


def test_a_viewer_sees_votes_but_no_working_vote_controls(db):
    at = signed_in_as("pat@partner.com")
    at.query_params["thread"] = "t1"
    at.switch_page("pages/thread.py").run()
    assert not at.exception
    assert not [button for button in at.button if button.label in ("Save comment", "Retract my vote")]
    assert any("You are a viewer" in caption.value for caption in at.caption)
    at.switch_page("pages/queue.py").run()
    assert any("for reviewers" in info.value for info in at.info)


def test_imports_enter_the_audit_trail_as_creates_and_updates(store):
    from data_layer import auth

    assert store.ingest(
        [
            {"kind": "run", "run_id": "ra", "thread_id": "ta", "status": "success"},
            {"kind": "feedback", "thread_id": "ta", "run_id": "ra", "rating": 1, "owner_id": "u1", "comment": "ok"},
        ],
        actor=SYSTEM,
    ).ok
    again = [{"kind": "feedback", "thread_id": "ta", "run_id": "ra", "rating": -1, "owner_id": "u1", "tags": ["slow"]}]
    admin = auth.Actor("root", "admin")
    assert store.ingest_numbered(enumerate(again, start=1), actor=admin).ok
    assert store.ingest_numbered(enumerate(again, start=1), actor=admin).ok  # unchanged: nothing to audit
    trail = store.audit.list({"run_id": "ra"}, actor=admin)
    assert [(row["action"], row["actor_id"], row["actor_role"]) for row in trail] == [
        ("create", "system", "system"),
        ("update", "root", "admin"),
    ]
    assert trail[0]["old_value"] is None
    assert (trail[0]["new_value"]["rating"], trail[0]["new_value"]["comment"]) == (1, "ok")
    assert (trail[1]["old_value"]["rating"], trail[1]["new_value"]["rating"]) == (1, -1)
    assert trail[1]["new_value"]["tags"] == ["slow"]
    assert (
        trail[1]["feedback_id"]
        == trail[0]["feedback_id"]
        == store.feedback.list_by_run("ta", "ra", actor=SYSTEM)[0]["feedback_id"]
    )


def test_an_imports_audit_values_are_the_ones_a_vote_write_records(store):
    """The import writes its audit rows in SQL; their values are exactly what `audit.record` writes for a
    vote (Python's ISO times with and without a fraction, null fields, tags, non-ASCII comments)."""
    from data_layer import audit, auth

    records = [
        {"kind": "run", "run_id": "rb", "thread_id": "tb", "status": "success"},
        {
            "kind": "feedback",
            "thread_id": "tb",
            "run_id": "rb",
            "rating": 1,
            "owner_id": "u1",
            "comment": '很好 "quoted" \\ done',
            "created_at": "2026-03-04T05:06:07.000250Z",
        },
        {"kind": "feedback", "thread_id": "tb", "run_id": "rb", "rating": -1, "owner_id": "u2", "tags": ["slow"]},
        {
            "kind": "feedback",
            "thread_id": "tb",
            "run_id": "rb",
            "rating": 1,
            "created_at": "2026-03-04T05:06:07Z",
            "updated_at": "2026-03-05T00:00:00.5+02:00",
        },
    ]
    assert store.ingest(records, actor=SYSTEM).ok
    before = {vote["feedback_id"]: vote for vote in store.feedback.list_by_run("tb", "rb", actor=SYSTEM)}
    change = [{**records[2], "rating": 1, "tags": [], "comment": "changed my mind"}]
    assert store.ingest(change, actor=SYSTEM).ok
    after = {vote["feedback_id"]: vote for vote in store.feedback.list_by_run("tb", "rb", actor=SYSTEM)}
    trail = store.audit.list({"run_id": "rb"}, actor=auth.Actor("root", "admin"))
    assert sorted(row["action"] for row in trail) == ["create", "create", "create", "update"]
    for row in trail:
        if row["action"] == "create":
            assert row["old_value"] is None
            assert row["new_value"] == json.loads(audit._value(before[row["feedback_id"]]))
        else:
            assert row["old_value"] == json.loads(audit._value(before[row["feedback_id"]]))
            assert row["new_value"] == json.loads(audit._value(after[row["feedback_id"]]))
    times = {row["new_value"]["created_at"] for row in trail}
    assert "2026-03-04T05:06:07.000250+00:00" in times and "2026-03-04T05:06:07+00:00" in times
