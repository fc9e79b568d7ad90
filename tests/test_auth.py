"""Who is voting: role rules, the identity of a signed-in user, and the rules enforced by the data layer
for every door (pages and API pass an actor; `tests/test_api.py` covers `authorize` itself and the 403s)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from data_layer import auth
from data_layer.auth import SYSTEM
from data_layer.errors import Forbidden, InvalidInput, NotFound

RULES = auth.parse_roles("admin=ana@x.com,group:leads;viewer=*@partner.com;default=reviewer")


def test_roles_by_email_domain_group_and_default():
    assert RULES.role_for("ana@x.com", "ana@x.com") == "admin"
    assert RULES.role_for("ANA@X.COM") == "admin"
    assert RULES.role_for("zed@x.com", "zed@x.com", ["leads"]) == "admin"
    assert RULES.role_for("pat@partner.com", "pat@partner.com") == "viewer"
    assert RULES.role_for("bo@x.com", "bo@x.com") == "reviewer"
    assert auth.parse_roles({"viewer": [], "default": "viewer"}).role_for("anyone") == "viewer"


def test_a_lead_is_signed_in_below_an_admin_and_above_a_reviewer():
    rules = auth.parse_roles("admin=ana@x.com;lead=group:leads,lee@x.com;viewer=*@partner.com")
    assert rules.role_for("lee@x.com", "lee@x.com") == "lead"
    assert rules.role_for("zed@x.com", "zed@x.com", ["leads"]) == "lead"
    # several rules match: the highest role wins
    assert rules.role_for("ana@x.com", "ana@x.com", ["leads"]) == "admin"
    assert rules.role_for("pat@partner.com", "pat@partner.com", ["leads"]) == "lead"
    assert auth.parse_roles({"lead": ["*@x.com"], "default": "lead"}).role_for("anyone") == "lead"
    assert auth.signed_in("sub-9", "Lee@X.com", (), rules) == auth.Actor("lee@x.com", "lead")
    assert auth.allowed("lead") == auth.allowed("reviewer") | {"adjudicate", "view_progress", "manage_datasets"}


@pytest.mark.parametrize(
    "setting",
    ["boss=a@x.com", "admin", "default=owner", {"admin": "a@x.com"}, {"admin": [1]}],
)
def test_bad_role_rules_are_refused_with_the_reason(setting):
    with pytest.raises(InvalidInput, match="FEEDBACK_ROLES"):
        auth.parse_roles(setting)


def test_role_rules_come_from_the_environment_then_the_secrets_table_then_everyone_reviewer(tmp_path, monkeypatch):
    monkeypatch.delenv(auth.ROLES_VARIABLE, raising=False)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[roles]\nadmin = ["boss@x.com"]\ndefault = "viewer"\n')
    assert auth.configured_roles([tmp_path / "missing.toml"]) == auth.RoleRules()
    from_file = auth.configured_roles([secrets])
    assert (from_file.role_for("boss@x.com"), from_file.role_for("new@x.com")) == ("admin", "viewer")
    from_table = auth.configured_roles([secrets], roles_table={"viewer": ["*@x.com"]})
    assert from_table.role_for("boss@x.com") == "viewer"
    monkeypatch.setenv(auth.ROLES_VARIABLE, "admin=new@x.com")
    assert auth.configured_roles([secrets], roles_table={"viewer": ["*@x.com"]}).role_for("new@x.com") == "admin"


def test_a_signed_in_user_is_their_providers_email_else_subject_never_a_typed_name():
    assert auth.signed_in("sub-1", "Ana@X.com", (), RULES) == auth.Actor("ana@x.com", "admin")
    assert auth.signed_in("sub-2", None, ["leads"], RULES) == auth.Actor("sub-2", "admin")
    assert auth.signed_in("sub-3", "pat@partner.com", "", RULES) == auth.Actor("pat@partner.com", "viewer")
    # an unverified address must not pick up the role its domain is trusted with
    unverified = auth.signed_in("sub-4", "ana@x.com", (), RULES, email_verified=False)
    assert unverified == auth.Actor("sub-4", "reviewer")
    assert auth.signed_in("sub-5", "x@y.com", "leads, ops", RULES).role == "admin"
    with pytest.raises(InvalidInput, match="neither an email nor a subject"):
        auth.signed_in(None, "  ")
    with pytest.raises(InvalidInput):
        auth.signed_in("has spaces <script>")


def test_allowed_lists_what_each_role_may_do_at_all():
    assert auth.allowed("viewer") == {"read"}
    assert "audit" in auth.allowed("admin") and "audit" not in auth.allowed("reviewer")
    assert auth.allowed("nobody") == frozenset()


def test_the_trusted_header_mode_is_opt_in(monkeypatch):
    monkeypatch.delenv(auth.TRUSTED_HEADER_VARIABLE, raising=False)
    assert auth.trusted_header() is None
    monkeypatch.setenv(auth.TRUSTED_HEADER_VARIABLE, " X-Forwarded-Email ")
    assert auth.trusted_header() == "X-Forwarded-Email"


# ---- the data layer enforces the rules, whoever calls it ----------------------------------------


def votes(store) -> list[tuple]:
    return sorted(
        (vote["owner_id"], vote["rating"], vote["comment"])
        for vote in store.feedback.list_by_thread("t1", actor=SYSTEM)
    )


def test_an_actor_votes_only_as_itself_and_a_viewer_cannot_write(seeded):
    bo, cy, viewer = auth.Actor("bo"), auth.Actor("cy"), auth.Actor("vi", "viewer")
    mine = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, comment="good", actor=bo)
    assert (mine["owner_id"], mine["source"]) == ("bo", "reviewer")
    before = votes(seeded)

    refused = [
        lambda: seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, owner_id="bo", actor=cy),
        lambda: seeded.feedback.create(thread_id="t1", run_id="r2", rating=-1, owner_id="bo", actor=cy),
        lambda: seeded.feedback.retract(thread_id="t1", run_id="r1", owner_id="bo", actor=cy),
        lambda: seeded.feedback.delete(mine["feedback_id"], actor=cy),
        lambda: seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, actor=viewer),
        lambda: seeded.feedback.create(thread_id="t1", run_id="r2", rating=1, actor=viewer),
        lambda: seeded.feedback.retract(thread_id="t1", run_id="r1", actor=viewer),
        lambda: seeded.feedback.delete(mine["feedback_id"], actor=viewer),
        # an admin deletes anyone's vote, but does not vote or retract in someone else's name
        lambda: seeded.feedback.retract(thread_id="t1", run_id="r1", owner_id="bo", actor=auth.Actor("ana", "admin")),
    ]
    for attempt in refused:
        with pytest.raises(Forbidden):
            attempt()
    assert votes(seeded) == before
    changed = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, comment="changed my mind", actor=bo)
    assert changed["feedback_id"] == mine["feedback_id"]
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", actor=bo) is True
    assert votes(seeded) == []


def test_an_end_user_actor_stores_end_user_votes_on_its_own_thread(seeded):
    with pytest.raises(NotFound, match="thread t1 not found"):
        seeded.feedback.create(thread_id="t1", run_id="r1", rating=-1, actor=auth.Actor("eu-7", "end_user"))
    assert seeded.ingest([{"kind": "thread", "thread_id": "t1", "user_id": "eu-7"}], actor=SYSTEM).ok
    vote = seeded.feedback.create(thread_id="t1", run_id="r1", rating=-1, actor=auth.Actor("eu-7", "end_user"))
    assert (vote["owner_id"], vote["source"]) == ("eu-7", "end_user")


def test_only_the_system_writes_in_the_owner_and_source_it_names(seeded):
    vote = seeded.feedback.upsert(
        thread_id="t1", run_id="r1", rating=1, owner_id="script", source="end_user", actor=SYSTEM
    )
    assert (vote["owner_id"], vote["source"]) == ("script", "end_user")
    with pytest.raises(InvalidInput, match="owner_id is required"):
        seeded.feedback.retract(thread_id="t1", run_id="r1", actor=SYSTEM)
    with pytest.raises(Forbidden, match="in the name of script"):
        seeded.feedback.upsert(
            thread_id="t1", run_id="r1", rating=-1, owner_id="script", actor=auth.Actor("ana", "admin")
        )
    assert seeded.feedback.retract(thread_id="t1", run_id="r1", owner_id="script", actor=SYSTEM) is True


def test_no_call_without_an_actor_is_trusted(seeded):
    """Every operation on people's data refuses a missing actor, before it reads or writes anything."""
    vote = seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=1, owner_id="bo", actor=SYSTEM)
    calls = {
        "create": lambda: seeded.feedback.create(thread_id="t1", run_id="r2", rating=1, owner_id="bo", actor=None),
        "upsert": lambda: seeded.feedback.upsert(thread_id="t1", run_id="r1", rating=-1, owner_id="bo", actor=None),
        "retract": lambda: seeded.feedback.retract(thread_id="t1", run_id="r1", owner_id="bo", actor=None),
        "delete": lambda: seeded.feedback.delete(vote["feedback_id"], actor=None),
        "get": lambda: seeded.feedback.get(vote["feedback_id"], actor=None),
        "list_by_thread": lambda: seeded.feedback.list_by_thread("t1", actor=None),
        "next_run": lambda: seeded.queue.next_run(actor=None),
        "audit": lambda: seeded.audit.list(actor=None),
        "ingest": lambda: seeded.ingest([{"kind": "thread", "thread_id": "t-none"}], actor=None),
    }
    for name, call in calls.items():
        with pytest.raises(Forbidden, match="an unknown caller may not"):
            call()
        assert votes(seeded) == [("bo", 1, None)], name
    assert seeded.threads.get("t-none") is None


def test_the_system_actor_is_one_and_no_token_or_sign_in_can_be_it():
    assert (auth.SYSTEM.user_id, auth.SYSTEM.role) == ("system", "system")
    for user, role in (("system", "admin"), ("bot", "system")):
        with pytest.raises(InvalidInput, match="system actor alone"):
            auth.Actor(user, role)
    digest = auth.hash_token("t")
    with pytest.raises(InvalidInput, match="role 'system' is not one of admin, lead, reviewer, viewer, end_user"):
        auth.parse_tokens(f"system:system:{digest}")
    with pytest.raises(InvalidInput, match="system actor alone"):
        auth.parse_tokens(f"system:admin:{digest}")
    with pytest.raises(InvalidInput, match="role 'system'"):
        auth.token_entry("bot", "system", "t")
    with pytest.raises(InvalidInput, match="system actor alone"):
        auth.signed_in("system", None)


# ---- the pages: identity modes and what each role sees --------------------------------------------


@pytest.fixture
def app(tmp_path, monkeypatch, fresh_streamlit_caches):
    monkeypatch.setenv("FEEDBACK_DB", str(tmp_path / "pages.duckdb"))
    monkeypatch.delenv(auth.ROLES_VARIABLE, raising=False)
    monkeypatch.delenv(auth.TRUSTED_HEADER_VARIABLE, raising=False)
    return AppTest.from_file("../app.py", default_timeout=30)


def captions(at) -> str:
    return " ".join(caption.value for caption in at.sidebar.caption)


def test_local_mode_says_so_and_its_one_person_is_the_admin(app):
    app.run()
    assert not app.exception
    assert "Local mode, not signed in (you are the admin)" in captions(app)
    app.switch_page("pages/audit.py").run()
    assert not app.exception
    assert not [warning for warning in app.warning if "Admins only" in warning.value]


def test_oidc_mode_asks_to_sign_in_before_any_page(app):
    app.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32}
    app.run()
    assert not app.exception
    assert [title.value for title in app.title] == ["Sign in"]
    assert [button.label for button in app.button] == ["Sign in"]
    assert "Local mode" not in captions(app)


def test_behind_a_proxy_without_the_header_nothing_is_shown(app, monkeypatch):
    monkeypatch.setenv(auth.TRUSTED_HEADER_VARIABLE, "X-Forwarded-Email")
    app.run()
    assert not app.exception
    assert any("No user in the X-Forwarded-Email header" in error.value for error in app.error)
    assert not app.dataframe
