"""The permission table of docs/identity.md: equal to `auth.PERMISSIONS`, and every cell of it walked
through every store operation it names, and through the REST API wherever an endpoint exists.

A cell is an action and a role: "yes" (allowed on anyone's vote), "own" (on the actor's own votes
only) or "—" (refused). Each walk runs on DuckDB and PostgreSQL: the data layer on a store of the
test's own, the API on a running `streamlit run app.py`.
"""

from __future__ import annotations

import inspect
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from data_layer import Store, auth, datasets, demo, export, insights, open_store, stats
from data_layer.audit import AuditLog
from data_layer.auth import SYSTEM, Actor
from data_layer.errors import Forbidden, NotFound
from data_layer.feedback import FeedbackRepo
from data_layer.judges import JudgeRepo
from data_layer.notify import NotifyRepo, outbox
from data_layer.queue import ReviewQueue
from data_layer.queues import QueueRepo, QueueSpec
from tests.conftest import ROOT, AppServer, ai_message
from tests.test_ingest import make_deerflow_db

DOCS = ROOT / "docs" / "identity.md"
NONE = "—"


def docs_table() -> dict[str, dict]:
    """`{action: {"grants": {role: "yes" | "own"}, "operations": [names]}}` from the table in the docs."""
    lines = DOCS.read_text().splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("| action |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    table = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|"))))
        action = cells.pop("action").strip("`")
        operations = re.findall(r"`([^`]+)`", cells.pop("operations"))
        table[action] = {
            "grants": {role: grant for role, grant in cells.items() if grant != NONE},
            "operations": operations,
        }
    return table


TABLE = docs_table()
ACTORS = {
    "admin": Actor("ana", "admin"),
    "lead": Actor("lee", "lead"),
    "reviewer": Actor("bo", "reviewer"),
    "viewer": Actor("vi", "viewer"),
    "end_user": Actor("eu", "end_user"),
    "judge": Actor("jx@m1", "judge"),
    "system": SYSTEM,
}
# The LLM judge whose verdict is on every cell's run.
JUDGE = "helpfulness-v1@m1"
# The owner of "another user's vote" in every cell.
OTHER = "zoe"
# The aggregates of the insight pages that take no actor: counts and rates, never a person's id or words.
COUNTS_ONLY = {
    "stats.overview",
    "stats.bounds",
    "insights.slice_counts",
    "insights.compare_slices",
    "insights.counts_by",
    "insights.compare_all",
    "insights.end_user_agreement",
    "insights.tags_by",
    "insights.daily_series",
    "insights.flagged",
    "insights.alerts",
}


def test_the_docs_table_is_the_code_table():
    assert {action: row["grants"] for action, row in TABLE.items()} == auth.PERMISSIONS
    grants = {grant for row in TABLE.values() for grant in row["grants"].values()}
    assert grants <= {auth.YES, auth.OWN}
    assert list(TABLE) == list(auth.ACTIONS) and set(ACTORS) == set(auth.ROLES)


@pytest.mark.parametrize("action", auth.ACTIONS)
@pytest.mark.parametrize("role", auth.ROLES)
def test_authorize_follows_the_table(action, role):
    actor = ACTORS[role]
    own, others = {"feedback_id": "f1", "owner_id": actor.user_id}, {"feedback_id": "f2", "owner_id": OTHER}
    grant = TABLE[action]["grants"].get(role)
    assert auth.can(actor, action) == auth.can(actor, action, own) == (grant is not None)
    assert auth.can(actor, action, others) == (grant == auth.YES)
    assert auth.acts_for_anyone(actor, action) == (grant == auth.YES)
    if grant is None:
        with pytest.raises(Forbidden, match=f"{actor.user_id} \\({role}\\) may not {action}"):
            auth.authorize(actor, action)
    with pytest.raises(Forbidden, match="an unknown caller"):
        auth.authorize(None, action)
    assert not auth.can(None, action)


# ---- the data layer -----------------------------------------------------------------------------


@dataclass
class Ctx:
    """One cell's own conversation: a thread owned by the end user `eu`, a run with an AI message, the
    actor's own vote and another user's vote on the run, and a second run of the same model (a name of
    this cell's own) with no vote yet, for the queue."""

    store: Store
    actor: Actor
    thread: str
    run: str
    message: str
    own: str
    other: str
    tmp: Path
    queue: str = "q"

    def votes(self) -> list[tuple]:
        rows = self.store.feedback.list_by_thread(self.thread, actor=SYSTEM)
        return sorted((row["owner_id"], row["message_id"] or "", row["rating"]) for row in rows)


def records(tag: str, actor: Actor) -> tuple[str, str, str, list[dict]]:
    thread, run, message = f"t-{tag}", f"r-{tag}", f"m-{tag}"
    return (
        thread,
        run,
        message,
        [
            {"kind": "thread", "thread_id": thread, "owner_id": "eu"},
            {"kind": "run", "run_id": run, "thread_id": thread, "status": "success", "model_name": f"model-{tag}"},
            {
                "kind": "run",
                "run_id": f"{run}-2",
                "thread_id": thread,
                "status": "success",
                "model_name": f"model-{tag}",
            },
            ai_message(thread, run, 1, "Kyoto, three days.", message),
            {
                "kind": "feedback",
                "thread_id": thread,
                "run_id": run,
                "owner_id": actor.user_id,
                "source": actor.source,
                "rating": 1,
            },
            {
                "kind": "feedback",
                "thread_id": thread,
                "run_id": run,
                "owner_id": OTHER,
                "source": "reviewer",
                "rating": -1,
                "comment": "Outdated prices again.",
            },
        ],
    )


def arrange(store: Store, actor: Actor, tmp: Path) -> Ctx:
    thread, run, message, stored = records(uuid.uuid4().hex[:10], actor)
    assert store.ingest(stored, actor=SYSTEM).ok
    ids = {row["owner_id"]: row["feedback_id"] for row in store.feedback.list_by_thread(thread, actor=SYSTEM)}
    queue = store.queues.create(QueueSpec(f"q-{thread}", selection={"model_name": f"model-{run[2:]}"}), actor=SYSTEM)
    store.judges.put(judge=JUDGE, thread_id=thread, run_id=run, rating=-1, rationale="Old prices.", actor=SYSTEM)
    return Ctx(store, actor, thread, run, message, ids[actor.user_id], ids[OTHER], tmp, queue["name"])


def _new_thread(ctx: Ctx) -> list[dict]:
    return [{"kind": "thread", "thread_id": f"{ctx.thread}-new"}]


def _jsonl(ctx: Ctx) -> Path:
    path = ctx.tmp / f"{ctx.thread}.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in _new_thread(ctx)))
    return path


def _deerflow(ctx: Ctx) -> Path:
    path = ctx.tmp / f"{ctx.thread}.db"
    make_deerflow_db(path)
    return path


def _owners(rows) -> set:
    return {row["owner_id"] for row in rows}


def _reviewers(rows) -> set:
    return {row["reviewer"] for row in rows}


def _dataset(ctx: Ctx, actor: Actor = SYSTEM) -> dict:
    """The cell's own dataset, made by `actor`: one good run (two reviewers' thumbs-up, so no blind queue
    of another cell holds it) in a thread of its own, so the cell's votes stay as they are."""
    thread, run, model = f"{ctx.thread}-ds", f"{ctx.run}-ds", f"ds-{ctx.run[2:]}"
    if ctx.store.threads.get(thread) is None:
        stored = [
            {"kind": "thread", "thread_id": thread},
            {"kind": "run", "run_id": run, "thread_id": thread, "status": "success", "model_name": model},
            ai_message(thread, run, 1, "Kyoto, three days.", f"{ctx.message}-ds"),
            *(
                {
                    "kind": "feedback",
                    "thread_id": thread,
                    "run_id": run,
                    "owner_id": owner,
                    "rating": 1,
                    "source": "reviewer",
                }
                for owner in (OTHER, "zed")
            ),
        ]
        assert ctx.store.ingest(stored, actor=SYSTEM).ok
    name = f"d-{ctx.thread}"
    if actor is SYSTEM and any(d["name"] == name for d in datasets.listing(ctx.store, actor=SYSTEM)):
        return datasets.get(ctx.store, name, 1, actor=SYSTEM)
    return datasets.create(ctx.store, name, verdict="good", filters={"model_name": model}, actor=actor)


def _dataset_lines(ctx: Ctx) -> list[str]:
    jsonl = b"".join(datasets.content(ctx.store, _dataset(ctx)["name"], 1, "jsonl", actor=ctx.actor))
    return [json.loads(line)["run_id"] for line in jsonl.decode().splitlines()]


# What a call allowed to go on must answer, per store operation; `who` is the vote's owner the call
# names: the actor itself ("own") or another user ("other"), for the actions that distinguish them.
def read_operations(ctx: Ctx) -> dict:
    s, a, both = ctx.store, ctx.actor, {ctx.actor.user_id, OTHER}
    model = {"model_name": f"model-{ctx.run[2:]}"}
    return {
        "feedback.get": (lambda: s.feedback.get(ctx.other, actor=a)["owner_id"], OTHER),
        "feedback.find": (lambda: s.feedback.find(run_id=ctx.run, owner_id=OTHER, actor=a)["rating"], -1),
        "feedback.list_by_run": (lambda: _owners(s.feedback.list_by_run(ctx.thread, ctx.run, actor=a)), both),
        "feedback.count_by_run": (lambda: s.feedback.count_by_run(ctx.thread, ctx.run, actor=a), 2),
        "feedback.list_by_run_id": (lambda: _owners(s.feedback.list_by_run_id(ctx.run, actor=a)), both),
        "feedback.count_by_run_id": (lambda: s.feedback.count_by_run_id(ctx.run, actor=a), 2),
        "feedback.list_by_thread": (lambda: _owners(s.feedback.list_by_thread(ctx.thread, actor=a)), both),
        "feedback.count_by_thread": (lambda: s.feedback.count_by_thread(ctx.thread, actor=a), 2),
        "feedback.aggregate_by_run": (
            lambda: s.feedback.aggregate_by_run(ctx.thread, ctx.run, actor=a),
            {"run_id": ctx.run, "total": 2, "positive": 1, "negative": 1},
        ),
        "queue.holder": (lambda: s.queue.holder(f"{ctx.run}-unclaimed", actor=a), None),
        "queues.list": (lambda: ctx.queue in {q["name"] for q in s.queues.list(actor=a)}, True),
        "queues.get": (lambda: s.queues.get(ctx.queue, actor=a)["items"], 2),
        "queues.items": (lambda: {i["run_id"] for i in s.queues.items(ctx.queue, actor=a)}, {ctx.run, f"{ctx.run}-2"}),
        "queues.estimate": (lambda: s.queues.estimate(ctx.queue, actor=a)["selected_only_items"], 2),
        "queues.progress": (lambda: s.queues.progress(ctx.queue, actor=a)["items"], 2),
        "queues.export": (lambda: len("".join(s.queues.export(ctx.queue, actor=a)).splitlines()), 2),
        "queues.advice": (lambda: s.queues.advice(ctx.queue, margin=0.5, actor=a)["needed_per_week"], 4),
        "queues.agreement": (lambda: s.queues.agreement(ctx.queue, actor=a)["items_compared"], 1),
        "queues.blind_runs": (lambda: s.queues.blind_runs(ctx.thread, actor=a), []),
        "queues.blind_threads": (lambda: s.queues.blind_threads([ctx.thread], actor=a), {}),
        "queues.thread_tallies": (
            lambda: s.queues.thread_tallies(ctx.thread, actor=a),
            {"positive": 1, "negative": 1, "blind": {}},
        ),
        "queues.adjudications": (
            lambda: [row["run_id"] for row in s.queues.adjudications(ctx.queue, actor=a)],
            [ctx.run],
        ),
        "judges.for_thread": (lambda: [v["judge"] for v in s.judges.for_thread(ctx.thread, actor=a)], [JUDGE]),
        "judges.summary": (lambda: JUDGE in {row["judge"] for row in s.judges.summary(actor=a)}, True),
        "judges.calibration": (lambda: s.judges.calibration(JUDGE, actor=a)["judged_runs"] > 0, True),
        "judges.compare": (lambda: s.judges.compare(JUDGE, model, model, actor=a)["raw"]["a"]["votes"], 1),
        "judges.disagreements": (lambda: type(s.judges.disagreements(JUDGE, actor=a)), list),
        "export.count": (lambda: export.count(s, {"reviewer": OTHER}, actor=a) > 0, True),
        "export.preview": (lambda: len(export.preview(s, {"reviewer": OTHER}, actor=a, limit=1)), 1),
        "export.batches": (
            lambda: sum(b.num_rows for b in export.batches(s, {"reviewer": OTHER}, actor=a)) > 0,
            True,
        ),
        "export.write": (lambda: export.write(s, ctx.tmp / f"{ctx.thread}.csv", actor=a) > 0, True),
        "stats.dashboard": (lambda: _reviewers(stats.dashboard(s, model, actor=a)["reviewers"]), both),
        "stats.reviewers_seen": (lambda: OTHER in stats.reviewers_seen(s, actor=a), True),
        "insights.reviewers": (lambda: _reviewers(insights.reviewers(s, model, actor=a)), both),
        "insights.disagreements": (
            lambda: insights.disagreements(s, model, actor=a),
            {"rows": [], "total": 0, "user_up": 0, "user_down": 0},
        ),
        "insights.themes": (lambda: insights.themes(s, model, actor=a)["negative_comments"], 1),
        "insights.feedback_by_ids": (lambda: _owners(insights.feedback_by_ids(s, [ctx.other], actor=a)), {OTHER}),
        "datasets.listing": (
            lambda: (_dataset(ctx)["name"], 1) in {(d["name"], d["version"]) for d in datasets.listing(s, actor=a)},
            True,
        ),
        "datasets.get": (lambda: datasets.get(s, _dataset(ctx)["name"], 1, actor=a)["items"], 1),
        "datasets.content": (lambda: _dataset_lines(ctx), [f"{ctx.run}-ds"]),
        "datasets.write_file": (
            lambda: (
                datasets.write_file(s, _dataset(ctx)["name"], 1, "card", ctx.tmp / f"{ctx.thread}.md", actor=a)
                .read_text()
                .startswith("---")
            ),
            True,
        ),
    }


def write_operations(ctx: Ctx, who: str) -> dict:
    s, a = ctx.store, ctx.actor
    owner = a.user_id if who == "own" else OTHER
    vote = ctx.own if who == "own" else ctx.other
    on = {"thread_id": ctx.thread, "run_id": ctx.run}
    return {
        "vote": {
            "feedback.create": (
                lambda: s.feedback.create(**on, message_id=ctx.message, rating=1, owner_id=owner, actor=a)["owner_id"],
                owner,
            ),
            "feedback.upsert": (lambda: s.feedback.upsert(**on, rating=-1, owner_id=owner, actor=a)["owner_id"], owner),
        },
        "retract": {
            "feedback.retract": (lambda: s.feedback.retract(**on, owner_id=owner, actor=a), True),
            "feedback.restore": (
                lambda: _restore(ctx, vote, lambda: s.feedback.retract(**on, owner_id=owner, actor=SYSTEM)),
                owner,
            ),
        },
        "delete": {
            "feedback.delete": (lambda: s.feedback.delete(vote, thread_id=ctx.thread, actor=a), True),
            "feedback.restore": (
                lambda: _restore(ctx, vote, lambda: s.feedback.delete(vote, thread_id=ctx.thread, actor=SYSTEM)),
                owner,
            ),
        },
    }


def _restore(ctx: Ctx, vote: str, remove) -> str:
    """The vote removed by the system (if the call before did not remove it), then restored by the actor;
    a refused restore leaves the vote as it was, put back by the system."""
    remove()
    try:
        return ctx.store.feedback.restore(vote, actor=ctx.actor)["owner_id"]
    except Forbidden:
        ctx.store.feedback.restore(vote, actor=SYSTEM)
        raise


def other_operations(ctx: Ctx) -> dict:
    s, a = ctx.store, ctx.actor
    fresh, unvoted, model = f"{ctx.thread}-new", f"{ctx.run}-2", {"model_name": f"model-{ctx.run[2:]}"}
    return {
        "queue": {
            "queue.next_run": (lambda: s.queue.next_run(model, actor=a)["run_id"], unvoted),
            "queue.claim": (lambda: s.queue.claim(unvoted, actor=a), True),
            "queue.release": (lambda: s.queue.release(unvoted, actor=a), None),
            "queue.skip": (lambda: s.queue.skip(unvoted, actor=a), None),
            "queue.progress": (lambda: s.queue.progress(model, actor=a), (1, 2)),
            "queues.next_item": (lambda: s.queues.next_item(ctx.queue, actor=a)["run"]["run_id"], unvoted),
            "queues.submit": (lambda: s.queues.submit(ctx.queue, unvoted, rating=1, actor=a)["owner_id"], a.user_id),
        },
        "ingest": {
            "ingest": (lambda: s.ingest(_new_thread(ctx), actor=a).ok and s.threads.get(fresh) is not None, True),
            "ingest_numbered": (lambda: s.ingest_numbered(enumerate(_new_thread(ctx), 1), actor=a).ok, True),
            "import_file": (lambda: s.import_file(_jsonl(ctx), actor=a).ok, True),
            "import_deerflow": (lambda: s.import_deerflow(_deerflow(ctx), actor=a).ok, True),
            "demo.seed": (lambda: demo.seed(s, threads=1, seed=int(ctx.run[-4:], 16), actor=a).ok, True),
        },
        "manage_queues": {
            "queues.create": (
                lambda: s.queues.create(QueueSpec(f"{ctx.queue}-new", selection=model), actor=a)["items"],
                2,
            ),
            "queues.change": (
                lambda: s.queues.change(ctx.queue, reviewers_per_item=2, actor=a)["reviewers_per_item"],
                2,
            ),
            "queues.close": (lambda: s.queues.close(ctx.queue, actor=a)["closed_at"] is not None, True),
        },
        "adjudicate": {
            "queues.adjudicate": (
                lambda: s.queues.adjudicate(ctx.queue, ctx.run, verdict="bad", note="Prices are old.", actor=a)[
                    "verdict"
                ],
                "bad",
            ),
        },
        "manage_datasets": {
            "datasets.create": (lambda: _dataset(ctx, a)["items"], 1),
        },
        "view_progress": {
            "queues.reviewers": (lambda: _reviewers(s.queues.reviewers(ctx.queue, actor=a)), {a.user_id, OTHER}),
        },
        "judge": {
            "judges.put": (
                lambda: s.judges.put(judge=a.user_id, thread_id=ctx.thread, run_id=ctx.run, rating=1, actor=a)[
                    "owner_id"
                ],
                a.user_id,
            ),
            "judges.put_many": (
                lambda: s.judges.put_many(
                    [{"judge": a.user_id, "thread_id": ctx.thread, "run_id": ctx.run, "rating": -1}], actor=a
                ),
                1,
            ),
        },
        "audit": {
            "audit.list": (lambda: len(s.audit.list({"thread_id": ctx.thread}, actor=a)), 2),
            "audit.count": (lambda: s.audit.count({"thread_id": ctx.thread}, actor=a), 2),
        },
    }


def notification_operations(ctx: Ctx) -> dict:
    """Each call on a destination of the cell's own (added by the system, to a closed local port, when the
    first call runs) and its delivery of a dataset event, which changes no vote."""
    s, a, made = ctx.store, ctx.actor, {}

    def arranged() -> dict:
        if not made:
            added = s.notify.add_webhook(
                "http://127.0.0.1:9/", events="dataset.created", allow_private=True, actor=SYSTEM
            )
            s.engine.write(lambda conn: outbox.dataset_created(conn, {"name": ctx.thread}))
            (delivery,) = s.notify.deliveries(destination_id=added["destination_id"], actor=SYSTEM)
            made.update(
                destination=added["destination_id"], delivery=delivery["delivery_id"], event=delivery["event_id"]
            )
        return made

    def deliveries() -> list[str]:
        return [d["kind"] for d in s.notify.deliveries(destination_id=arranged()["destination"], actor=a)]

    return {
        "notify.add_webhook": (
            lambda: s.notify.add_webhook("http://127.0.0.1:9/", allow_private=True, actor=a)["secret"][:6],
            "whsec_",
        ),
        "notify.add_apprise": (
            lambda: s.notify.add_apprise("json://127.0.0.1:9/", allow_private=True, actor=a)["kind"],
            "apprise",
        ),
        "notify.destinations": (
            lambda: arranged()["destination"] in {d["destination_id"] for d in s.notify.destinations(actor=a)},
            True,
        ),
        "notify.deliveries": (deliveries, ["dataset.created"]),
        "notify.delivery": (lambda: s.notify.delivery(arranged()["delivery"], actor=a)["kind"], "dataset.created"),
        "notify.event": (lambda: s.notify.event(arranged()["event"], actor=a)["kind"], "dataset.created"),
        "notify.attempts": (lambda: s.notify.attempts(arranged()["delivery"], actor=a), []),
        "notify.send_again": (lambda: s.notify.send_again(arranged()["delivery"], actor=a)["status"], "pending"),
        "notify.run": (lambda: set(s.notify.run(actor=a, limit=1)), {"delivered", "retrying", "failed"}),
        "notify.check_alerts": (lambda: isinstance(s.notify.check_alerts(actor=a), list), True),
        "notify.remove": (lambda: s.notify.remove(arranged()["destination"], actor=a)["removed_at"] is not None, True),
    }


def operations(ctx: Ctx, action: str, who: str = "own") -> dict:
    if action == "read":
        return read_operations(ctx)
    if action in ("vote", "retract", "delete"):
        return write_operations(ctx, who)[action]
    if action == "manage_notifications":
        return notification_operations(ctx)
    return other_operations(ctx).get(action, {})


def test_the_table_names_every_operation_on_peoples_data():
    """A new public method of a repository, or a new import, must be put in the table (and so walked); so
    must an aggregate that names people or quotes them, which takes an actor: every other one is listed
    in COUNTS_ONLY, a decision made on purpose."""
    named = {name for row in TABLE.values() for name in row["operations"]}
    aggregates = {
        f"{module.__name__.rsplit('.', 1)[-1]}.{name}": getattr(module, name)
        for module in (stats, insights)
        for name in module.__all__
        if inspect.isfunction(getattr(module, name))
    }
    checked = {name for name, function in aggregates.items() if "actor" in inspect.signature(function).parameters}
    assert set(aggregates) - checked == COUNTS_ONLY
    public = {
        *(f"feedback.{n}" for n, _ in inspect.getmembers(FeedbackRepo, inspect.isfunction) if not n.startswith("_")),
        *(f"queue.{n}" for n, _ in inspect.getmembers(ReviewQueue, inspect.isfunction) if not n.startswith("_")),
        *(f"audit.{n}" for n, _ in inspect.getmembers(AuditLog, inspect.isfunction) if not n.startswith("_")),
        *(f"queues.{n}" for n, _ in inspect.getmembers(QueueRepo, inspect.isfunction) if not n.startswith("_")),
        *(f"notify.{n}" for n, _ in inspect.getmembers(NotifyRepo, inspect.isfunction) if not n.startswith("_")),
        *(f"judges.{n}" for n, _ in inspect.getmembers(JudgeRepo, inspect.isfunction) if not n.startswith("_")),
        *(n for n in ("ingest", "ingest_numbered", "import_file", "import_deerflow") if hasattr(Store, n)),
        *(
            f"datasets.{n}"
            for n in datasets.__all__
            if inspect.isfunction(getattr(datasets, n))
            and "actor" in inspect.signature(getattr(datasets, n)).parameters
        ),
        *checked,
    }
    assert public <= named, public - named
    ctx = Ctx(None, SYSTEM, "t", "r-0000", "m", "f1", "f2", Path("."))
    walked = {name for action in auth.ACTIONS for name in operations(ctx, action)}
    assert walked == named - {"POST /api/admin/backup"}


@pytest.fixture(scope="module")
def layer(module_store_url, tmp_path_factory):
    """A store of the data-layer walk, beside the API's server on the same engine (a DuckDB file is
    held by one process, so that walk gets a file of its own)."""
    url = module_store_url if "://" in module_store_url else str(tmp_path_factory.mktemp("layer") / "layer.duckdb")
    with open_store(url) as store:
        yield store


def refused(call, ctx: Ctx, before: list) -> None:
    """The call raises `Forbidden` (or, for a vote the actor may not even see, answers as a missing one)
    and changes nothing."""
    try:
        answer = call()
    except Forbidden:
        pass
    except NotFound:
        assert auth.hides(ctx.actor, {"owner_id": OTHER})
    else:
        assert answer is False and auth.hides(ctx.actor, {"owner_id": OTHER}), answer
    assert ctx.votes() == before


def walk_the_data_layer(store: Store, action: str, role: str, grant: str | None, tmp: Path) -> None:
    sides = ("own", "other") if action in ("vote", "retract", "delete") else ("own",)
    for who in sides:
        allowed = grant == auth.YES or (grant == auth.OWN and who == "own")
        ctx = arrange(store, ACTORS[role], tmp)
        names = TABLE[action]["operations"]
        for name, (call, expected) in operations(ctx, action, who).items():
            assert name in names, name
            if allowed:
                assert call() == expected, (name, who)
                if action in ("retract", "delete"):
                    ctx = arrange(store, ACTORS[role], tmp)  # the vote is gone: the next call gets its own
            else:
                refused(call, ctx, ctx.votes())
        if action == "ingest" and not allowed:
            assert store.threads.get(f"{ctx.thread}-new") is None


# ---- the REST API -------------------------------------------------------------------------------

TOKENS = {role: auth.new_token() for role in auth.TOKEN_ROLES}
# The actions the API serves, each with its endpoints.
API_ACTIONS = ("read", "vote", "retract", "delete", "ingest", "backup", "judge")


@pytest.fixture(scope="module")
def api(module_store_url, tmp_path_factory):
    tokens = ",".join(auth.token_entry(ACTORS[role].user_id, role, TOKENS[role]) for role in auth.TOKEN_ROLES)
    env = {
        "FEEDBACK_API_TOKENS": tokens,
        "FEEDBACK_DEMO": "0",
        "FEEDBACK_BACKUP_DIR": str(tmp_path_factory.mktemp("backups")),
    }
    running = AppServer(module_store_url, env=env)
    clients = {
        role: httpx.Client(
            base_url=f"{running.url}/api", headers={"Authorization": f"Bearer {TOKENS[role]}"}, timeout=60
        )
        for role in auth.TOKEN_ROLES
    }
    yield clients
    for client in clients.values():
        client.close()
    running.stop()


def api_votes(viewer: httpx.Client, thread: str) -> list[tuple]:
    """The thread's votes as a viewer sees them: every one (a viewer works no queue, so no blind queue
    hides any, as one may from an admin who has yet to judge a run of the demo's blind sample)."""
    response = viewer.get(f"/threads/{thread}/feedback")
    assert response.status_code == 200, response.text
    return sorted(
        (vote["feedback_id"], vote["user_id"], vote["rating"], vote["updated_at"]) for vote in response.json()
    )


def walk_the_api(clients: dict, action: str, role: str, grant: str | None) -> None:
    admin, viewer, client, actor = clients["admin"], clients["viewer"], clients[role], ACTORS[role]
    thread, run, message, stored = records(uuid.uuid4().hex[:10], actor)
    assert admin.post("/ingest", json=stored).status_code == 200
    ids = {vote["user_id"]: vote["feedback_id"] for vote in viewer.get(f"/threads/{thread}/feedback").json()}
    path = f"/threads/{thread}/runs/{run}/feedback"
    hidden = 404 if auth.hides(actor, {"owner_id": OTHER}) else 403
    # (who, method, url, options, status when allowed); "own" calls act on the caller's own vote.
    calls = {
        "read": [
            ("own", "GET", path, {}, 200),
            ("own", "GET", path + "/stats", {}, 200),
            ("own", "GET", f"/runs/{run}/feedback", {}, 200),
            ("own", "GET", f"/threads/{thread}/feedback", {}, 200),
            ("own", "GET", "/datasets", {}, 200),
        ],
        "vote": [
            ("own", "POST", path, {"json": {"rating": -1, "message_id": message}}, 201),
            ("own", "PUT", path, {"json": {"rating": -1}}, 200),
        ],
        "retract": [("own", "DELETE", path, {}, 200)],
        "delete": [
            ("other", "DELETE", f"{path}/{ids[OTHER]}", {}, 200),
            ("own", "DELETE", f"{path}/{ids[actor.user_id]}", {}, 200),
        ],
        "ingest": [("own", "POST", "/ingest", {"json": [{"kind": "thread", "thread_id": f"{thread}-new"}]}, 200)],
        "backup": [("own", "POST", "/admin/backup", {"json": {"name": f"b-{thread}"}}, 200)],
        # the run feedback PUT is a judge's door: another role's PUT is its vote (the "vote" row)
        "judge": [("own", "PUT", path, {"json": {"rating": 1, "rationale": "fine"}}, 200)] if role == "judge" else [],
    }[action]
    for who, method, url, options, status in calls:
        allowed = grant == auth.YES or (grant == auth.OWN and who == "own")
        before = api_votes(viewer, thread)
        answer = client.request(method, url, **options)
        if role == "judge" and method == "PUT":
            assert answer.status_code == 200 and answer.json()["source"] == "judge", answer.text
            assert api_votes(viewer, thread) == before
            continue
        if allowed:
            assert answer.status_code == status, (method, url, answer.text)
            if method == "GET":
                assert answer.headers.get("X-Total-Count", "2") == "2"
                assert (answer.json().get("total") if url.endswith("/stats") else 2) == 2
        else:
            expected = hidden if grant and who == "other" else 403
            assert answer.status_code == expected, (method, url, answer.text)
            if expected == 403:
                assert answer.json()["detail"].startswith(f"{actor.user_id} ({role}) may not {action}")
            assert api_votes(viewer, thread) == before
    if action == "ingest":
        created = admin.get(f"/threads/{thread}-new/feedback").status_code
        assert created == (200 if grant else 404)


# ---- one walk of the whole table ------------------------------------------------------------------

CELLS = [
    pytest.param(
        door,
        action,
        role,
        TABLE[action]["grants"].get(role),
        id=f"{door}-{action}-{role}",
        # The API's cells need a dashboard server of their own: left out of the fast subset.
        marks=pytest.mark.slow if door == "api" else (),
    )
    for door in ("store", "api")
    for action in TABLE
    for role in auth.ROLES
    # `backup.backup` takes no actor: the API's endpoint is the door that checks it.
    if door == "store" and action != "backup" or door == "api" and role in auth.TOKEN_ROLES and action in API_ACTIONS
]


@pytest.mark.parametrize(("door", "action", "role", "grant"), CELLS)
def test_every_cell_of_the_table(door, action, role, grant, module_store_url, request, tmp_path):
    """Allowed: every operation of the action succeeds (on the actor's own vote, and on another user's
    for "yes"). Refused: 403 / `Forbidden` (or, for a caller that may not read, the answer of a missing
    vote), and nothing changes."""
    if door == "store":
        walk_the_data_layer(request.getfixturevalue("layer"), action, role, grant, tmp_path)
    else:
        walk_the_api(request.getfixturevalue("api"), action, role, grant)
