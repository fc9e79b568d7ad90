"""Rubrics on review queues: criteria checked once, scores stored beside the vote in its transaction
(required ones enforced by a queue's submit, bad values refused naming the criterion), replaced and
removed with the vote, audited, imported, exported as `score.<name>` columns and summarized on the
stats, on both engines."""

from __future__ import annotations

import csv
import json
import math

import pyarrow.parquet as pq
import pytest
from scipy import stats as distributions

from data_layer import export, stats
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import InvalidInput
from data_layer.integrity import check
from data_layer.queues import QueueSpec
from data_layer.queues.rubric import Criterion, Rubric

RUBRIC = [
    {"name": "factual", "kind": "binary", "required": True, "description": "Are the facts right?"},
    {
        "name": "helpfulness",
        "kind": "ordinal",
        "required": True,
        "labels": ["Useless", "Poor", "Adequate", "Good", "Excellent"],
    },
    {"name": "tone", "kind": "categorical", "options": ["friendly", "neutral", "curt"]},
]
BO, CY, DI = (Actor(user, "reviewer") for user in ("bo", "cy", "di"))
# run -> (assistant, model)
RUNS = {"r0": ("a1", "m1"), "r1": ("a1", "m1"), "r2": ("a2", "m2"), "r3": ("a2", "m2"), "r9": ("a3", "m1")}


def stored_scores(store) -> list[tuple]:
    with store.engine.read() as conn:
        rows = conn.all("SELECT feedback_id, criterion, value, number FROM vote_scores ORDER BY feedback_id, criterion")
    return [(row["feedback_id"], row["criterion"], row["value"], row["number"]) for row in rows]


def audit_rows(store) -> int:
    return store.audit.count(actor=SYSTEM)


@pytest.fixture
def scored(store):
    """Runs r0, r1 in queue `q` and r2, r3 in `q2` (both with the rubric); r9 in no queue."""
    records = [{"kind": "thread", "thread_id": "t1"}, {"kind": "thread", "thread_id": "t9"}]
    records += [
        {"kind": "run", "run_id": run, "thread_id": "t9" if run == "r9" else "t1", "assistant_id": a, "model_name": m}
        for run, (a, m) in RUNS.items()
    ]
    assert store.ingest(records, actor=SYSTEM).ok
    store.queues.create(QueueSpec("q", selection={"assistant_id": "a1"}, rubric=RUBRIC), actor=SYSTEM)
    store.queues.create(QueueSpec("q2", selection={"assistant_id": "a2"}, rubric=RUBRIC), actor=SYSTEM)
    return store


def test_a_rubric_is_checked_once_when_the_queue_is_defined():
    rubric = Rubric.of(RUBRIC)
    assert [c.kind for c in rubric.criteria] == ["binary", "ordinal", "categorical"]
    assert rubric.get("helpfulness").labels == ("Useless", "Poor", "Adequate", "Good", "Excellent")
    bad = [
        ([{"name": "x", "kind": "scale"}], "kind must be one of binary, ordinal, categorical"),
        ([{"name": "Bad Name", "kind": "binary"}], "'Bad Name' is not a criterion name"),
        ([{"name": "h", "kind": "ordinal", "labels": ["a", "b"]}], "labels must name all 5 points"),
        ([{"name": "t", "kind": "categorical", "options": ["only"]}], "needs 2 to 20 options"),
        ([{"name": "t", "kind": "binary", "options": ["a", "b"]}], "options are for a categorical criterion"),
        ([{"name": "f", "kind": "binary"}, {"name": "f", "kind": "ordinal"}], "f is named twice"),
        ([{"name": "f", "kind": "binary", "weight": 2}], "unknown field 'weight'"),
        ([{"name": "f", "kind": "binary", "required": "yes"}], "required must be true or false"),
        ("{not json", "a rubric is a JSON list of criteria"),
    ]
    for given, message in bad:
        with pytest.raises(InvalidInput, match=message):
            QueueSpec("q", sample_rate=0.5, rubric=given)
    spec = QueueSpec("q", sample_rate=0.5, rubric=RUBRIC)
    assert QueueSpec.from_row({**spec.row(), "name": "q"}).rubric == spec.rubric
    assert Criterion("f", "binary").value("TRUE") == ("yes", 1.0)


def test_the_queue_shows_its_rubric(scored):
    shown = scored.queues.get("q", actor=SYSTEM)["rubric"]
    assert [(c["name"], c["kind"], c["required"]) for c in shown] == [
        ("factual", "binary", True),
        ("helpfulness", "ordinal", True),
        ("tone", "categorical", False),
    ]
    assert shown[2]["options"] == ["friendly", "neutral", "curt"]


def test_a_queue_vote_needs_every_required_criterion_and_nothing_changes_without(scored):
    before = audit_rows(scored)
    for given, named in ((None, "factual"), ({"factual": "yes"}, "helpfulness"), ({"helpfulness": 3}, "factual")):
        with pytest.raises(InvalidInput, match=f"score {named} is required by the rubric"):
            scored.queues.submit("q", "r0", rating=1, scores=given, actor=BO)
    assert scored.feedback.find(run_id="r0", owner_id="bo", actor=SYSTEM) is None
    assert stored_scores(scored) == [] and audit_rows(scored) == before
    vote = scored.queues.submit("q", "r0", rating=1, scores={"factual": "yes", "helpfulness": 4}, actor=BO)
    assert vote["scores"] == {"factual": True, "helpfulness": 4}
    assert [row[1:] for row in stored_scores(scored)] == [("factual", "yes", 1.0), ("helpfulness", "4", 4.0)]


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"factual": "maybe"}, r"score factual: 'maybe' is not valid; expected yes or no"),
        ({"helpfulness": 6}, r"score helpfulness: '6' is not valid; expected an integer from 1 to 5"),
        ({"helpfulness": True}, r"score helpfulness: 'True' is not valid"),
        ({"helpfulness": 2.5}, r"score helpfulness: '2.5' is not valid"),
        ({"tone": "angry"}, r"score tone: 'angry' is not valid; expected one of friendly, neutral, curt"),
        ({"speed": 3}, r"score speed: no such criterion in the rubric"),
        ({"Bad-Name": 3}, r"score 'Bad-Name' is not a criterion name"),
        (["factual"], r"scores must be an object"),
    ],
)
def test_bad_scores_are_refused_naming_the_criterion_and_nothing_is_stored(scored, scores, message):
    given = {"factual": "no", "helpfulness": 2, **scores} if isinstance(scores, dict) else scores
    with pytest.raises(InvalidInput, match=message):
        scored.queues.submit("q", "r0", rating=-1, scores=given, actor=BO)
    assert scored.feedback.find(run_id="r0", owner_id="bo", actor=SYSTEM) is None
    assert stored_scores(scored) == []


def test_scores_are_replaced_with_the_vote_kept_by_a_vote_without_and_removed_with_it(scored):
    first = scored.queues.submit(
        "q", "r0", rating=1, scores={"factual": True, "helpfulness": 5, "tone": "friendly"}, actor=BO
    )
    scored.queues.submit("q", "r0", rating=-1, scores={"factual": "false", "helpfulness": "2"}, actor=BO)
    assert [row[1:] for row in stored_scores(scored)] == [("factual", "no", 0.0), ("helpfulness", "2", 2.0)]
    # the source system's PUT, which knows nothing of scores, keeps them
    kept = scored.feedback.upsert(thread_id="t1", run_id="r0", rating=1, comment="ok", actor=BO)
    assert kept["scores"] == {"factual": False, "helpfulness": 2}
    assert scored.feedback.find(run_id="r0", owner_id="bo", actor=SYSTEM)["scores"] == kept["scores"]
    # outside the queue's submit scores are optional, checked against the run's queues
    assert scored.feedback.upsert(thread_id="t1", run_id="r0", rating=1, scores={"tone": "curt"}, actor=BO)[
        "scores"
    ] == {"tone": "curt"}
    assert scored.feedback.retract(thread_id="t1", run_id="r0", actor=BO)
    assert stored_scores(scored) == []
    restored = scored.feedback.restore(first["feedback_id"], actor=BO)
    assert restored["scores"] == {"tone": "curt"} and len(stored_scores(scored)) == 1
    assert scored.feedback.delete(first["feedback_id"], actor=SYSTEM)
    assert stored_scores(scored) == []
    assert check(scored) == {}


def test_a_score_outside_the_runs_queues_is_refused(scored):
    with pytest.raises(InvalidInput, match="score factual: run r9 is in no queue whose rubric has this criterion"):
        scored.feedback.upsert(thread_id="t9", run_id="r9", rating=1, scores={"factual": True}, actor=BO)
    with pytest.raises(InvalidInput, match="score factual: run r9 is in no queue"):
        scored.feedback.create(thread_id="t9", run_id="r9", rating=1, scores={"factual": True}, actor=BO)
    assert scored.feedback.find(run_id="r9", owner_id="bo", actor=SYSTEM) is None
    plain = scored.feedback.upsert(thread_id="t9", run_id="r9", rating=1, actor=BO)
    assert "scores" not in plain and "scores" not in scored.feedback.list_by_run("t9", "r9", actor=SYSTEM)[0]


def test_the_audit_trail_carries_the_scores_before_and_after(scored):
    vote = scored.queues.submit("q", "r1", rating=1, scores={"factual": "yes", "helpfulness": 4}, actor=CY)
    scored.queues.submit("q", "r1", rating=1, scores={"factual": "yes", "helpfulness": 3, "tone": "neutral"}, actor=CY)
    scored.feedback.retract(thread_id="t1", run_id="r1", actor=CY)
    trail = scored.audit.list({"feedback_id": vote["feedback_id"]}, actor=SYSTEM)
    assert [row["action"] for row in trail] == ["create", "update", "retract"]
    assert trail[0]["old_value"] is None
    assert trail[0]["new_value"]["scores"] == {"factual": True, "helpfulness": 4}
    assert trail[1]["old_value"]["scores"] == {"factual": True, "helpfulness": 4}
    assert trail[1]["new_value"]["scores"] == {"factual": True, "helpfulness": 3, "tone": "neutral"}
    assert trail[2]["old_value"]["scores"] == {"factual": True, "helpfulness": 3, "tone": "neutral"}


def _record(run: str, owner: str, scores, rating: int = 1) -> dict:
    return {
        "kind": "feedback",
        "thread_id": "t1",
        "run_id": run,
        "owner_id": owner,
        "rating": rating,
        "source": "reviewer",
        "scores": scores,
    }


def test_an_import_carries_scores_checked_against_the_runs_queues(scored, tmp_path):
    path = tmp_path / "votes.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r) for r in [_record("r0", "im", {"factual": "yes", "tone": "curt"}), _record("r1", "im", None)]
        )
    )
    report = scored.import_file(str(path), actor=SYSTEM)
    assert report.ok, report.summary()
    assert scored.feedback.find(run_id="r0", owner_id="im", actor=SYSTEM)["scores"] == {"factual": True, "tone": "curt"}
    assert "scores" not in scored.feedback.find(run_id="r1", owner_id="im", actor=SYSTEM)
    before = audit_rows(scored)
    assert scored.import_file(str(path), actor=SYSTEM).ok  # the same file again changes nothing
    assert audit_rows(scored) == before
    # new scores alone change the vote's scores, audited
    path.write_text(json.dumps(_record("r0", "im", {"factual": False, "helpfulness": 1})))
    assert scored.import_file(str(path), actor=SYSTEM).ok
    vote = scored.feedback.find(run_id="r0", owner_id="im", actor=SYSTEM)
    assert vote["scores"] == {"factual": False, "helpfulness": 1}
    last = scored.audit.list({"feedback_id": vote["feedback_id"]}, actor=SYSTEM)[-1]
    assert last["action"] == "update" and last["old_value"]["scores"] == {"factual": True, "tone": "curt"}
    assert last["new_value"]["scores"] == {"factual": False, "helpfulness": 1}


def test_an_import_with_bad_scores_stores_nothing_and_names_the_lines(scored):
    kept = stored_scores(scored), audit_rows(scored)
    report = scored.ingest(
        [
            _record("r0", "im", {"factual": "yes"}),
            _record("r1", "im", {"tone": "angry"}),
            {"kind": "thread", "thread_id": "t9"},
            {**_record("r9", "im", {"factual": "yes"}), "thread_id": "t9"},
        ],
        actor=SYSTEM,
    )
    assert not report.ok
    assert [(e["line"], e["error"]) for e in report.errors] == [
        (2, "score tone: 'angry' is not valid; expected one of friendly, neutral, curt"),
        (4, "score factual: run r9 is in no queue whose rubric has this criterion"),
    ]
    assert (stored_scores(scored), audit_rows(scored)) == kept
    assert scored.feedback.find(run_id="r0", owner_id="im", actor=SYSTEM) is None
    report = scored.ingest(
        [_record("r0", "im", {"factual": "yes"}), _record("r2", "im", {"helpfulness": 2.5})], actor=SYSTEM
    )
    assert [(e["line"], e["error"]) for e in report.errors] == [
        (2, "score helpfulness: '2.5' is not valid; give a text, a whole number or true/false")
    ]
    assert (stored_scores(scored), audit_rows(scored)) == kept


def test_an_import_may_score_a_run_that_enters_a_rubric_queue_with_it(scored):
    report = scored.ingest(
        [
            {"kind": "run", "run_id": "r5", "thread_id": "t1", "assistant_id": "a1"},
            _record("r5", "im", {"helpfulness": 5}),
        ],
        actor=SYSTEM,
    )
    assert report.ok, report.summary()
    assert scored.feedback.find(run_id="r5", owner_id="im", actor=SYSTEM)["scores"] == {"helpfulness": 5}
    assert check(scored) == {}


def _vote_all(store) -> None:
    """Hand-made scores: a1 (r0, r1) and a2 (r2, r3)."""
    given = [
        ("q", "r0", BO, {"factual": "yes", "helpfulness": 5, "tone": "friendly"}),
        ("q", "r0", CY, {"factual": "yes", "helpfulness": 4, "tone": "friendly"}),
        ("q", "r1", BO, {"factual": "no", "helpfulness": 2, "tone": "curt"}),
        ("q2", "r2", BO, {"factual": "yes", "helpfulness": 4}),
        ("q2", "r3", DI, {"factual": "yes", "helpfulness": 3, "tone": "neutral"}),
    ]
    for queue, run, actor, scores in given:
        store.queues.submit(queue, run, rating=1, scores=scores, actor=actor)


def test_export_has_a_score_column_per_criterion_in_every_format(scored, tmp_path):
    _vote_all(scored)
    scored.feedback.upsert(thread_id="t9", run_id="r9", rating=-1, actor=BO)
    with open(_write(scored, tmp_path, "csv"), encoding="utf-8-sig") as written:
        rows = list(csv.DictReader(written))
    assert list(rows[0])[-3:] == ["score.factual", "score.helpfulness", "score.tone"]
    by_vote = {
        (row["run_id"], row["reviewer"]): (row["score.factual"], row["score.helpfulness"], row["score.tone"])
        for row in rows
    }
    assert by_vote == {
        ("r0", "bo"): ("yes", "5", "friendly"),
        ("r0", "cy"): ("yes", "4", "friendly"),
        ("r1", "bo"): ("no", "2", "curt"),
        ("r2", "bo"): ("yes", "4", ""),
        ("r3", "di"): ("yes", "3", "neutral"),
        ("r9", "bo"): ("", "", ""),
    }
    lines = [json.loads(line) for line in open(_write(scored, tmp_path, "jsonl"), encoding="utf-8")]
    assert {(line["run_id"], line["reviewer"]): line["score.tone"] for line in lines}[("r1", "bo")] == "curt"
    table = pq.read_table(_write(scored, tmp_path, "parquet"))
    assert table.column_names[-3:] == ["score.factual", "score.helpfulness", "score.tone"]
    chosen = export.preview(scored, actor=SYSTEM, columns=["run_id", "score.helpfulness"], limit=10)
    assert sorted(row["score.helpfulness"] or "" for row in chosen) == ["", "2", "3", "4", "4", "5"]
    with pytest.raises(InvalidInput, match="unknown column 'score.Bad'"):
        export.preview(scored, actor=SYSTEM, columns=["score.Bad"])


def _write(store, tmp_path, fmt: str) -> str:
    path = str(tmp_path / f"export.{fmt}")
    export.write(store, path, actor=SYSTEM)
    return path


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def _t(values: list[int]) -> tuple[float, float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = distributions.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def test_stats_summarize_each_criterion_as_computed_by_hand(scored):
    _vote_all(scored)
    found = {row["criterion"]: row for row in stats.dashboard(scored, actor=SYSTEM)["criteria"]}
    assert list(found) == ["factual", "helpfulness", "tone"]
    factual = found["factual"]["overall"]
    assert (factual["scored"], factual["yes"], factual["rate"]) == (5, 4, 0.8)
    assert (factual["low"], factual["high"]) == pytest.approx(_wilson(4, 5))
    a1 = {row["assistant_id"]: row for row in found["factual"]["by_assistant"]}["a1"]
    assert (a1["scored"], a1["yes"]) == (3, 2) and (a1["low"], a1["high"]) == pytest.approx(_wilson(2, 3))
    helpfulness = found["helpfulness"]["overall"]
    assert (helpfulness["mean"], helpfulness["low"], helpfulness["high"]) == pytest.approx(_t([5, 4, 2, 4, 3]))
    by_model = {row["model_name"]: row for row in found["helpfulness"]["by_model"]}
    assert (by_model["m2"]["mean"], by_model["m2"]["low"], by_model["m2"]["high"]) == pytest.approx(_t([4, 3]))
    tone = found["tone"]["overall"]
    assert tone["scored"] == 4
    assert [(s["option"], s["count"], s["share"]) for s in tone["shares"]] == [
        ("friendly", 2, 0.5),
        ("curt", 1, 0.25),
        ("neutral", 1, 0.25),
    ]
    assert (tone["shares"][0]["low"], tone["shares"][0]["high"]) == pytest.approx(_wilson(2, 4))
    # the stats' filters narrow the scores too
    narrowed = stats.dashboard(scored, {"assistant_id": "a2"}, actor=SYSTEM)["criteria"]
    assert {row["criterion"]: row["overall"]["scored"] for row in narrowed} == {
        "factual": 2,
        "helpfulness": 2,
        "tone": 1,
    }
    assert stats.dashboard(scored, {"reviewer": "di"}, actor=SYSTEM)["criteria"][1]["overall"]["mean"] == 3


def test_queue_create_takes_a_rubric_file_and_show_prints_it(tmp_path, capsys):
    from data_layer import cli, open_store

    db = str(tmp_path / "cli.duckdb")
    with open_store(db) as store:
        assert store.ingest([{"kind": "run", "run_id": "r0", "thread_id": "t1"}], actor=SYSTEM).ok
    rubric = tmp_path / "rubric.json"
    rubric.write_text(json.dumps(RUBRIC))
    assert cli.main(["queue", "create", "q", "--sample-rate", "1", "--rubric", str(rubric), "--db", db]) == 0
    capsys.readouterr()
    assert cli.main(["queue", "show", "q", "--db", db]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in shown["rubric"]] == ["factual", "helpfulness", "tone"]
    rubric.write_text(json.dumps([{"name": "f", "kind": "scale"}]))
    assert cli.main(["queue", "create", "bad", "--sample-rate", "1", "--rubric", str(rubric), "--db", db]) == 1
    assert "criterion f: kind must be one of binary, ordinal, categorical" in capsys.readouterr().err
    assert cli.main(["queue", "create", "bad", "--sample-rate", "1", "--rubric", str(tmp_path / "no"), "--db", db]) == 1
    assert "cannot read the rubric" in capsys.readouterr().err


def test_a_backup_keeps_the_rubric_and_the_scores(scored, tmp_path):
    from data_layer import backup, open_store

    _vote_all(scored)
    backup.backup(scored, tmp_path / "bk")
    with open_store(str(tmp_path / "restored.duckdb")) as restored:
        backup.restore(restored, tmp_path / "bk")
        assert restored.queues.get("q", actor=SYSTEM)["rubric"] == scored.queues.get("q", actor=SYSTEM)["rubric"]
        assert stored_scores(restored) == stored_scores(scored)


def test_queues_defined_before_the_step_come_out_without_a_rubric(store_url):
    from data_layer import open_store

    with open_store(store_url) as store:
        assert store.ingest([{"kind": "run", "run_id": "r0", "thread_id": "t1"}], actor=SYSTEM).ok
        store.queues.create(QueueSpec("old", sample_rate=1.0), actor=SYSTEM)

        def back_to_step_11(conn):
            conn.execute("DROP TABLE vote_scores")
            conn.execute("ALTER TABLE queues DROP COLUMN rubric")
            conn.execute("DELETE FROM schema_version WHERE version >= 12")

        store.engine.write(back_to_step_11)
    with open_store(store_url) as store:
        assert store.schema_version >= 12
        assert store.queues.get("old", actor=SYSTEM)["rubric"] == []
        assert store.queues.submit("old", "r0", rating=1, actor=BO)["rating"] == 1
        assert stored_scores(store) == [] and check(store) == {}
