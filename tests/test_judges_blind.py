"""The blind rule over judges' verdicts, on both engines: a reviewer on a blind queue sees no judge's
verdict on an item, in the thread's verdicts, the judge's disagreements (and the Judges page's list)
or the export, until they have voted on it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from data_layer import export
from data_layer.auth import SYSTEM, Actor
from tests.test_blind import ANA, BO, blind_thread

JUDGE = "helpfulness-v3@gpt-4.1"


def judged_blind_thread(store) -> None:
    """`test_blind.blind_thread` (r-0 and r-2 blind to reviewers who have not voted on them; bo voted
    good on r-0), with the judge's verdicts on the three runs: bad on r-0, good on r-1 and r-2."""
    blind_thread(store)
    for run, rating in (("r-0", -1), ("r-1", 1), ("r-2", 1)):
        store.judges.put(judge=JUDGE, thread_id="r-t0", run_id=run, rating=rating, rationale=f"on {run}", actor=SYSTEM)


def runs_of(rows) -> list[str]:
    return sorted(row["run_id"] for row in rows)


def test_verdicts_on_a_blind_item_are_hidden_until_the_reviewer_votes(store):
    judged_blind_thread(store)
    assert runs_of(store.judges.for_thread("r-t0", actor=SYSTEM)) == ["r-0", "r-1", "r-2"]
    assert runs_of(store.judges.for_thread("r-t0", actor=ANA)) == ["r-1"]
    assert runs_of(store.judges.for_thread("r-t0", actor=BO)) == ["r-0", "r-1"]
    # the judge said bad where bo (the reviewers' majority) said good: a disagreement, not shown to ana
    assert runs_of(store.judges.disagreements(JUDGE, actor=SYSTEM)) == ["r-0"]
    assert store.judges.disagreements(JUDGE, actor=ANA) == []
    assert runs_of(store.judges.disagreements(JUDGE, actor=BO)) == ["r-0"]
    # a viewer works no queue: never blinded
    assert runs_of(store.judges.disagreements(JUDGE, actor=Actor("vi", "viewer"))) == ["r-0"]
    # the export of verdicts leaves them out too
    verdicts = {"source": "judge"}
    assert runs_of(export.preview(store, verdicts, actor=ANA, columns=["run_id"])) == ["r-1"]
    assert export.count(store, verdicts, actor=ANA) == 1 and export.count(store, verdicts, actor=SYSTEM) == 3
    # once ana votes on r-0, its verdicts and its disagreement show
    store.queues.submit("triage", "r-0", rating=1, actor=ANA)
    assert runs_of(store.judges.for_thread("r-t0", actor=ANA)) == ["r-0", "r-1"]
    assert runs_of(store.judges.disagreements(JUDGE, actor=ANA)) == ["r-0"]


def test_the_judges_page_lists_no_disagreement_on_a_run_blind_to_the_reader(store, store_url, monkeypatch,
                                                                              fresh_streamlit_caches):  # fmt: skip
    judged_blind_thread(store)
    monkeypatch.setenv("FEEDBACK_DB", store_url)
    monkeypatch.setenv("FEEDBACK_DEMO", "0")

    def disagreements(reader: str) -> list[str]:
        at = AppTest.from_file("../app.py", default_timeout=30)
        at.session_state["reviewer"] = reader
        at.query_params["calibration"] = "all"
        at.switch_page("pages/judges.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        tables = [table.value for table in at.dataframe if "judge's rationale" in table.value]
        texts = [element.value for element in at.info]
        return list(tables[0]["judge's rationale"]) if tables else texts

    assert disagreements("bo") == ["on r-0"]
    assert disagreements("ana") == ["The judge agrees with people on every run both rated."]
