"""The Queues page through AppTest on a real store, as an admin (local mode), a lead, a reviewer and a
viewer (signed in): the list, a queue's progress (every reviewer's row for a lead or an admin, who is
behind; a reviewer's own row), the estimate in words, the advice, the verdicts a lead sets on the runs
reviewers split on, and an admin's queue definition and closing."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from data_layer import auth, open_store
from data_layer.auth import SYSTEM
from data_layer.queues import QueueSpec

ANA, BO, CY = "ana@x.com", "bo@x.com", "cy@x.com"
ROLES = "admin=ad@x.com;lead=lee@x.com;viewer=vi@x.com;default=reviewer"


def vote(run: str, owner: str, rating: int, source: str = "reviewer", comment: str | None = None) -> dict:
    return {
        "kind": "feedback",
        "thread_id": "t1",
        "run_id": run,
        "owner_id": owner,
        "rating": rating,
        "source": source,
        "comment": comment,
    }


@pytest.fixture
def db(tmp_path, monkeypatch, fresh_streamlit_caches):
    path = str(tmp_path / "queues.duckdb")
    monkeypatch.setenv("FEEDBACK_DB", path)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")
    monkeypatch.setenv(auth.ROLES_VARIABLE, ROLES)
    monkeypatch.delenv(auth.TRUSTED_HEADER_VARIABLE, raising=False)
    with open_store(path) as store:
        records = [{"kind": "thread", "thread_id": "t1", "title": "Trip"}]
        records += [
            {"kind": "run", "run_id": f"r-{n}", "thread_id": "t1", "assistant_id": "planner", "model_name": "m1"}
            for n in range(6)
        ]
        records += [vote("r-0", ANA, 1, comment="Right dates."), vote("r-0", BO, -1, comment="Wrong museum.")]
        records += [vote("r-1", ANA, 1), vote("r-1", BO, 1), vote("r-2", ANA, 1)]
        records += [vote("r-5", "eu-1", -1, "end_user")]
        assert store.ingest(records, actor=SYSTEM).ok
        spec = QueueSpec("pair", sample_rate=1.0, reviewers_per_item=2, assignees=(ANA, BO, CY))
        store.queues.create(spec, actor=SYSTEM)
        store.queues.create(QueueSpec("triage", selection={"negative_user_feedback": True}), actor=SYSTEM)
    return path


def page(email: str | None, queue: str | None = "pair") -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=30)
    if email:
        at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32}
        at.user = {"is_logged_in": True, "email": email, "sub": f"sub-{email}"}
    at.switch_page("pages/queues.py")
    if queue:
        at.query_params["queue"] = queue
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def table(at: AppTest, column: str):
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def progress_rows(at: AppTest) -> dict[str, tuple]:
    found = table(at, "pace per hour")
    return {row["reviewer"]: (row["done"], row["remaining"], row["behind"]) for _, row in found.iterrows()}


def unescaped(elements) -> str:
    """What the elements say, as read: the escapes of `plain` and the breaks it puts in addresses taken out."""
    said = "\n".join(element.value for element in elements)
    return re.sub(r"\\(.)", r"\1", said).replace("\u200b", "")


def text(at: AppTest) -> str:
    return unescaped((*at.markdown, *at.caption, *at.warning, *at.info))


def verdicts(path: str) -> list[tuple]:
    with open_store(path) as store:
        rows = store.queues.adjudications("pair", actor=SYSTEM)
        with store.engine.read() as conn:
            log = conn.all("SELECT run_id, verdict, note, owner_id, actor_role FROM adjudication_log ORDER BY id")
    return [(r["run_id"], r["verdict"], r["note"], r["decided_by"]) for r in rows], [tuple(r.values()) for r in log]


def test_the_list_shows_every_queue_with_runs_done_and_left(db):
    at = page(None, queue=None)
    listed = table(at, "remaining")
    assert list(listed["queue"]) == ["pair", "triage"]
    assert list(zip(listed["runs"], listed["done"], listed["remaining"], strict=True)) == [(6, 2, 4), (1, 0, 1)]
    assert not [frame for frame in at.dataframe if "pace per hour" in frame.value.columns]


def test_a_lead_sees_who_is_behind_and_settles_a_dispute(db):
    at = page("lee@x.com")
    assert progress_rows(at) == {ANA: (3, 3, ""), BO: (2, 4, ""), CY: (0, 4, "behind")}
    assert "Behind: cy@x.com." in text(at)
    assert "qc_name" not in {widget.key for widget in at.text_input}  # defining queues is an admin's
    at.segmented_control(key="qs_verdict|r-0").set_value("good")
    at.text_input(key="qs_note|r-0").input("The museum is right; bo misread the map.")
    at.button(key="FormSubmitter:qs_decide|r-0-Set verdict").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Saved: run r-0 is good, by lee@x.com." in unescaped(at.success)
    listed, log = verdicts(db)
    assert listed == [("r-0", "good", "The museum is right; bo misread the map.", "lee@x.com")]
    assert log == [("r-0", "good", "The museum is right; bo misread the map.", "lee@x.com", "lead")]
    assert "verdict **good** by lee@x.com: The museum is right" in text(at)


def test_a_verdict_without_a_note_is_not_saved_and_says_why(db):
    at = page("lee@x.com")
    at.segmented_control(key="qs_verdict|r-0").set_value("bad")
    at.button(key="FormSubmitter:qs_decide|r-0-Set verdict").click().run()
    assert any("Not saved: a verdict needs a note saying why" in error.value for error in at.error)
    assert verdicts(db) == ([("r-0", None, None, None)], [])


def test_a_reviewer_sees_their_own_row_and_sets_no_verdict(db):
    at = page(BO)
    assert progress_rows(at) == {BO: (2, 4, "")}
    assert "a lead sees every reviewer" in text(at) and "Behind:" not in text(at)
    assert not [w for w in at.segmented_control if w.key and w.key.startswith("qs_verdict")]
    assert "a lead or an admin sets it" in text(at)
    # the votes on the dispute, with their comments, and the button opening the thread
    assert "Wrong museum." in text(at) and "Right dates." in text(at)
    assert [b.label for b in at.button if b.key and b.key.startswith("qs_open|")] == ["Open the thread"]
    assert not at.get("page_link")


def test_a_viewer_sees_the_totals_and_no_row(db):
    at = page("vi@x.com")
    assert not [frame for frame in at.dataframe if "pace per hour" in frame.value.columns]
    assert [metric.value for metric in at.metric][:3] == ["2 of 6", "7", "–"]  # a viewer works no queue


def test_the_estimate_in_words_and_the_selection_only_runs_left_out(db):
    at = page(None)
    # r-1 and r-2 judged good, r-0 a tie: 0 % bad, the Wilson interval of 2 of 2 (0.342 to 1) as +- 33 pp
    assert (
        "End users voted on 17 % of the sampled runs and 100 % of those 1 vote were down; "
        "the random sample says 0.0 % +- 33 pp of all runs are bad" in text(at)
    )
    estimate = table(at, "good")
    assert list(estimate["assistant"]) == ["planner"] and list(estimate["judged"]) == [2]
    assert "1 sampled run is disputed" in text(at)
    triage = page(None, queue="triage")
    assert "1 run that entered by the selection alone is left out" in text(triage)


def test_the_advice_follows_the_margin(db):
    at = page(None)
    assert "Each assistant needs" in text(at)
    # p = 0.95 (every judged run good, held off 1): 3.841459 * 0.0475 / 0.01 = 18.2, so 19
    at.number_input(key="qs_margin").set_value(10.0).run()
    said = "needs 19 rated runs a week for +- 10 pp at 95 % (p = 95 %, the estimate of 100 % held off 0 and 1)"
    assert said in text(at)


def test_an_admin_defines_a_queue_and_a_bad_one_is_not_saved(db):
    at = page(None, queue=None)
    at.text_input(key="qc_name").input("bad name!")
    at.button(key="FormSubmitter:qc_form-Create queue").click().run()
    assert any("Not saved: " in error.value and "queue name" in error.value for error in at.error)
    with open_store(db) as store:
        assert [queue["name"] for queue in store.queues.list(actor=SYSTEM)] == ["pair", "triage"]
    at.text_input(key="qc_name").input("planner-k3")
    at.selectbox(key="qc_assistant").select("planner")
    at.number_input(key="qc_rate").set_value(0.0)
    at.number_input(key="qc_k").set_value(3)
    at.checkbox(key="qc_blind").check()
    at.button(key="FormSubmitter:qc_form-Create queue").click().run()
    assert "Saved: queue planner-k3 with 6 runs." in unescaped(at.success)
    assert at.session_state["queue"] == "planner-k3"
    with open_store(db) as store:
        made = store.queues.get("planner-k3", actor=SYSTEM)
    assert (made["selection"], made["sample_rate"], made["reviewers_per_item"], made["blind"]) == (
        {"assistant_id": "planner"},
        0.0,
        3,
        True,
    )
    at.button(key="qs_close").click().run()
    assert "queue planner-k3 is closed" in unescaped(at.success)
    with open_store(db) as store:
        assert store.queues.get("planner-k3", actor=SYSTEM)["closed_at"] is not None


RUBRIC = """[{"name": "factual", "kind": "binary", "required": true},
 {"name": "tone", "kind": "categorical", "options": ["warm", "curt"], "description": "How it sounds"}]"""


def test_an_admin_defines_a_queue_with_a_rubric_and_a_bad_rubric_is_not_saved(db):
    at = page(None, queue=None)
    at.text_input(key="qc_name").input("scored")
    at.number_input(key="qc_rate").set_value(100.0)
    at.text_area(key="qc_rubric").input('[{"name": "tone", "kind": "categorical", "options": ["warm"]}]')
    at.button(key="FormSubmitter:qc_form-Create queue").click().run()
    assert unescaped(at.error) == "Not saved: criterion tone: a categorical criterion needs 2 to 20 options"
    at.text_area(key="qc_rubric").input("[{name: tone}]")
    at.button(key="FormSubmitter:qc_form-Create queue").click().run()
    assert unescaped(at.error).startswith("Not saved: a rubric is a JSON list of criteria: Expecting property name")
    with open_store(db) as store:
        assert [queue["name"] for queue in store.queues.list(actor=SYSTEM)] == ["pair", "triage"]
    at.text_area(key="qc_rubric").input(RUBRIC)
    at.button(key="FormSubmitter:qc_form-Create queue").click().run()
    assert "Saved: queue scored with 6 runs and a rubric of 2 criteria." in unescaped(at.success)
    with open_store(db) as store:
        assert store.queues.get("scored", actor=SYSTEM)["rubric"] == [
            {"name": "factual", "kind": "binary", "required": True},
            {
                "name": "tone",
                "kind": "categorical",
                "required": False,
                "description": "How it sounds",
                "options": ["warm", "curt"],
            },
        ]


def test_the_agreement_per_criterion_under_the_thumbs(db):
    with open_store(db) as store:
        spec = QueueSpec("scored", sample_rate=1.0, reviewers_per_item=2, rubric=RUBRIC)
        store.queues.create(spec, actor=SYSTEM)
        given = {"r-3": ({"factual": True, "tone": "warm"}, {"factual": True, "tone": "warm"})}
        given["r-4"] = ({"factual": False, "tone": "curt"}, {"factual": True, "tone": "curt"})
        given["r-5"] = ({"factual": False}, {"factual": False})
        for run, scores in given.items():
            for owner, scored in zip((ANA, BO), scores, strict=True):
                store.queues.submit("scored", run, rating=1, scores=scored, actor=auth.Actor(owner, "reviewer"))
        expected = store.queues.agreement("scored", actor=SYSTEM)["criteria"]
    at = page(None, queue="scored")
    found = table(at, "Krippendorff's alpha (95 %)")
    assert list(found["criterion"]) == ["factual", "tone"]
    assert list(found["runs compared"]) == [3, 2]
    factual = expected[0]["krippendorff_alpha"]
    assert found["Krippendorff's alpha (95 %)"][0].startswith(f"{factual['value']:.2f} (")
    assert found["Fleiss' kappa (95 %)"][1] == "1.00 (too few runs for an interval)"


def test_an_admin_changes_a_queue_and_a_change_that_would_break_it_is_not_saved(db):
    at = page(None, queue="triage")
    at.text_area(key="qx_rubric|triage").input('[{"name": "tone", "kind": "categorical", "options": ["a", "b"]}]')
    at.number_input(key="qx_k|triage").set_value(2)
    at.button(key="FormSubmitter:qx_form|triage-Save the change").click().run()
    assert "Saved: queue triage now has 1 run." in unescaped(at.success)
    at.text_area(key="qx_rubric|triage").input("[]")
    at.number_input(key="qx_rate|triage").set_value(50.0)
    at.button(key="FormSubmitter:qx_form|triage-Save the change").click().run()
    assert unescaped(at.error) == "Not saved: criterion tone has scores to keep: a rubric may only gain criteria"
    with open_store(db) as store:
        shown = store.queues.get("triage", actor=SYSTEM)
    assert (shown["reviewers_per_item"], shown["sample_rate"], [c["name"] for c in shown["rubric"]]) == (
        2,
        0.0,
        ["tone"],
    )
    at = page("lee@x.com", queue="triage")
    assert "qx_k|triage" not in {widget.key for widget in at.number_input}  # changing queues is an admin's
