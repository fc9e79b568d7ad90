"""The fast JSONL reader (data_layer/ingest/fast.py) stages exactly what the per-record path stages, or declines.

Staged rows are compared row for row with `ingest.parse_record` over `ingest.read_jsonl` for generated
files of valid records (where the fast reader must take the file) and of mutated, mostly invalid
lines (where it may only take what the per-record path takes, with the same rows). End to end, a
file imported through the fast reader leaves every table as the per-record path leaves it, on both
engines, and the merge statements rewritten for speed leave them as the statements before did.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.generate import write_import_file
from data_layer import demo, ingest, open_store
from data_layer.auth import SYSTEM
from data_layer.errors import InvalidInput
from data_layer.ingest import checks, fast, merge
from data_layer.schema import FEEDBACK_SOURCES, REASON_TAGS, RUN_STATUSES


def slow_rows(path) -> dict[str, list[tuple]] | None:
    """What the per-record path stages for a file, or None if it rejects any line."""
    rows: dict[str, list[tuple]] = {kind: [] for kind in ingest.KINDS}
    with open(path, "rb") as stream:
        for line, record in ingest.read_jsonl(stream):
            if isinstance(record, ingest.RecordError):
                return None
            try:
                kind, row = ingest.parse_record(line, record)
            except InvalidInput:
                return None
            rows[kind].append(row)
    return rows


def fast_rows(path) -> dict[str, list[tuple]] | None:
    staged = fast.stage_file(str(path), ingest.SCHEMAS)
    if staged is None:
        return None
    assert list(staged.tables) == list(ingest.KINDS)
    for kind, table in staged.tables.items():
        assert table.schema == ingest.SCHEMAS[kind]
    return {kind: [tuple(row.values()) for row in table.to_pylist()] for kind, table in staged.tables.items()}


# --- generated records ---------------------------------------------------------------------------

ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@+=~|-]{0,11}", fullmatch=True)
# Text as agents write it: any letter, mark, digit, punctuation, symbol or space, newlines and tabs.
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from('\n\t\r"\\ /{}'), max_size=25)
moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2199, 12, 30))


@st.composite
def times(draw) -> str:
    moment = draw(moments)
    shape = draw(st.sampled_from(["naive", "utc", "offset", "z", "space", "minutes"]))
    if shape == "naive":
        return moment.isoformat()
    if shape == "utc":
        return moment.replace(tzinfo=UTC).isoformat()
    if shape == "offset":
        offset = timedelta(minutes=draw(st.integers(-23 * 60, 23 * 60)))
        return moment.replace(tzinfo=UTC).astimezone(timezone(offset)).isoformat()
    if shape == "z":
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    if shape == "space":
        return moment.isoformat(sep=" ", timespec="milliseconds")
    return moment.isoformat(timespec="minutes")


def some_of(**fields):
    """Any subset of the fields, each drawn from its strategy."""
    return st.fixed_dictionaries({}, optional=fields)


owners = st.sampled_from(["owner_id", "user_id", None])
tokens = st.integers(0, 2**62)


@st.composite
def owner_fields(draw) -> dict:
    key = draw(owners)
    return {} if key is None else {key: draw(ids)}


@st.composite
def threads(draw) -> dict:
    record = {"kind": "thread", "thread_id": draw(ids)}
    record.update(draw(owner_fields()))
    record.update(
        draw(
            some_of(
                assistant_id=ids,
                display_name=texts,
                status=st.text(max_size=10, alphabet="abcxyz é"),
                metadata=st.just({}) | st.none(),
                created_at=times(),
                updated_at=times(),
            )
        )
    )
    return record


@st.composite
def runs(draw) -> dict:
    record = {"kind": "run", "run_id": draw(ids), "thread_id": draw(ids)}
    record.update(draw(owner_fields()))
    record.update(
        draw(
            some_of(
                assistant_id=ids,
                status=st.sampled_from(RUN_STATUSES) | st.none(),
                model_name=texts,
                error=texts,
                message_count=tokens,
                first_human_message=texts,
                last_ai_message=texts,
                total_input_tokens=tokens,
                total_output_tokens=tokens,
                total_tokens=tokens,
                llm_call_count=tokens,
                follow_up_to_run_id=ids,
                metadata=st.just({}),
                created_at=times(),
                updated_at=times(),
            )
        )
    )
    return record


EVENT_TYPES = ["human_message", "ai_message", "ai_tool_call", "tool_result", "llm.ai.response", "summary"]
EVENT_TYPES += ["run.start", "run_end", "middleware:memory", "tool_call", "custom step", " padded "]
DUMP_TYPES = ["human", "ai", "tool", "system", "AIMessageChunk", "HumanMessage", "weird", "", "Ai"]


@st.composite
def content_objects(draw) -> dict:
    """A flat message dump listing its keys in the order the fast reader takes (others it declines)."""
    values = {
        "type": st.sampled_from(DUMP_TYPES),
        "content": texts,
        "id": ids | st.sampled_from(["not a safe id", "-dash"]),
        "tool_call_id": ids,
        "name": texts,
    }
    chosen = draw(st.lists(st.sampled_from(fast.CONTENT_KEYS), unique=True))
    return {key: draw(values[key]) for key in fast.CONTENT_KEYS if key in chosen}


@st.composite
def events(draw, content) -> dict:
    record = {
        "kind": "event",
        "thread_id": draw(ids),
        "run_id": draw(ids),
        "seq": draw(st.integers(0, 2**53)),
        "event_type": draw(st.sampled_from(EVENT_TYPES)),
    }
    record.update(
        draw(
            some_of(
                category=st.sampled_from(["message", "trace", "", "custom"]),
                content=content,
                metadata=st.just({}) | st.none(),
                created_at=times(),
            )
        )
    )
    return record


comments = texts | st.sampled_from([" ", "\t\n", "\u3000", "ok", "Gut 👍"]) | st.none()


@st.composite
def votes(draw) -> dict:
    record = {"kind": "feedback", "thread_id": draw(ids), "run_id": draw(ids), "rating": draw(st.sampled_from([1, -1]))}
    record.update(draw(owner_fields()))
    record.update(
        draw(
            some_of(
                feedback_id=ids,
                message_id=ids,
                comment=comments,
                tags=st.lists(st.sampled_from(REASON_TAGS), max_size=4),
                source=st.sampled_from(FEEDBACK_SOURCES),
                created_at=times(),
                updated_at=times(),
            )
        )
    )
    return record


def files(content):
    records = st.one_of(threads(), runs(), events(content), votes())
    return st.lists(records, min_size=1, max_size=25)


def write(path, records, *, blank_lines=(), crlf=False) -> None:
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    for index in sorted(blank_lines, reverse=True):
        lines.insert(min(index, len(lines)), "")
    ending = "\r\n" if crlf else "\n"
    path.write_bytes((ending.join(lines) + ending).encode())


settings.register_profile("jsonl", max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@settings(settings.get_profile("jsonl"))
@given(
    records=files(content_objects() | texts.filter(lambda text: not text.lstrip().startswith("{")) | st.none()),
    blank_lines=st.lists(st.integers(0, 30), max_size=3),
    crlf=st.booleans(),
)
def test_fast_reader_takes_valid_files_and_stages_the_same_rows(tmp_path_factory, records, blank_lines, crlf):
    path = tmp_path_factory.mktemp("f") / "records.jsonl"
    write(path, records, blank_lines=blank_lines, crlf=crlf)
    slow = slow_rows(path)
    fast = fast_rows(path)
    assert slow is not None, "the generated records are valid"
    assert fast is not None, "the fast reader declined a file inside its subset"
    assert fast == slow


# --- mutated lines: the fast reader may decline, never accept what the per-record path rejects ---

MUTATIONS = [
    lambda line: line.replace('"seq": ', '"seq": 1.5, "x": ', 1),
    lambda line: line.replace(": ", ": 1.0 ,", 1),
    lambda line: line[:-1] + ', "kind": "thread"}',
    lambda line: line[:-1] + ', "extra": {"a": 1, "a": 2}}',
    lambda line: line[:-1] + ", }",
    lambda line: line[:-1] + ', "z": NaN}',
    lambda line: line[:-1] + ', "z": [1, 2,]}',
    lambda line: "\ufeff" + line,
    lambda line: "  " + line,
    lambda line: line + "  ",
    lambda line: line + " " + line,
    lambda line: line.replace(", ", ",\n", 1),
    lambda line: line.replace('"', "'", 2),
    lambda line: line.replace("T", "\t", 1),
    lambda line: line.replace("a", "\\u0000", 1),
    lambda line: line.replace("e", "\\ud800", 1),
    lambda line: line.replace("e", "\\u00e9", 1),
    lambda line: line.replace("e", "\\/", 1),
    lambda line: line.replace(': "', ': 7, "q": "', 1),
    lambda line: line.replace(": 1", ": true", 1),
    lambda line: line.replace(": 1", ": 99999999999999999999999", 1),
    lambda line: line.replace(": -1", ": -0", 1),
    lambda line: line.replace('": "', '": null, "b": "', 1),
    lambda line: line[:-1] + ', "source": null}',
    lambda line: line[:-1] + ', "metadata": {"k": "v"}}',
    lambda line: line[:-1] + ', "tags": ["slow", "nope"]}',
    lambda line: line[:-1] + ', "created_at": "2026-02-30T10:00:00"}',
    lambda line: line[:-1] + ', "created_at": "2026-01-01T24:00:00"}',
    lambda line: line[:-1] + ', "created_at": "2026-01-01T10:00:00+24:00"}',
    lambda line: line[:-1] + ', "created_at": 1700000000}',
    lambda line: line[:-1] + ', "created_at": "1969-12-31T23:00:00"}',
    lambda line: line[:-1] + ', "created_at": "1970-01-01T00:30:00+01:00"}',
    lambda line: line[:-1] + ', "updated_at": "2199-12-31T23:59:59-01:00"}',
    lambda line: line.replace('"kind": "', '"kind": "x', 1),
    lambda line: re.sub(r'"thread_id": "[^"]*"', '"thread_id": "bad id"', line, count=1),
    lambda line: re.sub(r'"run_id": "[^"]*"', '"run_id": null', line, count=1),
    lambda line: line.replace('"content": {', '"content": {"type": "x", ', 1),
    lambda line: line.replace('"content": {', '"content": {"tool_calls": [], ', 1),
    lambda line: line.replace('"content": "', '"content": " {', 1),
    lambda line: line.replace('"event_type": "', '"event_type": "   ', 1),
    lambda line: line.replace('"comment": "', '"comment": "\\u2028', 1),
    lambda line: "\xff" + line,
]


@pytest.mark.slow
@settings(settings.get_profile("jsonl"))
@given(
    records=files(content_objects() | texts | st.none()),
    mutations=st.lists(st.tuples(st.integers(0, 30), st.sampled_from(range(len(MUTATIONS)))), max_size=3),
)
def test_fast_reader_accepts_only_what_the_record_path_accepts(tmp_path_factory, records, mutations):
    lines = [json.dumps(record, ensure_ascii=bool(index % 3 == 2)) for index, record in enumerate(records)]
    for where, which in mutations:
        index = where % len(lines)
        lines[index] = MUTATIONS[which](lines[index])
    path = tmp_path_factory.mktemp("f") / "records.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff"))
    fast = fast_rows(path)
    if fast is not None:
        assert fast == slow_rows(path)


@pytest.mark.parametrize(
    "text",
    [
        '{"kind": "thread", "thread_id": "t"}\n{"kind": "thread", "thread_id": "bad id"}\n',
        '{"kind": "thread", "thread_id": "t", "thread_id": "u"}\n',
        '{"kind": "thread", "thread_id": "t",}\n',
        '{"kind": "thread", "thread_id": "t"} {"kind": "thread", "thread_id": "u"}\n',
        '{"kind": "thread",\n "thread_id": "t"}\n',
        '{"kind": "feedback", "thread_id": "t", "run_id": "r", "rating": 1, "source": null}\n',
        '{"kind": "feedback", "thread_id": "t", "run_id": "r", "rating": 1.0}\n',
        '{"kind": "event", "thread_id": "t", "run_id": "r", "seq": 1, "event_type": "x", "content": [1]}\n',
        '{"kind": "run", "run_id": "r", "thread_id": "t", "status": "done"}\n',
        '{"kind": "thread", "thread_id": "t", "display_name": NaN}\n',
        "[]\n",
    ],
)
def test_fast_reader_declines_bad_files(tmp_path, text):
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    assert slow_rows(path) is None
    assert fast.stage_file(str(path), ingest.SCHEMAS) is None


def test_fast_reader_takes_the_benchmark_file(tmp_path):
    path = tmp_path / "bench.jsonl"
    counts = write_import_file(str(path), 3_000, seed=11)["counts"]
    fast = fast_rows(path)
    assert fast is not None
    assert {kind: len(rows) for kind, rows in fast.items()} == counts
    assert fast == slow_rows(path)


# --- end to end, on both engines ------------------------------------------------------------------

TABLES = {
    "threads": "thread_id",
    "runs": "run_id",
    "run_events": "thread_id, seq",
    "feedback": "feedback_id",
    "search_threads": "thread_no",
    "search_words": "word_id",
    "message_terms": "word_id, thread_no",
    "message_pairs": "first_id, second_id, thread_no",
}
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def contents(store) -> dict:
    with store.engine.read() as conn:
        tables = {name: conn.all(f"SELECT * FROM {name} ORDER BY {key}") for name, key in TABLES.items()}
        # The audit rows of one import are written in no particular order: compared by vote and time.
        audit = conn.all("SELECT * FROM feedback_audit ORDER BY feedback_id, changed_at, action")
    tables["feedback_audit"] = [{key: value for key, value in row.items() if key != "id"} for row in audit]
    return tables


@pytest.fixture
def twin(store, tmp_path, request):
    """A second empty store on the same engine as `store`."""
    if store.engine.name == "duckdb":
        url = str(tmp_path / "twin.duckdb")
    else:
        server = request.getfixturevalue("pg_server")
        url = server.create_database("twin")
        request.addfinalizer(lambda: server.drop_database(url))
    with open_store(url) as opened:
        yield opened


@pytest.fixture
def fixed_now(monkeypatch):
    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return NOW

    monkeypatch.setattr(merge, "datetime", Clock)


def scenario(tmp_path) -> list:
    """Files imported one after the other: new data, the same again, then changes to runs and votes."""
    first = tmp_path / "first.jsonl"
    write_import_file(str(first), 1_500, seed=21)
    records = [json.loads(line) for line in first.read_text().splitlines()]
    changed = []
    for record in records[:400]:
        if record["kind"] == "feedback":
            changed.append({**record, "rating": -record["rating"], "comment": "changed my mind", "tags": ["slow"]})
            changed.append({**record, "owner_id": "reviewer-02@example.com", "source": "end_user"})
        elif record["kind"] == "run":
            changed.append({**record, "status": "error", "model_name": "other-model"})
        elif record["kind"] == "event":
            changed.append({**record, "seq": record["seq"] + 100})
    changed.append({"kind": "thread", "thread_id": records[0]["thread_id"], "display_name": "Renamed ✓"})
    changed.append({"kind": "run", "run_id": "late-run", "thread_id": records[0]["thread_id"]})
    # A new thread beside the stored ones: the merge looks up stored rows for some threads only.
    changed += [
        {"kind": "run", "run_id": "fresh-run", "thread_id": "fresh-thread", "status": "success"},
        *(
            {
                "kind": "event",
                "thread_id": "fresh-thread",
                "run_id": "fresh-run",
                "seq": seq,
                "event_type": kind,
                "content": {"type": role, "content": text, "id": f"fresh-m{seq}"},
            }
            for seq, kind, role, text in (
                (1, "human_message", "human", "fresh question"),
                (2, "ai_message", "ai", "fresh answer"),
            )
        ),
        {
            "kind": "feedback",
            "thread_id": "fresh-thread",
            "run_id": "fresh-run",
            "owner_id": "r@example.com",
            "rating": 1,
        },
    ]
    second = tmp_path / "second.jsonl"
    write(second, changed)
    return [first, first, second, second]


@pytest.mark.slow
def test_fast_import_stores_what_the_record_path_stores(store, twin, tmp_path, monkeypatch, fixed_now):
    files = scenario(tmp_path)
    taken = []
    stage_file = fast.stage_file

    def spy(path, schemas):
        staged = stage_file(path, schemas)
        taken.append(staged is not None)
        return staged

    monkeypatch.setattr(fast, "stage_file", spy)
    fast_reports = [store.import_file(path, actor=SYSTEM).as_dict() for path in files]
    assert taken == [True] * len(files)
    monkeypatch.setattr(fast, "stage_file", lambda path, schemas: None)
    slow_reports = [twin.import_file(path, actor=SYSTEM).as_dict() for path in files]
    assert fast_reports == slow_reports
    assert all(report["ok"] for report in fast_reports)
    assert contents(store) == contents(twin)


def test_an_invalid_file_is_reported_by_the_record_path(store, tmp_path, monkeypatch):
    path = tmp_path / "bad.jsonl"
    records = [json.loads(line) for line in _bench_lines(tmp_path, 200)]
    records[5]["rating"] = 2
    records[7]["thread_id"] = "no spaces allowed"
    write(path, records)
    report = store.import_file(path, actor=SYSTEM).as_dict()
    monkeypatch.setattr(fast, "stage_file", lambda path, schemas: None)
    assert store.import_file(path, actor=SYSTEM).as_dict() == report
    assert not report["ok"] and len(report["errors"]) >= 2
    assert store.is_empty()


def _bench_lines(tmp_path, records: int) -> list[str]:
    path = tmp_path / "source.jsonl"
    write_import_file(str(path), records, seed=31)
    return path.read_text().splitlines()


def test_demo_export_imports_the_same_either_way(store, twin, tmp_path, monkeypatch, fixed_now):
    path = tmp_path / "demo.jsonl"
    write(path, demo.generate(threads=15, seed=3, anchor=NOW.date()))
    quick = store.import_file(path, actor=SYSTEM)
    monkeypatch.setattr(fast, "stage_file", lambda path, schemas: None)
    slow = twin.import_file(path, actor=SYSTEM)
    assert quick.ok and slow.ok and quick.counts == slow.counts
    assert contents(store) == contents(twin)


# --- the merge's shortcuts store what the plain steps store ------------------------------------------


@pytest.mark.slow
def test_shortcuts_of_the_merge_store_what_the_plain_steps_store(store, twin, tmp_path, monkeypatch, fixed_now):
    """Where writes are serialized the merge looks only at the touched threads that are stored, and runs
    the vote updates only when a stored vote changes: the plain steps (every touched thread, as where
    writers meet; the vote updates always) store the very same rows."""
    files = scenario(tmp_path)
    reports = [store.import_file(path, actor=SYSTEM).as_dict() for path in files]
    stored_threads = next(step for step in checks.PREPARE if step.name == "stored threads")
    assert stored_threads.concurrent_sql is not None
    plain = dataclasses.replace(stored_threads, sql=stored_threads.concurrent_sql)
    monkeypatch.setattr(checks, "PREPARE", tuple(plain if step is stored_threads else step for step in checks.PREPARE))
    always = [step.name for step in merge.MERGE if step.when_votes_change]
    assert always == ["update votes", "written updates"]
    monkeypatch.setattr(
        merge, "MERGE", tuple(dataclasses.replace(step, when_votes_change=False) for step in merge.MERGE)
    )
    assert [twin.import_file(path, actor=SYSTEM).as_dict() for path in files] == reports
    assert contents(store) == contents(twin)


@pytest.mark.slow
def test_progress_is_reported_as_on_the_record_path(store, twin, tmp_path, monkeypatch):
    path = tmp_path / "progress.jsonl"
    lines = _bench_lines(tmp_path, 21_000)
    path.write_text("\n".join(lines[:9_999] + ["", ""] + lines[9_999:]) + "\n\n")
    quick: list[int] = []
    assert store.import_file(path, progress=quick.append, actor=SYSTEM).ok
    monkeypatch.setattr(fast, "stage_file", lambda path, schemas: None)
    slow: list[int] = []
    assert twin.import_file(path, progress=slow.append, actor=SYSTEM).ok
    assert quick == slow == [20_000, len(lines) + 2]
